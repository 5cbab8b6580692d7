package dev.nocalhost;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
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
        // A mistyped kind is an invalid argument (NH_EINVAL, no HTTP status), as in every binding.
        NocalhostException e = assertThrows(NocalhostException.InvalidArgument.class,
            () -> client.devStart("service", "x", new Client.DevStartOptions().image(DEV_IMAGE)));
        assertEquals(ErrorCode.EINVAL, e.code());
        assertEquals(0, e.httpStatus());
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

    @SuppressWarnings("unchecked")
    static Map<String, Object> object(String json) { return (Map<String, Object>) Json.parse(json); }

    @SuppressWarnings("unchecked")
    static List<Object> array(String json) { return (List<Object>) Json.parse(json); }

    @SuppressWarnings("unchecked")
    static Map<String, Object> map(Object o) { return (Map<String, Object>) o; }

    String deploymentPath(String name) { return "/apis/apps/v1/namespaces/" + ns + "/deployments/" + name; }

    /** The Deployment once its controller is done with it (so that its resourceVersion stays put). */
    Map<String, Object> waitReady(String name, long replicas) throws InterruptedException {
        long deadline = System.nanoTime() + 60_000_000_000L;
        for (;;) {
            Map<String, Object> d = object(client.get(deploymentPath(name)));
            Map<String, Object> st = d.containsKey("status") ? map(d.get("status")) : Map.of();
            Object generation = map(d.get("metadata")).get("generation");
            if (Long.valueOf(replicas).equals(st.get("readyReplicas")) && Long.valueOf(replicas).equals(st.get("availableReplicas"))
                && Long.valueOf(replicas).equals(st.get("replicas"))
                && Long.valueOf(replicas).equals(st.getOrDefault("updatedReplicas", replicas))
                && generation.equals(st.get("observedGeneration")))
                return d;
            assertTrue(System.nanoTime() < deadline, "deployment " + name + " not ready: " + st);
            Thread.sleep(200);
        }
    }

    String resourceVersion(Map<String, Object> d) { return (String) map(d.get("metadata")).get("resourceVersion"); }

    boolean deploymentExists(String name) {
        try {
            client.get(deploymentPath(name));
            return true;
        } catch (NocalhostException.NotFound e) {
            return false;
        }
    }

    @Test
    void duplicateModeForTwoDevelopersLeavesTheOriginalUntouched() throws Exception {
        String name = TestCluster.unique("dup");
        createDeployment(name);
        String rv = resourceVersion(waitReady(name, 2));
        Session alice = null, bob = null;
        try {
            alice = client.devStart("deployment", name, new Client.DevStartOptions().image(DEV_IMAGE).sidecarImage(SIDECAR_IMAGE)
                .timeoutMs(120000).mode(DevMode.DUPLICATE).developer("alice@laptop"));
            bob = client.devStart("deployment", name, new Client.DevStartOptions().image(DEV_IMAGE).sidecarImage(SIDECAR_IMAGE)
                .timeoutMs(120000).mode(DevMode.DUPLICATE).developer("bob@desk"));
            for (Session s : List.of(alice, bob)) {
                String who = s == alice ? "alice" : "bob";
                assertEquals(DevMode.DUPLICATE, s.mode());
                assertEquals(s == alice ? "alice@laptop" : "bob@desk", s.developer());
                assertEquals("Deployment", s.kind());
                assertEquals(name, s.name());
                assertTrue(s.workload().startsWith(name + "-dup-" + who + "-"), s.workload());
                assertFalse(s.pod().isEmpty());
                assertTrue(deploymentExists(s.workload()));
            }
            assertNotEquals(alice.workload(), bob.workload());
            assertEquals(rv, resourceVersion(object(client.get(deploymentPath(name)))));

            Client.DevQueryOptions aliceQuery = new Client.DevQueryOptions().mode(DevMode.DUPLICATE).developer("alice@laptop");
            Client.DevQueryOptions bobQuery = new Client.DevQueryOptions().mode(DevMode.DUPLICATE).developer("bob@desk");
            Map<String, Object> status = object(client.devStatus("deployment", name, aliceQuery));
            assertEquals(Boolean.TRUE, status.get("dev_mode"));
            assertEquals("duplicate", status.get("mode"));
            try (Session attached = client.devAttach("deployment", name, bobQuery)) {
                assertEquals(DevMode.DUPLICATE, attached.mode());
                assertEquals(bob.workload(), attached.workload());
                assertEquals("bob@desk", attached.developer());
            }
            // Exec goes to the developer's copy, whose dev pod runs the command (locally, by kwok).
            assertEquals("hello from the dev pod\n", alice.exec("cat", "hello.txt").stdoutText());

            // Session.end() ends this developer's copy only.
            String aliceCopy = alice.workload();
            assertEquals(DevEndResult.RESTORED, alice.end());
            assertFalse(deploymentExists(aliceCopy));
            assertEquals(Boolean.FALSE, object(client.devStatus("deployment", name, aliceQuery)).get("dev_mode"));
            assertEquals(Boolean.TRUE, object(client.devStatus("deployment", name, bobQuery)).get("dev_mode"));
            assertTrue(deploymentExists(bob.workload()));

            String bobCopy = bob.workload();
            Client.DevEndOptions bobEnd = new Client.DevEndOptions().mode(DevMode.DUPLICATE).developer("bob@desk");
            assertEquals(DevEndResult.RESTORED, client.devEnd("deployment", name, bobEnd));
            assertFalse(deploymentExists(bobCopy));
            assertEquals(DevEndResult.NOT_IN_DEV_MODE, client.devEnd("deployment", name, bobEnd));
        } finally {
            if (alice != null) alice.close();
            if (bob != null) bob.close();
            client.devEnd("deployment", name, new Client.DevEndOptions().mode(DevMode.DUPLICATE).developer("alice@laptop"));
            client.devEnd("deployment", name, new Client.DevEndOptions().mode(DevMode.DUPLICATE).developer("bob@desk"));
        }
        assertEquals(rv, resourceVersion(object(client.get(deploymentPath(name)))));
    }

    static final String NOCALHOST_CONFIG = String.join("\n",
        "name: %s",
        "serviceType: deployment",
        "containers:",
        "  - name: app",
        "    dev:",
        "      image: registry.example/dev-from-config:2",
        "      workDir: /home/dev/src",
        "      shell: bash",
        "      env:",
        "        - name: FROM_CONFIG",
        "          value: \"yes\"",
        "        - name: LEVEL",
        "          value: debug",
        "      portForward:",
        "        - \"8080:8080\"",
        "        - \"39229:9229\"",
        "      gitUrl: https://example.com/ignored.git",
        "");

    Path writeConfig(String name) throws Exception {
        Path dir = Files.createTempDirectory("nh-java-cfg");
        Files.createDirectory(dir.resolve(".nocalhost"));
        Files.writeString(dir.resolve(".nocalhost/config.yaml"), String.format(NOCALHOST_CONFIG, name));
        return dir;
    }

    @Test
    void configResolveReadsANocalhostConfigFile() throws Exception {
        String name = TestCluster.unique("cfg");
        createDeployment(name);
        Path dir = writeConfig(name);
        Map<String, Object> resolved = object(client.devConfigResolve("deployment", name,
            new Client.DevStartOptions().configPath(dir.toString())));
        assertEquals(List.of(dir.resolve(".nocalhost/config.yaml").toString()), resolved.get("sources"));
        assertEquals("app", resolved.get("container"));
        assertEquals("registry.example/dev-from-config:2", resolved.get("image"));
        assertEquals("/home/dev/src", resolved.get("workDir"));
        assertEquals("bash", resolved.get("shell"));
        assertEquals(List.of(Map.of("name", "FROM_CONFIG", "value", "yes"), Map.of("name", "LEVEL", "value", "debug")),
            resolved.get("env"));
        assertEquals(List.of("8080:8080", "39229:9229"), resolved.get("portForward"));
        List<?> ignored = (List<?>) resolved.get("ignored");
        assertEquals(1, ignored.size(), ignored.toString());
        assertEquals("containers[0].dev.gitUrl", map(ignored.get(0)).get("field"));

        // Explicit options win over the file.
        resolved = object(client.devConfigResolve("deployment", name, new Client.DevStartOptions()
            .configPath(dir.resolve(".nocalhost/config.yaml").toString()).image(DEV_IMAGE).env("LEVEL=info")
            .imagePullPolicy("Never").persistentDir("/root/.m2", "2Gi", null)));
        assertEquals(DEV_IMAGE, resolved.get("image"));
        assertEquals("Never", resolved.get("imagePullPolicy"));
        assertTrue(((List<?>) resolved.get("env")).contains(Map.of("name", "LEVEL", "value", "info")), resolved.toString());
        assertEquals(List.of(Map.of("path", "/root/.m2", "capacity", "2Gi", "storageClass", "")), resolved.get("persistentVolumeDirs"));

        assertEquals(List.of(), object(client.devConfigResolve("deployment", "other",
            new Client.DevStartOptions().configPath(dir.toString()).ignoreClusterConfig(true))).get("sources"));
        Path bad = dir.resolve("bad.yaml");
        Files.writeString(bad, "name: x\ncontainers:\n  - name: app\n    dev:\n      imagePullPolicy: Sometimes\n");
        NocalhostException.ConfigError e = assertThrows(NocalhostException.ConfigError.class,
            () -> client.devConfigResolve("deployment", "x", new Client.DevStartOptions().configPath(bad.toString())));
        assertTrue(e.getMessage().contains("bad.yaml:5") && e.getMessage().contains("imagePullPolicy"), e.getMessage());
    }

    @Test
    void startTakesTheImageAndWorkdirOfTheConfigAndAppliesPatches() throws Exception {
        String name = TestCluster.unique("cfgstart");
        createDeployment(name);
        try (Session session = client.devStart("deployment", name, new Client.DevStartOptions()
                .configPath(writeConfig(name).toString()).sidecarImage(SIDECAR_IMAGE).timeoutMs(120000)
                .patch("merge", Map.of("metadata", Map.of("annotations", Map.of("example.com/patched", "yes")))))) {
            assertEquals(DevMode.REPLACE, session.mode());
            assertEquals("", session.workload());
            assertEquals("", session.developer());
            assertEquals("/home/dev/src", session.workdir());
            assertEquals("registry.example/dev-from-config:2", object(session.status()).get("image"));
            Map<String, Object> live = object(client.get(deploymentPath(name)));
            assertEquals("yes", map(map(live.get("metadata")).get("annotations")).get("example.com/patched"));
            assertEquals(DevEndResult.RESTORED, session.end());
        }
    }

    @Test
    void persistentDirClaimOutlivesDevModeAndIsListedAndDeleted() throws Exception {
        String name = TestCluster.unique("pvc");
        String storageClass = TestCluster.unique("nh-java-pvc");
        String pv = storageClass + "-pv";
        client.create("/api/v1/persistentvolumes", Json.write(Map.of("apiVersion", "v1", "kind", "PersistentVolume",
            "metadata", Map.of("name", pv),
            "spec", Map.of("capacity", Map.of("storage", "1Gi"), "accessModes", List.of("ReadWriteOnce"),
                "persistentVolumeReclaimPolicy", "Retain", "storageClassName", storageClass,
                "hostPath", Map.of("path", "/tmp/" + pv)))));
        try {
            createDeployment(name);
            Map<String, Object> claim;
            try (Session session = client.devStart("deployment", name, new Client.DevStartOptions().image(DEV_IMAGE)
                    .sidecarImage(SIDECAR_IMAGE).timeoutMs(120000).persistentDir("/root/.cache", "1Gi", storageClass))) {
                List<Object> claims = array(client.devPvcList("deployment", name, null));
                assertEquals(1, claims.size(), claims.toString());
                claim = map(claims.get(0));
                assertEquals(ns, claim.get("namespace"));
                assertEquals("Deployment/" + name, claim.get("workload"));
                assertEquals("/root/.cache", claim.get("path"));
                assertEquals("1Gi", claim.get("capacity"));
                assertEquals(storageClass, claim.get("storage_class"));
                assertEquals("Bound", claim.get("phase"));
                assertEquals(DevEndResult.RESTORED, session.end());
            }
            String claimName = (String) claim.get("name");
            assertEquals(1, array(client.devPvcList("deployment", name, new Client.DevQueryOptions().namespace(ns))).size());
            assertTrue(array(client.devPvcList(null, null, null)).stream().anyMatch(c -> claimName.equals(map(c).get("name"))));
            assertEquals(List.of(), array(client.devPvcList("deployment", "other", null)));
            assertThrows(NocalhostException.NotFound.class, () -> client.devPvcDelete("deployment", name, "no-such-claim", null));
            assertEquals(List.of(claimName), client.devPvcDelete("deployment", name, "/root/.cache", null));
            long deadline = System.nanoTime() + 60_000_000_000L;
            while (!array(client.devPvcList("deployment", name, null)).isEmpty()) {
                assertTrue(System.nanoTime() < deadline, "the claim was not deleted");
                Thread.sleep(250);
            }
        } finally {
            client.delete("/api/v1/persistentvolumes/" + pv);
        }
    }

    boolean inDevMode(String name) {
        return client.devStatus("deployment/" + name).contains("\"dev_mode\":true");
    }

    Client.DevStartOptions startOptions() {
        return new Client.DevStartOptions().image(DEV_IMAGE).sidecarImage(SIDECAR_IMAGE).timeoutMs(120000);
    }

    @Test
    void aScopedSessionEndsDevModeWhenTheBlockThrows() throws Exception {
        String name = TestCluster.unique("scoped");
        createDeployment(name);
        Session[] seen = new Session[1];
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> {
            try (Session session = client.devStart("deployment/" + name, startOptions().endOnClose(true))) {
                seen[0] = session;
                assertTrue(session.endOnClose() && inDevMode(name));
                throw new IllegalStateException("the program failed half-way");
            }
        });
        assertEquals("the program failed half-way", e.getMessage());
        assertTrue(seen[0].isClosed());
        assertFalse(inDevMode(name));
        String restored = client.get("/apis/apps/v1/namespaces/" + ns + "/deployments/" + name);
        assertTrue(restored.contains("\"replicas\":2") && restored.contains("registry.example/app:1.0"), restored);

        // An end inside the block is not repeated.
        try (Session session = client.devStart("deployment/" + name, startOptions().endOnClose(true))) {
            assertEquals(DevEndResult.RESTORED, session.end());
        }
        assertFalse(inDevMode(name));
        waitReady(name, 2);

        // The handle-only form (the default) leaves dev mode on for later; attach can scope it.
        assertThrows(IllegalStateException.class, () -> {
            try (Session session = client.devStart("deployment/" + name, startOptions())) {
                throw new IllegalStateException("leave it running");
            }
        });
        assertTrue(inDevMode(name));
        try (Session session = client.devAttach("deployment/" + name, new Client.DevQueryOptions().endOnClose(true))) {
            assertEquals(name, session.name());
        }
        assertFalse(inDevMode(name));
    }

    @Test
    void theCliKindNameFormIsTakenByEveryDevCall() {
        String name = TestCluster.unique("kn");
        createDeployment(name);
        String target = "deployment/" + name;
        assertTrue(client.devConfigResolve(target, new Client.DevStartOptions().ignoreClusterConfig(true)).contains("\"sources\":[]"));
        try (Session session = client.devStart(target, startOptions())) {
            assertEquals(name, session.name());
            assertTrue(inDevMode(name));
            try (Session attached = client.devAttach("deploy/" + name, null)) {
                assertEquals(session.pod(), attached.pod());
            }
        }
        assertEquals("[]", client.devPvcList(target, null).replace(" ", ""));
        assertThrows(NocalhostException.NotFound.class, () -> client.devPvcDelete(target, "no-such-claim", null));
        assertEquals(DevEndResult.RESTORED, client.devEnd(target));
        for (String bad : new String[] {"web", "deployment/", "/web"}) {
            NocalhostException e = assertThrows(NocalhostException.InvalidArgument.class, () -> client.devStatus(bad));
            assertTrue(e.getMessage().contains("KIND/NAME"), e.getMessage());
        }
    }

    @Test
    void theSameSituationGivesTheSameCodeAndStatus() {
        NocalhostException e = assertThrows(NocalhostException.NotFound.class,
            () -> client.devStart("deployment/no-such-workload", startOptions().timeoutMs(30000)));
        assertEquals(ErrorCode.ENOTFOUND, e.code());
        assertEquals(404, e.httpStatus());
        e = assertThrows(NocalhostException.InvalidArgument.class, () -> client.devStatus("services/x"));
        assertEquals(0, e.httpStatus());

        String path = "/api/v1/namespaces/" + ns + "/configmaps";
        String cm = TestCluster.unique("cm");
        String created = client.create(path, "{\"metadata\":{\"name\":\"" + cm + "\"},\"data\":{\"a\":\"1\"}}");
        e = assertThrows(NocalhostException.AlreadyExists.class, () -> client.create(path, "{\"metadata\":{\"name\":\"" + cm + "\"}}"));
        assertEquals(409, e.httpStatus());
        client.replace(path + "/" + cm, created.replace("\"a\":\"1\"", "\"a\":\"2\""));
        e = assertThrows(NocalhostException.Conflict.class, () -> client.replace(path + "/" + cm, created.replace("\"a\":\"1\"", "\"a\":\"3\"")));
        assertEquals(ErrorCode.ECONFLICT, e.code());
        assertEquals(409, e.httpStatus());
        assertEquals("Conflict", e.reason());

        try (Client nobody = new Client(new Client.Options().kubeconfig(TestCluster.env("NH_TEST_NOBODY_TOKEN_KUBECONFIG")).namespace(ns))) {
            e = assertThrows(NocalhostException.Forbidden.class, () -> nobody.devStatus("deployment/web"));
            assertEquals(ErrorCode.EFORBIDDEN, e.code());
            assertEquals(403, e.httpStatus());
            assertEquals("Forbidden", e.reason());
        }
    }

    @Test
    void devRunAndTerminalUseTheDevConfig() throws Exception {
        String name = TestCluster.unique("run");
        createDeployment(name);
        Path project = Files.createTempDirectory("nh-java-run");
        Path workdir = Files.createDirectory(project.resolve("work"));  // kwok runs the command here
        Files.createDirectory(project.resolve(".nocalhost"));
        Files.writeString(project.resolve(".nocalhost").resolve("config.yaml"), String.join("\n",
            "name: " + name, "serviceType: deployment", "containers:", "  - name: app", "    dev:",
            "      image: registry.example/dev-from-config:2", "      workDir: " + workdir, "      shell: echo shell-from-config",
            "      command:", "        build: [\"sh\", \"-c\", \"echo built > built.txt && echo build-ok\"]", ""));
        try (Session session = client.devStart("deployment/" + name, new Client.DevStartOptions().configPath(project.toString())
                .sidecarImage(SIDECAR_IMAGE).timeoutMs(120000).endOnClose(true))) {
            ExecResult result = session.run("build", null);
            assertEquals(0, result.exitCode());
            assertEquals("build-ok\n", result.stdoutText());
            assertEquals("built\n", Files.readString(workdir.resolve("built.txt")));
            assertEquals(0, client.devRun("build", "deployment/" + name, null, null).exitCode());
            NocalhostException e = assertThrows(NocalhostException.ConfigError.class, () -> session.run("hot-reload-run", null));
            assertTrue(e.getMessage().contains("no command.hotReloadRun"), e.getMessage());
            for (ExecSession term : List.of(session.terminal(null, new Client.ExecStartOptions().stdin(false)),
                    client.terminal("deployment/" + name, null, new Client.ExecStartOptions().stdin(false)))) {
                try (term) {
                    assertEquals(0, term.waitFor());
                    String out = new String(term.stdout().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
                    assertTrue(out.contains("shell-from-config"), out);
                }
            }
        }
        assertFalse(inDevMode(name));
    }
    @SuppressWarnings("unchecked")
    List<Map<String, Object>> containers(String name) {
        Map<String, Object> d = object(client.get(deploymentPath(name)));
        return (List<Map<String, Object>>) map(map(map(d.get("spec")).get("template")).get("spec")).get("containers");
    }

    @Test
    void forceEndsDevModeOfAWorkloadWhoseSessionRecordIsGone() throws Exception {
        String name = TestCluster.unique("force");
        createDeployment(name);
        Map<String, Object> original = waitReady(name, 2);
        String record;
        try (Session session = client.devStart("deployment", name, new Client.DevStartOptions()
                .image(DEV_IMAGE).sidecarImage(SIDECAR_IMAGE).timeoutMs(120000))) {
            record = (String) object(session.status()).get("session_object");
        }
        // The record is gone (deleted by hand, lost to a crash): the workload still looks in dev mode.
        client.delete("/api/v1/namespaces/" + ns + "/secrets/" + record);

        NocalhostException e = assertThrows(NocalhostException.InvalidState.class, () -> client.devEnd("deployment", name));
        assertTrue(e.getMessage().contains("force"), e.getMessage());
        assertEquals(DEV_IMAGE, containers(name).get(0).get("image"), "a refused end changes nothing");

        List<DevEvent> events = new ArrayList<>();
        assertEquals(DevEndResult.RESTORED,
            client.devEnd("deployment", name, new Client.DevEndOptions().force(true).onEvent(events::add)));
        Map<String, Object> restored = object(client.get(deploymentPath(name)));
        assertEquals(map(original.get("metadata")).get("uid"), map(restored.get("metadata")).get("uid"));
        List<Map<String, Object>> now = containers(name);
        assertEquals(1, now.size(), "the sync sidecar is gone: " + now);
        assertEquals("registry.example/app:1.0", now.get(0).get("image"), "the pod template came back from the rollout history");
        // The replica count was recorded only in the deleted record: the forced end says so.
        assertTrue(events.stream().anyMatch(ev -> ev.type() == DevEvent.Type.WARNING && ev.phase().equals("force")
            && ev.message().contains("replicas")), events.toString());
        assertTrue(client.devStatus("deployment", name).contains("\"dev_mode\":false"));
        assertEquals(DevEndResult.NOT_IN_DEV_MODE, client.devEnd("deployment", name));
    }

    @Test
    void aRefusedPatchIsAWarningUnlessPatchErrorsAreFatal() {
        String name = TestCluster.unique("patch");
        createDeployment(name);
        // A JSON patch whose "test" operation fails: the API server refuses it (422).
        String refused = "[{\"op\":\"test\",\"path\":\"/metadata/labels/app\",\"value\":\"other\"}]";
        List<DevEvent> events = new ArrayList<>();
        try (Session session = client.devStart("deployment", name, new Client.DevStartOptions()
                .image(DEV_IMAGE).sidecarImage(SIDECAR_IMAGE).timeoutMs(120000).onEvent(events::add)
                .patch("json", refused).patch("merge", Map.of("metadata", Map.of("labels", Map.of("patched", "yes")))))) {
            assertTrue(events.stream().anyMatch(ev -> ev.type() == DevEvent.Type.WARNING && ev.phase().equals("patch")),
                events.toString());
            Map<String, Object> live = object(client.get(deploymentPath(name)));
            assertEquals("yes", map(map(live.get("metadata")).get("labels")).get("patched"), "the patches after a refused one still apply");
            assertEquals(DevEndResult.RESTORED, session.end());
        }

        NocalhostException e = assertThrows(NocalhostException.class, () -> client.devStart("deployment", name,
            new Client.DevStartOptions().image(DEV_IMAGE).sidecarImage(SIDECAR_IMAGE).timeoutMs(120000)
                .patch("json", refused).patchErrorsFatal(true)));
        assertTrue(e.getMessage().contains("patch 1"), e.getMessage());
        assertTrue(client.devStatus("deployment", name).contains("\"dev_mode\":false"));
        assertEquals("registry.example/app:1.0", containers(name).get(0).get("image"), "rolled back");
    }
}
