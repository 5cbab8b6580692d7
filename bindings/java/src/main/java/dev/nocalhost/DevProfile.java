package dev.nocalhost;

import dev.nocalhost.jni.NH;
import dev.nocalhost.jni.Utf8;
import dev.nocalhost.jni.nh_buf;
import dev.nocalhost.jni.nh_dev_profile_options;

/**
 * What the user chose per workload for dev mode (image, container, work dir), remembered for
 * the next start ($XDG_CONFIG_HOME/nocalhost/profiles.json, shared with `nh dev start`).
 * Entries are JSON text {"context", "namespace", "kind", "name", "image", "container",
 * "workdir", "updated"}.
 */
public final class DevProfile {
    private DevProfile() {}

    /** Which workload (namespace, context), the values to remember, and the store file. */
    public static final class Options {
        String store, namespace, context, image, container, workdir;

        public Options store(String v) { store = v; return this; }
        public Options namespace(String v) { namespace = v; return this; }
        public Options context(String v) { context = v; return this; }
        public Options image(String v) { image = v; return this; }
        public Options container(String v) { container = v; return this; }
        public Options workdir(String v) { workdir = v; return this; }
    }

    private static String call(String target, Options options, boolean set) {
        Nocalhost.init();
        String[] w = Client.workload(target);
        Options opts = options == null ? new Options() : options;
        nh_dev_profile_options o = new nh_dev_profile_options();
        nh_buf out = new nh_buf();
        try {
            Native.check(NH.nh_dev_profile_options_init(o, NH.NH_DEV_PROFILE_OPTIONS_VERSION));
            o.setStore_path(opts.store);
            o.setNamespace_name(opts.namespace);
            o.setContext(opts.context);
            o.setImage(opts.image);
            o.setContainer(opts.container);
            o.setWorkdir(opts.workdir);
            int rc = set ? NH.nh_dev_profile_set(out, w[0], w[1], o) : NH.nh_dev_profile_get(out, w[0], w[1], o);
            if (!set && rc == ErrorCode.ENOTFOUND.value()) return null;
            Native.check(rc);
            return Utf8.decode(out.bytes());
        } finally {
            NH.nh_buf_dispose(out);
            out.delete();
            o.delete();
        }
    }

    /** The profile of "KIND/NAME" in the options' namespace and context, or null. */
    public static String get(String target, Options o) { return call(target, o, false); }

    /** Remembers the options' image, container and work dir (those set) for "KIND/NAME"; returns the entry. */
    public static String remember(String target, Options o) { return call(target, o, true); }
}
