package dev.nocalhost;

import static org.junit.jupiter.api.Assertions.*;

import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Sync to a locally started nhsyncd (NH_NHSYNCD, else build/tools/nhsyncd/nhsyncd). */
class SyncTest {
    static final String TOKEN = "java-test-token-0123456789";
    Path dir, src, root;
    Process nhsyncd;
    String address;

    static String nhsyncdPath() {
        String p = System.getenv("NH_NHSYNCD");
        if (p == null || p.isEmpty()) p = Path.of(System.getProperty("user.dir"), "../../build/tools/nhsyncd/nhsyncd").normalize().toString();
        assertTrue(Files.isExecutable(Path.of(p)), "nhsyncd not found at " + p + ": build it (ninja -C build) or set NH_NHSYNCD");
        return p;
    }

    @BeforeEach
    void setUp() throws Exception {
        dir = Files.createTempDirectory("nh-java-sync");
        src = dir.resolve("src");
        root = dir.resolve("root");
        Files.createDirectories(src.resolve("sub"));
        Files.createDirectories(root);
        Files.writeString(src.resolve("hello.txt"), "hello v1\n");
        Files.write(src.resolve("sub/data.bin"), new byte[100_000]);
        Files.writeString(src.resolve("skip.log"), "ignored\n");
        Files.writeString(dir.resolve("token"), TOKEN);
        int port;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            port = s.getLocalPort();
        }
        address = "127.0.0.1:" + port;
        nhsyncd = new ProcessBuilder(nhsyncdPath(), "--root", root.toString(), "--listen", address, "--token-file",
            dir.resolve("token").toString()).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        long deadline = System.currentTimeMillis() + 20000;
        while (true) {
            try (Socket s = new Socket(InetAddress.getLoopbackAddress(), port)) {
                break;
            } catch (Exception e) {
                assertTrue(nhsyncd.isAlive(), "nhsyncd exited");
                assertTrue(System.currentTimeMillis() < deadline, "nhsyncd did not listen");
                Thread.sleep(50);
            }
        }
    }

    @AfterEach
    void tearDown() throws Exception {
        if (nhsyncd != null) {
            nhsyncd.destroy();
            nhsyncd.waitFor();
        }
    }

    @Test
    void flushStatusPauseResumeStop() throws Exception {
        List<SyncEvent> events = Collections.synchronizedList(new ArrayList<>());
        Sync.Options o = new Sync.Options().stateDir(dir.resolve("state").toString()).ignore("*.log").listener(events::add);
        try (Sync sync = Sync.start(src.toString(), address, TOKEN, o)) {
            sync.flush(Duration.ofSeconds(60));
            assertEquals("hello v1\n", Files.readString(root.resolve("hello.txt")));
            assertEquals(100_000, Files.size(root.resolve("sub/data.bin")));
            assertFalse(Files.exists(root.resolve("skip.log")));
            SyncStatus st = sync.status();
            assertTrue(st.filesSynced >= 2, st.toString());
            assertEquals(0, st.fileErrors);
            assertEquals("", sync.lastError());

            Files.writeString(src.resolve("hello.txt"), "hello v2\n");
            sync.flush(Duration.ofSeconds(60));
            assertEquals("hello v2\n", Files.readString(root.resolve("hello.txt")));

            sync.pause();
            long deadline = System.currentTimeMillis() + 10000;
            while (sync.status().state != SyncStatus.State.PAUSED) {
                assertTrue(System.currentTimeMillis() < deadline);
                Thread.sleep(50);
            }
            Files.writeString(src.resolve("later.txt"), "made while paused\n");
            sync.resume();
            sync.flush(Duration.ofSeconds(60));
            assertEquals("made while paused\n", Files.readString(root.resolve("later.txt")));

            sync.stop();
            assertEquals(SyncStatus.State.STOPPED, sync.status().state);
            assertThrows(NocalhostException.InvalidState.class, () -> sync.flush(Duration.ofSeconds(5)));
        }
        assertTrue(events.stream().anyMatch(e -> e.type == SyncEvent.Type.STATE && e.status != null
            && e.status.state == SyncStatus.State.IDLE), events.toString());
    }

    @Test
    void twoWayDeleteProtectionKeepsTheLocalFileAndSendsItBack() throws Exception {
        List<SyncEvent> events = Collections.synchronizedList(new ArrayList<>());
        Sync.Options o = new Sync.Options().stateDir(dir.resolve("state").toString()).mode(Sync.Mode.TWO_WAY)
            .deleteProtection(true).listener(events::add);
        try (Sync sync = Sync.start(src.toString(), address, TOKEN, o)) {
            sync.flush(Duration.ofSeconds(60));
            assertEquals("hello v1\n", Files.readString(root.resolve("hello.txt")));
            Files.delete(root.resolve("hello.txt"));  // deleted on the server side
            long deadline = System.currentTimeMillis() + 10000;
            while (!Files.exists(root.resolve("hello.txt"))) {
                assertTrue(System.currentTimeMillis() < deadline, "the local copy was not sent back to the server");
                Thread.sleep(50);
            }
            assertEquals("hello v1\n", Files.readString(root.resolve("hello.txt")));
            assertEquals("hello v1\n", Files.readString(src.resolve("hello.txt")));
            deadline = System.currentTimeMillis() + 10000;
            while (events.stream().noneMatch(e -> e.type == SyncEvent.Type.REMOTE_CHANGE && e.path.equals("hello.txt")
                && e.message.contains("delete protection"))) {
                assertTrue(System.currentTimeMillis() < deadline, "no delete-protection event: " + events);
                Thread.sleep(50);
            }
        }
    }

    @Test
    void wrongTokenAndMissingDirectory() {
        try (Sync sync = Sync.start(src.toString(), address, "wrong", new Sync.Options().stateDir(dir.resolve("s2").toString()))) {
            assertThrows(NocalhostException.Unauthorized.class, () -> sync.flush(Duration.ofSeconds(30)));
            assertEquals(SyncStatus.State.ERROR, sync.status().state);
            assertFalse(sync.lastError().isEmpty());
        }
        assertThrows(NocalhostException.IoError.class, () -> Sync.start(dir.resolve("missing").toString(), address, TOKEN, null));
    }
}
