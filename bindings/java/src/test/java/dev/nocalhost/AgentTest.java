package dev.nocalhost;

import static org.junit.jupiter.api.Assertions.*;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * Your agent through the JVM binding (docs/agent.md), on the test cluster: a session's sync
 * detached by another JVM that is then killed, read, taken back and stopped from this one; a
 * forward started by a JVM that exits, used and stopped from this one; a port below 1024 refused.
 * The agent is the real nh-agent, started on demand by the library, in a directory of the test's
 * own. kwok runs no containers: the test plays the sync sidecar (a real nhsyncd) and the
 * forward's server behind ClusterPortForwards, as SessionSyncTest and LiveTest do.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class AgentTest {
    static final String KWOK = TestCluster.KWOK;
    String kubeconfig, ns;
    Client client;
    int syncPort, echoPort;
    ServerSocket echo;
    Path dir, agentDir;
    Agent.Options agent;

    @BeforeAll
    void setUp() throws Exception {
        kubeconfig = TestCluster.env("NH_TEST_KUBECONFIG");
        SyncTest.nhsyncdPath();
        ns = TestCluster.unique("nh-javaagent-" + ProcessHandle.current().pid());
        dir = Files.createTempDirectory("nh-java-agent");
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            syncPort = s.getLocalPort();
        }
        echo = TestCluster.echoServer();  // the forward's far end
        echoPort = echo.getLocalPort();
        client = new Client(new Client.Options().kubeconfig(kubeconfig).namespace(ns).timeoutMs(15000));
        client.create("/api/v1/namespaces", "{\"metadata\":{\"name\":\"" + ns + "\"}}");
        TestCluster.clusterPortForward(client, ns, 7710, syncPort, 8080, echoPort);
        TestCluster.webDeployment(client, ns);
    }

    @AfterAll
    void tearDown() throws Exception {
        if (echo != null) echo.close();
        if (client == null) return;
        client.delete(KWOK + "/clusterportforwards/" + ns);
        client.delete("/api/v1/namespaces/" + ns);
        client.close();
    }

    @BeforeEach
    void agentOfItsOwn() throws Exception {
        agentDir = Files.createDirectory(dir.resolve("agent-" + System.nanoTime()),
            PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        agent = new Agent.Options().dir(agentDir.toString());
    }

    @AfterEach
    void stopTheAgent() {
        // Whatever a failed test left: the agent goes.
        Map<?, ?> info = object(Agent.info(agent));
        if (Boolean.TRUE.equals(info.get("running"))) ProcessHandle.of(((Number) info.get("pid")).longValue()).ifPresent(ProcessHandle::destroyForcibly);
    }

    static Map<?, ?> object(String json) { return (Map<?, ?>) Json.parse(json); }

    static void eventually(BooleanSupplier condition, Duration within, java.util.function.Supplier<String> why) throws InterruptedException {
        long deadline = System.nanoTime() + within.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) fail("not within " + within + ": " + why.get());
            Thread.sleep(100);
        }
    }

    /** Another JVM running {@link Other} with `args`: the process and its output's first line. */
    Process other(String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
            "-cp", System.getProperty("java.class.path")));
        String libraryPath = System.getProperty("nocalhost.library.path");
        if (libraryPath != null) cmd.add("-Dnocalhost.library.path=" + libraryPath);
        cmd.add(Other.class.getName());
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT);
        pb.environment().put("NH_AGENT_GRACE_MS", "1000");
        return pb.start();
    }

    static String firstLine(Process p) throws Exception {
        BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
        String line = r.readLine();
        assertNotNull(line, "the other JVM printed nothing (exit " + (p.waitFor(5, TimeUnit.SECONDS) ? p.exitValue() : -1) + ")");
        return line;
    }

    /** What the other JVMs do: one call of the binding, its result on stdout, then (detach) sleep until killed. */
    public static final class Other {
        public static void main(String[] a) throws Exception {
            Agent.Options agent = new Agent.Options().dir(a[1]);
            switch (a[0]) {
                case "detach": {  // detach KUBECONFIG NS SRC STATE_DIR
                    Client c = new Client(new Client.Options().kubeconfig(a[2]).namespace(a[3]).timeoutMs(15000));
                    Session s = c.devAttach("deployment", "web", null);
                    s.startSync(a[4], new Sync.Options().stateDir(a[5]).ignore("*.log"), Duration.ofSeconds(60), null, null);
                    System.out.println(s.detach(agent));
                    System.out.flush();
                    Thread.sleep(Long.MAX_VALUE);
                    break;
                }
                case "forward": {  // forward KUBECONFIG NS: starts it and exits
                    try (Client c = new Client(new Client.Options().kubeconfig(a[2]).namespace(a[3]).timeoutMs(15000))) {
                        System.out.println(c.agentForward("deployment/web", new String[] {"0:8080"}, agent));
                    }
                    break;
                }
                case "status":
                    System.out.println(Agent.status(a[2], agent));
                    break;
                case "stop":
                    Agent.stop(a[2], agent);
                    System.out.println("stopped");
                    break;
                default:
                    throw new IllegalArgumentException(a[0]);
            }
            System.exit(0);
        }
    }

    @Test
    void aLocalPortBelow1024IsRefusedAndNothingStarts() throws Exception {
        try (Client dead = new Client(new Client.Options().kubeconfig(TestCluster.fakeKubeconfig()))) {
            NocalhostException e = assertThrows(NocalhostException.InvalidArgument.class,
                () -> dead.agentForward("deployment/web", new String[] {"80:8080"}, agent));
            assertTrue(e.getMessage().contains("below 1024"), e.getMessage());
        }
        assertEquals("[]", Agent.list(agent));
        assertEquals(Boolean.FALSE, object(Agent.info(agent)).get("running"));
    }

    @Test
    void aSyncDetachedByAKilledJvmIsReadTakenBackAndStoppedFromAnother() throws Exception {
        Path src = Files.createDirectories(dir.resolve("src")), root = Files.createDirectories(dir.resolve("root"));
        for (int i = 0; i < 20; ++i) Files.writeString(src.resolve("f" + i + ".txt"), "file " + i + "\n");
        Session session = client.devStart("deployment", "web", new Client.DevStartOptions()
            .image("registry.example/dev:1").sidecarImage("registry.example/nhsyncd:test").timeoutMs(120000));
        Files.writeString(dir.resolve("token"), session.token());
        Process nhsyncd = new ProcessBuilder(SyncTest.nhsyncdPath(), "--root", root.toString(), "--listen",
            "127.0.0.1:" + syncPort, "--token-file", dir.resolve("token").toString())
            .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        Process detacher = null;
        try {
            // Another JVM attaches, syncs, hands the sync to the agent, and is killed.
            detacher = other("detach", agentDir.toString(), kubeconfig, ns, src.toString(), dir.resolve("state").toString());
            String id = firstLine(detacher);
            assertTrue(id.startsWith("s-"), id);
            detacher.destroyForcibly().waitFor();
            assertEquals("file 3\n", Files.readString(root.resolve("f3.txt")));

            // Read from this JVM: the agent still syncs, with the settings it was given.
            Map<?, ?> st = object(Agent.status(id, agent));
            assertEquals("sync", st.get("type"));
            assertEquals("web", st.get("name"));
            assertEquals(src.toString(), st.get("local_dir"));
            for (String k : new String[] {"state", "message", "files_done", "files_total", "out_of_sync", "last_sync", "conflicts"})
                assertTrue(st.containsKey(k), k + " in " + st);
            Files.writeString(src.resolve("after-kill.txt"), "still syncing\n");
            Files.writeString(src.resolve("skip.log"), "ignored\n");
            eventually(() -> Files.exists(root.resolve("after-kill.txt")), Duration.ofSeconds(30), () -> Agent.status(id, agent));
            assertFalse(Files.exists(root.resolve("skip.log")));
            List<?> list = (List<?>) Json.parse(Agent.list(agent));
            assertEquals(1, list.size(), list.toString());

            // Taken back into this JVM, from the index the agent saved.
            Session back = client.agentReattach(id, agent);
            assertEquals("[]", Agent.list(agent));
            assertNotNull(back.sync());
            Files.writeString(src.resolve("back.txt"), "back\n");
            back.sync().flush(Duration.ofSeconds(60));
            assertEquals("back\n", Files.readString(root.resolve("back.txt")));
            assertTrue(back.sync().status().filesSynced <= 3, "re-sent everything: " + back.sync().status().filesSynced);

            // Handed over again from here, and stopped by another JVM.
            String again = back.detach(agent);
            assertNull(back.sync());
            Process reader = other("status", agentDir.toString(), again);
            assertEquals(again, object(firstLine(reader)).get("id"));
            assertEquals(0, reader.waitFor());
            Process stopper = other("stop", agentDir.toString(), again);
            assertEquals("stopped", firstLine(stopper));
            assertEquals(0, stopper.waitFor());
            assertEquals("[]", Agent.list(agent));
            assertThrows(NocalhostException.NotFound.class, () -> Agent.status(again, agent));
            Files.writeString(src.resolve("after-stop.txt"), "not synced\n");
            Thread.sleep(1500);
            assertFalse(Files.exists(root.resolve("after-stop.txt")), "synced after the stop");
            assertEquals(DevEndResult.RESTORED, back.end());
        } finally {
            if (detacher != null) detacher.destroyForcibly().waitFor();
            nhsyncd.destroy();
            nhsyncd.waitFor();
        }
    }

    @Test
    void aForwardOutlivesTheJvmThatStartedItAndIsStoppedById() throws Exception {
        Process starter = other("forward", agentDir.toString(), kubeconfig, ns);
        String id = firstLine(starter);
        assertEquals(0, starter.waitFor(), "the starter did not exit");
        assertTrue(id.startsWith("f-"), id);

        Map<?, ?> st = object(Agent.status(id, agent));
        assertEquals("forwarding", st.get("state"), st.toString());
        int port = ((Number) ((Map<?, ?>) ((List<?>) st.get("ports")).get(0)).get("local_port")).intValue();
        assertTrue(port >= 1024, "port " + port);
        assertFalse(((String) st.get("pod")).isEmpty(), st.toString());
        try (Socket s = new Socket(InetAddress.getLoopbackAddress(), port)) {
            s.setSoTimeout(30000);
            s.getOutputStream().write("hello\n".getBytes(StandardCharsets.UTF_8));
            InputStream in = s.getInputStream();
            assertEquals("hello", new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8)).readLine());
        }

        Agent.stop(id, agent);
        assertThrows(java.net.ConnectException.class, () -> new Socket(InetAddress.getLoopbackAddress(), port).close());
        assertThrows(NocalhostException.NotFound.class, () -> Agent.status(id, agent));
    }
}
