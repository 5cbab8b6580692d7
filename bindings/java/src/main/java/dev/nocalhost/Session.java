package dev.nocalhost;

import dev.nocalhost.jni.NH;
import dev.nocalhost.jni.SWIGTYPE_p_nh_session;
import dev.nocalhost.jni.Utf8;
import dev.nocalhost.jni.nh_buf;
import dev.nocalhost.jni.SWIGTYPE_p_nh_sync;
import dev.nocalhost.jni.nh_sync_options;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.function.Function;

/**
 * A workload in dev mode, as seen when started, attached or refreshed.
 *
 * <p>Two forms, chosen when the session is made:
 * <ul>
 * <li>scoped ({@link Client.DevStartOptions#endOnClose}(true)): {@link #close()}, so the end of a
 * try-with-resources block, ends dev mode, also when the block throws (an error ending it is then
 * added to the block's exception as suppressed):
 * <pre>{@code
 * try (Session s = client.devStart("deployment/web", new Client.DevStartOptions().image(img).endOnClose(true))) {
 *     s.exec("go", "test", "./...");
 * }   // dev mode has ended here
 * }</pre>
 * <li>the handle only (the default): close() releases the handle and dev mode stays on, for
 * sessions meant to outlive the program ({@link #end()} or {@link Client#devEnd} ends it later,
 * from any process).
 * </ul>
 * Keeps its client alive. {@link #token()} is a secret: never log it. Thread-safe (calls are
 * serialized).
 */
public final class Session extends NativeHandle {
    private final Client client;
    private final SWIGTYPE_p_nh_session handle;
    /** As given to devStart / devAttach. */
    private final String developer;
    private final boolean endOnClose;
    private volatile boolean ended;
    /** What ending needs, kept so that close() still ends a scoped session's dev mode. */
    private final String kind, name, namespace;
    private final DevMode mode;
    private final String endDeveloper;

    Session(Client client, SWIGTYPE_p_nh_session h, String developer, boolean endOnClose) {
        super("session", () -> NH.nh_session_free(h));
        this.client = client;
        this.handle = h;
        this.developer = developer;
        this.endOnClose = endOnClose;
        this.kind = kind();
        this.name = name();
        this.namespace = namespace();
        this.mode = mode();
        String who = developer();
        this.endDeveloper = who.isEmpty() ? null : who;
    }

    /** Whether {@link #close()} ends dev mode (see the class). */
    public boolean endOnClose() { return endOnClose; }

    private synchronized String text(Function<SWIGTYPE_p_nh_session, String> getter) {
        acquire();
        try {
            return getter.apply(handle);
        } finally {
            release();
        }
    }

    public Client client() { return client; }
    /** The workload's kind: "Deployment", "StatefulSet", "DaemonSet", ... */
    public String kind() { return text(NH::nh_session_kind); }
    public String name() { return text(NH::nh_session_name); }
    public String namespace() { return text(NH::nh_session_namespace); }
    /** The dev pod's name; "" when none exists right now. */
    public String pod() { return text(NH::nh_session_pod_name); }
    public String container() { return text(NH::nh_session_container); }
    public String sidecarContainer() { return text(NH::nh_session_sidecar_container); }
    public String workdir() { return text(NH::nh_session_workdir); }
    public String owner() { return text(NH::nh_session_owner); }
    /** When the session started (RFC 3339). */
    public String since() { return text(NH::nh_session_since); }
    /** The sidecar's sync token: a secret. */
    public String token() { return text(NH::nh_session_token); }
    /**
     * The Deployment the dev pod runs from when it is not the workload itself: the copy in
     * duplicate mode, the generated Deployment of DaemonSets, Jobs, CronJobs, Pods and custom
     * kinds; else "".
     */
    public String workload() { return text(NH::nh_session_workload); }

