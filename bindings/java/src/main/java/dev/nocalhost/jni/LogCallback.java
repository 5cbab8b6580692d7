package dev.nocalhost.jni;

/** Called by the C trampoline for each log line, from any thread. Must not throw. */
public interface LogCallback {
    void onLog(int level, byte[] message);
}
