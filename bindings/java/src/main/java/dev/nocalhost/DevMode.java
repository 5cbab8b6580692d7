package dev.nocalhost;

import dev.nocalhost.jni.nh_dev_mode;

/**
 * The dev modes (nh_dev_mode): {@link #REPLACE} changes the workload itself;
 * {@link #DUPLICATE} leaves it untouched and develops on a private copy, one
 * per developer.
 */
public enum DevMode {
    REPLACE(nh_dev_mode.NH_DEV_MODE_REPLACE.swigValue()),
    DUPLICATE(nh_dev_mode.NH_DEV_MODE_DUPLICATE.swigValue());

    private final int value;

    DevMode(int value) { this.value = value; }

    static DevMode of(int value) {
        for (DevMode m : values()) if (m.value == value) return m;
        throw new IllegalArgumentException("unknown dev mode " + value);
    }

    int value() { return value; }
}
