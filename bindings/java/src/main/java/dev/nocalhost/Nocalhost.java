package dev.nocalhost;

import dev.nocalhost.jni.NH;
import dev.nocalhost.jni.Utf8;

/** Library-wide functions: versions and logging. */
public final class Nocalhost {
    private Nocalhost() {}

    static {
        // One nh_init() reference for the life of the process.
        Native.check(NH.nh_init());
    }

    /** Makes sure the library is loaded and initialised; every handle calls it. */
    static void init() {}

    /** The version of the header this binding was generated from, e.g. "0.1.0". */
    public static String version() { return dev.nocalhost.jni.NHConstants.NH_VERSION_STRING; }

    /** The run-time version of the loaded libnocalhost. */
    public static String libraryVersion() { return NH.nh_version(null, null, null); }

    /** The values of nh_log_level. */
    public enum LogLevel { ERROR, WARN, INFO, DEBUG, TRACE }

    /** Receives the library's log lines, from any thread; never with secrets in them. */
    @FunctionalInterface
    public interface LogHandler {
        void log(LogLevel level, String message);
    }

    /** Route log lines at `level` and below to `handler`; null restores the default (discard, or stderr with NH_LOG). */
    public static void setLogHandler(LogHandler handler, LogLevel level) {
        init();
        if (handler == null) {
            NH.nhj_log_set_handler(null, 0);
            return;
        }
        dev.nocalhost.jni.LogCallback cb = (lvl, message) -> {
            try {
                handler.log(LogLevel.values()[lvl], Utf8.decode(message));
            } catch (RuntimeException e) {
                // A handler's bug must not break the call that logged.
            }
        };
        NH.nhj_log_set_handler(cb, level.ordinal());
    }
}
