package dev.nocalhost;

import static org.junit.jupiter.api.Assertions.*;

import java.io.InputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * Reverse forwarding through the JVM binding (docs/traffic.md), on the test cluster: a port of
 * the dev pod carried back to a server here, and the errors of a workload not in dev mode and of
 * bad ports. kwok runs no containers: the test plays the sync sidecar with a real nhsyncd, whose
 * tunnel port the pod's port 7711 reaches through a ClusterPortForward, so the pod's listener is
 * that nhsyncd's, on this machine.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ReverseTest {
    String ns;
    Client client;
    int syncPort, tunnelPort;
    ServerSocket echo;
    Path dir;

    static int freePort() throws Exception {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    @BeforeAll
    void setUp() throws Exception {
        SyncTest.nhsyncdPath();
        ns = TestCluster.unique("nh-javareverse-" + ProcessHandle.current().pid());
        dir = Files.createTempDirectory("nh-java-reverse");
        syncPort = freePort();
        tunnelPort = freePort();
        echo = TestCluster.echoServer();  // the server here the pod's connections reach
        client = new Client(new Client.Options().kubeconfig(TestCluster.env("NH_TEST_KUBECONFIG")).namespace(ns).timeoutMs(15000));
        client.create("/api/v1/namespaces", "{\"metadata\":{\"name\":\"" + ns + "\"}}");
        TestCluster.clusterPortForward(client, ns, 7710, syncPort, 7711, tunnelPort);
        TestCluster.webDeployment(client, ns);
    }

    @AfterAll
    void tearDown() throws Exception {
        if (echo != null) echo.close();
        if (client == null) return;
        client.delete(TestCluster.KWOK + "/clusterportforwards/" + ns);
        client.delete("/api/v1/namespaces/" + ns);
        client.close();
    }

    @Test
    void aWorkloadNotInDevModeAndBadPortsAreRefused() {
        NocalhostException e = assertThrows(NocalhostException.InvalidState.class,
            () -> client.reverseForward("deployment", "web", new Client.ReverseForwardOptions().timeoutMs(5000), "5678:5678"));
        assertTrue(e.getMessage().contains("not in dev mode"), e.getMessage());
        e = assertThrows(NocalhostException.InvalidArgument.class,
            () -> client.reverseForward("deployment", "web", null, "5678:x"));
        assertTrue(e.getMessage().contains("REMOTE:LOCAL"), e.getMessage());
        assertThrows(NocalhostException.InvalidArgument.class, () -> client.reverseForward("deployment", "web", null));
    }

    @Test
    void aConnectionToThePodsPortReachesTheServerHere() throws Exception {
        Session session = client.devStart("deployment", "web", new Client.DevStartOptions()
            .image("registry.example/dev:1").sidecarImage("registry.example/nhsyncd:test").timeoutMs(120000));
        Path root = Files.createDirectories(dir.resolve("root"));
        Files.writeString(dir.resolve("token"), session.token());
        Process nhsyncd = new ProcessBuilder(SyncTest.nhsyncdPath(), "--root", root.toString(), "--listen",
            "127.0.0.1:" + syncPort, "--token-file", dir.resolve("token").toString(),
            "--tunnel-listen", "127.0.0.1:" + tunnelPort)
            .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        List<ForwardEvent> events = new CopyOnWriteArrayList<>();
        int remote = freePort();
        try (ReverseForward rev = client.reverseForward("deployment", "web",
                 new Client.ReverseForwardOptions().timeoutMs(60000).listener(events::add),
                 remote + ":" + echo.getLocalPort())) {
            assertFalse(rev.pod().isEmpty());
            for (int round = 0; round < 3; ++round) {
                try (Socket s = new Socket(InetAddress.getLoopbackAddress(), remote)) {
                    s.setSoTimeout(30000);
                    byte[] sent = ("hello " + round + " from the pod\n").getBytes(StandardCharsets.UTF_8);
                    s.getOutputStream().write(sent);
                    InputStream in = s.getInputStream();
                    assertArrayEquals(sent, in.readNBytes(sent.length));
                }
            }
            assertTrue(events.stream().anyMatch(ev -> ev.type == ForwardEvent.Type.CONNECTED
                && ev.localPort == echo.getLocalPort() && ev.remotePort == remote), events.toString());
            assertThrows(NocalhostException.Timeout.class, () -> rev.waitFor(Duration.ofMillis(200)));
        } finally {
            nhsyncd.destroy();
            nhsyncd.waitFor();
            assertEquals(DevEndResult.RESTORED, session.end());
        }
    }
}
