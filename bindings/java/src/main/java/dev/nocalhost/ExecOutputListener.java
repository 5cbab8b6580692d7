package dev.nocalhost;

/**
 * Receives the output of an interactive command, on the session's own I/O
 * thread, in order. Return true to stop the command; an exception thrown
 * stops it too and is rethrown by {@link ExecSession#waitFor()}.
 */
@FunctionalInterface
public interface ExecOutputListener {
    boolean onOutput(ExecSession.Stream stream, byte[] data) throws Exception;
}
