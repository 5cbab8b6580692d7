package dev.nocalhost.jni;

/** Called by the C trampoline for each dev-mode event; returns true to stop. Must not throw. */
public interface DevEventCallback {
    boolean onEvent(int type, byte[] phase, byte[] message, byte[] detail);
}
