package dev.nocalhost;

import static org.junit.jupiter.api.Assertions.*;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;

/** What needs no cluster: versions, the error table, options, lifetimes, logging. */
class BasicsTest {
    @Test
    void versions() {
        assertEquals(Nocalhost.version(), Nocalhost.libraryVersion());
        assertTrue(Nocalhost.version().matches("\\d+\\.\\d+\\.\\d+"));
    }

    @Test
    void everyCodeMapsToItsClassAndCName() {
        for (ErrorCode c : ErrorCode.values()) {
            NocalhostException e = NocalhostException.of(c.value(), "m", 0, "");
            assertEquals(c, e.code());
            assertEquals("NH_" + c.name(), c.cName());
        }
        assertInstanceOf(NocalhostException.NotFound.class, NocalhostException.of(-9, "x", 404, "NotFound"));
        assertInstanceOf(NocalhostException.Forbidden.class, NocalhostException.of(-13, "x", 403, "Forbidden"));
        assertEquals(NocalhostException.class, NocalhostException.of(-999, "x", 0, "").getClass());
    }

    @Test
    void jsonOfDevOptionsAndAnswers() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("a", Arrays.asList(1, "x\"y\n\u0001", true, null, 2.5));
        m.put("b", Map.of());
        m.put("c", new String[] {"s"});
        String text = Json.write(m);
        assertEquals("{\"a\":[1,\"x\\\"y\\n\\u0001\",true,null,2.5],\"b\":{},\"c\":[\"s\"]}", text);
        assertEquals(Map.of("a", Arrays.asList(1L, "x\"y\n\u0001", true, null, 2.5), "b", Map.of(), "c", List.of("s")),
            Json.parse(text));
        assertEquals(List.of("a", "b"), Json.parseStrings(" [\"a\", \"b\"] "));
        assertThrows(IllegalArgumentException.class, () -> Json.parse("[1,"));
        assertThrows(IllegalArgumentException.class, () -> Json.write(new Object()));
    }

    @Test
    void devStartOptionsAsTheCStruct() {
        Client.DevStartOptions o = new Client.DevStartOptions().mode(DevMode.DUPLICATE).developer("dev@host")
            .patch("json", List.of(Map.of("op", "add", "path", "/metadata/labels/x", "value", "y")))
            .patch("strategic", "{\"spec\":{}}").persistentDir("/root/.m2", "2Gi", null);
        dev.nocalhost.jni.nh_dev_start_options d = new dev.nocalhost.jni.nh_dev_start_options();
        try {
            assertEquals(0, dev.nocalhost.jni.NH.nh_dev_start_options_init(d, dev.nocalhost.jni.NH.NH_DEV_START_OPTIONS_VERSION));
            o.fill(d);
            assertEquals(dev.nocalhost.jni.nh_dev_mode.NH_DEV_MODE_DUPLICATE.swigValue(), d.getMode());
            assertEquals("dev@host", d.getDeveloper());
            List<?> patches = (List<?>) Json.parse(d.getPatches_json());
            assertEquals(2, patches.size());
            Map<?, ?> first = (Map<?, ?>) patches.get(0);
            assertEquals("json", first.get("type"));
            assertEquals(List.of(Map.of("op", "add", "path", "/metadata/labels/x", "value", "y")), Json.parse((String) first.get("patch")));
            assertEquals(Map.of("type", "strategic", "patch", "{\"spec\":{}}"), patches.get(1));
            assertEquals("[{\"path\":\"/root/.m2\",\"capacity\":\"2Gi\"}]", d.getPersistent_dirs_json());
            assertNull(d.getConfig_path());
            assertEquals(1, d.getRollback_on_failure());
        } finally {
            d.delete();
        }
    }

    @Test
    void missingKubeconfigIsAConfigErrorNamingTheFile() {
        NocalhostException.ConfigError e = assertThrows(NocalhostException.ConfigError.class,
            () -> new Client(new Client.Options().kubeconfig("/nonexistent/nope.yaml")));
        assertEquals(ErrorCode.ECONFIG, e.code());
        assertTrue(e.getMessage().contains("nope.yaml"), e.getMessage());
    }

    @Test
    void clientReportsWhatTheKubeconfigResolvedTo() throws Exception {
        String kc = TestCluster.fakeKubeconfig();
        try (Client c = new Client(new Client.Options().kubeconfig(kc))) {
            assertEquals("ctx", c.context());
            assertEquals("https://127.0.0.1:1", c.server());
            assertEquals("team", c.namespace());
        }
        try (Client c = new Client(new Client.Options().kubeconfig(kc).namespace("other"))) {
            assertEquals("other", c.namespace());
        }
        assertThrows(NocalhostException.ConfigError.class, () -> new Client(new Client.Options().kubeconfig(kc).context("missing")));
    }

    @Test
    void unreachableServerIsAConnectError() throws Exception {
        try (Client c = new Client(new Client.Options().kubeconfig(TestCluster.fakeKubeconfig()).timeoutMs(5000).maxRetries(0))) {
            NocalhostException.ConnectError e = assertThrows(NocalhostException.ConnectError.class, c::serverVersion);
            assertEquals(0, e.httpStatus());
        }
    }

    @Test
    void closeIsIdempotentAndUseAfterCloseThrows() throws Exception {
        Client c = new Client(new Client.Options().kubeconfig(TestCluster.fakeKubeconfig()));
        assertFalse(c.isClosed());
        c.close();
        c.close();
        assertTrue(c.isClosed());
        NocalhostException.InvalidState e = assertThrows(NocalhostException.InvalidState.class, c::namespace);
        assertTrue(e.getMessage().contains("closed"));
        assertThrows(NocalhostException.InvalidState.class, c::serverVersion);
        assertThrows(NocalhostException.InvalidState.class, () -> c.get("/api"));
    }

    @Test
    void aTriggeredCancelStopsACallAtOnce() throws Exception {
        Cancel cancel = new Cancel();
        cancel.trigger();
        assertTrue(cancel.isTriggered());
        try (Client c = new Client(new Client.Options().kubeconfig(TestCluster.fakeKubeconfig()))) {
            assertThrows(NocalhostException.Cancelled.class, () -> c.serverVersion(cancel));
        }
        cancel.reset();
        assertFalse(cancel.isTriggered());
    }

    @Test
    void anInvalidPathIsAnInvalidArgument() throws Exception {
        try (Client c = new Client(new Client.Options().kubeconfig(TestCluster.fakeKubeconfig()))) {
            assertThrows(NocalhostException.InvalidArgument.class, () -> c.get("no-leading-slash"));
        }
    }

    @Test
    void headerRoutingOptionsReachTheLibrary() throws Exception {
        // Refused by the library before any request (the server is unreachable): the options arrived.
        try (Client c = new Client(new Client.Options().kubeconfig(TestCluster.fakeKubeconfig()).timeoutMs(5000).maxRetries(0))) {
            NocalhostException.InvalidArgument bad = assertThrows(NocalhostException.InvalidArgument.class,
                () -> c.devStart("deployment/web", new Client.DevStartOptions().image("x").ignoreClusterConfig(true)
                    .mode(DevMode.DUPLICATE).developer("a@b").headers("x dev=a")));
            assertTrue(bad.getMessage().contains("HTTP token"), bad.getMessage());
            NocalhostException.InvalidArgument router = assertThrows(NocalhostException.InvalidArgument.class,
                () -> c.devStart("deployment/web", new Client.DevStartOptions().image("x").ignoreClusterConfig(true)
                    .mode(DevMode.DUPLICATE).developer("a@b").headers("x-dev=a").router("linkerd")));
            assertTrue(router.getMessage().contains("auto, istio, gateway-api"), router.getMessage());
        }
    }

    @Test
    void logLinesReachTheHandler() throws Exception {
        List<String> lines = new CopyOnWriteArrayList<>();
        Nocalhost.setLogHandler((level, message) -> lines.add(level + " " + message), Nocalhost.LogLevel.DEBUG);
        try (Client c = new Client(new Client.Options().kubeconfig(TestCluster.fakeKubeconfig()).timeoutMs(2000).maxRetries(1))) {
            assertThrows(NocalhostException.ConnectError.class, c::serverVersion);
        } finally {
            Nocalhost.setLogHandler(null, Nocalhost.LogLevel.ERROR);
        }
        assertTrue(lines.stream().anyMatch(l -> l.contains("retrying GET /version")), lines.toString());
        assertTrue(lines.stream().allMatch(l -> l.startsWith("DEBUG ")));
        assertTrue(lines.stream().noneMatch(l -> l.contains("secret-token")));
    }
}
