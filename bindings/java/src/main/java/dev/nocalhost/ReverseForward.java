package dev.nocalhost;

import dev.nocalhost.jni.NH;
import dev.nocalhost.jni.SWIGTYPE_p_nh_reverse;
import dev.nocalhost.jni.Utf8;
import dev.nocalhost.jni.nh_buf;
import java.time.Duration;

/**
 * Ports of a dev pod carried back to this machine (nh_reverse), from {@link Client#reverseForward}:
 * listeners in the pod, served by its sync sidecar, whose connections reach 127.0.0.1 here. Keeps
 * the tunnel up on its own thread, and opens it again to a replaced dev pod, until closed.
 * Thread-safe.
 */
public final class ReverseForward extends NativeHandle {
    private final SWIGTYPE_p_nh_reverse handle;

    /** Delivers events to the listener; referenced from C, so not the forward itself. */
    static final class Events implements dev.nocalhost.jni.ForwardEventCallback {
        final ForwardListener listener;

        Events(ForwardListener listener) { this.listener = listener; }

        // nh_reverse_event_cb: the pod's port comes first.
        @Override
        public void onEvent(int type, byte[] pod, int remotePort, int localPort, byte[] message) {
            try {
                listener.onEvent(new ForwardEvent(ForwardEvent.Type.values()[type - 1], Utf8.decode(pod), localPort,
                    remotePort, Utf8.decode(message)));
            } catch (RuntimeException e) {
                Thread.currentThread().getUncaughtExceptionHandler().uncaughtException(Thread.currentThread(), e);
            }
        }
    }

    ReverseForward(SWIGTYPE_p_nh_reverse h, Runnable free) {
        super("reverse-forward", free);
        this.handle = h;
    }

    /** The dev pod the tunnel goes to now ("" while it is opened again). */
    public String pod() {
        acquire();
        nh_buf out = new nh_buf();
        try {
            Native.check(NH.nh_reverse_pod(out, handle));
            return Utf8.decode(out.bytes());
        } finally {
            NH.nh_buf_dispose(out);
            out.delete();
            release();
        }
    }

    /**
     * Blocks until reverse forwarding ends and throws what ended it (Cancelled after close() or
     * the start's Cancel, Unauthorized, ...); with a timeout, throws Timeout when that passes
     * first (forwarding goes on).
     */
    public void waitFor(Duration timeout) {
        acquire();
        try {
            Native.check(NH.nh_reverse_wait(handle, timeout == null ? -1 : (int) Math.min(Integer.MAX_VALUE, timeout.toMillis())));
        } finally {
            release();
        }
    }

    public void waitFor() { waitFor(null); }
}
