package dev.nocalhost;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * What an IDE asks beside dev mode, through the JVM binding: the folder association store
 * (threads writing at once lose nothing, the nearest ancestor wins, a corrupt store is kept),
 * the dev profile; against the test cluster the tree, the cluster check, a kubeconfig from
 * memory, the rights an identity lacks, and the dev config written back over the version read.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class IdeTest {
    String kubeconfig;
    String ns;
    Client client;

    @BeforeAll
    void setUp() {
        kubeconfig = TestCluster.env("NH_TEST_KUBECONFIG");
        ns = TestCluster.unique("nh-java-ide-" + ProcessHandle.current().pid());
        client = new Client(new Client.Options().kubeconfig(kubeconfig).namespace(ns).timeoutMs(15000));
        client.create("/api/v1/namespaces", "{\"metadata\":{\"name\":\"" + ns + "\"}}");
        client.create("/apis/apps/v1/namespaces/" + ns + "/deployments", "{\"metadata\":{\"name\":\"web\"},"
            + "\"spec\":{\"replicas\":1,\"selector\":{\"matchLabels\":{\"app\":\"web\"}},\"template\":{\"metadata\":"
            + "{\"labels\":{\"app\":\"web\"}},\"spec\":{\"containers\":[{\"name\":\"app\",\"image\":\"registry.example/app:1\"}]}}}}");
    }

    @AfterAll
    void tearDown() {
        if (client != null) {
            client.delete("/api/v1/namespaces/" + ns);
            client.close();
        }
    }

    static Map<?, ?> object(String json) { return (Map<?, ?>) Json.parse(json); }

    @Test
    void threadsWritingTheStoreAtOnceLoseNoEntry() throws Exception {
        Path root = Files.createTempDirectory("nh-java-assoc").toRealPath();
        String store = root.resolve("cfg/associations.json").toString();
        int threads = 4, each = 20;
        List<Thread> running = new ArrayList<>();
        List<Throwable> failures = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            final int id = t;
            Thread th = new Thread(() -> {
                try {
                    for (int i = 0; i < each; i++) {
                        Path dir = Files.createDirectories(root.resolve(id + "-" + i));
                        Associations.associate(dir.toString(), "deployment/web-" + id + "-" + i, new Associations.Options().store(store));
                    }
                } catch (Throwable e) {
                    synchronized (failures) { failures.add(e); }
                }
            });
            th.start();
            running.add(th);
        }
        for (Thread th : running) th.join();
        assertEquals(List.of(), failures);
        Set<Object> names = new HashSet<>();
        for (Object e : (List<?>) Json.parse(Associations.list(new Associations.Options().store(store)))) names.add(((Map<?, ?>) e).get("name"));
        assertEquals(threads * each, names.size(), "entries were lost to a concurrent writer");
    }

    @Test
    void theNearestAncestorWinsAndACorruptStoreIsKept() throws Exception {
        Path root = Files.createTempDirectory("nh-java-assoc").toRealPath();
        String store = root.resolve("associations.json").toString();
        Associations.Options o = new Associations.Options().store(store).namespace("demo").container("app");
        Path repo = Files.createDirectories(root.resolve("repo/svc"));
        Associations.associate(root.resolve("repo").toString(), "deploy/web", o);
        Map<?, ?> e = object(Associations.of(repo.resolve("x/y").toString(), new Associations.Options().store(store)));
        assertEquals("deployment", e.get("kind"));
        assertEquals("web", e.get("name"));
        assertEquals(root.resolve("repo").toString(), e.get("dir"));
        assertNull(Associations.of(root.toString(), new Associations.Options().store(store)));
        assertEquals(1, ((List<?>) Json.parse(Associations.find("deployments/web", new Associations.Options().store(store)))).size());
        assertTrue(Associations.remove(root.resolve("repo").toString(), new Associations.Options().store(store)));
        assertFalse(Associations.remove(root.resolve("repo").toString(), new Associations.Options().store(store)));
        assertThrows(NocalhostException.InvalidArgument.class, () -> Associations.associate(root.toString(), "service/web", o));

        Files.writeString(Path.of(store), "{\"associations\": [");
        NocalhostException.ConfigError err = assertThrows(NocalhostException.ConfigError.class,
            () -> Associations.associate(root.toString(), "deployment/web", o));
        assertTrue(err.getMessage().contains(store), err.getMessage());
        assertEquals("{\"associations\": [", Files.readString(Path.of(store)));
    }

    @Test
    void theDevProfileRemembersEachField() throws Exception {
        String store = Files.createTempDirectory("nh-java-profile").resolve("profiles.json").toString();
        DevProfile.Options key = new DevProfile.Options().store(store).namespace("demo").context("ctx");
        assertNull(DevProfile.get("deployment/web", key));
        DevProfile.remember("deployment/web", new DevProfile.Options().store(store).namespace("demo").context("ctx").image("golang:1.22"));
        DevProfile.remember("deploy/web", new DevProfile.Options().store(store).namespace("demo").context("ctx").workdir("/src"));
        Map<?, ?> p = object(DevProfile.get("deployment/web", key));
        assertEquals("golang:1.22", p.get("image"));
        assertEquals("/src", p.get("workdir"));
    }

    @Test
    void theTreeTheCheckAndAKubeconfigFromMemory() throws Exception {
        List<?> tree = (List<?>) Json.parse(client.tree(null, "deploy"));
        assertEquals(1, tree.size());
        assertEquals("web", ((Map<?, ?>) tree.get(0)).get("name"));
        Map<?, ?> check = object(client.check(null));
        assertEquals(Boolean.TRUE, check.get("authenticated"));
        String text = Files.readString(Path.of(kubeconfig));
        try (Client fromData = Client.fromKubeconfigData(text, new Client.Options().namespace(ns))) {
            assertEquals(ns, fromData.namespace());
            assertEquals(1, ((List<?>) Json.parse(fromData.tree(null, "deployment"))).size());
        }
        NocalhostException.ConfigError bad = assertThrows(NocalhostException.ConfigError.class,
            () -> Client.fromKubeconfigData("apiVersion: v1\nkind: Config\nclusters: 5\n", null));
        assertTrue(bad.getMessage().contains("kubeconfig data"), bad.getMessage());
    }

    @Test
    void theRightsAnIdentityLacks() {
        String rules = client.devRequiredRights("deployment/web", new Client.DevStartOptions().ignoreClusterConfig(true));
        assertTrue(rules.contains("\"pods/exec\""), rules);
        assertEquals(List.of(), object(client.devAccessCheck("deployment/web", new Client.DevStartOptions().ignoreClusterConfig(true))).get("missing"));
        try (Client nobody = new Client(new Client.Options().kubeconfig(TestCluster.env("NH_TEST_NOBODY_TOKEN_KUBECONFIG")).namespace(ns))) {
            Map<?, ?> report = object(nobody.devAccessCheck("deployment/web", new Client.DevStartOptions().ignoreClusterConfig(true)));
            assertEquals(Boolean.TRUE, report.get("checked"));
            Set<String> missing = new HashSet<>();
            for (Object m : (List<?>) report.get("missing")) {
                Map<?, ?> r = (Map<?, ?>) m;
                missing.add(r.get("verb") + " " + r.get("resource") + (((String) r.get("subresource")).isEmpty() ? "" : "/" + r.get("subresource")));
            }
            assertTrue(missing.containsAll(List.of("update deployments", "create pods/exec", "create secrets")), missing.toString());
        }
    }

    @Test
    void theDevConfigIsWrittenBackOnlyOverTheVersionRead() {
        // The application's ConfigMap, whose resourceVersion is its version: any change of it counts.
        String config = "application:\n  name: shop\n  services:\n    - name: web\n      serviceType: deployment\n"
            + "      containers:\n        - name: app\n          dev:\n            image: registry.example/dev:cm\n";
        Client.DevConfigOptions shop = new Client.DevConfigOptions().app("shop");
        Map<?, ?> read = object(client.devConfigRead("deployment/web", shop));
        assertNull(read.get("config"));
        Map<?, ?> written = object(client.devConfigWrite("deployment/web", config, new Client.DevConfigOptions().app("shop")));
        assertEquals(config, written.get("config"));
        String rv = (String) written.get("resource_version");
        assertThrows(NocalhostException.Conflict.class,
            () -> client.devConfigWrite("deployment/web", config, new Client.DevConfigOptions().app("shop")));
        assertThrows(NocalhostException.InvalidArgument.class,
            () -> client.devConfigWrite("deployment/web", "application: [", new Client.DevConfigOptions().app("shop").resourceVersion(rv)));
        client.devConfigWrite("deployment/web", config + "\n", new Client.DevConfigOptions().app("shop").resourceVersion(rv));
        assertThrows(NocalhostException.Conflict.class,
            () -> client.devConfigWrite("deployment/web", config, new Client.DevConfigOptions().app("shop").resourceVersion(rv)));
        assertEquals(config + "\n", object(client.devConfigRead("deployment/web", shop)).get("config"));
    }

    @Test
    void theTreeWatchReportsAWorkloadAdded() throws Exception {
        java.util.concurrent.BlockingQueue<String> events = new java.util.concurrent.LinkedBlockingQueue<>();
        Cancel stop = new Cancel();
        Throwable[] failed = new Throwable[1];
        Thread watcher = new Thread(() -> {
            try {
                client.watchTree(stop, (type, entry) -> events.add(type + " " + entry), "deploy");
            } catch (NocalhostException.Cancelled expected) {
                // stopped below
            } catch (Throwable e) {
                failed[0] = e;
            }
        });
        watcher.start();
        try {
            String e;
            while ((e = events.poll(60, java.util.concurrent.TimeUnit.SECONDS)) != null && !e.startsWith("SYNCED")) {}
            assertNotNull(e, "no SYNCED event");
            client.create("/apis/apps/v1/namespaces/" + ns + "/deployments", "{\"metadata\":{\"name\":\"api\"},"
                + "\"spec\":{\"replicas\":1,\"selector\":{\"matchLabels\":{\"app\":\"api\"}},\"template\":{\"metadata\":"
                + "{\"labels\":{\"app\":\"api\"}},\"spec\":{\"containers\":[{\"name\":\"app\",\"image\":\"registry.example/app:1\"}]}}}}");
            boolean added = false;
            while (!added && (e = events.poll(60, java.util.concurrent.TimeUnit.SECONDS)) != null)
                added = e.startsWith("ADDED ") && "api".equals(object(e.substring(6)).get("name"));
            assertTrue(added, "no ADDED event for the new Deployment");
        } finally {
            stop.trigger();
            watcher.join(30000);
        }
        assertFalse(watcher.isAlive(), "the watch did not stop when cancelled");
        assertNull(failed[0]);
    }

    @Test
    void logsOfARealPodAreFollowedWhileItWrites() throws Exception {
        TestCluster.env("NH_TEST_REAL_NODE");
        String taint = TestCluster.env("NH_TEST_REAL_TAINT");
        String image = TestCluster.env("NH_TEST_IMAGE_APP");
        client.create("/api/v1/namespaces/" + ns + "/pods", "{\"metadata\":{\"name\":\"talker\"},\"spec\":{"
            + "\"nodeSelector\":{\"" + taint + "\":\"true\"},\"tolerations\":[{\"key\":\"" + taint
            + "\",\"operator\":\"Exists\",\"effect\":\"NoSchedule\"}],\"terminationGracePeriodSeconds\":1,"
            + "\"containers\":[{\"name\":\"app\",\"image\":\"" + image + "\",\"command\":[\"/bin/sh\",\"-c\","
            + "\"n=0; while true; do echo tick $n; n=$((n+1)); sleep 0.2; done\"]}]}}");
        List<String> lines = new ArrayList<>();
        long deadline = System.currentTimeMillis() + 120000;
        Cancel stop = new Cancel();
        while (lines.size() < 5) {
            assertTrue(System.currentTimeMillis() < deadline, "no log lines from the real pod: " + lines);
            try {
                client.logs("pod/talker", new Client.LogsOptions().follow(true).cancel(stop), line -> {
                    lines.add(line);
                    if (lines.size() >= 5) stop.trigger();
                });
            } catch (NocalhostException.Cancelled stopped) {
                break;
            } catch (NocalhostException.Invalid notYet) {
                Thread.sleep(500);  // the container is still starting
            }
        }
        assertTrue(lines.size() >= 5, lines.toString());
        for (String l : lines) assertTrue(l.startsWith("tick "), l);
        assertThrows(NocalhostException.NotFound.class, () -> client.logs("deployment/nope", null, line -> {}));
    }
}
