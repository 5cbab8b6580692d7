package dev.nocalhost.jni;

import java.nio.charset.StandardCharsets;

/** Strings cross JNI as UTF-8 bytes (JNI's own "modified UTF-8" mangles characters outside the BMP). */
public final class Utf8 {
    private Utf8() {}

    public static byte[] encode(String s) {
        return s == null ? null : s.getBytes(StandardCharsets.UTF_8);
    }

    public static byte[][] encodeAll(String[] list) {
        if (list == null) return null;
        byte[][] out = new byte[list.length][];
        for (int i = 0; i < list.length; i++) out[i] = encode(list[i]);
        return out;
    }

    public static String decode(byte[] b) {
        return b == null ? null : new String(b, StandardCharsets.UTF_8);
    }
}
