/* Compiled as C89, C99 and C++ by the header tests. */
#include <nocalhost.h>
#include <nocalhost.h> /* include guard */

int header_test_main(void);
int header_test_main(void) {
    nh_client_options c = NH_CLIENT_OPTIONS_INIT;
    nh_request_options r = NH_REQUEST_OPTIONS_INIT;
    nh_watch_options w = NH_WATCH_OPTIONS_INIT;
    nh_buf b = NH_BUF_INIT;
    nh_tree_options t = NH_TREE_OPTIONS_INIT;
    nh_pod_logs_options l = NH_POD_LOGS_OPTIONS_INIT;
    (void)t;
    (void)l;
    (void)c;
    (void)r;
    (void)w;
    (void)b;
    return NH_VERSION_NUMBER > 0 ? NH_OK : NH_ERROR;
}
