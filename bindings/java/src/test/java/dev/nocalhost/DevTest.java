package dev.nocalhost;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * Dev mode and exec against the real test cluster: the round trip start ->
 * exec -> end. kwok runs exec'd commands on this machine (a ClusterExec
 * object selects the test namespace) in a local temp dir.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class DevTest {
    static final String DEV_IMAGE = "registry.example/dev:1";
    static final String SIDECAR_IMAGE = "registry.example/nhsyncd:test";
    String ns;
    Client client;

    @BeforeAll
    void setUp() throws Exception {
        String kubeconfig = TestCluster.env("NH_TEST_KUBECONFIG");
        ns = TestCluster.unique("nh-javadev-" + ProcessHandle.current().pid());
        Path workdir = Files.createTempDirectory("nh-java-exec");
        Files.writeString(workdir.resolve("hello.txt"), "hello from the dev pod\n");
        client = new Client(new Client.Options().kubeconfig(kubeconfig).namespace(ns).timeoutMs(15000));
        client.create("/api/v1/namespaces", "{\"metadata\":{\"name\":\"" + ns + "\"}}");
        client.create("/apis/kwok.x-k8s.io/v1alpha1/clusterexecs", "{\"apiVersion\":\"kwok.x-k8s.io/v1alpha1\","
            + "\"kind\":\"ClusterExec\",\"metadata\":{\"name\":\"" + ns + "\"},\"spec\":{\"selector\":{\"matchNamespaces\":[\""
            + ns + "\"]},\"execs\":[{\"local\":{\"workDir\":\"" + workdir + "\"}}]}}");
    }

    @AfterAll
    void tearDown() {
        if (client == null) return;
        client.delete("/apis/kwok.x-k8s.io/v1alpha1/clusterexecs/" + ns);
        client.delete("/api/v1/namespaces/" + ns);
        client.close();
    }

    String createDeployment(String name) {
        return client.create("/apis/apps/v1/namespaces/" + ns + "/deployments", "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\","
            + "\"metadata\":{\"name\":\"" + name + "\"},\"spec\":{\"replicas\":2,\"selector\":{\"matchLabels\":{\"app\":\"" + name + "\"}},"
            + "\"template\":{\"metadata\":{\"labels\":{\"app\":\"" + name + "\"}},\"spec\":{\"terminationGracePeriodSeconds\":0,"
            + "\"containers\":[{\"name\":\"app\",\"image\":\"registry.example/app:1.0\"}]}}}}");
    }

    @Test
    void roundTripStartExecEnd() {
        String name = TestCluster.unique("web");
        String original = createDeployment(name);
        int at = original.indexOf("\"uid\":\"") + 7;
        String uid = original.substring(at, original.indexOf('"', at));
        List<DevEvent> events = new ArrayList<>();
        try (Session session = client.devStart("deployment", name, new Client.DevStartOptions()
                .image(DEV_IMAGE).sidecarImage(SIDECAR_IMAGE).env("GREETING=hi").timeoutMs(120000).onEvent(events::add))) {
            assertEquals("Deployment", session.kind());
            assertEquals(name, session.name());
            assertEquals(ns, session.namespace());
            assertEquals("app", session.container());
            assertFalse(session.pod().isEmpty());
            assertEquals(NH_DEFAULT_SYNC_PORT, session.syncPort());
            assertFalse(session.token().isEmpty());
            assertTrue(events.stream().anyMatch(e -> e.type() == DevEvent.Type.PHASE && e.phase().equals("ready")), events.toString());

            assertTrue(client.devStatus("deployment", name).contains("\"dev_mode\":true"));
            assertTrue(client.devList(null, false, null).contains("\"name\":\"" + name + "\""));
            assertTrue(session.status().contains("\"image\":\"" + DEV_IMAGE + "\""));
            assertEquals(session.pod(), client.resolveTarget("deployment/" + name, null, null));

            ExecResult r = session.exec("cat", "hello.txt");
            assertEquals(0, r.exitCode());
            assertEquals("hello from the dev pod\n", r.stdoutText());
            ExecResult r2 = client.exec("deployment/" + name, new String[] {"sh", "-c", "echo out; echo err >&2"},
                new Client.ExecOptions().container("app"));
            assertEquals("out\n", r2.stdoutText());
            assertEquals("err\n", r2.stderrText());

            try (Session attached = client.devAttach("deployment", name, null, null)) {
                assertEquals(session.pod(), attached.pod());
            }
            assertEquals(DevEndResult.RESTORED, session.end());
            assertTrue(session.isClosed());
            assertThrows(NocalhostException.InvalidState.class, session::pod);
        }
        assertTrue(client.devStatus("deployment", name).contains("\"dev_mode\":false"));
        String restored = client.get("/apis/apps/v1/namespaces/" + ns + "/deployments/" + name);
        assertTrue(restored.contains("\"uid\":\"" + uid + "\""));
        assertEquals(DevEndResult.NOT_IN_DEV_MODE, client.devEnd("deployment", name));
    }

    static final int NH_DEFAULT_SYNC_PORT = dev.nocalhost.jni.NH.NH_DEV_DEFAULT_SYNC_PORT;

    @Test
    void typedErrors() {
        assertThrows(NocalhostException.NotFound.class,
            () -> client.devStart("deployment", "no-such-workload", new Client.DevStartOptions().image(DEV_IMAGE).timeoutMs(30000)));
        // An unknown kind: NH_EUNSUPPORTED before the library learnt more kinds, NH_EINVAL since.
        NocalhostException e = assertThrows(NocalhostException.class, () -> client.devStart("service", "x", new Client.DevStartOptions().image(DEV_IMAGE)));
        assertTrue(e instanceof NocalhostException.Unsupported || e instanceof NocalhostException.InvalidArgument, e.toString());
        assertThrows(NocalhostException.NotFound.class, () -> client.devAttach("deployment", "no-such-workload", null, null));
        assertThrows(NocalhostException.NotFound.class, () -> client.exec("pod/does-not-exist", new String[] {"true"}, new Client.ExecOptions()));
        assertThrows(NocalhostException.InvalidArgument.class, () -> client.exec("x", new String[0], new Client.ExecOptions()));
    }

    @Test
    void aThrowingListenerStopsTheStartWhichRollsBack() {
        String name = TestCluster.unique("stop");
        createDeployment(name);
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> client.devStart("deployment", name,
            new Client.DevStartOptions().image(DEV_IMAGE).sidecarImage(SIDECAR_IMAGE).onEvent(ev -> {
                if (ev.phase().equals("patch")) throw new IllegalStateException("stop here");
            })));
        assertEquals("stop here", e.getMessage());
        assertTrue(client.devStatus("deployment", name).contains("\"dev_mode\":false"));
    }
}
