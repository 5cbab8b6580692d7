package dev.nocalhost;

import dev.nocalhost.jni.NH;
import dev.nocalhost.jni.SWIGTYPE_p_int;
import dev.nocalhost.jni.SWIGTYPE_p_nh_exec;
import dev.nocalhost.jni.nh_exec_options;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * A running interactive command (nh_exec), from {@link Client#execStart}:
 * like {@link Process}, its {@link #stdin()} is an OutputStream (binary),
 * {@link #stdout()} and {@link #stderr()} are InputStreams that end when the
 * command does (unless the start was given an {@link ExecOutputListener}),
 * {@link #waitFor()} returns the exit code. {@link #close()} stops the
 * command if it still runs. Thread-safe.
 */
public final class ExecSession extends NativeHandle {
    /** Which output a chunk came from (nh_exec_stream). */
    public enum Stream { STDOUT, STDERR }

    private final SWIGTYPE_p_nh_exec handle;
    private final String pod;
    private final String protocol;
    private final Output output;
    private final CompletableFuture<Integer> exit = new CompletableFuture<>();
    private final OutputStream stdin = new StdinStream();

    /** Receives output and keeps what the listener threw; referenced from C, so not the session itself. */
    static final class Output implements dev.nocalhost.jni.ExecOutputCallback {
        final ExecOutputListener listener;
        final ChunkStream out = new ChunkStream(), err = new ChunkStream();
        volatile Throwable thrown;

        Output(ExecOutputListener listener) { this.listener = listener; }

        @Override
        public boolean onOutput(int stream, byte[] data) {
            Stream s = stream == 2 ? Stream.STDERR : Stream.STDOUT;
            if (listener == null) {
                (s == Stream.STDERR ? err : out).put(data);
                return false;
            }
            try {
                return listener.onOutput(s, data);
            } catch (Throwable e) {
                thrown = e;
                return true;
            }
        }
    }

    ExecSession(SWIGTYPE_p_nh_exec h, Output output, Runnable free) {
        super("exec", free);
        this.handle = h;
        this.output = output;
        this.pod = NH.nh_exec_pod(h);
        this.protocol = NH.nh_exec_protocol(h);
        acquire();  // the waiter's: the handle stays until the command ended
        Thread waiter = new Thread(this::await, "nocalhost-exec-" + pod);
        waiter.setDaemon(true);
        waiter.start();
    }

    private void await() {
        SWIGTYPE_p_int code = NH.new_IntOut();
        try {
            int rc = NH.nh_exec_wait(code, handle, -1);
            if (output.thrown != null) exit.completeExceptionally(output.thrown);
            else if (rc < 0) exit.completeExceptionally(Native.lastError(rc));
            else exit.complete(NH.IntOut_value(code));
        } finally {
            NH.delete_IntOut(code);
            output.out.end();
            output.err.end();
            release();
        }
    }

    /** The pod the command runs in. */
    public String pod() { return pod; }

    /** The stream protocol the server chose, e.g. "v5.channel.k8s.io". */
    public String protocol() { return protocol; }

    /** Sends bytes to the command's stdin; InvalidState once stdin is closed or the command ended. */
    public void write(byte[] data) { write(data, 0, data.length); }

    public void write(byte[] data, int off, int len) {
        byte[] chunk = off == 0 && len == data.length ? data : java.util.Arrays.copyOfRange(data, off, off + len);
        acquire();
        try {
            Native.check(NH.nh_exec_write(handle, chunk));
        } finally {
            release();
        }
    }

    /** Sends text (UTF-8) to stdin. */
    public void write(String text) { write(text.getBytes(StandardCharsets.UTF_8)); }

    /** Ends the command's input (Unsupported when the server speaks only v4.channel.k8s.io). */
    public void closeStdin() {
        acquire();
        try {
            Native.check(NH.nh_exec_close_stdin(handle));
        } finally {
            release();
        }
    }

    /** Tells the command's terminal its size (tty sessions). */
    public void resize(int width, int height) {
        acquire();
        try {
            Native.check(NH.nh_exec_resize(handle, width, height));
        } finally {
            release();
        }
    }

    /** The command's stdin; close() ends the input (see {@link #closeStdin()}). */
    public OutputStream stdin() { return stdin; }

    /** The command's stdout, ending when the command ends (empty with an output listener). */
    public InputStream stdout() { return output.out; }

    /** The command's stderr (with tty, everything arrives on stdout). */
    public InputStream stderr() { return output.err; }

    /**
     * Waits for the command to end and returns its exit code. Throws the
     * error that ended the session (Cancelled after close()), or what the
     * output listener threw.
     */
    public int waitFor() {
        try {
            return exit.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw NocalhostException.of(ErrorCode.ECANCELLED, "interrupted while waiting for the command");
        } catch (ExecutionException e) {
            Client.rethrow(e.getCause());
            return -1;
        }
    }

    /** Like {@link #waitFor()}, but throws Timeout when `timeout` passes first (the command keeps running). */
    public int waitFor(Duration timeout) {
        try {
            exit.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            throw NocalhostException.of(ErrorCode.ETIMEOUT, "the command did not end within " + timeout);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw NocalhostException.of(ErrorCode.ECANCELLED, "interrupted while waiting for the command");
        } catch (ExecutionException e) {
            // reported below
        }
        return waitFor();
    }

    /** The exit code as a future (completes exceptionally like {@link #waitFor()}). */
    public CompletableFuture<Integer> onExit() { return exit; }

    private final class StdinStream extends OutputStream {
        @Override
        public void write(int b) { ExecSession.this.write(new byte[] {(byte) b}); }

        @Override
        public void write(byte[] b, int off, int len) { ExecSession.this.write(b, off, len); }

        @Override
        public void close() {
            try {
                closeStdin();
            } catch (NocalhostException.InvalidState e) {
                // already closed or ended
            }
        }
    }

    /** An InputStream over the chunks the output callback delivers. */
    static final class ChunkStream extends InputStream {
        private static final byte[] END = new byte[0];
        private final LinkedBlockingQueue<byte[]> chunks = new LinkedBlockingQueue<>();
        private byte[] current;
        private int pos;
        private boolean ended;

        void put(byte[] data) { if (data.length > 0) chunks.add(data); }

        void end() { chunks.add(END); }

        private boolean fill() throws IOException {
            while (!ended && (current == null || pos >= current.length)) {
                try {
                    current = chunks.take();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new java.io.InterruptedIOException();
                }
                pos = 0;
                if (current == END) ended = true;
            }
            return !ended || (current != null && pos < current.length);
        }

        @Override
        public synchronized int read() throws IOException {
            if (!fill()) return -1;
            return current[pos++] & 0xff;
        }

        @Override
        public synchronized int read(byte[] b, int off, int len) throws IOException {
            if (len == 0) return 0;
            if (!fill()) return -1;
            int n = Math.min(len, current.length - pos);
            System.arraycopy(current, pos, b, off, n);
            pos += n;
            return n;
        }

        @Override
        public synchronized int available() {
            return current != null && current != END ? current.length - pos : 0;
        }
    }
}
