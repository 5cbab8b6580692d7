package dev.nocalhost;

/** Progress of a dev-mode start or end. */
public final class DevEvent {
    /** The values of nh_dev_event_type. */
    public enum Type { PHASE, POD, WARNING, INFO }

    private final Type type;
    private final String phase, message, detail;

    DevEvent(Type type, String phase, String message, String detail) {
        this.type = type;
        this.phase = phase;
        this.message = message;
        this.detail = detail;
    }

    public Type type() { return type; }
    /** "lock", "read", "record", "hpa", "patch", "wait", "ready", "rollback", "restore", "cleanup" or "done". */
    public String phase() { return phase; }
    /** One line for humans. */
    public String message() { return message; }
    /** The facts as JSON, or null. */
    public String detail() { return detail; }

    @Override
    public String toString() { return "[" + phase + "] " + message; }
}
