package dev.nocalhost;

/**
 * Receives watch events on the thread that called {@link Client#watch}. An
 * exception it throws stops the watch and is rethrown by watch() (checked
 * ones wrapped in a RuntimeException).
 */
@FunctionalInterface
public interface WatchListener {
    void onEvent(WatchEvent event) throws Exception;
}
