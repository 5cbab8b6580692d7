package dev.nocalhost.jni;

/** Called by the C trampoline for each chunk of output (stream 1 stdout, 2 stderr); returns true to stop. Must not throw. */
public interface ExecOutputCallback {
    boolean onOutput(int stream, byte[] data);
}
