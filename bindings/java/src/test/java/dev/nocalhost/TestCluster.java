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
