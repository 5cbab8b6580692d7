package dev.nocalhost;

import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.UUID;

/**
 * The test cluster's environment (`source <(scripts/test-cluster env)`).
 * Without NH_TEST_KUBECONFIG the cluster tests FAIL, unless
 * NH_SKIP_CLUSTER_TESTS=1 says to skip them.
 */
final class TestCluster {
    private TestCluster() {}

    static String env(String name) {
        String v = System.getenv(name);
        if (v != null && !v.isEmpty()) return v;
        assumeTrue(!"1".equals(System.getenv("NH_SKIP_CLUSTER_TESTS")), name + " is not set and NH_SKIP_CLUSTER_TESTS=1");
        fail(name + " is not set: run `source <(scripts/test-cluster env)` (or set NH_SKIP_CLUSTER_TESTS=1)");
        return null;
    }

    static String unique(String prefix) {
        return prefix + "-" + UUID.randomUUID().toString().substring(0, 8);
    }

    static final String KWOK = "/apis/kwok.x-k8s.io/v1alpha1";

    /** A loopback server that sends each connection back what it sends (a forward's far end); close() stops it. */
    static java.net.ServerSocket echoServer() throws java.io.IOException {
        java.net.ServerSocket echo = new java.net.ServerSocket(0, 50, java.net.InetAddress.getLoopbackAddress());
        Thread acceptor = new Thread(() -> {
            while (true) {
                try {
                    java.net.Socket c = echo.accept();
                    Thread t = new Thread(() -> {
                        try (c) {
                            c.getInputStream().transferTo(c.getOutputStream());
                        } catch (Exception e) {
                            // connection gone
                        }
                    });
                    t.setDaemon(true);
                    t.start();
                } catch (Exception e) {
                    return;
                }
            }
        });
        acceptor.setDaemon(true);
        acceptor.start();
        return echo;
    }

    /**
     * kwok runs no containers: a ClusterPortForward named `ns` sends each pod port of namespace
     * `ns` (the even entries of `portsAndTargets`) to 127.0.0.1 and the local port after it.
     */
    static void clusterPortForward(Client client, String ns, int... portsAndTargets) {
        StringBuilder forwards = new StringBuilder();
        for (int i = 0; i + 1 < portsAndTargets.length; i += 2) {
            forwards.append(i == 0 ? "" : ",").append("{\"ports\":[").append(portsAndTargets[i])
                .append("],\"target\":{\"address\":\"127.0.0.1\",\"port\":").append(portsAndTargets[i + 1]).append("}}");
        }
        client.create(KWOK + "/clusterportforwards", "{\"apiVersion\":\"kwok.x-k8s.io/v1alpha1\",\"kind\":\"ClusterPortForward\","
            + "\"metadata\":{\"name\":\"" + ns + "\"},\"spec\":{\"selector\":{\"matchNamespaces\":[\"" + ns + "\"]},"
            + "\"forwards\":[" + forwards + "]}}");
    }

    /** Deployment web in `ns`: one (kwok) pod of image registry.example/web:1, container "app". */
    static void webDeployment(Client client, String ns) {
        client.create("/apis/apps/v1/namespaces/" + ns + "/deployments", "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\","
            + "\"metadata\":{\"name\":\"web\"},\"spec\":{\"replicas\":1,\"selector\":{\"matchLabels\":{\"app\":\"web\"}},"
            + "\"template\":{\"metadata\":{\"labels\":{\"app\":\"web\"}},\"spec\":{\"terminationGracePeriodSeconds\":0,"
            + "\"containers\":[{\"name\":\"app\",\"image\":\"registry.example/web:1\"}]}}}}");
    }

    /** A kubeconfig for a server that is not there. */
    static String fakeKubeconfig() throws Exception {
        java.nio.file.Path dir = java.nio.file.Files.createTempDirectory("nh-java");
        java.nio.file.Path file = dir.resolve("kubeconfig");
        java.nio.file.Files.writeString(file, String.join("\n",
            "apiVersion: v1", "kind: Config",
            "clusters:", "- name: c", "  cluster: {server: \"https://127.0.0.1:1\", insecure-skip-tls-verify: true}",
            "users:", "- name: u", "  user: {token: secret-token}",
            "contexts:", "- name: ctx", "  context: {cluster: c, user: u, namespace: team}",
            "current-context: ctx", ""));
        return file.toString();
    }
}
