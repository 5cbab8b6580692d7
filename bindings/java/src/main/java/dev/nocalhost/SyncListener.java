package dev.nocalhost;

/** Receives sync events on the sync's own thread. Must not stop or close the sync; exceptions are ignored (logged by the JVM). */
@FunctionalInterface
public interface SyncListener {
    void onEvent(SyncEvent event);
}
