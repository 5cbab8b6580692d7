package dev.nocalhost;

/** What {@link Client#devEnd} did (nh_dev_end_result). */
public enum DevEndResult {
    NOT_IN_DEV_MODE, RESTORED, RESTORED_OVERWRITING, WORKLOAD_GONE;

    static DevEndResult of(int value) { return values()[value]; }
}
