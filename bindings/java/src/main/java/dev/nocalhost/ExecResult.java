package dev.nocalhost;

import java.nio.charset.StandardCharsets;

/** How a command ended: its exit code and output. */
public final class ExecResult {
    private final int exitCode;
    private final byte[] stdout, stderr;

    ExecResult(int exitCode, byte[] stdout, byte[] stderr) {
        this.exitCode = exitCode;
        this.stdout = stdout;
        this.stderr = stderr;
    }

    public int exitCode() { return exitCode; }
    public byte[] stdout() { return stdout.clone(); }
    public byte[] stderr() { return stderr.clone(); }
    public String stdoutText() { return new String(stdout, StandardCharsets.UTF_8); }
    public String stderrText() { return new String(stderr, StandardCharsets.UTF_8); }
}