    /**
     * Where streams to the dev pod go ({@link Client#exec}, port-forwards): the workload that runs
     * it, "deployment/&lt;workload&gt;" or "&lt;kind&gt;/&lt;name&gt;", so that they follow a replaced dev pod.
     */
    public String target() { return text(NH::nh_session_target); }

    /**
     * Duplicate mode: the developer whose copy this is (what {@link #end()} and
     * {@link Client#devAttach} find it by); otherwise "".
     */
    public String developer() {
        String d = text(NH::nh_session_developer);
        if (d.isEmpty() && mode() == DevMode.DUPLICATE && developer != null) return developer;
        return d;
    }

    public synchronized DevMode mode() {
        acquire();
        try {
            return DevMode.of(NH.nh_session_mode(handle));
        } finally {
            release();
        }
    }

    public synchronized int syncPort() {
        acquire();
        try {
            return NH.nh_session_sync_port(handle);
        } finally {
            release();
        }
    }

    /**
     * The session's state as {@link Client#devStatus} reports it (JSON), without a request; while the
     * session runs the whole loop, also "port_forwards": [{"spec","local_port","remote_port"}], the
     * dev config's port-forwards.
     */
    public synchronized String status() {
        acquire();
        nh_buf out = new nh_buf();
        try {
            Native.check(NH.nh_session_status(out, handle));
            return Utf8.decode(out.bytes());
        } finally {
            NH.nh_buf_dispose(out);
            out.delete();
            release();
        }
    }

    /** Look for the dev pod again (e.g. after it restarted). */
    public synchronized void refresh(Cancel cancel) {
        acquire();
        try (Native.CallToken t = new Native.CallToken(inflight, cancel)) {
            Native.check(NH.nh_session_refresh(handle, t.token));
        } finally {
            release();
        }
    }

    /** Run a command in the dev container (see {@link Client#exec}). */
    public ExecResult exec(String... argv) {
        return client.exec(target(), argv,
            new Client.ExecOptions().namespace(namespace()).container(container()));
    }

    /** nh dev run's commands and their names in the Nocalhost dev config. */
    private static final java.util.Map<String, String> RUN_COMMANDS = java.util.Map.of(
        "build", "build", "run", "run", "debug", "debug", "hot-reload-run", "hotReloadRun", "hot-reload-debug", "hotReloadDebug");

    @SuppressWarnings("unchecked")
    private static java.util.Map<String, Object> object(Object v) {
        return v instanceof java.util.Map ? (java.util.Map<String, Object>) v : java.util.Map.of();
    }

    /** The Nocalhost dev config recorded when dev mode started ({} when none). */
    private java.util.Map<String, Object> recordedConfig() {
        return object(object(Json.parse(status())).get("config"));
    }

    /** The recorded dev config's shell, or null. */
    String configShell() {
        Object shell = recordedConfig().get("shell");
        return shell instanceof String && !((String) shell).isEmpty() ? (String) shell : null;
    }

