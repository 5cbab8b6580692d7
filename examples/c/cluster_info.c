/* Prints the cluster's version, nodes and namespaces through the C ABI.
 * Usage: nh_example_cluster_info [KUBECONFIG] */
#include <nocalhost.h>
#include <stdio.h>
#include <string.h>

static int print_names(nh_client *client, const char *path, const char *title) {
    nh_request_options req = NH_REQUEST_OPTIONS_INIT;
    nh_buf body = NH_BUF_INIT;
    const char *p;
    int n = 0;
    req.path = path;
    if (nh_client_request(&body, NULL, client, &req) != NH_OK) {
        fprintf(stderr, "%s: %s\n", title, nh_error_last()->message);
        nh_buf_dispose(&body);
        return 1;
    }
    printf("%s:\n", title);
    /* A real program would use a JSON parser; the names are the only "name" keys
     * directly under each item's metadata, so a scan is enough for a demo. */
    for (p = body.ptr; (p = strstr(p, "\"metadata\":{\"name\":\"")) != NULL; ++n) {
        const char *start = p + strlen("\"metadata\":{\"name\":\"");
        const char *end = strchr(start, '"');
        if (!end) break;
        printf("  %.*s\n", (int)(end - start), start);
        p = end;
    }
    nh_buf_dispose(&body);
    return n > 0 ? 0 : 1;
}

int main(int argc, char **argv) {
    nh_client_options opts = NH_CLIENT_OPTIONS_INIT;
    nh_client *client = NULL;
    nh_buf version = NH_BUF_INIT;
    int rc = 1;

    if (nh_init() < 0) return 1;
    if (argc > 1) opts.kubeconfig = argv[1];
    if (nh_client_new(&client, &opts) != NH_OK) {
        fprintf(stderr, "error: %s\n", nh_error_last()->message);
        goto done;
    }
    printf("libnocalhost %s, context '%s', server %s\n", nh_version(NULL, NULL, NULL),
           nh_client_context(client), nh_client_server(client));
    if (nh_client_server_version(&version, client, NULL) != NH_OK) {
        fprintf(stderr, "error: %s\n", nh_error_last()->message);
        goto done;
    }
    printf("server version: %s\n", version.ptr);
    rc = print_names(client, "/api/v1/nodes", "nodes") | print_names(client, "/api/v1/namespaces", "namespaces");
done:
    nh_buf_dispose(&version);
    nh_client_free(client);
    nh_shutdown();
    return rc;
}
