package dev.nocalhost;

/** One sync event: a state change, progress, a path that failed or conflicted, a remote change. */
public final class SyncEvent {
    /** nh_sync_event_type. */
    public enum Type { STATE, PROGRESS, FILE_ERROR, CONFLICT, REMOTE_CHANGE }

    public final Type type;
    /** Relative to the local directory, or "". */
    public final String path;
    /** Details, or ""; for CONFLICT the conflict copy's name. */
    public final String message;
    /** FILE_ERROR: an nh_error_code; else 0. */
    public final int code;
    /** May be null. */
    public final SyncStatus status;

    SyncEvent(Type type, String path, String message, int code, SyncStatus status) {
        this.type = type;
        this.path = path;
        this.message = message;
        this.code = code;
        this.status = status;
    }

    @Override
    public String toString() { return type + " " + path + " " + message + (status == null ? "" : " " + status); }
}
