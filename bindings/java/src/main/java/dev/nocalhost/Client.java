package dev.nocalhost;

import dev.nocalhost.jni.NH;
import dev.nocalhost.jni.nh_exec_options;
import dev.nocalhost.jni.SWIGTYPE_p_nh_client;
import dev.nocalhost.jni.SWIGTYPE_p_int;
import dev.nocalhost.jni.SWIGTYPE_p_p_nh_client;
import dev.nocalhost.jni.Utf8;
import dev.nocalhost.jni.nh_buf;
import dev.nocalhost.jni.nh_client_options;
import dev.nocalhost.jni.nh_dev_env_format;
import dev.nocalhost.jni.nh_request_options;
import dev.nocalhost.jni.nh_watch_options;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

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
    /** The kubeconfig text of {@link #fromKubeconfigData}, which the agent needs again (the library keeps none). */
    String kubeconfigData;

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

    /**
     * Opens a client from kubeconfig text held in memory (nh_client_new_from_data); the
     * options' other fields (context, namespace, timeouts) apply, their kubeconfig must be unset.
     * @throws NocalhostException.ConfigError naming "kubeconfig data" with the line and field
     */
    public static Client fromKubeconfigData(String kubeconfigData, Options o) {
        Options opts = o == null ? new Options() : o;
        Client c = new Client(open(opts, kubeconfigData));
        c.kubeconfigData = kubeconfigData;
        return c;
    }

    private static SWIGTYPE_p_nh_client open(Options o) { return open(o, null); }

    private static SWIGTYPE_p_nh_client open(Options o, String data) {
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
            Native.check(data == null ? NH.nh_client_new(out, opts)
                                      : NH.nh_client_new_from_data(out, data, Utf8.encode(data).length, opts));
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

    // -- dev mode ---------------------------------------------------------------

    /**
     * Options of {@link #devStart} (and of {@link #devConfigResolve}); image is required unless a
     * Nocalhost dev config names one. Explicit options win over the config.
     */
    public static final class DevStartOptions {
        String image, namespace, container, workdir, resourcesJson, sidecarImage, owner;
        String[] env;
        int syncPort, leaseDurationS;
        long timeoutMs;
        boolean rollbackOnFailure = true, patchErrorsFatal;
        String[] headers;
        String router;
        DevEventListener onEvent;
        Cancel cancel;
        String localDir;
        Sync.Options syncOptions;
        DevMode mode = DevMode.REPLACE;
        String developer, apiVersion, podTemplatePath, replicasPath, configPath, appName, imagePullPolicy;
        boolean ignoreClusterConfig;
        String patchesJson, persistentDirsJson;
        final List<Object> patches = new ArrayList<>();
        final List<Object> persistentDirs = new ArrayList<>();

        boolean endOnClose;
        boolean local;
        String[] localPorts, forwards;

        public DevStartOptions image(String v) { image = v; return this; }
        /**
         * Local mode (docs/traffic.md): the dev pod runs only the sync sidecar, and connections to
         * each of {@link #localPorts} in the pod come to 127.0.0.1 here until the session is closed;
         * the image is then optional. With {@link DevMode#DUPLICATE}: a local copy.
         */
        public DevStartOptions local(boolean v) { local = v; return this; }
        /** Local mode: "PORT" or "PORT:LOCAL", ports the workload's containers declare (at least one). */
        public DevStartOptions localPorts(String... v) { localPorts = v; return this; }
        /**
         * Any mode: "svc/NAME:PORT[:LOCAL]", cluster Services reachable on 127.0.0.1 here until the
         * session is closed, named in a hosts file and an env file (the session's status:
         * hosts_file, env_file).
         */
        public DevStartOptions forwards(String... v) { forwards = v; return this; }
        /**
         * Scoped dev mode: {@link Session#close()} (the end of a try-with-resources block, also
         * when it throws) ends dev mode. Default false: close() only releases the handle and dev
         * mode stays on, for sessions meant to outlive the program.
         */
        public DevStartOptions endOnClose(boolean v) { endOnClose = v; return this; }
        public DevStartOptions namespace(String v) { namespace = v; return this; }
        /** Default: the only container. */
        public DevStartOptions container(String v) { container = v; return this; }
        public DevStartOptions workdir(String v) { workdir = v; return this; }
        /** "NAME=VALUE" entries. */
        public DevStartOptions env(String... v) { env = v; return this; }
        /** A ResourceRequirements object as JSON, e.g. {"limits":{"memory":"2Gi"}}. */
        public DevStartOptions resourcesJson(String v) { resourcesJson = v; return this; }
        public DevStartOptions sidecarImage(String v) { sidecarImage = v; return this; }
        public DevStartOptions syncPort(int v) { syncPort = v; return this; }
        /** How long to wait for the dev pod; default 300000. */
        public DevStartOptions timeoutMs(long v) { timeoutMs = v; return this; }
        public DevStartOptions rollbackOnFailure(boolean v) { rollbackOnFailure = v; return this; }
        /**
         * Default false (as Nocalhost): a patch the API server refuses is skipped with a warning event
         * (phase "patch") and the start goes on. true: it fails the start, which is rolled back.
         */
        public DevStartOptions patchErrorsFatal(boolean v) { patchErrorsFatal = v; return this; }
        public DevStartOptions owner(String v) { owner = v; return this; }
        public DevStartOptions leaseDurationS(int v) { leaseDurationS = v; return this; }
        public DevStartOptions onEvent(DevEventListener v) { onEvent = v; return this; }
        /**
         * Also forward to the sync sidecar and sync this local directory into the work dir; the start
         * returns once the first full sync is acknowledged (events report "forward", "sync", "synced").
         * The session owns that sync: {@link Session#sync()}.
         */
        public DevStartOptions localDir(String v) { localDir = v; return this; }
        /** Options of that sync (mode, ignore patterns, listener). */
        public DevStartOptions syncOptions(Sync.Options v) { syncOptions = v; return this; }
        public DevStartOptions cancel(Cancel v) { cancel = v; return this; }
        /** {@link DevMode#DUPLICATE}: develop on a private copy and leave the workload untouched. */
        public DevStartOptions mode(DevMode v) { mode = v == null ? DevMode.REPLACE : v; return this; }
        /** Duplicate mode: whose copy (part of its name); default "user@host". */
        public DevStartOptions developer(String v) { developer = v; return this; }
        /**
         * Duplicate mode: requests to the workload's Services carrying every one of these headers
         * ("NAME=VALUE", exact match) go to the copy, all others to the original (docs/traffic.md).
         */
        public DevStartOptions headers(String... v) { headers = v; return this; }
        /** What routes {@link #headers}: "auto" (default: Istio where its API is served, else the Gateway API), "istio" or "gateway-api". */
        public DevStartOptions router(String v) { router = v; return this; }
        /** Custom kinds ("rollouts.argoproj.io"): the API version; default: the group's preferred one. */
        public DevStartOptions apiVersion(String v) { apiVersion = v; return this; }
        /** Custom kinds: a JSON pointer to the pod template; default "/spec/template". */
        public DevStartOptions podTemplatePath(String v) { podTemplatePath = v; return this; }
        /** Custom kinds: a JSON pointer to the replica count; default "/spec/replicas". */
        public DevStartOptions replicasPath(String v) { replicasPath = v; return this; }
        /** A Nocalhost dev config (v2): a .nocalhost/config.yaml file, or a directory holding one. */
        public DevStartOptions configPath(String v) { configPath = v; return this; }
        /** The Nocalhost application whose ConfigMap "dev.nocalhost.config.&lt;app&gt;" is read. */
        public DevStartOptions appName(String v) { appName = v; return this; }
        /** Ignore the workload's dev.nocalhost annotation and the application ConfigMap. */
        public DevStartOptions ignoreClusterConfig(boolean v) { ignoreClusterConfig = v; return this; }
        /** "Always", "IfNotPresent" or "Never"; default: unchanged. */
        public DevStartOptions imagePullPolicy(String v) { imagePullPolicy = v; return this; }
        /**
         * Adds a patch applied after the switch: type "strategic" (also for null), "merge" or "json";
         * the patch as JSON text or as a Map / List (an array of operations for "json").
         */
        public DevStartOptions patch(String type, Object patch) {
            Map<String, Object> p = new LinkedHashMap<>();
            if (type != null) p.put("type", type);
            p.put("patch", patch instanceof String ? patch : Json.write(patch));
            patches.add(p);
            return this;
        }
        /**
         * The patches as a list of {"type", "patch"} maps (a patch may be a Map / List or JSON text),
         * replacing those added before.
         */
        public DevStartOptions patches(List<? extends Map<String, ?>> v) {
            patches.clear();
            if (v != null) for (Map<String, ?> p : v) patch((String) p.get("type"), p.get("patch"));
            return this;
        }
        /** The patches as JSON text ([{"type","patch":"<JSON text>"}]); wins over patch()/patches(). */
        public DevStartOptions patchesJson(String v) { patchesJson = v; return this; }
        /**
         * Adds a dir of the dev container kept on a PersistentVolumeClaim that outlives dev mode
         * (capacity default "10Gi"; storageClass may be null).
         */
        public DevStartOptions persistentDir(String path, String capacity, String storageClass) {
            Map<String, Object> d = new LinkedHashMap<>();
            d.put("path", path);
            if (capacity != null) d.put("capacity", capacity);
            if (storageClass != null) d.put("storageClass", storageClass);
            persistentDirs.add(d);
            return this;
        }
        /** The persistent dirs as a list of {"path", "capacity", "storageClass"} maps, replacing those added before. */
        public DevStartOptions persistentDirs(List<? extends Map<String, ?>> v) {
            persistentDirs.clear();
            if (v != null) persistentDirs.addAll(v);
            return this;
        }
        /** The persistent dirs as JSON text; wins over persistentDir()/persistentDirs(). */
        public DevStartOptions persistentDirsJson(String v) { persistentDirsJson = v; return this; }

        /** Fills `d` (initialised with nh_dev_start_options_init); the struct copies the strings. */
        void fill(dev.nocalhost.jni.nh_dev_start_options d) {
            d.setNamespace_name(namespace);
            d.setContainer(container);
            d.setImage(image);
            d.setWorkdir(workdir);
            if (env != null && env.length > 0) {
                d.setEnv(env);
                d.setEnv_count(env.length);
            }
            d.setResources_json(resourcesJson);
            d.setSidecar_image(sidecarImage);
            d.setSync_port(syncPort);
            d.setTimeout_ms((int) timeoutMs);
            d.setRollback_on_failure(rollbackOnFailure ? 1 : 0);
            d.setPatch_errors_fatal(patchErrorsFatal ? 1 : 0);
            d.setLocal(local ? 1 : 0);
            if (localPorts != null && localPorts.length > 0) {
                d.setLocal_ports(localPorts);
                d.setLocal_ports_count(localPorts.length);
            }
            if (forwards != null && forwards.length > 0) {
                d.setForwards(forwards);
                d.setForwards_count(forwards.length);
            }
            d.setOwner(owner);
            d.setLease_duration_s(leaseDurationS);
            d.setMode(mode.value());
            d.setDeveloper(developer);
            d.setApi_version(apiVersion);
            d.setPod_template_path(podTemplatePath);
            d.setReplicas_path(replicasPath);
            d.setConfig_path(configPath);
            d.setApp_name(appName);
            d.setIgnore_cluster_config(ignoreClusterConfig ? 1 : 0);
            d.setImage_pull_policy(imagePullPolicy);
            d.setPatches_json(patchesJson != null ? patchesJson : patches.isEmpty() ? null : Json.write(patches));
            d.setPersistent_dirs_json(persistentDirsJson != null ? persistentDirsJson
                : persistentDirs.isEmpty() ? null : Json.write(persistentDirs));
            if (headers != null && headers.length > 0) {
                d.setHeaders(headers);
                d.setHeaders_count(headers.length);
            }
            d.setRouter(router);
        }
    }

    /** Options of {@link #devEnd}. */
    public static final class DevEndOptions {
        String namespace, owner, developer;
        long timeoutMs;
        int leaseDurationS;
        boolean force;
        DevEventListener onEvent;
        Cancel cancel;
        DevMode mode = DevMode.REPLACE;

        public DevEndOptions namespace(String v) { namespace = v; return this; }
        /** {@link DevMode#DUPLICATE}: end the copy of {@link #developer} only. */
        public DevEndOptions mode(DevMode v) { mode = v == null ? DevMode.REPLACE : v; return this; }
        /** Duplicate mode: whose copy; default "user@host". */
        public DevEndOptions developer(String v) { developer = v; return this; }
        public DevEndOptions owner(String v) { owner = v; return this; }
        public DevEndOptions timeoutMs(long v) { timeoutMs = v; return this; }
        public DevEndOptions leaseDurationS(int v) { leaseDurationS = v; return this; }
        /**
         * End dev mode of a workload marked as in dev mode whose session record is gone (without it:
         * {@link NocalhostException.InvalidState}): remove every mark of dev mode found; what could
         * not be restored (e.g. the original image when no revision records it) is reported as
         * warning events of phase "force".
         */
        public DevEndOptions force(boolean v) { force = v; return this; }
        public DevEndOptions onEvent(DevEventListener v) { onEvent = v; return this; }
        public DevEndOptions cancel(Cancel v) { cancel = v; return this; }
    }

    /** Options of {@link #devStatus}, {@link #devAttach} and the PersistentVolumeClaim calls. */
    public static final class DevQueryOptions {
        String namespace, developer;
        DevMode mode = DevMode.REPLACE;
        Cancel cancel;

        public DevQueryOptions namespace(String v) { namespace = v; return this; }
        /** devStatus / devAttach: {@link DevMode#DUPLICATE} picks the copy of {@link #developer}. */
        public DevQueryOptions mode(DevMode v) { mode = v == null ? DevMode.REPLACE : v; return this; }
        public DevQueryOptions developer(String v) { developer = v; return this; }
        public DevQueryOptions cancel(Cancel v) { cancel = v; return this; }
        boolean endOnClose;
        /** {@link #devAttach}: as {@link DevStartOptions#endOnClose}. */
        public DevQueryOptions endOnClose(boolean v) { endOnClose = v; return this; }
    }

    /** A dev-event callback that keeps what the listener threw. */
    static final class DevEvents implements dev.nocalhost.jni.DevEventCallback {
        final DevEventListener listener;
        Throwable thrown;

        DevEvents(DevEventListener listener) { this.listener = listener; }

        @Override
        public boolean onEvent(int type, byte[] phase, byte[] message, byte[] detail) {
            try {
                listener.onEvent(new DevEvent(DevEvent.Type.values()[type - 1], Utf8.decode(phase), Utf8.decode(message), Utf8.decode(detail)));
                return false;
            } catch (Throwable e) {
                thrown = e;
                return true;
            }
        }
    }

    /**
     * Puts a workload into dev mode and waits until its dev pod is ready. Kinds:
     * "deployment", "statefulset", "replicaset", "daemonset", "job", "cronjob",
     * "pod" (and their short names), or a custom kind as "&lt;resource&gt;.&lt;group&gt;"
     * ("rollouts.argoproj.io"). After a failure the workload has been rolled
     * back. Throws Busy, NotFound, Forbidden, ConfigError (an invalid dev
     * config), Timeout, Cancelled, ...
     */
    public Session devStart(String kind, String name, DevStartOptions o) {
        acquire();
        dev.nocalhost.jni.nh_dev_start_options d = new dev.nocalhost.jni.nh_dev_start_options();
        dev.nocalhost.jni.SWIGTYPE_p_p_nh_session out = NH.new_SessionOut();
        DevEvents events = o.onEvent == null ? null : new DevEvents(o.onEvent);
        dev.nocalhost.jni.nh_sync_options syncOpts = null;
        try (Native.CallToken t = new Native.CallToken(inflight, o.cancel)) {
            Native.check(NH.nh_dev_start_options_init(d, NH.NH_DEV_START_OPTIONS_VERSION));
            o.fill(d);
            d.setCancel(t.token);
            if (events != null) NH.nhj_dev_start_options_set_listener(d, events);
            if (o.localDir != null) {
                // Its listener must outlive the call: the session keeps it (Session.stopSync releases it).
                syncOpts = (o.syncOptions == null ? new Sync.Options() : o.syncOptions).toNative();
                d.setLocal_dir(o.localDir);
                d.setSync_options(syncOpts);
            }
            int rc = NH.nh_dev_start(out, handle, kind, name, d);
            if (events != null && events.thrown != null) rethrow(events.thrown);
            Native.check(rc);
            Session session = new Session(this, NH.SessionOut_value(out), o.developer, o.endOnClose);
            session.adoptSyncOptions(syncOpts);
            syncOpts = null;
            return session;
        } finally {
            if (syncOpts != null) {
                NH.nhj_sync_options_clear_listener(syncOpts);
                syncOpts.delete();
            }
            NH.nhj_dev_start_options_clear_listener(d);
            NH.delete_SessionOut(out);
            d.delete();
            release();
        }
    }

    /**
     * {kind, name} of the CLI's "KIND/NAME" ("deployment/web"). Throws
     * {@link NocalhostException.InvalidArgument} (NH_EINVAL, as the C library for bad
     * arguments) for "web", "deployment/" or "/web".
     */
    public static String[] workload(String target) {
        int slash = target == null ? -1 : target.indexOf('/');
        if (slash <= 0 || slash == target.length() - 1)
            throw NocalhostException.of(ErrorCode.EINVAL, "expected KIND/NAME, e.g. deployment/web, got '" + target + "'");
        return new String[] {target.substring(0, slash), target.substring(slash + 1)};
    }

    /** {@link #devStart(String, String, DevStartOptions)} of a "KIND/NAME" ("deployment/web"). */
    public Session devStart(String target, DevStartOptions o) {
        String[] w = workload(target);
        return devStart(w[0], w[1], o);
    }

    /** {@link #devEnd(String, String, DevEndOptions)} of a "KIND/NAME". */
    public DevEndResult devEnd(String target, DevEndOptions o) {
        String[] w = workload(target);
        return devEnd(w[0], w[1], o);
    }

    /** {@link #devEnd(String, String)} of a "KIND/NAME". */
    public DevEndResult devEnd(String target) { return devEnd(target, new DevEndOptions()); }

    /** {@link #devStatus(String, String, DevQueryOptions)} of a "KIND/NAME". */
    public String devStatus(String target, DevQueryOptions o) {
        String[] w = workload(target);
        return devStatus(w[0], w[1], o);
    }

    /** {@link #devStatus(String, String)} of a "KIND/NAME". */
    public String devStatus(String target) { return devStatus(target, new DevQueryOptions()); }

    /** {@link #devAttach(String, String, DevQueryOptions)} of a "KIND/NAME". */
    public Session devAttach(String target, DevQueryOptions o) {
        String[] w = workload(target);
        return devAttach(w[0], w[1], o);
    }

    /** {@link #devConfigResolve(String, String, DevStartOptions)} of a "KIND/NAME". */
    public String devConfigResolve(String target, DevStartOptions o) {
        String[] w = workload(target);
        return devConfigResolve(w[0], w[1], o);
    }

    /** {@link #devPvcList(String, String, DevQueryOptions)} of a "KIND/NAME". */
    public String devPvcList(String target, DevQueryOptions o) {
        String[] w = workload(target);
        return devPvcList(w[0], w[1], o);
    }

    /** {@link #devPvcDelete(String, String, String, DevQueryOptions)} of a "KIND/NAME". */
    public List<String> devPvcDelete(String target, String claim, DevQueryOptions o) {
        String[] w = workload(target);
        return devPvcDelete(w[0], w[1], claim, o);
    }

    /** Options of {@link Session#run} and {@link #devRun}. */
    public static final class RunOptions {
        String[] args = new String[0];
        String configPath, appName, stdin;
        int localPort;
        long timeoutMs;
        Cancel cancel;

        /** Appended to the command. */
        public RunOptions args(String... v) { args = v; return this; }
        /** Where to take the command from when the session recorded no dev config. */
        public RunOptions configPath(String v) { configPath = v; return this; }
        public RunOptions appName(String v) { appName = v; return this; }
        /** The debug commands: the local port for the debugger (default: debug.remoteDebugPort). */
        public RunOptions localPort(int v) { localPort = v; return this; }
        public RunOptions stdin(String v) { stdin = v; return this; }
        public RunOptions timeoutMs(long v) { timeoutMs = v; return this; }
        public RunOptions cancel(Cancel v) { cancel = v; return this; }
    }

    /**
     * nh dev run: the Nocalhost dev config's command.&lt;command&gt; in a workload in dev mode
     * ("KIND/NAME"; the query options pick the session), in its work dir. See {@link Session#run}.
     */
    public ExecResult devRun(String command, String target, DevQueryOptions which, RunOptions o) {
        try (Session s = devAttach(target, which == null ? new DevQueryOptions() : which)) {
            return s.run(command, o);
        }
    }

    /**
     * nh terminal: an interactive shell in the target's container: `shell` (split into words),
     * else the Nocalhost dev config's shell recorded when the workload went into dev mode, else
     * zsh, bash or sh, whichever `which` finds. `o` as for {@link #execStart}.
     */
    public ExecSession terminal(String target, String shell, ExecStartOptions o) {
        ExecStartOptions opts = o == null ? new ExecStartOptions() : o;
        if (shell == null) shell = devConfigShell(target, opts);
        if (shell == null) shell = probeShell(target, opts);
        return execStart(target, opts, shell.trim().split("\\s+"));
    }

    private String devConfigShell(String target, ExecStartOptions o) {
        int slash = target.indexOf('/');
        if (slash <= 0 || java.util.Set.of("pod", "po", "pods").contains(target.substring(0, slash))) return null;
        try (Session s = devAttach(target, new DevQueryOptions().namespace(o.namespace).cancel(o.cancel))) {
            return s.configShell();
        } catch (NocalhostException.NotFound notInDevMode) {
            return null;
        }
    }

    private String probeShell(String target, ExecStartOptions o) {
        for (String candidate : new String[] {"zsh", "bash", "sh"}) {
            ExecResult found;
            try {
                found = exec(target, new String[] {"which", candidate},
                    new ExecOptions().namespace(o.namespace).container(o.container).cancel(o.cancel));
            } catch (NocalhostException.NotFound | NocalhostException.Forbidden | NocalhostException.Cancelled
                     | NocalhostException.Unauthorized e) {
                throw e;
            } catch (NocalhostException e) {
                continue;  // a missing `which`; kwok reports non-zero exits as errors
            }
            String path = found.stdoutText().trim();
            if (found.exitCode() == 0 && !path.isEmpty()) return path;
        }
        return "sh";
    }

    /** Ends dev mode: restores the original in place. Idempotent; works from any process. */
    public DevEndResult devEnd(String kind, String name, DevEndOptions o) {
        acquire();
        dev.nocalhost.jni.nh_dev_end_options d = new dev.nocalhost.jni.nh_dev_end_options();
        SWIGTYPE_p_int out = NH.new_IntOut();
        DevEvents events = o.onEvent == null ? null : new DevEvents(o.onEvent);
        try (Native.CallToken t = new Native.CallToken(inflight, o.cancel)) {
            Native.check(NH.nh_dev_end_options_init(d, NH.NH_DEV_END_OPTIONS_VERSION));
            d.setNamespace_name(o.namespace);
            d.setOwner(o.owner);
            d.setTimeout_ms((int) o.timeoutMs);
            d.setLease_duration_s(o.leaseDurationS);
            d.setMode(o.mode.value());
            d.setDeveloper(o.developer);
            d.setForce(o.force ? 1 : 0);
            d.setCancel(t.token);
            if (events != null) NH.nhj_dev_end_options_set_listener(d, events);
            int rc = NH.nh_dev_end(out, handle, kind, name, d);
            if (events != null && events.thrown != null) rethrow(events.thrown);
            Native.check(rc);
            return DevEndResult.of(NH.IntOut_value(out));
        } finally {
            NH.nhj_dev_end_options_clear_listener(d);
            NH.delete_IntOut(out);
            d.delete();
            release();
        }
    }

    public DevEndResult devEnd(String kind, String name) { return devEnd(kind, name, new DevEndOptions()); }

    /**
     * The effective Nocalhost dev config of a workload's container as JSON, as {@link #devStart}
     * would use it: merged from {@link DevStartOptions#configPath}, the workload's dev.nocalhost
     * annotation and the dev.nocalhost.config.&lt;app&gt; ConfigMap, with the explicit options on top
     * ({"sources", "container", "image", "workDir", "env", "portForward", ..., "ignored"}).
     * Changes nothing. Throws ConfigError (file, line, field), NotFound, ...
     */
    public String devConfigResolve(String kind, String name, DevStartOptions o) {
        acquire();
        dev.nocalhost.jni.nh_dev_start_options d = new dev.nocalhost.jni.nh_dev_start_options();
        nh_buf out = new nh_buf();
        try (Native.CallToken t = new Native.CallToken(inflight, o.cancel)) {
            Native.check(NH.nh_dev_start_options_init(d, NH.NH_DEV_START_OPTIONS_VERSION));
            o.fill(d);
            d.setCancel(t.token);
            Native.check(NH.nh_dev_config_resolve(out, handle, kind, name, d));
            return Utf8.decode(out.bytes());
        } finally {
            NH.nh_buf_dispose(out);
            out.delete();
            d.delete();
            release();
        }
    }

    private interface Query {
        int run(dev.nocalhost.jni.nh_dev_query_options q, nh_buf out);
    }

    private String query(DevQueryOptions options, boolean all, Query q) {
        acquire();
        DevQueryOptions opts = options == null ? new DevQueryOptions() : options;
        dev.nocalhost.jni.nh_dev_query_options o = new dev.nocalhost.jni.nh_dev_query_options();
        nh_buf out = new nh_buf();
        try (Native.CallToken t = new Native.CallToken(inflight, opts.cancel)) {
            Native.check(NH.nh_dev_query_options_init(o, NH.NH_DEV_QUERY_OPTIONS_VERSION));
            o.setNamespace_name(opts.namespace);
            o.setAll_namespaces(all ? 1 : 0);
            o.setMode(opts.mode.value());
            o.setDeveloper(opts.developer);
            o.setCancel(t.token);
            Native.check(q.run(o, out));
            return Utf8.decode(out.bytes());
        } finally {
            NH.nh_buf_dispose(out);
            out.delete();
            o.delete();
            release();
        }
    }

    /** The dev-mode status of one workload as JSON ({"dev_mode": true|false, ...}); mode/developer pick a copy. */
    public String devStatus(String kind, String name, DevQueryOptions o) {
        return query(o, false, (q, out) -> NH.nh_dev_status(out, handle, kind, name, q));
    }

    public String devStatus(String kind, String name, String namespace, Cancel cancel) {
        return devStatus(kind, name, new DevQueryOptions().namespace(namespace).cancel(cancel));
    }

    public String devStatus(String kind, String name) { return devStatus(kind, name, null, null); }

    /** Every workload in dev mode in the namespace (or all namespaces), as a JSON array. */
    public String devList(String namespace, boolean allNamespaces, Cancel cancel) {
        return query(new DevQueryOptions().namespace(namespace).cancel(cancel), allNamespaces,
            (q, out) -> NH.nh_dev_list(out, handle, q));
    }

    /** The session of a workload already in dev mode (NotFound otherwise); mode/developer pick a copy. */
    public Session devAttach(String kind, String name, DevQueryOptions options) {
        DevQueryOptions opts = options == null ? new DevQueryOptions() : options;
        acquire();
        dev.nocalhost.jni.nh_dev_query_options o = new dev.nocalhost.jni.nh_dev_query_options();
        dev.nocalhost.jni.SWIGTYPE_p_p_nh_session out = NH.new_SessionOut();
        try (Native.CallToken t = new Native.CallToken(inflight, opts.cancel)) {
            Native.check(NH.nh_dev_query_options_init(o, NH.NH_DEV_QUERY_OPTIONS_VERSION));
            o.setNamespace_name(opts.namespace);
            o.setMode(opts.mode.value());
            o.setDeveloper(opts.developer);
            o.setCancel(t.token);
            Native.check(NH.nh_dev_attach(out, handle, kind, name, o));
            return new Session(this, NH.SessionOut_value(out), opts.developer, opts.endOnClose);
        } finally {
            NH.delete_SessionOut(out);
            o.delete();
            release();
        }
    }

    public Session devAttach(String kind, String name, String namespace, Cancel cancel) {
        return devAttach(kind, name, new DevQueryOptions().namespace(namespace).cancel(cancel));
    }

    /**
     * The PersistentVolumeClaims dev mode made for persistent dirs, of one workload or, with kind
     * and name null, of the namespace, as a JSON array [{"name", "namespace", "workload", "path",
     * "capacity", "storage_class", "phase"}]. They outlive dev mode.
     */
    public String devPvcList(String kind, String name, DevQueryOptions o) {
        if ((kind == null) != (name == null))
            throw NocalhostException.of(ErrorCode.EINVAL, "devPvcList: give both kind and name, or neither");
        return query(o, false, (q, out) -> NH.nh_dev_pvc_list(out, handle, kind, name, q));
    }

    /**
     * Deletes a workload's dev-mode PersistentVolumeClaim `claim` (its name or its dir), or all of
     * them when claim is null; returns the names deleted. Throws NotFound when there is no such
     * claim of dev mode.
     */
    public List<String> devPvcDelete(String kind, String name, String claim, DevQueryOptions o) {
        return Json.parseStrings(query(o, false, (q, out) -> NH.nh_dev_pvc_delete(out, handle, kind, name, claim, q)));
    }

    /** Options of {@link #devEnv}. */
    public static final class DevEnvOptions {
        String namespace, container;
        boolean dotenv, secrets;
        Cancel cancel;

        public DevEnvOptions namespace(String v) { namespace = v; return this; }
        /** The container; default: the only one. */
        public DevEnvOptions container(String v) { container = v; return this; }
        /** true: the text of a dotenv file; false (the default): JSON. */
        public DevEnvOptions dotenv(boolean v) { dotenv = v; return this; }
        /** Include the values that come from Secrets (otherwise named and left out). */
        public DevEnvOptions secrets(boolean v) { secrets = v; return this; }
        public DevEnvOptions cancel(Cancel v) { cancel = v; return this; }
    }

    /**
     * nh dev env: the container's environment as the kubelet resolves it, for a local process: JSON
     * {"kind", "name", "namespace", "container", "pod", "env": [{"name", "source", "secret",
     * "value"}], "notes"} (an entry left out has "withheld" or "unresolved" instead of "value"), or
     * the text of a dotenv file. Throws NotFound when a ConfigMap, Secret or key the container needs
     * is missing.
     */
    public String devEnv(String kind, String name, DevEnvOptions options) {
        DevEnvOptions opts = options == null ? new DevEnvOptions() : options;
        acquire();
        dev.nocalhost.jni.nh_dev_env_options o = new dev.nocalhost.jni.nh_dev_env_options();
        nh_buf out = new nh_buf();
        try (Native.CallToken t = new Native.CallToken(inflight, opts.cancel)) {
            Native.check(NH.nh_dev_env_options_init(o, NH.NH_DEV_ENV_OPTIONS_VERSION));
            o.setNamespace_name(opts.namespace);
            o.setContainer(opts.container);
            o.setFormat((opts.dotenv ? nh_dev_env_format.NH_DEV_ENV_DOTENV : nh_dev_env_format.NH_DEV_ENV_JSON).swigValue());
            o.setInclude_secrets(opts.secrets ? 1 : 0);
            o.setCancel(t.token);
            Native.check(NH.nh_dev_env(out, handle, kind, name, o));
            return Utf8.decode(out.bytes());
        } finally {
            NH.nh_buf_dispose(out);
            out.delete();
            o.delete();
            release();
        }
    }

    /** {@link #devEnv(String, String, DevEnvOptions)} of a "KIND/NAME". */
    public String devEnv(String target, DevEnvOptions o) {
        String[] w = workload(target);
        return devEnv(w[0], w[1], o);
    }

    // -- streams ----------------------------------------------------------------

    /** Options of {@link #exec}. */
    public static final class ExecOptions {
        String namespace, container, stdin;
        boolean tty;
        long timeoutMs;
        Cancel cancel;

        public ExecOptions namespace(String v) { namespace = v; return this; }
        public ExecOptions container(String v) { container = v; return this; }
        /** Text sent to the command's stdin. */
        public ExecOptions stdin(String v) { stdin = v; return this; }
        public ExecOptions tty(boolean v) { tty = v; return this; }
        public ExecOptions timeoutMs(long v) { timeoutMs = v; return this; }
        public ExecOptions cancel(Cancel v) { cancel = v; return this; }
    }

    /** The pod that streams to `target` ("deployment/web", "pod/p", "p") would use. */
    public String resolveTarget(String target, String namespace, Cancel cancel) {
        acquire();
        nh_buf out = new nh_buf();
        try (Native.CallToken t = new Native.CallToken(inflight, cancel)) {
            Native.check(NH.nh_target_resolve(out, handle, namespace, target, t.token));
            return Utf8.decode(out.bytes());
        } finally {
            NH.nh_buf_dispose(out);
            out.delete();
            release();
        }
    }

    /** Runs argv (no shell) in the target's container and waits for it; a non-zero exit code is no error. */
    public ExecResult exec(String target, String[] argv, ExecOptions o) {
        if (argv == null || argv.length == 0) throw NocalhostException.of(ErrorCode.EINVAL, "exec: argv must name a program");
        acquire();
        dev.nocalhost.jni.nh_exec_options x = new dev.nocalhost.jni.nh_exec_options();
        nh_buf out = new nh_buf(), err = new nh_buf();
        SWIGTYPE_p_int code = NH.new_IntOut();
        try (Native.CallToken t = new Native.CallToken(inflight, o.cancel)) {
            Native.check(NH.nh_exec_options_init(x, NH.NH_EXEC_OPTIONS_VERSION));
            x.setNamespace_name(o.namespace);
            x.setContainer(o.container);
            x.setTty(o.tty ? 1 : 0);
            x.setTimeout_ms((int) o.timeoutMs);
            x.setCancel(t.token);
            long stdinLen = o.stdin == null ? 0 : o.stdin.getBytes(StandardCharsets.UTF_8).length;
            Native.check(NH.nh_exec_run(out, err, code, handle, target, argv, o.stdin, stdinLen, x));
            return new ExecResult(NH.IntOut_value(code), out.bytes(), err.bytes());
        } finally {
            NH.delete_IntOut(code);
            NH.nh_buf_dispose(out);
            NH.nh_buf_dispose(err);
            out.delete();
            err.delete();
            x.delete();
            release();
        }
    }

    /** Options of {@link #execStart}. */
    public static final class ExecStartOptions {
        String namespace, container;
        boolean tty, stdin = true;
        long timeoutMs;
        Cancel cancel;
        ExecOutputListener listener;

        public ExecStartOptions namespace(String v) { namespace = v; return this; }
        /** Default: the pod's default container, else its first. */
        public ExecStartOptions container(String v) { container = v; return this; }
        /** Allocate a terminal (stderr then arrives as stdout). */
        public ExecStartOptions tty(boolean v) { tty = v; return this; }
        /** Open stdin (default true). */
        public ExecStartOptions stdin(boolean v) { stdin = v; return this; }
        /** Limit for connecting. */
        public ExecStartOptions timeoutMs(long v) { timeoutMs = v; return this; }
        /** Stops connecting, and then the command. */
        public ExecStartOptions cancel(Cancel v) { cancel = v; return this; }
        /** Receives the output instead of {@link ExecSession#stdout()} / {@link ExecSession#stderr()}. */
        public ExecStartOptions listener(ExecOutputListener v) { listener = v; return this; }
    }

    /**
     * Starts argv (no shell) in the target's container as an interactive
     * command and returns once connected. Throws NotFound, Invalid (no such
     * container), Forbidden, Unsupported, Cancelled, ...
     */
    public ExecSession execStart(String target, ExecStartOptions o, String... argv) {
        if (argv == null || argv.length == 0) throw NocalhostException.of(ErrorCode.EINVAL, "exec: argv must name a program");
        ExecStartOptions opts = o == null ? new ExecStartOptions() : o;
        acquire();
        nh_exec_options x = new nh_exec_options();
        dev.nocalhost.jni.SWIGTYPE_p_p_nh_exec out = NH.new_ExecOut();
        // The token lives as long as the command: the caller's Cancel and this client's close() stop it.
        Native.CallToken t = new Native.CallToken(inflight, opts.cancel);
        ExecSession.Output output = new ExecSession.Output(opts.listener);
        boolean started = false;
        try {
            Native.check(NH.nh_exec_options_init(x, NH.NH_EXEC_OPTIONS_VERSION));
            x.setNamespace_name(opts.namespace);
            x.setContainer(opts.container);
            x.setTty(opts.tty ? 1 : 0);
            x.setStdin_enabled(opts.stdin ? 1 : 0);
            x.setTimeout_ms((int) opts.timeoutMs);
            x.setCancel(t.token);
            NH.nhj_exec_options_set_listener(x, output);
            Native.check(NH.nh_exec_start(out, handle, target, argv, x));
            dev.nocalhost.jni.SWIGTYPE_p_nh_exec h = NH.ExecOut_value(out);
            ExecSession s = new ExecSession(h, output, () -> {
                NH.nh_exec_free(h);
                NH.nhj_exec_options_clear_listener(x);
                x.delete();
                t.close();
            });
            s.inflight.attach(t.token);
            started = true;
            return s;
        } finally {
            NH.delete_ExecOut(out);
            if (!started) {
                NH.nhj_exec_options_clear_listener(x);
                x.delete();
                t.close();
            }
            release();
        }
    }

    /** Options of {@link #reverseForward}. */
    public static final class ReverseForwardOptions {
        String namespace, developer, remoteAddress, syncdDir;
        DevMode mode = DevMode.REPLACE;
        long timeoutMs;
        Cancel cancel;
        ForwardListener listener;

        public ReverseForwardOptions namespace(String v) { namespace = v; return this; }
        /** Which session of the workload (default REPLACE). */
        public ReverseForwardOptions mode(DevMode v) { mode = v; return this; }
        /** Duplicate mode: the developer whose copy. */
        public ReverseForwardOptions developer(String v) { developer = v; return this; }
        /** The IPv4 address the listeners bind in the pod; default 127.0.0.1 (the pod's own containers). */
        public ReverseForwardOptions remoteAddress(String v) { remoteAddress = v; return this; }
        /** Limit for the first tunnel (nhsyncd's upload included); default 120 s. */
        public ReverseForwardOptions timeoutMs(long v) { timeoutMs = v; return this; }
        /** Without a sidecar image: where the nhsyncd binaries are. */
        public ReverseForwardOptions syncdDir(String v) { syncdDir = v; return this; }
        /** Stops forwarding. */
        public ReverseForwardOptions cancel(Cancel v) { cancel = v; return this; }
        /** Connection and tunnel events (localPort is the port here, remotePort the pod's). */
        public ReverseForwardOptions listener(ForwardListener v) { listener = v; return this; }
    }

    /**
     * Listens in the dev pod of workload `kind`/`name` (in dev mode) on each REMOTE port and
     * carries every connection back to 127.0.0.1:LOCAL here: ports "REMOTE:LOCAL" or "PORT"
     * (docs/traffic.md). Returns once every listener is bound in the pod. Throws InvalidArgument
     * (bad port text), InvalidState (not in dev mode), Busy (a port in the pod is taken),
     * Unauthorized (the sidecar refused the session's token), Timeout, ...
     */
    public ReverseForward reverseForward(String kind, String name, ReverseForwardOptions o, String... ports) {
        if (ports == null || ports.length == 0) throw NocalhostException.of(ErrorCode.EINVAL, "reverse-forward: no ports given");
        ReverseForwardOptions opts = o == null ? new ReverseForwardOptions() : o;
        acquire();
        dev.nocalhost.jni.nh_reverse_options x = new dev.nocalhost.jni.nh_reverse_options();
        dev.nocalhost.jni.SWIGTYPE_p_p_nh_reverse out = NH.new_ReverseOut();
        Native.CallToken t = new Native.CallToken(inflight, opts.cancel);
        boolean started = false;
        try {
            Native.check(NH.nh_reverse_options_init(x, NH.NH_REVERSE_OPTIONS_VERSION));
            x.setNamespace_name(opts.namespace);
            x.setMode(opts.mode.value());
            x.setDeveloper(opts.developer);
            x.setRemote_address(opts.remoteAddress);
            x.setTimeout_ms((int) opts.timeoutMs);
            x.setSyncd_dir(opts.syncdDir);
            x.setCancel(t.token);
            if (opts.listener != null) NH.nhj_reverse_options_set_listener(x, new ReverseForward.Events(opts.listener));
            Native.check(NH.nh_reverse_start(out, handle, kind, name, ports, x));
            dev.nocalhost.jni.SWIGTYPE_p_nh_reverse h = NH.ReverseOut_value(out);
            ReverseForward r = new ReverseForward(h, () -> {
                NH.nh_reverse_free(h);
                NH.nhj_reverse_options_clear_listener(x);
                x.delete();
                t.close();
            });
            r.inflight.attach(t.token);
            started = true;
            return r;
        } finally {
            NH.delete_ReverseOut(out);
            if (!started) {
                NH.nhj_reverse_options_clear_listener(x);
                x.delete();
                t.close();
            }
            release();
        }
    }

    /** Options of {@link #portForward}. */
    public static final class PortForwardOptions {
        String namespace, address;
        long timeoutMs;
        boolean follow = true;
        Cancel cancel;
        ForwardListener listener;

        public PortForwardOptions namespace(String v) { namespace = v; return this; }
        /** The IPv4 address to listen on; default 127.0.0.1. */
        public PortForwardOptions address(String v) { address = v; return this; }
        /** Limit for opening each stream. */
        public PortForwardOptions timeoutMs(long v) { timeoutMs = v; return this; }
        /** When the pod goes away, forward new connections to the target's new pod (default true). */
        public PortForwardOptions follow(boolean v) { follow = v; return this; }
        /** Stops forwarding. */
        public PortForwardOptions cancel(Cancel v) { cancel = v; return this; }
        public PortForwardOptions listener(ForwardListener v) { listener = v; return this; }
    }

    /**
     * Forwards local ports to the target's pod: "LOCAL:REMOTE", ":REMOTE" or
     * "0:REMOTE" (a free local port, see {@link PortForward#localPorts()}),
     * or "PORT". Returns once every port is bound. Throws InvalidArgument,
     * Busy (a local port is taken), NotFound, ...
     */
    public PortForward portForward(String target, PortForwardOptions o, String... ports) {
        if (ports == null || ports.length == 0) throw NocalhostException.of(ErrorCode.EINVAL, "port-forward: no ports given");
        PortForwardOptions opts = o == null ? new PortForwardOptions() : o;
        acquire();
        dev.nocalhost.jni.nh_forward_options x = new dev.nocalhost.jni.nh_forward_options();
        dev.nocalhost.jni.SWIGTYPE_p_p_nh_forward out = NH.new_ForwardOut();
        Native.CallToken t = new Native.CallToken(inflight, opts.cancel);
        boolean started = false;
        try {
            Native.check(NH.nh_forward_options_init(x, NH.NH_FORWARD_OPTIONS_VERSION));
            x.setNamespace_name(opts.namespace);
            x.setAddress(opts.address);
            x.setTimeout_ms((int) opts.timeoutMs);
            x.setFollow(opts.follow ? 1 : 0);
            x.setCancel(t.token);
            if (opts.listener != null) NH.nhj_forward_options_set_listener(x, new PortForward.Events(opts.listener));
            Native.check(NH.nh_forward_start(out, handle, target, ports, x));
            dev.nocalhost.jni.SWIGTYPE_p_nh_forward h = NH.ForwardOut_value(out);
            PortForward f = new PortForward(h, ports.length, () -> {
                NH.nh_forward_free(h);
                NH.nhj_forward_options_clear_listener(x);
                x.delete();
                t.close();
            });
            f.inflight.attach(t.token);
            started = true;
            return f;
        } finally {
            NH.delete_ForwardOut(out);
            if (!started) {
                NH.nhj_forward_options_clear_listener(x);
                x.delete();
                t.close();
            }
            release();
        }
    }

    static void rethrow(Throwable e) {
        if (e instanceof RuntimeException) throw (RuntimeException) e;
        if (e instanceof Error) throw (Error) e;
        throw new RuntimeException(e);
    }

    // ---- what an IDE asks beside dev mode (JSON text, as the other dev-mode calls) ----

    /** The result of a call filling an nh_buf, as text. */
    private interface BufCall {
        int run(nh_buf out, dev.nocalhost.jni.SWIGTYPE_p_nh_cancel token);
    }

    private String bufCall(Cancel cancel, BufCall call) {
        acquire();
        nh_buf out = new nh_buf();
        try (Native.CallToken t = new Native.CallToken(inflight, cancel)) {
            Native.check(call.run(out, t.token));
            return Utf8.decode(out.bytes());
        } finally {
            NH.nh_buf_dispose(out);
            out.delete();
            release();
        }
    }

    /**
     * Whether the cluster answers and who we are (nh_client_check), as JSON: {"server", "version",
     * "authenticated", "user", "error"}.
     */
    public String check(Cancel cancel) {
        return bufCall(cancel, (out, token) -> NH.nh_client_check(out, handle, token));
    }

    /**
     * The workload tree of the client's namespace (nh_tree_list) as a JSON array, of `kinds`
     * ("deploy", "sts", ...; none: every kind).
     */
    public String tree(Cancel cancel, String... kinds) {
        dev.nocalhost.jni.nh_tree_options o = new dev.nocalhost.jni.nh_tree_options();
        try {
            Native.check(NH.nh_tree_options_init(o, NH.NH_TREE_OPTIONS_VERSION));
            if (kinds.length > 0) {
                o.setKinds(kinds);
                o.setKinds_count(kinds.length);
            }
            return bufCall(cancel, (out, token) -> {
                o.setCancel(token);
                return NH.nh_tree_list(out, handle, o);
            });
        } finally {
            o.delete();
        }
    }

    private String rights(String target, DevStartOptions options, boolean check) {
        String[] w = workload(target);
        DevStartOptions o = options == null ? new DevStartOptions() : options;
        dev.nocalhost.jni.nh_dev_start_options d = new dev.nocalhost.jni.nh_dev_start_options();
        try {
            Native.check(NH.nh_dev_start_options_init(d, NH.NH_DEV_START_OPTIONS_VERSION));
            o.fill(d);
            return bufCall(o.cancel, (out, token) -> {
                d.setCancel(token);
                return check ? NH.nh_dev_access_check(out, handle, w[0], w[1], d)
                             : NH.nh_dev_required_rights(out, handle, w[0], w[1], d);
            });
        } finally {
            d.delete();
        }
    }

    /**
     * The rights {@link #devStart} of "KIND/NAME" with these options and its end need, as the
     * rules of an RBAC Role (nh_dev_required_rights): a JSON array of {"apiGroups", "resources", "verbs"}.
     */
    public String devRequiredRights(String target, DevStartOptions o) { return rights(target, o, false); }

    /**
     * Which of {@link #devRequiredRights} the caller lacks, as the API server says
     * (nh_dev_access_check): JSON {"checked", "reason", "missing": [...], "rules"}.
     */
    public String devAccessCheck(String target, DevStartOptions o) { return rights(target, o, true); }

    /** Where {@link #devConfigRead} and {@link #devConfigWrite} read and write, and over which version. */
    public static final class DevConfigOptions {
        String namespace, app, resourceVersion;
        Cancel cancel;

        public DevConfigOptions namespace(String v) { namespace = v; return this; }
        /** The application whose ConfigMap dev.nocalhost.config.APP holds it; default: the workload's annotation. */
        public DevConfigOptions app(String v) { app = v; return this; }
        /** devConfigWrite: the resourceVersion read; default: only where there is no config yet. */
        public DevConfigOptions resourceVersion(String v) { resourceVersion = v; return this; }
        public DevConfigOptions cancel(Cancel v) { cancel = v; return this; }
    }

    private String devConfig(String target, String config, DevConfigOptions options) {
        String[] w = workload(target);
        DevConfigOptions o = options == null ? new DevConfigOptions() : options;
        dev.nocalhost.jni.nh_dev_config_options d = new dev.nocalhost.jni.nh_dev_config_options();
        try {
            Native.check(NH.nh_dev_config_options_init(d, NH.NH_DEV_CONFIG_OPTIONS_VERSION));
            d.setNamespace_name(o.namespace);
            d.setApp_name(o.app);
            d.setResource_version(o.resourceVersion);
            return bufCall(o.cancel, (out, token) -> {
                d.setCancel(token);
                return config == null ? NH.nh_dev_config_read(out, handle, w[0], w[1], d)
                                      : NH.nh_dev_config_write(out, handle, w[0], w[1], config, d);
            });
        } finally {
            d.delete();
        }
    }

    /**
     * The dev config kept in the cluster (nh_dev_config_read): JSON {"config" (text or null),
     * "resource_version", "source"}.
     */
    public String devConfigRead(String target, DevConfigOptions o) { return devConfig(target, null, o); }

    /**
     * Writes a dev config (YAML) back (nh_dev_config_write), validated, only over the
     * resourceVersion read; returns what devConfigRead now gives.
     * @throws NocalhostException.Conflict when it changed since it was read (nothing overwritten)
     * @throws NocalhostException.InvalidArgument for an invalid config
     */
    public String devConfigWrite(String target, String config, DevConfigOptions o) {
        if (config == null) throw NocalhostException.of(ErrorCode.EINVAL, "devConfigWrite: config is null");
        return devConfig(target, config, o);
    }

    // ---- your agent: forwards and syncs that outlive this JVM (docs/agent.md) ----

    /**
     * Forwards local ports to "KIND/NAME" (or "pod/NAME", ...) from your {@link Agent}
     * (nh_agent_forward_start), so that the forward outlives this JVM and follows a replaced pod;
     * ports as nh_forward_start takes them ("8080:80", "0:80", "80"). Returns the item's id once
     * the agent listens on every port ({@link Agent#status} names the local ports).
     * @throws NocalhostException.InvalidArgument for a local port below 1024 (nothing starts)
     */
    public String agentForward(String target, String[] ports, Agent.Options o) {
        acquire();
        try {
            return Agent.call(o, kubeconfigData, (out, opts) -> NH.nh_agent_forward_start(out, handle, target, ports, opts));
        } finally {
            release();
        }
    }

    /**
     * Takes the sync `id` back from your {@link Agent} (nh_agent_reattach): the returned session
     * syncs the same directory here, from the index the agent saved ({@link Session#sync()}).
     * When it cannot start here, the agent syncs it again and the error says so.
     * @throws NocalhostException.NotFound when the agent holds no such item
     * @throws NocalhostException.InvalidState when its dev mode was ended elsewhere (state "ended")
     */
    public Session agentReattach(String id, Agent.Options o) {
        acquire();
        try {
            dev.nocalhost.jni.nh_agent_options opts = Agent.toNative(o, kubeconfigData);
            dev.nocalhost.jni.SWIGTYPE_p_p_nh_session out = NH.new_SessionOut();
            try {
                Native.check(NH.nh_agent_reattach(out, handle, id, null, opts));
                return new Session(this, NH.SessionOut_value(out), null, false);
            } finally {
                NH.delete_SessionOut(out);
                opts.delete();
            }
        } finally {
            release();
        }
    }

    // ---- dev spaces (nh_space_*, docs/spaces.md) ----

    /**
     * What a space call takes (nh_space_options). The access the create, share and renew calls
     * return is JSON {"developer", "service_account", "namespace", "kubeconfig", "expires"}; its
     * kubeconfig holds a token (open it with {@link #fromKubeconfigData}).
     */
    public static final class SpaceOptions {
        String cpu, memory, storage, extraRulesJson;
        boolean existingNamespace, revoke;
        int pods;
        long tokenSeconds;
        Cancel cancel;

        /** create: adopt a namespace that exists (delete then leaves it as it was). */
        public SpaceOptions existingNamespace(boolean v) { existingNamespace = v; return this; }
        /** create: the quota, as Kubernetes quantities ("2", "500m"; "4Gi"). */
        public SpaceOptions cpu(String v) { cpu = v; return this; }
        public SpaceOptions memory(String v) { memory = v; return this; }
        public SpaceOptions storage(String v) { storage = v; return this; }
        /** create: at most this many pods; 0: no limit. */
        public SpaceOptions pods(int v) { pods = v; return this; }
        /** create: PolicyRules the Role grants besides dev mode's, as a JSON array. */
        public SpaceOptions extraRulesJson(String v) { extraRulesJson = v; return this; }
        /** The token's lifetime; 0: 24 hours. */
        public SpaceOptions tokenSeconds(long v) { tokenSeconds = v; return this; }
        /** renew: every token issued before stops working. */
        public SpaceOptions revoke(boolean v) { revoke = v; return this; }
        public SpaceOptions cancel(Cancel v) { cancel = v; return this; }
    }

    private interface SpaceCall {
        int run(nh_buf out, dev.nocalhost.jni.nh_space_options o);
    }

    private String space(String developer, SpaceOptions options, SpaceCall call) {
        SpaceOptions o = options == null ? new SpaceOptions() : options;
        dev.nocalhost.jni.nh_space_options d = new dev.nocalhost.jni.nh_space_options();
        try {
            Native.check(NH.nh_space_options_init(d, NH.NH_SPACE_OPTIONS_VERSION));
            d.setDeveloper(developer);
            d.setExisting_namespace(o.existingNamespace ? 1 : 0);
            d.setCpu(o.cpu);
            d.setMemory(o.memory);
            d.setStorage(o.storage);
            d.setPods(o.pods);
            d.setExtra_rules_json(o.extraRulesJson);
            d.setToken_seconds(o.tokenSeconds);
            d.setRevoke(o.revoke ? 1 : 0);
            return bufCall(o.cancel, (out, token) -> {
                d.setCancel(token);
                return call.run(out, d);
            });
        } finally {
            d.delete();
        }
    }

    /** Creates space `name` for `developer` (nh_space_create); their access as JSON. */
    public String createSpace(String name, String developer, SpaceOptions o) {
        return space(developer, o, (out, d) -> NH.nh_space_create(out, handle, name, d));
    }

    /** Gives `developer` access to space `name` too (nh_space_share); their access as JSON. */
    public String shareSpace(String name, String developer, SpaceOptions o) {
        return space(developer, o, (out, d) -> NH.nh_space_share(out, handle, name, d));
    }

    /** A new token for `developer` in space `name` (nh_space_renew); with revoke, older ones stop working. */
    public String renewSpace(String name, String developer, SpaceOptions o) {
        return space(developer, o, (out, d) -> NH.nh_space_renew(out, handle, name, d));
    }

    /** The spaces as a JSON array, only `developer`'s when not null (nh_space_list). */
    public String spaces(String developer, Cancel cancel) {
        return space(developer, new SpaceOptions().cancel(cancel), (out, d) -> NH.nh_space_list(out, handle, d));
    }

    /** Deletes space `name`, everything it made and nothing else; with `developer`, only their access (nh_space_delete). */
    public void deleteSpace(String name, String developer, Cancel cancel) {
        space(developer, new SpaceOptions().cancel(cancel), (out, d) -> NH.nh_space_delete(handle, name, d));
    }

    // ---- applications (nh_app_*, docs/apps.md) ----

    /**
     * What an application call takes (nh_app_options). An application is JSON {"name",
     * "namespace", "type", "state", "objects": [{"apiVersion", "kind", "name"}], "workloads":
     * [{"kind", "name"}]}.
     */
    public static final class AppOptions {
        String namespace, configPath;
        String[] valuesFiles = new String[0], set = new String[0];
        boolean allNamespaces;
        Cancel cancel;

        /** The application's namespace; default: the client's. */
        public AppOptions namespace(String v) { namespace = v; return this; }
        /** Helm charts: values files (helm --values), in order. */
        public AppOptions valuesFiles(String... v) { valuesFiles = v.clone(); return this; }
        /** Helm charts: "key=value" each (helm --set), in order. */
        public AppOptions set(String... v) { set = v.clone(); return this; }
        /** The dev config; default: SOURCE/.nocalhost/config.yaml when there is one. */
        public AppOptions configPath(String v) { configPath = v; return this; }
        /** apps(): the applications of every namespace. */
        public AppOptions allNamespaces(boolean v) { allNamespaces = v; return this; }
        public AppOptions cancel(Cancel v) { cancel = v; return this; }
    }

    private interface AppCall {
        int run(nh_buf out, dev.nocalhost.jni.nh_app_options o);
    }

    private String app(AppOptions options, AppCall call) {
        AppOptions o = options == null ? new AppOptions() : options;
        dev.nocalhost.jni.nh_app_options d = new dev.nocalhost.jni.nh_app_options();
        try {
            Native.check(NH.nh_app_options_init(d, NH.NH_APP_OPTIONS_VERSION));
            d.setNamespace_name(o.namespace);
            if (o.valuesFiles.length > 0) {
                d.setValues_files(o.valuesFiles);
                d.setValues_files_count(o.valuesFiles.length);
            }
            if (o.set.length > 0) {
                d.setSet(o.set);
                d.setSet_count(o.set.length);
            }
            d.setConfig_path(o.configPath);
            d.setAll_namespaces(o.allNamespaces ? 1 : 0);
            return bufCall(o.cancel, (out, token) -> {
                d.setCancel(token);
                return call.run(out, d);
            });
        } finally {
            d.delete();
        }
    }

    /**
     * Installs application `name` from `source`: a directory of manifests, a Kustomize directory
     * or a Helm chart (nh_app_install); the application as JSON. A failed install removes what it made.
     */
    public String installApp(String name, String source, AppOptions o) {
        return app(o, (out, d) -> NH.nh_app_install(out, handle, name, source, d));
    }

    /** Applies `source` to application `name` and deletes what left it (nh_app_upgrade). */
    public String upgradeApp(String name, String source, AppOptions o) {
        return app(o, (out, d) -> NH.nh_app_upgrade(out, handle, name, source, d));
    }

    /** The applications of the namespace (or all, with allNamespaces) as a JSON array (nh_app_list). */
    public String apps(AppOptions o) { return app(o, (out, d) -> NH.nh_app_list(out, handle, d)); }

    /** Deletes exactly what application `name` installed (nh_app_uninstall). */
    public void uninstallApp(String name, AppOptions o) { app(o, (out, d) -> NH.nh_app_uninstall(handle, name, d)); }

    /** Receives tree events (nh_tree_watch): "ADDED", "MODIFIED", "DELETED", then "SYNCED" with the whole tree. */
    @FunctionalInterface
    public interface TreeListener {
        void onEvent(String type, String entryJson) throws Exception;
    }

    private static final String[] TREE_EVENT_NAMES = {"", "ADDED", "MODIFIED", "DELETED", "SYNCED"};

    /**
     * Keeps the tree of the client's namespace current (nh_tree_watch): every entry as ADDED, then
     * SYNCED, then each change, on this thread, until `cancel` is triggered or the client closed
     * ({@link NocalhostException.Cancelled}), or the listener throws (rethrown).
     */
    public void watchTree(Cancel cancel, TreeListener listener, String... kinds) {
        acquire();
        dev.nocalhost.jni.nh_tree_options o = new dev.nocalhost.jni.nh_tree_options();
        Throwable[] thrown = new Throwable[1];
        dev.nocalhost.jni.WatchCallback cb = (type, entry) -> {
            try {
                listener.onEvent(type >= 1 && type <= 4 ? TREE_EVENT_NAMES[type] : String.valueOf(type), Utf8.decode(entry));
                return false;
            } catch (Throwable e) {
                thrown[0] = e;
                return true;
            }
        };
        try (Native.CallToken t = new Native.CallToken(inflight, cancel)) {
            Native.check(NH.nh_tree_options_init(o, NH.NH_TREE_OPTIONS_VERSION));
            if (kinds.length > 0) {
                o.setKinds(kinds);
                o.setKinds_count(kinds.length);
            }
            o.setCancel(t.token);
            NH.nhj_tree_options_set_listener(o, cb);
            int rc = NH.nh_tree_watch(handle, o);
            if (thrown[0] != null) rethrow(thrown[0]);
            Native.check(rc);
        } finally {
            NH.nhj_tree_options_clear_listener(o);
            o.delete();
            release();
        }
    }

    /** Options of {@link #logs}. */
    public static final class LogsOptions {
        String container;
        boolean follow, previous, timestamps;
        long tailLines = -1, sinceSeconds;
        Cancel cancel;

        public LogsOptions container(String v) { container = v; return this; }
        /** Keep streaming until the container ends or the cancel is triggered. */
        public LogsOptions follow(boolean v) { follow = v; return this; }
        public LogsOptions tailLines(long v) { tailLines = v; return this; }
        public LogsOptions sinceSeconds(long v) { sinceSeconds = v; return this; }
        public LogsOptions previous(boolean v) { previous = v; return this; }
        public LogsOptions timestamps(boolean v) { timestamps = v; return this; }
        public LogsOptions cancel(Cancel v) { cancel = v; return this; }
    }

    /** Receives one log line (without its newline). */
    @FunctionalInterface
    public interface LineListener {
        void onLine(String line) throws Exception;
    }

    /**
     * Streams the logs of the pod `target` means ("pod/NAME", or "KIND/NAME" as kubectl logs picks
     * its pod) to the listener on this thread (nh_pod_logs); returns the pod's name. With follow,
     * until the container ends, the cancel is triggered ({@link NocalhostException.Cancelled}) or
     * the listener throws (rethrown).
     */
    public String logs(String target, LogsOptions options, LineListener listener) {
        acquire();
        LogsOptions lo = options == null ? new LogsOptions() : options;
        dev.nocalhost.jni.nh_pod_logs_options o = new dev.nocalhost.jni.nh_pod_logs_options();
        nh_buf pod = new nh_buf();
        Throwable[] thrown = new Throwable[1];
        dev.nocalhost.jni.WatchCallback cb = (type, line) -> {
            try {
                listener.onLine(Utf8.decode(line));
                return false;
            } catch (Throwable e) {
                thrown[0] = e;
                return true;
            }
        };
        try (Native.CallToken t = new Native.CallToken(inflight, lo.cancel)) {
            Native.check(NH.nh_pod_logs_options_init(o, NH.NH_POD_LOGS_OPTIONS_VERSION));
            o.setContainer(lo.container);
            o.setFollow(lo.follow ? 1 : 0);
            o.setTail_lines((int) lo.tailLines);
            o.setSince_seconds((int) lo.sinceSeconds);
            o.setPrevious(lo.previous ? 1 : 0);
            o.setTimestamps(lo.timestamps ? 1 : 0);
            o.setCancel(t.token);
            NH.nhj_pod_logs_options_set_listener(o, cb);
            int rc = NH.nh_pod_logs(pod, handle, target, o);
            if (thrown[0] != null) rethrow(thrown[0]);
            Native.check(rc);
            return Utf8.decode(pod.bytes());
        } finally {
            NH.nhj_pod_logs_options_clear_listener(o);
            NH.nh_buf_dispose(pod);
            pod.delete();
            o.delete();
            release();
        }
    }
}
