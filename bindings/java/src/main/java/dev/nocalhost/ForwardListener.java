package dev.nocalhost;

/** Receives port-forward events from the forwarder's threads, possibly several at once. Exceptions are ignored (logged by the JVM). */
@FunctionalInterface
public interface ForwardListener {
    void onEvent(ForwardEvent event);
}