    /**
     * nh dev run: the Nocalhost dev config's command.&lt;command&gt; ("build", "run", "debug",
     * "hot-reload-run", "hot-reload-debug") in the dev container, in its work dir; returns once it
     * ended (a non-zero exit code is no error). The command comes from the config recorded when
     * dev mode started or, when that has none, from {@link Client.RunOptions#configPath}. The debug
     * commands forward debug.remoteDebugPort from 127.0.0.1 while they run. Throws ConfigError (no
     * such command), InvalidState (no dev pod right now), InvalidArgument (an unknown command).
     */
    public ExecResult run(String command, Client.RunOptions options) {
        Client.RunOptions o = options == null ? new Client.RunOptions() : options;
        String key = RUN_COMMANDS.getOrDefault(command, command);
        if (!RUN_COMMANDS.containsValue(key))
            throw NocalhostException.of(ErrorCode.EINVAL, "unknown dev command '" + command + "' (valid: build, run, debug, hot-reload-run, hot-reload-debug)");
        refresh(o.cancel);
        java.util.Map<String, Object> config = recordedConfig();
        String source = "the dev config recorded when dev mode started";
        if (o.configPath != null || o.appName != null) {
            java.util.Map<String, Object> resolved = object(Json.parse(client.devConfigResolve(kind, name,
                new Client.DevStartOptions().namespace(namespace).configPath(o.configPath).appName(o.appName)
                    .container(container()).cancel(o.cancel))));
            if (resolved.containsKey("command") || resolved.containsKey("debug")) {
                config = resolved;
                source = Json.write(resolved.get("sources"));
            }
        }
        Object words = object(config.get("command")).get(key);
        String target = kind.toLowerCase() + "/" + name;
        if (!(words instanceof java.util.List) || ((java.util.List<?>) words).isEmpty())
            throw NocalhostException.of(ErrorCode.ECONFIG, target + " has no command." + key + " in " + source
                + "; add it under containers[].dev.command" + (o.configPath == null ? ", or give the config with configPath" : ""));
        String pod = pod();
        if (pod.isEmpty()) throw NocalhostException.of(ErrorCode.ESTATE, target + " has no dev pod running right now");
        // sh -c 'cd WORKDIR && exec "$@"' with the command as positional arguments: no quoting of its words.
        java.util.List<String> argv = new java.util.ArrayList<>(java.util.List.of(
            "sh", "-c", "cd '" + workdir().replace("'", "'\\''") + "' && exec \"$@\"", "nh-dev-run"));
        for (Object w : (java.util.List<?>) words) argv.add(w instanceof String ? (String) w : Json.write(w));
        argv.addAll(java.util.Arrays.asList(o.args));
        Object remoteValue = object(config.get("debug")).get("remoteDebugPort");
        int remote = remoteValue instanceof Number ? ((Number) remoteValue).intValue() : 0;
        PortForward forward = null;
        if ((key.equals("debug") || key.equals("hotReloadDebug")) && remote > 0)
            forward = client.portForward("pod/" + pod, new Client.PortForwardOptions().namespace(namespace).cancel(o.cancel),
                (o.localPort > 0 ? o.localPort : remote) + ":" + remote);
        try {
            return client.exec("pod/" + pod, argv.toArray(new String[0]), new Client.ExecOptions().namespace(namespace)
                .container(container()).stdin(o.stdin).timeoutMs(o.timeoutMs).cancel(o.cancel));
        } finally {
            if (forward != null) forward.close();
        }
    }

    /**
     * nh terminal: a shell in the dev container: `shell`, else the dev config's, else zsh, bash
     * or sh (see {@link Client#terminal}).
     */
    public ExecSession terminal(String shell, Client.ExecStartOptions options) {
        Client.ExecStartOptions o = options == null ? new Client.ExecStartOptions() : options;
        return client.terminal(target(), shell != null ? shell : configShell(), o.namespace(namespace).container(container()));
    }

    /** End dev mode for this workload (this session: its mode and developer) and close the handle. */
    public DevEndResult end() {
        DevEndResult r = client.devEnd(kind, name, new Client.DevEndOptions().namespace(namespace).mode(mode).developer(endDeveloper));
        ended = true;
        close();
        return r;
    }

    // The session's running sync, lent as a Sync whose free() only counts down
    // `syncReturned`, and the C options whose listener it calls (guarded by this).
    private Sync syncView;
    private CountDownLatch syncReturned;
    private nh_sync_options syncOptions;

    synchronized void adoptSyncOptions(nh_sync_options x) { syncOptions = x; }

    /**
     * The session's running sync (from a start with {@link Client.DevStartOptions#localDir} or
     * {@link #startSync}), or null. Valid until {@link #stopSync()} or {@link #close()}.
     */
    public synchronized Sync sync() {
        acquire();
        try {
            if (syncView != null && !syncView.isClosed()) return syncView;
            SWIGTYPE_p_nh_sync h = NH.nh_session_sync(handle);
            if (h == null) return null;
            CountDownLatch returned = new CountDownLatch(1);
            syncView = new Sync(h, false, returned::countDown);
            syncReturned = returned;
            return syncView;
        } finally {
            release();
        }
    }

