package dev.nocalhost;

/** One watch event: its type and the object's JSON. */
public final class WatchEvent {
    /** The values of nh_watch_event_type. */
    public enum Type {
        ADDED, MODIFIED, DELETED,
        /** The watch fell behind (410 Gone) and listed again: the object is the full list. */
        RELISTED;

        static Type of(int value) { return values()[value - 1]; }
    }

    private final Type type;
    private final String object;

    WatchEvent(Type type, String object) {
        this.type = type;
        this.object = object;
    }

    public Type type() { return type; }

    /** The object as JSON text. */
    public String object() { return object; }

    @Override
    public String toString() { return type + " " + object; }
}
