package dev.nocalhost.jni;

/** Called by the C trampoline for each watch event; returns true to stop. Must not throw. */
public interface WatchCallback {
    boolean onEvent(int type, byte[] object);
}
