package dev.nocalhost.jni;

/** Called by the C trampoline for each sync event, on the sync's thread; status is long[10] or null. Must not throw. */
public interface SyncEventCallback {
    void onEvent(int type, byte[] path, byte[] message, int code, long[] status);
}