    /**
     * Forwards to the session's sync sidecar, syncs `localDir` into the work dir and returns once
     * the first full sync is acknowledged (timeout null: 5 minutes). `onEvent` gets the phases
     * "forward", "sync" and "synced". Throws InvalidState (already syncing), Unauthorized (the
     * sidecar refused the token), Timeout, Cancelled, ...
     */
    public Sync startSync(String localDir, Sync.Options options, Duration timeout, Cancel cancel, DevEventListener onEvent) {
        synchronized (this) {
            acquire();
            client.acquire();
            nh_sync_options x = (options == null ? new Sync.Options() : options).toNative();
            Client.DevEvents events = onEvent == null ? null : new Client.DevEvents(onEvent);
            try (Native.CallToken t = new Native.CallToken(inflight, cancel)) {
                int rc = NH.nhj_session_sync_start(handle, client.handle, localDir, x,
                    timeout == null ? 0 : (int) Math.min(Integer.MAX_VALUE, timeout.toMillis()), t.token, events);
                if (events != null && events.thrown != null) Client.rethrow(events.thrown);
                Native.check(rc);
                syncOptions = x;
                x = null;
            } finally {
                if (x != null) {
                    NH.nhj_sync_options_clear_listener(x);
                    x.delete();
                }
                client.release();
                release();
            }
        }
        return sync();
    }

    /** Stops the session's sync (its index is saved) and its port-forward; dev mode stays on. Idempotent. */
    public synchronized void stopSync() {
        acquire();
        try {
            if (syncView != null) {
                syncView.close();  // flushes in progress return; the latch opens when the last one did
                try {
                    syncReturned.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                syncView = null;
            }
            NH.nh_session_sync_stop(handle);
            if (syncOptions != null) {
                NH.nhj_sync_options_clear_listener(syncOptions);
                syncOptions.delete();
                syncOptions = null;
            }
        } finally {
            release();
        }
    }

    /**
     * Hands the session's sync to your {@link Agent} (nh_agent_detach): it stops here (its index
     * saved) and the agent syncs the same directory with the same settings from that index, also
     * after this JVM exits. Returns the item's id once the agent's first sync is acknowledged;
     * dev mode is untouched, and {@link #sync()} is null afterwards.
     * @throws NocalhostException.InvalidState when the session has no running sync
     * @throws NocalhostException.Busy when the agent already syncs this session
     */
    public String detach(Agent.Options options) {
        synchronized (this) {
            acquire();
            client.acquire();
            try {
                if (syncView != null) {
                    syncView.close();  // flushes in progress return first
                    try {
                        syncReturned.await();
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                    syncView = null;
                }
                String id = Agent.call(options, client.kubeconfigData, (out, o) -> NH.nh_agent_detach(out, handle, client.handle, o));
                if (syncOptions != null) {
                    NH.nhj_sync_options_clear_listener(syncOptions);
                    syncOptions.delete();
                    syncOptions = null;
                }
                return id;
            } finally {
                client.release();
                release();
            }
        }
    }

    /**
     * Stops the session's sync, if any, and releases the handle; dev mode stays on, unless the
     * session is scoped ({@link #endOnClose()}): then it ends dev mode first (once). Idempotent.
     */
    @Override
    public void close() {
        if (endOnClose && !ended) {
            ended = true;
            try {
                client.devEnd(kind, name, new Client.DevEndOptions().namespace(namespace).mode(mode).developer(endDeveloper));
            } finally {
                closeHandle();
            }
            return;
        }
        closeHandle();
    }

    private void closeHandle() {
        if (!isClosed()) {
            try {
                stopSync();
            } catch (NocalhostException.InvalidState e) {
                // closed meanwhile
            }
        }
        super.close();
    }
}
