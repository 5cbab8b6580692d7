package dev.nocalhost;

import dev.nocalhost.jni.NH;
import dev.nocalhost.jni.SWIGTYPE_p_nh_sync;
import dev.nocalhost.jni.SWIGTYPE_p_p_nh_sync;
import dev.nocalhost.jni.Utf8;
import dev.nocalhost.jni.nh_buf;
import dev.nocalhost.jni.nh_sync_options;
import dev.nocalhost.jni.nh_sync_status;
import java.time.Duration;

/**
 * A running sync (nh_sync) of a local directory to an nhsyncd: started with
 * {@link #start}, or a dev session's ({@link Session#sync()}). Its own
 * thread scans, watches with inotify, reconnects and never loses an edit.
 * close() stops a sync of your own (its index saved); a session's sync is
 * stopped by {@link Session#stopSync()}. Thread-safe.
 */
public final class Sync extends NativeHandle {
    /** nh_sync_mode. */
    public enum Mode { SEND, TWO_WAY }

    /** nh_sync_compression. */
    public enum Compression { AUTO, ON, OFF }

    /** Options of a sync (Nocalhost's ignoreFilePattern / filePattern, ...). */
    public static final class Options {
        Mode mode = Mode.SEND;
        String[] ignore, include;
        boolean useGitignore, deleteProtection, once;
        String stateDir;
        Compression compression = Compression.AUTO;
        long connectTimeoutMs, maxBackoffMs;
        SyncListener listener;

        public Options mode(Mode v) { mode = v; return this; }
        /** gitignore-syntax patterns of paths not to sync. */
        public Options ignore(String... v) { ignore = v; return this; }
        /** If any, only matching paths are synced. */
        public Options include(String... v) { include = v; return this; }
        public Options useGitignore(boolean v) { useGitignore = v; return this; }
        /** Where the index of acknowledged files is kept; default ~/.cache/nocalhost/sync. */
        public Options stateDir(String v) { stateDir = v; return this; }
        public Options compression(Compression v) { compression = v; return this; }
        public Options connectTimeoutMs(long v) { connectTimeoutMs = v; return this; }
        public Options maxBackoffMs(long v) { maxBackoffMs = v; return this; }
        /**
         * {@link Mode#TWO_WAY} only: a deletion made on the server never deletes the local file;
         * the local copy is sent back, reported as a {@link SyncEvent.Type#REMOTE_CHANGE} event
         * whose message says "delete protection". In a dev session's sync, left false, the
         * Nocalhost dev config's sync.deleteProtection (default true) decides.
         */
        public Options deleteProtection(boolean v) { deleteProtection = v; return this; }
        /**
         * A one-shot sync: the tree as it is when the sync starts, nothing watched; flush once,
         * then stop. Not for a dev session's sync (an error there).
         */
        public Options once(boolean v) { once = v; return this; }
        public Options listener(SyncListener v) { listener = v; return this; }

        /** The C options; the listener's global reference is released by nhj_sync_options_clear_listener. */
        nh_sync_options toNative() {
            nh_sync_options x = new nh_sync_options();
            Native.check(NH.nh_sync_options_init(x, NH.NH_SYNC_OPTIONS_VERSION));
            x.setMode(mode.ordinal());
            if (ignore != null && ignore.length > 0) {
                x.setIgnore_patterns(ignore);
                x.setIgnore_patterns_count(ignore.length);
            }
            if (include != null && include.length > 0) {
                x.setInclude_patterns(include);
                x.setInclude_patterns_count(include.length);
            }
            x.setUse_gitignore(useGitignore ? 1 : 0);
            x.setState_dir(stateDir);
            x.setCompression(compression.ordinal());
            x.setConnect_timeout_ms((int) connectTimeoutMs);
            x.setMax_backoff_ms((int) maxBackoffMs);
            x.setDelete_protection(deleteProtection ? 1 : 0);
            x.setOnce(once ? 1 : 0);
            if (listener != null) NH.nhj_sync_options_set_listener(x, new Events(listener));
            return x;
        }
    }

    /** Referenced from C, so not the sync itself. */
    static final class Events implements dev.nocalhost.jni.SyncEventCallback {
        final SyncListener listener;

        Events(SyncListener listener) { this.listener = listener; }

