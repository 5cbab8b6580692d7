package dev.nocalhost.jni;

/** Called by the C trampoline for each port-forward event, from several threads. Must not throw. */
public interface ForwardEventCallback {
    void onEvent(int type, byte[] pod, int localPort, int remotePort, byte[] message);
}
