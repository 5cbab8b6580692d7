package dev.nocalhost;

import dev.nocalhost.jni.NH;
import dev.nocalhost.jni.SWIGTYPE_p_nh_cancel;
import dev.nocalhost.jni.SWIGTYPE_p_p_nh_cancel;
import dev.nocalhost.jni.nh_error;

/** The call pattern every wrapper uses: per-call tokens and errors turned into exceptions. */
final class Native {
    private Native() {}

    /** Throws the exception for the last error of this thread when rc is negative; returns rc. */
    static int check(int rc) {
        if (rc < 0) throw lastError(rc);
        return rc;
    }

    static NocalhostException lastError(int rc) {
        nh_error e = NH.nh_error_last();
        int code = e.getCode() != 0 ? e.getCode() : rc;
        return NocalhostException.of(code, e.getMessage(), e.getHttp_status(), e.getReason());
    }

    /** A per-call nh_cancel token attached to the cancels that may stop the call. */
    static final class CallToken implements AutoCloseable {
        final SWIGTYPE_p_nh_cancel token;
        private final Cancel[] cancels;

        CallToken(Cancel... cancels) {
            SWIGTYPE_p_p_nh_cancel out = NH.new_CancelOut();
            try {
                check(NH.nh_cancel_new(out));
                token = NH.CancelOut_value(out);
            } finally {
                NH.delete_CancelOut(out);
            }
            this.cancels = cancels;
            for (Cancel c : cancels) if (c != null) c.attach(token);
        }

        @Override
        public void close() {
            for (Cancel c : cancels) if (c != null) c.detach(token);
            NH.nh_cancel_free(token);
        }
    }
}