        @Override
        public void onEvent(int type, byte[] path, byte[] message, int code, long[] status) {
            try {
                listener.onEvent(new SyncEvent(SyncEvent.Type.values()[type - 1], Utf8.decode(path), Utf8.decode(message),
                    code, status == null ? null : new SyncStatus(status)));
            } catch (RuntimeException e) {
                Thread.currentThread().getUncaughtExceptionHandler().uncaughtException(Thread.currentThread(), e);
            }
        }
    }

    private final SWIGTYPE_p_nh_sync handle;
    private final boolean owned;

    Sync(SWIGTYPE_p_nh_sync h, boolean owned, Runnable free) {
        super("sync", free);
        this.handle = h;
        this.owned = owned;
    }

    /**
     * Starts syncing `localDir` to the nhsyncd at `address` ("host:port"),
     * authenticating with `token`. Returns at once; see {@link #flush}.
     * Throws InvalidArgument, IoError (localDir unreadable).
     */
    public static Sync start(String localDir, String address, String token, Options o) {
        Nocalhost.init();
        nh_sync_options x = (o == null ? new Options() : o).toNative();
        SWIGTYPE_p_p_nh_sync out = NH.new_SyncOut();
        try {
            int rc = NH.nh_sync_start(out, localDir, address, token, x);
            if (rc < 0) {
                NocalhostException e = Native.lastError(rc);
                NH.nhj_sync_options_clear_listener(x);
                x.delete();
                throw e;
            }
            SWIGTYPE_p_nh_sync h = NH.SyncOut_value(out);
            return new Sync(h, true, () -> {
                NH.nh_sync_free(h);
                NH.nhj_sync_options_clear_listener(x);
                x.delete();
            });
        } finally {
            NH.delete_SyncOut(out);
        }
    }

    /** The current state and counters. */
    public SyncStatus status() {
        acquire();
        nh_sync_status s = new nh_sync_status();
        try {
            s.setVersion(NH.NH_SYNC_STATUS_VERSION);
            Native.check(NH.nh_sync_status_get(s, handle));
            return new SyncStatus(new long[] {s.getState(), s.getFiles_done(), s.getFiles_total(), s.getBytes_done(),
                s.getBytes_total(), s.getFiles_synced(), s.getFile_errors(), s.getConflicts(), s.getReconnects(),
                s.getError_code()});
        } finally {
            s.delete();
            release();
        }
    }

    /** The message of the last connection or fatal error ("" if none). */
    public String lastError() {
        acquire();
        nh_buf out = new nh_buf();
        try {
            Native.check(NH.nh_sync_last_error(out, handle));
            return Utf8.decode(out.bytes());
        } finally {
            NH.nh_buf_dispose(out);
            out.delete();
            release();
        }
    }

    /**
     * Blocks until every change made before the call (and the first full
     * sync) is durable on the server. Throws Timeout, Cancelled, InvalidState
     * (stopped), or the fatal error (Unauthorized for a wrong token). Files
     * the server refused don't make it fail: see {@link SyncStatus#fileErrors}.
     */
    public void flush(Duration timeout, Cancel cancel) {
        acquire();
        try (Native.CallToken t = new Native.CallToken(inflight, cancel)) {
            Native.check(NH.nh_sync_flush(handle, timeout == null ? -1 : (int) Math.min(Integer.MAX_VALUE, timeout.toMillis()), t.token));
        } finally {
            release();
        }
    }

    public void flush(Duration timeout) { flush(timeout, null); }

    /** Stops sending (and, two-way, applying) changes; they are kept. */
    public void pause() {
        acquire();
        try {
            Native.check(NH.nh_sync_pause(handle));
        } finally {
            release();
        }
    }

    /** Resumes after {@link #pause()}; what changed meanwhile is synced. */
    public void resume() {
        acquire();
        try {
            Native.check(NH.nh_sync_resume(handle));
        } finally {
            release();
        }
    }

    /** Stops the sync (its index saved); a session's sync: use {@link Session#stopSync()}. Idempotent. */
    public void stop() {
        if (!owned) throw NocalhostException.of(ErrorCode.ESTATE, "stop the session's sync with Session.stopSync()");
        acquire();
        try {
            Native.check(NH.nh_sync_stop(handle));
        } finally {
            release();
        }
    }
}
