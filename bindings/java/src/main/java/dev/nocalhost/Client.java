package dev.nocalhost;

import dev.nocalhost.jni.NH;
import dev.nocalhost.jni.SWIGTYPE_p_nh_client;
import dev.nocalhost.jni.SWIGTYPE_p_int;
import dev.nocalhost.jni.SWIGTYPE_p_p_nh_client;
import dev.nocalhost.jni.Utf8;
import dev.nocalhost.jni.nh_buf;
import dev.nocalhost.jni.nh_client_options;
import dev.nocalhost.jni.nh_request_options;
import dev.nocalhost.jni.nh_watch_options;
import java.nio.charset.StandardCharsets;

/**
 * A connection to one cluster, as a kubeconfig context describes it. Safe to
 * use from several threads at once. Close it (try-with-resources): close()
 * is idempotent and cancels calls still running on other threads.
 */
public final class Client extends NativeHandle {
    /** Options of {@link Client#Client(Options)}; unset means the kubeconfig's / the library's default. */
    public static final class Options {
        String kubeconfig, context, namespace, userAgent;
        long timeoutMs;
        int maxRetries = -1;

        /** kubeconfig file(s), ':'-separated like KUBECONFIG; default: kubectl's rules. */
        public Options kubeconfig(String v) { kubeconfig = v; return this; }
        public Options context(String v) { context = v; return this; }
        public Options namespace(String v) { namespace = v; return this; }
        /** Per-request timeout; default 30000. Watches are not bound by it. */
        public Options timeoutMs(long v) { timeoutMs = v; return this; }
        public Options maxRetries(int v) { maxRetries = v; return this; }
        public Options userAgent(String v) { userAgent = v; return this; }
    }

    /** How {@link #patch} sends its body. */
    public enum PatchType {
        MERGE("application/merge-patch+json"),
        STRATEGIC("application/strategic-merge-patch+json"),
        JSON("application/json-patch+json"),
        APPLY("application/apply-patch+yaml");

        final String contentType;

        PatchType(String contentType) { this.contentType = contentType; }
    }

    final SWIGTYPE_p_nh_client handle;

    /** A client with kubectl's kubeconfig rules. */
    public Client() { this(new Options()); }

    /**
     * Opens a client: loads and validates the kubeconfig; makes no request.
     * @throws NocalhostException.ConfigError when the kubeconfig is unusable
     */
    public Client(Options o) {
        this(open(o));
    }

    private Client(SWIGTYPE_p_nh_client h) {
        super("client", () -> NH.nh_client_free(h));
        this.handle = h;
    }

    private static SWIGTYPE_p_nh_client open(Options o) {
        Nocalhost.init();
        nh_client_options opts = new nh_client_options();
        SWIGTYPE_p_p_nh_client out = NH.new_ClientOut();
        try {
            Native.check(NH.nh_client_options_init(opts, NH.NH_CLIENT_OPTIONS_VERSION));
            opts.setKubeconfig(o.kubeconfig);
            opts.setContext(o.context);
            opts.setNamespace_name(o.namespace);
            opts.setTimeout_ms((int) o.timeoutMs);
            opts.setMax_retries(o.maxRetries);
            opts.setUser_agent(o.userAgent);
            Native.check(NH.nh_client_new(out, opts));
            return NH.ClientOut_value(out);
        } finally {
            NH.delete_ClientOut(out);
            opts.delete();
        }
    }

    /** The namespace in effect. */
    public String namespace() { acquire(); try { return NH.nh_client_namespace(handle); } finally { release(); } }

    /** The API server URL in effect. */
    public String server() { acquire(); try { return NH.nh_client_server(handle); } finally { release(); } }

    /** The kubeconfig context in effect ("" in-cluster). */
    public String context() { acquire(); try { return NH.nh_client_context(handle); } finally { release(); } }

    /** The server's /version object as JSON. */
    public String serverVersion() { return serverVersion(null); }

    public String serverVersion(Cancel cancel) {
        acquire();
        nh_buf out = new nh_buf();
        try (Native.CallToken t = new Native.CallToken(inflight, cancel)) {
            Native.check(NH.nh_client_server_version(out, handle, t.token));
            return Utf8.decode(out.bytes());
        } finally {
            NH.nh_buf_dispose(out);
            out.delete();
            release();
        }
    }

