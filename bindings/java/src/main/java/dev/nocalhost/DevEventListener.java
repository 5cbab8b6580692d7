package dev.nocalhost;

/**
 * Receives dev-mode progress on the calling thread. An exception it throws
 * stops the start (which rolls back) and is rethrown by the call.
 */
@FunctionalInterface
public interface DevEventListener {
    void onEvent(DevEvent event) throws Exception;
}
