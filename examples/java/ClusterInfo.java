// Prints the cluster's version, then watches ConfigMaps for a few seconds.
// Run with the binding's jar (Java 11+ runs a single source file directly):
//   java -cp bindings/java/target/nocalhost-0.1.0.jar examples/java/ClusterInfo.java [KUBECONFIG] [SECONDS]
import dev.nocalhost.Client;
import dev.nocalhost.Nocalhost;
import dev.nocalhost.NocalhostException;

public class ClusterInfo {
    public static void main(String[] args) {
        Client.Options options = new Client.Options();
        if (args.length > 0) options.kubeconfig(args[0]);
        long seconds = args.length > 1 ? Long.parseLong(args[1]) : 3;
        try (Client client = new Client(options)) {
            System.out.printf("libnocalhost %s, context '%s', server %s%n",
                Nocalhost.libraryVersion(), client.context(), client.server());
            System.out.println("server version: " + client.serverVersion());
            String path = "/api/v1/namespaces/" + client.namespace() + "/configmaps";
            System.out.printf("watching %s for %d s%n", path, seconds);
            client.watch(path, new Client.WatchOptions().durationMs(seconds * 1000),
                event -> System.out.println("  " + event.type() + " " + event.object().length() + " bytes"));
        } catch (NocalhostException e) {
            System.err.printf("error: %s (%s, HTTP %d %s)%n", e.getMessage(), e.code().cName(), e.httpStatus(), e.reason());
            System.exit(1);
        }
    }
}
