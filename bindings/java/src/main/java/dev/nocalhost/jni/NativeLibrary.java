package dev.nocalhost.jni;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Loads libnocalhost_jni.so, which finds libnocalhost and the libraries it needs beside itself
 * (RUNPATH $ORIGIN; they carry hashed names, see scripts/bundle-native).
 *
 * <p>From the directory named by the system property {@code nocalhost.library.path} when set;
 * else from the jar: {@code /dev/nocalhost/native/<os>-<arch>/} holds the files and
 * {@code files.sha256} their SHA-256 sums. They are extracted into a private per-user cache
 * directory ({@code nocalhost.native.cache}, else {@code $XDG_CACHE_HOME/nocalhost/native}, else
 * {@code ~/.cache/nocalhost/native}; mode 0700, owned by the user), into a subdirectory named
 * after the sums, so that every build of the jar has its own and later runs extract nothing.
 * Every file is checked against its sum before it is loaded, whether just extracted or found
 * in the cache; one that does not match is extracted again.
 */
public final class NativeLibrary {
    private static final String INDEX = "files.sha256";
    private static final String JNI_LIBRARY = "libnocalhost_jni.so";
    private static boolean loaded;

    private NativeLibrary() {}

    public static synchronized void load() {
        if (loaded) return;
        String dir = System.getProperty("nocalhost.library.path");
        try {
            Path base = dir != null ? Paths.get(dir) : extract();
            System.load(base.resolve(JNI_LIBRARY).toAbsolutePath().toString());
        } catch (IOException e) {
            UnsatisfiedLinkError error = new UnsatisfiedLinkError("nocalhost: cannot extract the native libraries: " + e.getMessage());
            error.initCause(e);
            throw error;
        }
        loaded = true;
    }

    /** The jar's directory for this platform, as scripts/bundle-native and build-native.sh name it. */
    static String platform() {
        String os = System.getProperty("os.name").toLowerCase(Locale.ROOT);
        String arch = System.getProperty("os.arch").toLowerCase(Locale.ROOT);
        if (os.startsWith("linux")) os = "linux";
        else if (os.startsWith("mac")) os = "macos";
        else if (os.startsWith("windows")) os = "windows";
        if (arch.equals("amd64") || arch.equals("x86_64")) arch = "x86_64";
        else if (arch.equals("arm64") || arch.equals("aarch64")) arch = "aarch64";
        return os + "-" + arch;
    }

    private static Path extract() throws IOException {
        String resources = "/dev/nocalhost/native/" + platform() + "/";
        byte[] index;
        try (InputStream in = NativeLibrary.class.getResourceAsStream(resources + INDEX)) {
            if (in == null) {
                throw new UnsatisfiedLinkError("nocalhost: this jar carries no native library for " + platform()
                    + "; build it there (mvn package) or set -Dnocalhost.library.path to a directory with " + JNI_LIBRARY);
            }
            index = in.readAllBytes();
        }
        Map<String, String> sums = parseIndex(index);
        if (!sums.containsKey(JNI_LIBRARY)) throw new IOException(resources + INDEX + " does not list " + JNI_LIBRARY);
        Path dir = cacheRoot().resolve(hex(sha256(index)).substring(0, 16));
        privateDirectory(dir);
        for (Map.Entry<String, String> e : sums.entrySet()) {
            Path target = dir.resolve(e.getKey());
            if (Files.isRegularFile(target, LinkOption.NOFOLLOW_LINKS) && e.getValue().equals(hex(sha256(target)))) continue;
            Path tmp = Files.createTempFile(dir, e.getKey(), ".tmp");
            try {
                MessageDigest digest = newDigest();
                try (InputStream in = NativeLibrary.class.getResourceAsStream(resources + e.getKey());
                     OutputStream out = Files.newOutputStream(tmp)) {
                    if (in == null) throw new IOException(resources + e.getKey() + " is listed in " + INDEX + " but not in the jar");
                    byte[] buf = new byte[1 << 16];
                    for (int n; (n = in.read(buf)) > 0; ) {
                        digest.update(buf, 0, n);
                        out.write(buf, 0, n);
                    }
                }
                String got = hex(digest.digest());
                if (!got.equals(e.getValue())) {
                    throw new IOException(resources + e.getKey() + " in the jar has SHA-256 " + got + ", not " + e.getValue() + " as " + INDEX + " says");
                }
                Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("r-x------"));
                Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            } finally {
                Files.deleteIfExists(tmp);
            }
        }
        return dir;
    }

    static Map<String, String> parseIndex(byte[] index) throws IOException {
        Map<String, String> sums = new LinkedHashMap<>();
        try (BufferedReader r = new BufferedReader(new InputStreamReader(new java.io.ByteArrayInputStream(index), StandardCharsets.UTF_8))) {
            for (String line; (line = r.readLine()) != null; ) {
                if (line.isBlank()) continue;
                // sha256sum's format: the sum, two spaces (or a space and '*'), the name.
                String[] parts = line.split(" [ *]", 2);
                if (parts.length != 2 || !parts[0].matches("[0-9a-f]{64}") || parts[1].contains("/") || parts[1].startsWith(".")) {
                    throw new IOException(INDEX + ": not a line of sha256sum: " + line);
                }
                sums.put(parts[1], parts[0]);
            }
        }
        return sums;
    }

    private static Path cacheRoot() throws IOException {
        String configured = System.getProperty("nocalhost.native.cache");
        if (configured != null) return Paths.get(configured);
        String xdg = System.getenv("XDG_CACHE_HOME");
        Path base = xdg != null && !xdg.isEmpty() ? Paths.get(xdg) : Paths.get(System.getProperty("user.home"), ".cache");
        return base.resolve("nocalhost").resolve("native");
    }

    /** Creates dir (and its parents) as 0700, and refuses one that others could write into. */
    private static void privateDirectory(Path dir) throws IOException {
        List<Path> missing = new ArrayList<>();
        for (Path p = dir.toAbsolutePath(); p != null && !Files.exists(p, LinkOption.NOFOLLOW_LINKS); p = p.getParent()) missing.add(0, p);
        for (Path p : missing) {
            try {
                Files.createDirectory(p, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
            } catch (FileAlreadyExistsException e) {
                // made meanwhile by another process
            }
        }
        for (Path p : new Path[] {dir.getParent(), dir}) {
            if (!Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) throw new IOException(p + " is not a directory");
            if (!Files.getOwner(p, LinkOption.NOFOLLOW_LINKS).getName().equals(System.getProperty("user.name"))) {
                throw new IOException(p + " belongs to " + Files.getOwner(p, LinkOption.NOFOLLOW_LINKS).getName() + ", not to " + System.getProperty("user.name"));
            }
            Set<PosixFilePermission> perms = Files.getPosixFilePermissions(p, LinkOption.NOFOLLOW_LINKS);
            if (perms.contains(PosixFilePermission.GROUP_WRITE) || perms.contains(PosixFilePermission.OTHERS_WRITE)) {
                throw new IOException(p + " can be written by others (" + PosixFilePermissions.toString(perms) + ")");
            }
        }
    }

    private static MessageDigest newDigest() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static byte[] sha256(byte[] data) {
        return newDigest().digest(data);
    }

    private static byte[] sha256(Path file) throws IOException {
        MessageDigest digest = newDigest();
        try (InputStream in = Files.newInputStream(file)) {
            byte[] buf = new byte[1 << 16];
            for (int n; (n = in.read(buf)) > 0; ) digest.update(buf, 0, n);
        }
        return digest.digest();
    }

    private static String hex(byte[] bytes) {
        return HexFormat.of().formatHex(bytes);
    }
}
