package dev.nocalhost;

/**
 * An error reported by libnocalhost. Subclasses name the C error code
 * ({@link NotFound}, {@link Conflict}, {@link Forbidden}, ...); every one
 * carries the {@link #code()}, the {@link #httpStatus()} (0 without an HTTP
 * answer) and the Kubernetes Status {@link #reason()} ("" when there is none).
 */
public class NocalhostException extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private final ErrorCode code;
    private final int httpStatus;
    private final String reason;

    public NocalhostException(String message, ErrorCode code, int httpStatus, String reason) {
        super(message);
        this.code = code;
        this.httpStatus = httpStatus;
        this.reason = reason == null ? "" : reason;
    }

    public ErrorCode code() { return code; }
    public int httpStatus() { return httpStatus; }
    public String reason() { return reason; }

    /** The one table from C codes to exception classes. */
    public static NocalhostException of(int code, String message, int httpStatus, String reason) {
        ErrorCode c = ErrorCode.of(code);
        switch (c) {
            case EINVAL: return new InvalidArgument(message, c, httpStatus, reason);
            case ENOMEM: return new OutOfMemory(message, c, httpStatus, reason);
            case ECONFIG: return new ConfigError(message, c, httpStatus, reason);
            case ECONNECT: return new ConnectError(message, c, httpStatus, reason);
            case ETLS: return new TlsError(message, c, httpStatus, reason);
            case ETIMEOUT: return new Timeout(message, c, httpStatus, reason);
            case ECANCELLED: return new Cancelled(message, c, httpStatus, reason);
            case ENOTFOUND: return new NotFound(message, c, httpStatus, reason);
            case EEXISTS: return new AlreadyExists(message, c, httpStatus, reason);
            case ECONFLICT: return new Conflict(message, c, httpStatus, reason);
            case EUNAUTHORIZED: return new Unauthorized(message, c, httpStatus, reason);
            case EFORBIDDEN: return new Forbidden(message, c, httpStatus, reason);
            case EINVALID: return new Invalid(message, c, httpStatus, reason);
            case EGONE: return new Gone(message, c, httpStatus, reason);
            case ETOOMANY: return new TooManyRequests(message, c, httpStatus, reason);
            case ESERVER: return new ServerError(message, c, httpStatus, reason);
            case EPROTOCOL: return new ProtocolError(message, c, httpStatus, reason);
            case EIO: return new IoError(message, c, httpStatus, reason);
            case EBUSY: return new Busy(message, c, httpStatus, reason);
            case EUNSUPPORTED: return new Unsupported(message, c, httpStatus, reason);
            case ESTATE: return new InvalidState(message, c, httpStatus, reason);
            default: return new NocalhostException(message, c, httpStatus, reason);
        }
    }

    static NocalhostException of(ErrorCode code, String message) {
        return of(code.value(), message, 0, "");
    }

    // One class per code. The constructors are public so that tests and callers can build them.
    /** NH_EINVAL */
    public static class InvalidArgument extends NocalhostException { public InvalidArgument(String m, ErrorCode c, int h, String r) { super(m, c, h, r); } }
    /** NH_ENOMEM */
    public static class OutOfMemory extends NocalhostException { public OutOfMemory(String m, ErrorCode c, int h, String r) { super(m, c, h, r); } }
    /** NH_ECONFIG: the kubeconfig is unusable (file, line and field in the message). */
    public static class ConfigError extends NocalhostException { public ConfigError(String m, ErrorCode c, int h, String r) { super(m, c, h, r); } }
    /** NH_ECONNECT */
    public static class ConnectError extends NocalhostException { public ConnectError(String m, ErrorCode c, int h, String r) { super(m, c, h, r); } }
    /** NH_ETLS */
    public static class TlsError extends NocalhostException { public TlsError(String m, ErrorCode c, int h, String r) { super(m, c, h, r); } }
    /** NH_ETIMEOUT */
    public static class Timeout extends NocalhostException { public Timeout(String m, ErrorCode c, int h, String r) { super(m, c, h, r); } }
    /** NH_ECANCELLED: a {@link Cancel}, close() or a listener stopped the call. */
    public static class Cancelled extends NocalhostException { public Cancelled(String m, ErrorCode c, int h, String r) { super(m, c, h, r); } }
    /** NH_ENOTFOUND (HTTP 404) */
    public static class NotFound extends NocalhostException { public NotFound(String m, ErrorCode c, int h, String r) { super(m, c, h, r); } }
    /** NH_EEXISTS (HTTP 409 AlreadyExists) */
    public static class AlreadyExists extends NocalhostException { public AlreadyExists(String m, ErrorCode c, int h, String r) { super(m, c, h, r); } }
    /** NH_ECONFLICT (HTTP 409 Conflict) */
    public static class Conflict extends NocalhostException { public Conflict(String m, ErrorCode c, int h, String r) { super(m, c, h, r); } }
    /** NH_EUNAUTHORIZED (HTTP 401) */
    public static class Unauthorized extends NocalhostException { public Unauthorized(String m, ErrorCode c, int h, String r) { super(m, c, h, r); } }
    /** NH_EFORBIDDEN (HTTP 403) */
    public static class Forbidden extends NocalhostException { public Forbidden(String m, ErrorCode c, int h, String r) { super(m, c, h, r); } }
    /** NH_EINVALID (HTTP 422/400) */
    public static class Invalid extends NocalhostException { public Invalid(String m, ErrorCode c, int h, String r) { super(m, c, h, r); } }
    /** NH_EGONE (HTTP 410) */
    public static class Gone extends NocalhostException { public Gone(String m, ErrorCode c, int h, String r) { super(m, c, h, r); } }
    /** NH_ETOOMANY (HTTP 429) */
    public static class TooManyRequests extends NocalhostException { public TooManyRequests(String m, ErrorCode c, int h, String r) { super(m, c, h, r); } }
    /** NH_ESERVER (HTTP 5xx) */
    public static class ServerError extends NocalhostException { public ServerError(String m, ErrorCode c, int h, String r) { super(m, c, h, r); } }
    /** NH_EPROTOCOL */
    public static class ProtocolError extends NocalhostException { public ProtocolError(String m, ErrorCode c, int h, String r) { super(m, c, h, r); } }
    /** NH_EIO */
    public static class IoError extends NocalhostException { public IoError(String m, ErrorCode c, int h, String r) { super(m, c, h, r); } }
    /** NH_EBUSY: e.g. a dev-mode lock held by someone else. */
    public static class Busy extends NocalhostException { public Busy(String m, ErrorCode c, int h, String r) { super(m, c, h, r); } }
    /** NH_EUNSUPPORTED */
    public static class Unsupported extends NocalhostException { public Unsupported(String m, ErrorCode c, int h, String r) { super(m, c, h, r); } }
    /** NH_ESTATE: e.g. the handle was closed. */
    public static class InvalidState extends NocalhostException { public InvalidState(String m, ErrorCode c, int h, String r) { super(m, c, h, r); } }
}
