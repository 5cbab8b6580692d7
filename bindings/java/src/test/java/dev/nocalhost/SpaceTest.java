package dev.nocalhost;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Dev spaces and applications through the JVM binding, against the test cluster: a space whose
 * developer kubeconfig works in it and is refused elsewhere, shared, renewed, listed and deleted;
 * the bookinfo application of tests/app installed, listed and uninstalled leaving nothing of it.
 */
class SpaceTest {
    static final String BOOKINFO =
        Path.of(System.getProperty("user.dir"), "..", "..", "tests", "app", "fixtures", "bookinfo").normalize().toString();

    static Map<?, ?> object(String json) { return (Map<?, ?>) Json.parse(json); }

    static List<?> array(String json) { return (List<?>) Json.parse(json); }

    @Test
    void aSpaceRoundTrip() {
        String kubeconfig = TestCluster.env("NH_TEST_KUBECONFIG");
        String name = TestCluster.unique("nh-javaspace");
        try (Client admin = new Client(new Client.Options().kubeconfig(kubeconfig).timeoutMs(15000))) {
            try {
                String rules = "[{\"apiGroups\":[\"\"],\"resources\":[\"configmaps\"],\"verbs\":[\"create\"]}]";
                Map<?, ?> access = object(admin.createSpace(name, "alice",
                    new Client.SpaceOptions().cpu("2").memory("2Gi").pods(10).extraRulesJson(rules)));
                assertEquals("nh-alice", access.get("service_account"));
                assertEquals(name, access.get("namespace"));
                try (Client alice = Client.fromKubeconfigData((String) access.get("kubeconfig"),
                         new Client.Options().timeoutMs(15000))) {
                    alice.create("/api/v1/namespaces/" + name + "/configmaps", "{\"metadata\":{\"name\":\"mine\"}}");
                    assertThrows(NocalhostException.Forbidden.class, () -> alice.get("/api/v1/namespaces/default/configmaps"));
                    NocalhostException.Forbidden missing = assertThrows(NocalhostException.Forbidden.class,
                        () -> alice.createSpace(name + "-x", "mallory", null));
                    assertTrue(missing.getMessage().contains("create namespaces (cluster-wide)"), missing.getMessage());
                }
                Map<?, ?> bob = object(admin.shareSpace(name, "bob", null));
                assertEquals("nh-bob", bob.get("service_account"));
                Map<?, ?> renewed = object(admin.renewSpace(name, "bob", new Client.SpaceOptions().tokenSeconds(3600)));
                assertNotEquals(bob.get("kubeconfig"), renewed.get("kubeconfig"));
                List<?> mine = array(admin.spaces("bob", null)).stream()
                    .filter(s -> name.equals(((Map<?, ?>) s).get("name"))).toList();
                assertEquals(1, mine.size());
                assertEquals("10", ((Map<?, ?>) ((Map<?, ?>) mine.get(0)).get("quota")).get("pods"));
                assertThrows(NocalhostException.AlreadyExists.class, () -> admin.createSpace(name, "carol", null));
                assertThrows(NocalhostException.InvalidArgument.class,
                    () -> admin.createSpace(name + "-y", "carol", new Client.SpaceOptions().cpu("plenty")));
            } finally {
                try {
                    admin.deleteSpace(name, null, null);
                } catch (NocalhostException.NotFound e) {
                    // a failed create made nothing
                }
            }
            assertFalse(admin.spaces(null, null).contains("\"name\":\"" + name + "\""));
            assertThrows(NocalhostException.NotFound.class, () -> admin.get("/api/v1/namespaces/" + name));
        }
    }

    @Test
    void anApplicationRoundTrip() {
        String kubeconfig = TestCluster.env("NH_TEST_KUBECONFIG");
        String ns = TestCluster.unique("nh-javaapp");
        try (Client client = new Client(new Client.Options().kubeconfig(kubeconfig).namespace(ns).timeoutMs(15000))) {
            client.create("/api/v1/namespaces", "{\"metadata\":{\"name\":\"" + ns + "\"}}");
            try {
                Map<?, ?> app = object(client.installApp("bookinfo", BOOKINFO, null));
                assertEquals(ns, app.get("namespace"));
                assertEquals("rawManifestLocal", app.get("type"));
                assertEquals(3, ((List<?>) app.get("workloads")).size());
                assertEquals(1, array(client.apps(null)).size());
                assertThrows(NocalhostException.AlreadyExists.class, () -> client.installApp("bookinfo", BOOKINFO, null));
                NocalhostException.InvalidArgument bad = assertThrows(NocalhostException.InvalidArgument.class,
                    () -> client.installApp("other", BOOKINFO, new Client.AppOptions().set("a=b")));
                assertTrue(bad.getMessage().contains("--values and --set are for Helm charts"), bad.getMessage());
                client.uninstallApp("bookinfo", null);
                assertEquals(0, array(client.apps(null)).size());
                assertThrows(NocalhostException.NotFound.class,
                    () -> client.get("/apis/apps/v1/namespaces/" + ns + "/deployments/productpage"));
                assertThrows(NocalhostException.NotFound.class, () -> client.uninstallApp("bookinfo", null));
            } finally {
                client.delete("/api/v1/namespaces/" + ns);
            }
        }
    }
}
