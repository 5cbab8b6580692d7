package dev.nocalhost;

import dev.nocalhost.jni.NH;
import dev.nocalhost.jni.SWIGTYPE_p_nh_session;
import dev.nocalhost.jni.Utf8;
import dev.nocalhost.jni.nh_buf;
import java.util.function.Function;

/**
 * A workload in dev mode, as seen when started, attached or refreshed.
 * close() releases the handle; dev mode stays on ({@link #end()} or
 * {@link Client#devEnd} ends it). Keeps its client alive. {@link #token()}
 * is a secret: never log it. Thread-safe (calls are serialized).
 */
public final class Session extends NativeHandle {
    private final Client client;
    private final SWIGTYPE_p_nh_session handle;

    Session(Client client, SWIGTYPE_p_nh_session h) {
        super("session", () -> NH.nh_session_free(h));
        this.client = client;
        this.handle = h;
    }

    private synchronized String text(Function<SWIGTYPE_p_nh_session, String> getter) {
        acquire();
        try {
            return getter.apply(handle);
        } finally {
            release();
        }
    }

    public Client client() { return client; }
    /** "Deployment" or "StatefulSet". */
    public String kind() { return text(NH::nh_session_kind); }
    public String name() { return text(NH::nh_session_name); }
    public String namespace() { return text(NH::nh_session_namespace); }
    /** The dev pod's name; "" when none exists right now. */
    public String pod() { return text(NH::nh_session_pod_name); }
    public String container() { return text(NH::nh_session_container); }
    public String sidecarContainer() { return text(NH::nh_session_sidecar_container); }
    public String workdir() { return text(NH::nh_session_workdir); }
    public String owner() { return text(NH::nh_session_owner); }
    /** When the session started (RFC 3339). */
    public String since() { return text(NH::nh_session_since); }
    /** The sidecar's sync token: a secret. */
    public String token() { return text(NH::nh_session_token); }

    public synchronized int syncPort() {
        acquire();
        try {
            return NH.nh_session_sync_port(handle);
        } finally {
            release();
        }
    }

    /** The session's state as {@link Client#devStatus} reports it (JSON), without a request. */
    public synchronized String status() {
        acquire();
        nh_buf out = new nh_buf();
        try {
            Native.check(NH.nh_session_status(out, handle));
            return Utf8.decode(out.bytes());
        } finally {
            NH.nh_buf_dispose(out);
            out.delete();
            release();
        }
    }

    /** Look for the dev pod again (e.g. after it restarted). */
    public synchronized void refresh(Cancel cancel) {
        acquire();
        try (Native.CallToken t = new Native.CallToken(inflight, cancel)) {
            Native.check(NH.nh_session_refresh(handle, t.token));
        } finally {
            release();
        }
    }

    /** Run a command in the dev container (see {@link Client#exec}). */
    public ExecResult exec(String... argv) {
        return client.exec(kind().toLowerCase() + "/" + name(), argv,
            new Client.ExecOptions().namespace(namespace()).container(container()));
    }

    /** End dev mode for this workload and close the handle. */
    public DevEndResult end() {
        DevEndResult r = client.devEnd(kind(), name(), new Client.DevEndOptions().namespace(namespace()));
        close();
        return r;
    }
}
