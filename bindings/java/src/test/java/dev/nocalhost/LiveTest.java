package dev.nocalhost;

import static org.junit.jupiter.api.Assertions.*;

import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * Interactive exec and port-forward against the real test cluster. kwok runs
 * exec'd commands on this machine (ClusterExec) and forwards the pod's port
 * 8080 to an echo server of this test (ClusterPortForward). kwok never
 * delivers stdin EOF: every command here ends on its own.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class LiveTest {
    static final String KWOK = TestCluster.KWOK;
    String ns;
    Client client;
    ServerSocket echo;

    @BeforeAll
    void setUp() throws Exception {
        String kubeconfig = TestCluster.env("NH_TEST_KUBECONFIG");
        ns = TestCluster.unique("nh-javalive-" + ProcessHandle.current().pid());
        Path workdir = Files.createTempDirectory("nh-java-exec");
        echo = TestCluster.echoServer();
        client = new Client(new Client.Options().kubeconfig(kubeconfig).namespace(ns).timeoutMs(15000));
        client.create("/api/v1/namespaces", "{\"metadata\":{\"name\":\"" + ns + "\"}}");
        client.create(KWOK + "/clusterexecs", "{\"apiVersion\":\"kwok.x-k8s.io/v1alpha1\",\"kind\":\"ClusterExec\","
            + "\"metadata\":{\"name\":\"" + ns + "\"},\"spec\":{\"selector\":{\"matchNamespaces\":[\"" + ns + "\"]},"
            + "\"execs\":[{\"local\":{\"workDir\":\"" + workdir + "\"}}]}}");
        TestCluster.clusterPortForward(client, ns, 8080, echo.getLocalPort());
        client.create("/api/v1/namespaces/" + ns + "/pods", "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"p1\","
            + "\"labels\":{\"app\":\"p1\"}},\"spec\":{\"containers\":[{\"name\":\"main\",\"image\":\"busybox\"}]}}");
        long deadline = System.currentTimeMillis() + 60000;
        while (!client.get("/api/v1/namespaces/" + ns + "/pods/p1").contains("\"phase\":\"Running\"")) {
            assertTrue(System.currentTimeMillis() < deadline, "p1 never ran");
            Thread.sleep(100);
        }
    }

    @AfterAll
    void tearDown() throws Exception {
        if (echo != null) echo.close();
        if (client == null) return;
        client.delete(KWOK + "/clusterexecs/" + ns);
        client.delete(KWOK + "/clusterportforwards/" + ns);
        client.delete("/api/v1/namespaces/" + ns);
        client.close();
    }

    static String readLine(InputStream in) throws Exception {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        int c;
        while ((c = in.read()) != -1 && c != '\n') b.write(c);
        return b.toString(StandardCharsets.UTF_8);
    }

    @Test
    void interactiveExecWritesStdinAndReadsStdoutAndStderr() throws Exception {
        try (ExecSession proc = client.execStart("pod/p1", new Client.ExecStartOptions().timeoutMs(30000),
                 "sh", "-c", "read a; echo \"got:$a\"; read b; echo \"err:$b\" >&2")) {
            assertEquals("p1", proc.pod());
            assertTrue(proc.protocol().endsWith("channel.k8s.io"), proc.protocol());
            proc.write("hello\n");
            assertEquals("got:hello", readLine(proc.stdout()));
            proc.stdin().write("bye\n".getBytes(StandardCharsets.UTF_8));
            assertEquals(0, proc.waitFor(Duration.ofSeconds(30)));
            assertEquals("err:bye\n", new String(proc.stderr().readAllBytes(), StandardCharsets.UTF_8));
            assertEquals(-1, proc.stdout().read());
            assertThrows(NocalhostException.InvalidState.class, () -> proc.write("late\n"));
        }
    }

    @Test
    void binaryStdinThroughTheOutputStream() throws Exception {
        byte[] payload = new byte[4096];
        for (int i = 0; i < payload.length; i++) payload[i] = (byte) i;
        try (ExecSession proc = client.execStart("pod/p1", null, "head", "-c", String.valueOf(payload.length))) {
            OutputStream in = proc.stdin();
            in.write(payload, 0, 1000);
            in.write(payload, 1000, payload.length - 1000);
            in.flush();
            assertArrayEquals(payload, proc.stdout().readAllBytes());
            assertEquals(0, proc.waitFor());
        }
    }

    @Test
    void outputListenerAndCloseStopTheCommand() throws Exception {
        List<String> seen = Collections.synchronizedList(new ArrayList<>());
        ExecSession proc = client.execStart("pod/p1", new Client.ExecStartOptions().listener((stream, data) -> {
            seen.add(stream + ":" + new String(data, StandardCharsets.UTF_8));
            throw new IllegalStateException("stop here");
        }), "sh", "-c", "read a; echo $a; sleep 2");
        proc.write("x\n");
        IllegalStateException e = assertThrows(IllegalStateException.class, proc::waitFor);
        assertEquals("stop here", e.getMessage());
        assertEquals(List.of("STDOUT:x\n"), seen);
        proc.close();

        ExecSession stuck = client.execStart("pod/p1", null, "head", "-c", "1");
        assertThrows(NocalhostException.Timeout.class, () -> stuck.waitFor(Duration.ofMillis(200)));
        stuck.close();
        assertThrows(NocalhostException.Cancelled.class, stuck::waitFor);
        stuck.close();  // idempotent
    }

    @Test
    void portForwardToALocalServer() throws Exception {
        List<ForwardEvent> events = Collections.synchronizedList(new ArrayList<>());
        try (PortForward fwd = client.portForward("pod/p1", new Client.PortForwardOptions().listener(events::add), "0:8080")) {
            assertTrue(fwd.localPort() > 0);
            assertArrayEquals(new int[] {fwd.localPort()}, fwd.localPorts());
            assertEquals("p1", fwd.pod());
            for (int i = 0; i < 3; i++) {
                byte[] msg = ("ping " + i + "\n").repeat(1000).getBytes(StandardCharsets.UTF_8);
                try (Socket s = new Socket(InetAddress.getLoopbackAddress(), fwd.localPort())) {
                    s.setSoTimeout(10000);
                    s.getOutputStream().write(msg);
                    assertArrayEquals(msg, s.getInputStream().readNBytes(msg.length));
                }
            }
            assertThrows(NocalhostException.Timeout.class, () -> fwd.waitFor(Duration.ofMillis(100)));
            long deadline = System.currentTimeMillis() + 10000;
            while (events.stream().filter(e -> e.type == ForwardEvent.Type.CONNECTED).count() < 3) {
                assertTrue(System.currentTimeMillis() < deadline, "3 CONNECTED events: " + events);
                Thread.sleep(50);
            }
            synchronized (events) {
                for (ForwardEvent e : events)
                    if (e.type == ForwardEvent.Type.CONNECTED) assertEquals(8080, e.remotePort);
            }
        }
        assertThrows(NocalhostException.InvalidArgument.class, () -> client.portForward("pod/p1", null, "not-a-port"));
    }
}
