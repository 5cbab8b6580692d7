package dev.nocalhost;

import static org.junit.jupiter.api.Assertions.*;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/** The client against the real test cluster: requests, typed errors, watches, cancellation. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ClusterTest {
    String kubeconfig;
    String ns;
    Client client;

    @BeforeAll
    void setUp() {
        kubeconfig = TestCluster.env("NH_TEST_KUBECONFIG");
        ns = TestCluster.unique("nh-java-" + ProcessHandle.current().pid());
        client = new Client(new Client.Options().kubeconfig(kubeconfig).namespace(ns).timeoutMs(15000));
        client.create("/api/v1/namespaces", "{\"metadata\":{\"name\":\"" + ns + "\"}}");
    }

    @AfterAll
    void tearDown() {
        if (client != null) {
            client.delete("/api/v1/namespaces/" + ns);
            client.close();
        }
    }

    String cm(String name) {
        return "/api/v1/namespaces/" + ns + "/configmaps" + (name.isEmpty() ? "" : "/" + name);
    }

    static String cmJson(String name, String data) {
        return "{\"metadata\":{\"name\":\"" + name + "\"},\"data\":" + data + "}";
    }

    @Test
    void serverVersion() {
        assertEquals(ns, client.namespace());
        assertTrue(client.server().startsWith("https://127.0.0.1:"));
        assertTrue(client.serverVersion().contains("\"gitVersion\":\"v1."));
    }

    @Test
    void configMapCrud() {
        String name = TestCluster.unique("crud");
        String created = client.create(cm(""), cmJson(name, "{\"a\":\"1\"}"));
        assertTrue(created.contains("\"name\":\"" + name + "\""));
        assertTrue(client.get(cm(name)).contains("\"a\":\"1\""));
        assertTrue(client.patch(cm(name), "{\"data\":{\"b\":\"2\"}}", Client.PatchType.MERGE).contains("\"b\":\"2\""));
        assertTrue(client.patch(cm(name), "[{\"op\":\"remove\",\"path\":\"/data/a\"}]", Client.PatchType.JSON).contains("\"data\":{\"b\":\"2\"}"));
        Response r = client.request("DELETE", cm(name), null, null, null);
        assertEquals(200, r.status());
        NocalhostException.NotFound e = assertThrows(NocalhostException.NotFound.class, () -> client.get(cm(name)));
        assertEquals(404, e.httpStatus());
        assertEquals("NotFound", e.reason());
        assertEquals(ErrorCode.ENOTFOUND, e.code());
    }

    @Test
    void utf8SurvivesTheRoundTrip() {
        String name = TestCluster.unique("utf8");
        String value = "caf\u00e9 \uD83D\uDE80";
        client.create(cm(""), cmJson(name, "{\"v\":\"" + value + "\"}"));
        assertTrue(client.get(cm(name)).contains(value));
    }

    @Test
    void conflictOnAStaleUpdate() {
        String name = TestCluster.unique("conflict");
        String first = client.create(cm(""), cmJson(name, "{\"v\":\"1\"}"));
        client.patch(cm(name), "{\"data\":{\"v\":\"2\"}}", Client.PatchType.MERGE);
        NocalhostException.Conflict e = assertThrows(NocalhostException.Conflict.class,
            () -> client.replace(cm(name), first.replace("\"v\":\"1\"", "\"v\":\"stale\"")));
        assertEquals(409, e.httpStatus());
        assertEquals("Conflict", e.reason());
    }

    @Test
    void alreadyExists() {
        String name = TestCluster.unique("exists");
        client.create(cm(""), cmJson(name, "{}"));
        NocalhostException.AlreadyExists e = assertThrows(NocalhostException.AlreadyExists.class, () -> client.create(cm(""), cmJson(name, "{}")));
        assertEquals(409, e.httpStatus());
    }

    @Test
    void forbiddenForAnIdentityWithoutRights() {
        try (Client nobody = new Client(new Client.Options().kubeconfig(TestCluster.env("NH_TEST_NOBODY_TOKEN_KUBECONFIG")))) {
            NocalhostException.Forbidden e = assertThrows(NocalhostException.Forbidden.class, () -> nobody.get(cm("")));
            assertEquals(403, e.httpStatus());
            assertEquals("Forbidden", e.reason());
            assertEquals(ErrorCode.EFORBIDDEN, e.code());
        }
    }

    @Test
    void watchDeliversEventsToTheListener() throws Exception {
        String name = TestCluster.unique("watched");
        List<String> seen = new ArrayList<>();
        CountDownLatch added = new CountDownLatch(1);
        Thread churn = new Thread(() -> {
            client.create(cm(""), cmJson(name, "{\"n\":\"0\"}"));
            try { added.await(10, TimeUnit.SECONDS); } catch (InterruptedException e) { return; }
            client.patch(cm(name), "{\"data\":{\"n\":\"1\"}}", Client.PatchType.MERGE);
            client.delete(cm(name));
        });
        Cancel stop = new Cancel();
        churn.start();
        assertThrows(NocalhostException.Cancelled.class, () -> client.watch(cm(""),
            new Client.WatchOptions().fieldSelector("metadata.name=" + name).cancel(stop).durationMs(20000),
            event -> {
                seen.add(event.type().name());
                if (event.type() == WatchEvent.Type.ADDED) added.countDown();
                if (event.type() == WatchEvent.Type.DELETED) stop.trigger();
            }));
        churn.join();
        assertEquals(List.of("ADDED", "MODIFIED", "DELETED"), seen);
    }

    @Test
    void watchEndsAfterItsDuration() {
        long t0 = System.nanoTime();
        client.watch(cm(""), new Client.WatchOptions().labelSelector("none=here").durationMs(500), e -> fail("no events expected"));
        assertTrue((System.nanoTime() - t0) / 1_000_000 < 5000);
    }

    @Test
    void aListenerExceptionStopsTheWatchAndIsRethrown() {
        String name = TestCluster.unique("boom");
        client.create(cm(""), cmJson(name, "{}"));
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> client.watch(cm(""),
            new Client.WatchOptions().fieldSelector("metadata.name=" + name),
            event -> { throw new IllegalStateException("listener failed on " + event.type()); }));
        assertEquals("listener failed on ADDED", e.getMessage());
    }

    @Test
    void cancelFromAnotherThreadStopsAWatch() throws Exception {
        Cancel cancel = new Cancel();
        Thread t = new Thread(() -> {
            try { Thread.sleep(300); } catch (InterruptedException e) { return; }
            cancel.trigger();
        });
        t.start();
        long t0 = System.nanoTime();
        assertThrows(NocalhostException.Cancelled.class, () -> client.watch(cm(""), new Client.WatchOptions().cancel(cancel), e -> {}));
        assertTrue((System.nanoTime() - t0) / 1_000_000 < 2000);
        t.join();
    }

    @Test
    void closeFromAnotherThreadCancelsRunningCalls() throws Exception {
        Client c = new Client(new Client.Options().kubeconfig(kubeconfig));
        Thread t = new Thread(() -> {
            try { Thread.sleep(300); } catch (InterruptedException e) { return; }
            c.close();
        });
        t.start();
        assertThrows(NocalhostException.Cancelled.class, () -> c.watch(cm(""), new Client.WatchOptions(), e -> {}));
        t.join();
        assertTrue(c.isClosed());
        assertThrows(NocalhostException.InvalidState.class, c::serverVersion);
    }

    @Test
    void concurrentRequestsOnOneClient() throws Exception {
        List<Thread> threads = new ArrayList<>();
        List<Throwable> errors = new java.util.concurrent.CopyOnWriteArrayList<>();
        for (int i = 0; i < 8; i++) {
            String name = TestCluster.unique("par" + i);
            Thread t = new Thread(() -> {
                try {
                    client.create(cm(""), cmJson(name, "{}"));
                    client.get(cm(name));
                    client.delete(cm(name));
                } catch (Throwable e) {
                    errors.add(e);
                }
            });
            threads.add(t);
            t.start();
        }
        for (Thread t : threads) t.join();
        assertEquals(List.of(), errors);
    }
}
