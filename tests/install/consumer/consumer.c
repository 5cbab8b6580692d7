/* A program built against the installed package: it links, loads and runs. */
#include <nocalhost.h>
#include <stdio.h>
#include <string.h>

int main(void) {
    int major = -1;
    nh_client *client = NULL;
    nh_client_options opts = NH_CLIENT_OPTIONS_INIT;
    const char *v = nh_version(&major, NULL, NULL);
    if (major != NH_VERSION_MAJOR || strcmp(v, NH_VERSION_STRING) != 0) return 1;
    if (nh_init() < 1) return 1;
    opts.kubeconfig = "/nonexistent/kubeconfig";
    if (nh_client_new(&client, &opts) != NH_ECONFIG) return 1;
    printf("consumer ok: libnocalhost %s; expected error: %s\n", v, nh_error_last()->message);
    nh_shutdown();
    return 0;
}
