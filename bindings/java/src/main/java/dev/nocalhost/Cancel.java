package dev.nocalhost;

import dev.nocalhost.jni.NH;
import dev.nocalhost.jni.SWIGTYPE_p_nh_cancel;
import java.util.ArrayList;
import java.util.List;

/**
 * A cancellation token: {@link #trigger()} makes every blocking call it was
 * given throw {@link NocalhostException.Cancelled} promptly, from any thread;
 * calls given an already triggered token throw at once. Each call gets its
 * own nh_cancel token, which this object (and the handle's close()) triggers.
 */
public final class Cancel {
    private final List<SWIGTYPE_p_nh_cancel> tokens = new ArrayList<>();
    private boolean triggered;

    /** Cancel the calls using this token. Thread-safe, idempotent. */
    public synchronized void trigger() {
        triggered = true;
        for (SWIGTYPE_p_nh_cancel t : tokens) NH.nh_cancel_trigger(t);
    }

    public synchronized boolean isTriggered() { return triggered; }

    /** Make the token untriggered again. */
    public synchronized void reset() { triggered = false; }

    synchronized void attach(SWIGTYPE_p_nh_cancel token) {
        tokens.add(token);
        if (triggered) NH.nh_cancel_trigger(token);
    }

    synchronized void detach(SWIGTYPE_p_nh_cancel token) { tokens.remove(token); }
}