    /**
     * Sends one request to the API server and returns its 2xx answer; any
     * other status throws the matching {@link NocalhostException} subclass
     * (NotFound, Conflict, Forbidden, ... with httpStatus() and reason()).
     */
    public Response request(String method, String path, byte[] body, String contentType, Cancel cancel) {
        acquire();
        nh_request_options r = new nh_request_options();
        nh_buf out = new nh_buf();
        SWIGTYPE_p_int status = NH.new_IntOut();
        try (Native.CallToken t = new Native.CallToken(inflight, cancel)) {
            Native.check(NH.nh_request_options_init(r, NH.NH_REQUEST_OPTIONS_VERSION));
            r.setMethod(method);
            r.setPath(path);
            if (body != null) r.setBodyBytes(body);
            r.setContent_type(contentType);
            r.setCancel(t.token);
            Native.check(NH.nh_client_request(out, status, handle, r));
            return new Response(NH.IntOut_value(status), out.bytes());
        } finally {
            NH.delete_IntOut(status);
            NH.nh_buf_dispose(out);
            out.delete();
            r.delete();
            release();
        }
    }

    private static byte[] utf8(String s) { return s == null ? null : s.getBytes(StandardCharsets.UTF_8); }

    /** GET path; the answer's JSON. */
    public String get(String path) { return request("GET", path, null, null, null).text(); }

    /** POST a JSON object to a collection; the created object's JSON. */
    public String create(String path, String json) { return request("POST", path, utf8(json), null, null).text(); }

    /** PUT a JSON object; the stored object's JSON. */
    public String replace(String path, String json) { return request("PUT", path, utf8(json), null, null).text(); }

    /** PATCH path with a body of the given type; the patched object's JSON. */
    public String patch(String path, String body, PatchType type) {
        return request("PATCH", path, utf8(body), type.contentType, null).text();
    }

    /** DELETE path; the server's answer. */
    public String delete(String path) { return request("DELETE", path, null, null, null).text(); }

    /** Options of {@link #watch}. */
    public static final class WatchOptions {
        String resourceVersion, labelSelector, fieldSelector;
        long durationMs;
        Cancel cancel;

        /** Start after this resourceVersion; default: list first (existing objects arrive as ADDED). */
        public WatchOptions resourceVersion(String v) { resourceVersion = v; return this; }
        public WatchOptions labelSelector(String v) { labelSelector = v; return this; }
        public WatchOptions fieldSelector(String v) { fieldSelector = v; return this; }
        /** Return (normally) after this long; default: until cancelled. */
        public WatchOptions durationMs(long v) { durationMs = v; return this; }
        public WatchOptions cancel(Cancel v) { cancel = v; return this; }
    }

    /**
     * Watches the collection `path`, calling the listener for each event on
     * this thread, until durationMs passes (returns), the cancel is triggered
     * or the client closed ({@link NocalhostException.Cancelled}), the listener
     * throws (rethrown), or an error retrying cannot fix.
     */
    public void watch(String path, WatchOptions o, WatchListener listener) {
        acquire();
        nh_watch_options w = new nh_watch_options();
        Throwable[] thrown = new Throwable[1];
        dev.nocalhost.jni.WatchCallback cb = (type, object) -> {
            try {
                listener.onEvent(new WatchEvent(WatchEvent.Type.of(type), Utf8.decode(object)));
                return false;
            } catch (Throwable e) {
                thrown[0] = e;
                return true;
            }
        };
        try (Native.CallToken t = new Native.CallToken(inflight, o.cancel)) {
            Native.check(NH.nh_watch_options_init(w, NH.NH_WATCH_OPTIONS_VERSION));
            w.setPath(path);
            w.setResource_version(o.resourceVersion);
            w.setLabel_selector(o.labelSelector);
            w.setField_selector(o.fieldSelector);
            w.setDuration_ms((int) o.durationMs);
            w.setCancel(t.token);
            NH.nhj_watch_options_set_listener(w, cb);
            int rc = NH.nh_client_watch(handle, w);
            if (thrown[0] != null) rethrow(thrown[0]);
            Native.check(rc);
        } finally {
            NH.nhj_watch_options_clear_listener(w);
            w.delete();
            release();
        }
    }

    static void rethrow(Throwable e) {
        if (e instanceof RuntimeException) throw (RuntimeException) e;
        if (e instanceof Error) throw (Error) e;
        throw new RuntimeException(e);
    }
}
