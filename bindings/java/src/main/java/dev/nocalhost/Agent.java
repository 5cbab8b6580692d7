package dev.nocalhost;

import dev.nocalhost.jni.NH;
import dev.nocalhost.jni.Utf8;
import dev.nocalhost.jni.nh_agent_options;
import dev.nocalhost.jni.nh_buf;
import java.time.Duration;

/**
 * Your per-user agent (docs/agent.md): the syncs handed to it by {@link Session#detach} and the
 * forwards started by {@link Client#agentForward} keep running after this JVM exits, and any
 * process of the user (another JVM, `nh agent`, the other bindings) lists, reads and stops them.
 * Items are named by the id the agent gives ("s-..." for syncs, "f-..." for forwards); their
 * status is the JSON object of nh_agent_status(), returned as text as the binding's other JSON:
 * "state" (syncs "connecting", "syncing", "idle", "disconnected", "error", "ended"; forwards
 * "connecting", "forwarding", "waiting", "error"), "message", "files_done", "out_of_sync",
 * "last_sync", "conflicts", ... Needs no client.
 * <pre>{@code
 * String id = session.detach(null);                 // the sync leaves this process
 * String st = Agent.status(id, null);               // from any process of the user
 * Agent.stop(id, null);                             // the sync stops; dev mode stays
 * }</pre>
 */
public final class Agent {
    private Agent() {}

    /** Which agent, and how long to wait for its answer. */
    public static final class Options {
        String dir, agentPath, namespace;
        Duration timeout;

        /** The agent's directory; default $NH_AGENT_DIR, else $XDG_RUNTIME_DIR/nocalhost, else /tmp/nocalhost-UID. */
        public Options dir(String v) { dir = v; return this; }
        /** The agent's executable; default $NH_AGENT_PATH, else nh-agent beside the native library (the jar ships it). */
        public Options agentPath(String v) { agentPath = v; return this; }
        /** How long to wait for the agent's answer; default 60 s (a detach: 300 s). */
        public Options timeout(Duration v) { timeout = v; return this; }
        /** {@link Client#agentForward}: the target's namespace; default the client's. */
        public Options namespace(String v) { namespace = v; return this; }
    }

    /** The C options of `o` (null: defaults), with the kubeconfig text the agent needs for a client made from it. */
    static nh_agent_options toNative(Options options, String kubeconfigData) {
        Options o = options == null ? new Options() : options;
        nh_agent_options n = new nh_agent_options();
        try {
            Native.check(NH.nh_agent_options_init(n, NH.NH_AGENT_OPTIONS_VERSION));
            n.setDir(o.dir);
            n.setAgent_path(o.agentPath);
            if (o.timeout != null) n.setTimeout_ms((int) Math.min(Integer.MAX_VALUE, Math.max(1, o.timeout.toMillis())));
            n.setKubeconfig_data(kubeconfigData);
            n.setNamespace_name(o.namespace);
            return n;
        } catch (RuntimeException e) {
            n.delete();
            throw e;
        }
    }

    /** A call filling an nh_buf with the agent's options. */
    interface Call {
        int run(nh_buf out, nh_agent_options o);
    }

    /** Runs `call` with the C form of `options`; returns its text. */
    static String call(Options options, String kubeconfigData, Call call) {
        Nocalhost.init();
        nh_agent_options o = toNative(options, kubeconfigData);
        nh_buf out = new nh_buf();
        try {
            Native.check(call.run(out, o));
            return Utf8.decode(out.bytes());
        } finally {
            NH.nh_buf_dispose(out);
            out.delete();
            o.delete();
        }
    }

    /** Every item's status, a JSON array ("[]" when no agent runs and none is to be resumed). */
    public static String list(Options o) {
        return call(o, null, NH::nh_agent_list);
    }

    /**
     * The status of item `id` (JSON object, see the class).
     * @throws NocalhostException.NotFound when the agent holds no such item
     */
    public static String status(String id, Options o) {
        return call(o, null, (out, opts) -> NH.nh_agent_status(out, id, opts));
    }

    /**
     * Stops item `id`: a sync stops (its index saved; dev mode stays on), a forward closes its
     * ports; the agent forgets it, and exits a few seconds after it holds nothing.
     * @throws NocalhostException.NotFound when the agent holds no such item
     */
    public static void stop(String id, Options o) {
        call(o, null, (out, opts) -> NH.nh_agent_stop(id, opts));
    }

    /** Whether the agent runs, as JSON {"running", "dir", "pid", "socket", "version", "items"}; never starts it. */
    public static String info(Options o) {
        return call(o, null, NH::nh_agent_info);
    }
}
