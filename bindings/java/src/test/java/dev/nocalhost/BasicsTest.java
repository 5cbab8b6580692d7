package dev.nocalhost;

import static org.junit.jupiter.api.Assertions.*;

import java.util.List;
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
