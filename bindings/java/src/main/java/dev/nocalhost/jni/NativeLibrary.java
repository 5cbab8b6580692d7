package dev.nocalhost.jni;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardCopyOption;

/**
 * Loads libnocalhost.so.N and libnocalhost_jni.so: from the directory named
 * by the system property {@code nocalhost.library.path} when set, else from
 * the jar (extracted once per process into a temporary directory).
 */
public final class NativeLibrary {
    private static final String RESOURCE_DIR = "/dev/nocalhost/native/linux-x86_64/";
    private static final String[] LIBRARIES = {"libnocalhost.so.0", "libnocalhost_jni.so"};
    private static boolean loaded;

    private NativeLibrary() {}

    public static synchronized void load() {
        if (loaded) return;
        String dir = System.getProperty("nocalhost.library.path");
        try {
            Path base = dir != null ? Paths.get(dir) : extract();
            // libnocalhost first: the JNI library needs its soname already loaded.
            for (String name : LIBRARIES) System.load(base.resolve(name).toAbsolutePath().toString());
        } catch (IOException e) {
            throw new UnsatisfiedLinkError("nocalhost: cannot extract the native libraries: " + e);
        }
        loaded = true;
    }

    private static Path extract() throws IOException {
        Path tmp = Files.createTempDirectory("nocalhost-jni");
        tmp.toFile().deleteOnExit();
        for (String name : LIBRARIES) {
            try (InputStream in = NativeLibrary.class.getResourceAsStream(RESOURCE_DIR + name)) {
                if (in == null) throw new UnsatisfiedLinkError("nocalhost: " + RESOURCE_DIR + name + " is not in the jar");
                Path target = tmp.resolve(name);
                Files.copy(in, target, StandardCopyOption.REPLACE_EXISTING);
                target.toFile().deleteOnExit();
            }
        }
        return tmp;
    }
}
