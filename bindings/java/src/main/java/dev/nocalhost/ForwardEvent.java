package dev.nocalhost;

/** What happened to a forwarded connection (the ports are 0 for events about the pod). */
public final class ForwardEvent {
    /** nh_forward_event_type. */
    public enum Type { CONNECTED, CLOSED, ERROR, POD_LOST, RECONNECTED }

    public final Type type;
    /** "" when unknown. */
    public final String pod;
    public final int localPort;
    public final int remotePort;
    public final String message;

    ForwardEvent(Type type, String pod, int localPort, int remotePort, String message) {
        this.type = type;
        this.pod = pod;
        this.localPort = localPort;
        this.remotePort = remotePort;
        this.message = message;
    }

    @Override
    public String toString() { return type + " " + pod + " " + localPort + "->" + remotePort + " " + message; }
}
