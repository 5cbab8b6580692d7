package dev.nocalhost;

import dev.nocalhost.jni.NH;
import dev.nocalhost.jni.SWIGTYPE_p_int;
import dev.nocalhost.jni.SWIGTYPE_p_nh_forward;
import dev.nocalhost.jni.Utf8;
import dev.nocalhost.jni.nh_buf;
import java.time.Duration;

/**
 * Local ports forwarded to a pod (nh_forward), from {@link Client#portForward}.
 * Serves connections on its own threads until closed. Thread-safe.
 */
public final class PortForward extends NativeHandle {
    private final SWIGTYPE_p_nh_forward handle;
    private final int[] localPorts;

    /** Forwards events to the listener; referenced from C, so not the forward itself. */
    static final class Events implements dev.nocalhost.jni.ForwardEventCallback {
        final ForwardListener listener;

        Events(ForwardListener listener) { this.listener = listener; }

        @Override
        public void onEvent(int type, byte[] pod, int localPort, int remotePort, byte[] message) {
            try {
                listener.onEvent(new ForwardEvent(ForwardEvent.Type.values()[type - 1], Utf8.decode(pod), localPort,
                    remotePort, Utf8.decode(message)));
            } catch (RuntimeException e) {
                Thread.currentThread().getUncaughtExceptionHandler().uncaughtException(Thread.currentThread(), e);
            }
        }
    }

    PortForward(SWIGTYPE_p_nh_forward h, int count, Runnable free) {
        super("port-forward", free);
        this.handle = h;
        this.localPorts = new int[count];
        SWIGTYPE_p_int port = NH.new_IntOut();
        try {
            for (int i = 0; i < count; i++) {
                Native.check(NH.nh_forward_local_port_v2(port, h, i));
                localPorts[i] = NH.IntOut_value(port);
            }
        } finally {
            NH.delete_IntOut(port);
        }
    }

    /** The local port of each requested port. */
    public int[] localPorts() { return localPorts.clone(); }

    /** The local port of the first requested port. */
    public int localPort() { return localPorts[0]; }

    /** The pod connections currently go to. */
    public String pod() {
        acquire();
        nh_buf out = new nh_buf();
        try {
            Native.check(NH.nh_forward_pod(out, handle));
            return Utf8.decode(out.bytes());
        } finally {
            NH.nh_buf_dispose(out);
            out.delete();
            release();
        }
    }

    /**
     * Blocks until forwarding ends and throws what ended it (Cancelled after
     * close() or the start's Cancel, Forbidden, ...); with a timeout, throws
     * Timeout when that passes first (forwarding goes on).
     */
    public void waitFor(Duration timeout) {
        acquire();
        try {
            Native.check(NH.nh_forward_wait(handle, timeout == null ? -1 : (int) Math.min(Integer.MAX_VALUE, timeout.toMillis())));
        } finally {
            release();
        }
    }

    public void waitFor() { waitFor(null); }
}
