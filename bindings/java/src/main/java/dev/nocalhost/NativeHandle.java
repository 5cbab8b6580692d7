package dev.nocalhost;

import java.lang.ref.Cleaner;

/**
 * A C handle owned by a Java object: {@link #close()} is idempotent and
 * cancels calls still running on other threads; use after close throws
 * {@link NocalhostException.InvalidState}; the C handle is freed once no
 * call uses it any more (or by the garbage collector, if never closed).
 */
abstract class NativeHandle implements AutoCloseable {
    private static final Cleaner CLEANER = Cleaner.create();

    private final String what;
    private final Cleaner.Cleanable cleanable;
    /** Triggered by close(): stops the calls in flight. */
    final Cancel inflight = new Cancel();
    private int active;
    private boolean closed;

    /** `free` must not refer to this object (it runs after it is unreachable). */
    NativeHandle(String what, Runnable free) {
        this.what = what;
        this.cleanable = CLEANER.register(this, free);
    }

    /** Marks a call as using the handle; pair with {@link #release()}. */
    final synchronized void acquire() {
        if (closed) throw NocalhostException.of(ErrorCode.ESTATE, what + " is closed");
        active++;
    }

    final void release() {
        boolean free;
        synchronized (this) {
            free = --active == 0 && closed;
        }
        if (free) cleanable.clean();
    }

    /** Release the handle. Idempotent; calls running on other threads are cancelled. */
    @Override
    public void close() {
        boolean free;
        synchronized (this) {
            if (closed) return;
            closed = true;
            free = active == 0;
        }
        inflight.trigger();
        if (free) cleanable.clean();
    }

    public final synchronized boolean isClosed() { return closed; }
}
