package dev.nocalhost;

import dev.nocalhost.jni.NH;
import dev.nocalhost.jni.Utf8;
import dev.nocalhost.jni.nh_association_options;
import dev.nocalhost.jni.nh_buf;

/**
 * Which workload a local directory belongs to, in the store every process of the user shares
 * ($XDG_CONFIG_HOME/nocalhost/associations.json, which `nh dev associate` and the other
 * bindings use too). Entries are JSON objects {"dir", "namespace", "kind", "name",
 * "container", "kubeconfig", "context", "updated"}, returned as text as the binding's other
 * JSON. Needs no client.
 */
public final class Associations {
    private Associations() {}

    /** The workload's namespace, container, kubeconfig and context, and the store file (default: the user's). */
    public static final class Options {
        String store, namespace, container, kubeconfig, context;

        public Options store(String v) { store = v; return this; }
        public Options namespace(String v) { namespace = v; return this; }
        public Options container(String v) { container = v; return this; }
        public Options kubeconfig(String v) { kubeconfig = v; return this; }
        public Options context(String v) { context = v; return this; }
    }

    private interface Call {
        int run(nh_buf out, nh_association_options o);
    }

    /** Runs `call`; returns its text, or null when it says NH_ENOTFOUND and `orNull`. */
    private static String call(Options options, boolean orNull, Call call) {
        Nocalhost.init();
        Options opts = options == null ? new Options() : options;
        nh_association_options o = new nh_association_options();
        nh_buf out = new nh_buf();
        try {
            Native.check(NH.nh_association_options_init(o, NH.NH_ASSOCIATION_OPTIONS_VERSION));
            o.setStore_path(opts.store);
            o.setNamespace_name(opts.namespace);
            o.setContainer(opts.container);
            o.setKubeconfig(opts.kubeconfig);
            o.setContext(opts.context);
            int rc = call.run(out, o);
            if (orNull && rc == ErrorCode.ENOTFOUND.value()) return null;
            Native.check(rc);
            return Utf8.decode(out.bytes());
        } finally {
            NH.nh_buf_dispose(out);
            out.delete();
            o.delete();
        }
    }

    /**
     * Associates the existing directory `dir` with the workload "KIND/NAME"; replaces the
     * directory's earlier association. Returns the entry.
     * @throws NocalhostException.InvalidArgument for an unknown kind
     * @throws NocalhostException.NotFound when the directory does not exist
     * @throws NocalhostException.ConfigError when the store file is not one (it is left as it is)
     */
    public static String associate(String dir, String target, Options o) {
        String[] w = Client.workload(target);
        return call(o, false, (out, opts) -> NH.nh_association_set(out, dir, w[0], w[1], opts));
    }

    /** The association of `dir` or of its nearest associated ancestor, or null. */
    public static String of(String dir, Options o) {
        return call(o, true, (out, opts) -> NH.nh_association_get(out, dir, opts));
    }

    /** The associations of "KIND/NAME" (and of the options' namespace, context, kubeconfig, those set): a JSON array. */
    public static String find(String target, Options o) {
        String[] w = Client.workload(target);
        return call(o, false, (out, opts) -> NH.nh_association_find(out, w[0], w[1], opts));
    }

    /** Every association: a JSON array. */
    public static String list(Options o) {
        return call(o, false, (out, opts) -> NH.nh_association_list(out, opts));
    }

    /** Removes the association of exactly `dir`; false when it had none. */
    public static boolean remove(String dir, Options o) {
        return call(o, true, (out, opts) -> NH.nh_association_remove(dir, opts)) != null;
    }
}
