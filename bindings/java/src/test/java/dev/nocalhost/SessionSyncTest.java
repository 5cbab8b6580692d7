package dev.nocalhost;

import static org.junit.jupiter.api.Assertions.*;

import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * A dev session's sync on the test cluster: dev start, then Session.startSync()
 * through a port-forward to the sidecar's port, which a ClusterPortForward
 * sends to a local nhsyncd holding the session's token (kwok runs no
 * containers, so the test plays the sidecar).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class SessionSyncTest {
    static final String KWOK = TestCluster.KWOK;
    String ns;
    Client client;
    int port;
    Path dir;

    @BeforeAll
    void setUp() throws Exception {
        String kubeconfig = TestCluster.env("NH_TEST_KUBECONFIG");
        SyncTest.nhsyncdPath();
        ns = TestCluster.unique("nh-javaloop-" + ProcessHandle.current().pid());
        dir = Files.createTempDirectory("nh-java-loop");
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            port = s.getLocalPort();
        }
        client = new Client(new Client.Options().kubeconfig(kubeconfig).namespace(ns).timeoutMs(15000));
        client.create("/api/v1/namespaces", "{\"metadata\":{\"name\":\"" + ns + "\"}}");
        TestCluster.clusterPortForward(client, ns, 7710, port);
        TestCluster.webDeployment(client, ns);
    }

    @AfterAll
    void tearDown() {
        if (client == null) return;
        client.delete(KWOK + "/clusterportforwards/" + ns);
        client.delete("/api/v1/namespaces/" + ns);
        client.close();
    }

    @Test
    void startSyncFlushStopSyncAndEnd() throws Exception {
        Path src = dir.resolve("src"), root = dir.resolve("root");
        Files.createDirectories(src);
        Files.createDirectories(root);
        Files.writeString(src.resolve("hello.txt"), "hello v1\n");
        Files.writeString(src.resolve("skip.log"), "ignored\n");
        // kwok runs no containers: the test plays a sidecar running an image's nhsyncd (the default
        // sidecar would wait for an upload through exec).
        Session session = client.devStart("deployment", "web", new Client.DevStartOptions()
            .image("registry.example/dev:1").sidecarImage("registry.example/nhsyncd:test").timeoutMs(120000));
        Files.writeString(dir.resolve("token"), session.token());
        Process nhsyncd = new ProcessBuilder(SyncTest.nhsyncdPath(), "--root", root.toString(), "--listen",
            "127.0.0.1:" + port, "--token-file", dir.resolve("token").toString())
            .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        try {
            long deadline = System.currentTimeMillis() + 20000;
            while (true) {
                try (Socket s = new Socket(InetAddress.getLoopbackAddress(), port)) {
                    break;
                } catch (Exception e) {
                    assertTrue(System.currentTimeMillis() < deadline, "nhsyncd did not listen");
                    Thread.sleep(50);
                }
            }
            assertNull(session.sync());
            List<String> phases = new ArrayList<>();
            List<SyncEvent> events = java.util.Collections.synchronizedList(new ArrayList<>());
            Sync sync = session.startSync(src.toString(), new Sync.Options().stateDir(dir.resolve("state").toString())
                .ignore("*.log").deleteProtection(true).listener(events::add), Duration.ofSeconds(60), null,
                e -> phases.add(e.phase()));
            assertEquals(List.of("forward", "sync", "synced"), phases);
            assertEquals("hello v1\n", Files.readString(root.resolve("hello.txt")));
            assertFalse(Files.exists(root.resolve("skip.log")));
            assertSame(sync, session.sync());

            Files.writeString(src.resolve("hello.txt"), "hello v2\n");
            sync.flush(Duration.ofSeconds(60));
            assertEquals("hello v2\n", Files.readString(root.resolve("hello.txt")));
            assertTrue(sync.status().filesSynced >= 1);
            assertFalse(events.isEmpty());
            assertThrows(NocalhostException.InvalidState.class, sync::stop);

            session.stopSync();
            assertNull(session.sync());
            assertThrows(NocalhostException.InvalidState.class, sync::status);
            assertEquals(DevEndResult.RESTORED, session.end());
            assertTrue(session.isClosed());
        } finally {
            nhsyncd.destroy();
            nhsyncd.waitFor();
        }
    }
}
