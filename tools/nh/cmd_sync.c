/*
 * nh sync run DIR --to HOST:PORT --token-file FILE [--once] [--mode send|two-way]
 *                 [--ignore PATTERN]... [--gitignore] [--state-dir DIR] [--compress auto|on|off]
 *                 [--quiet]
 *
 * A standalone sync client for any reachable sync server (nhsyncd). Uses
 * only the public C ABI. Without --once it syncs until interrupted; with
 * --once it syncs the tree as it is (watching nothing) and exits 0 as soon
 * as that is acknowledged.
 * Exit codes: 0 ok, 1 the sync failed, 2 usage, 130 interrupted.
 */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nocalhost.h"

int nh_cli_sync_run(int argc, char **argv);

static volatile sig_atomic_t g_interrupted = 0;

static void on_signal(int sig) {
    (void)sig;
    g_interrupted = 1;
}

static int g_quiet = 0;

static void on_event(const nh_sync_event *ev, void *payload) {
    (void)payload;
    if (g_quiet && ev->type != NH_SYNC_EVENT_FILE_ERROR) return;
    switch (ev->type) {
    case NH_SYNC_EVENT_STATE:
        /* A disconnect says why and when the next try is. */
        if (ev->message[0])
            fprintf(stderr, "sync: %s: %s\n", nh_sync_state_name(ev->status->state), ev->message);
        else
            fprintf(stderr, "sync: %s\n", nh_sync_state_name(ev->status->state));
        break;
    case NH_SYNC_EVENT_PROGRESS:
        fprintf(stderr, "sync: %llu/%llu files, %llu/%llu bytes\n", (unsigned long long)ev->status->files_done,
                (unsigned long long)ev->status->files_total, (unsigned long long)ev->status->bytes_done,
                (unsigned long long)ev->status->bytes_total);
        break;
    case NH_SYNC_EVENT_FILE_ERROR:
        fprintf(stderr, "sync: error: %s: %s\n", ev->path, ev->message);
        break;
    case NH_SYNC_EVENT_CONFLICT:
        fprintf(stderr, "sync: conflict: %s (the server's version is kept as %s)\n", ev->path, ev->message);
        break;
    case NH_SYNC_EVENT_REMOTE_CHANGE:
        fprintf(stderr, "sync: remote: %s: %s\n", ev->path, ev->message);
        break;
    default:
        break;
    }
}

static int usage(void) {
    fprintf(stderr,
            "usage: nh sync run DIR --to HOST:PORT --token-file FILE [--once] [--mode send|two-way]\n"
            "                   [--ignore PATTERN]... [--gitignore] [--state-dir DIR] [--compress auto|on|off]\n"
            "                   [--quiet]\n");
    return 2;
}

static char *read_token(const char *file) {
    FILE *f = fopen(file, "rb");
    char *buf;
    size_t n;
    if (!f) return NULL;
    buf = (char *)malloc(4097);
    if (!buf) {
        fclose(f);
        return NULL;
    }
    n = fread(buf, 1, 4096, f);
    fclose(f);
    buf[n] = '\0';
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' ')) buf[--n] = '\0';
    return buf;
}

int nh_cli_sync_run(int argc, char **argv) {
    const char *dir = NULL, *to = NULL, *token_file = NULL, *state_dir = NULL;
    const char **ignores = NULL;
    size_t n_ignores = 0;
    int once = 0, mode = NH_SYNC_MODE_SEND, gitignore = 0, compression = NH_SYNC_COMPRESS_AUTO, rc, i, exit_code = 0;
    char *token;
    nh_sync_options opts = NH_SYNC_OPTIONS_INIT;
    nh_sync *sync = NULL;
    struct sigaction sa;

    i = (argc > 0 && strcmp(argv[0], "run") == 0) ? 1 : 0;
    ignores = (const char **)calloc((size_t)argc + 1, sizeof *ignores);
    if (!ignores) return 1;
    for (; i < argc; ++i) {
        const char *a = argv[i];
        if (strcmp(a, "--to") == 0 && i + 1 < argc)
            to = argv[++i];
        else if (strcmp(a, "--token-file") == 0 && i + 1 < argc)
            token_file = argv[++i];
        else if (strcmp(a, "--mode") == 0 && i + 1 < argc) {
            const char *m = argv[++i];
            if (strcmp(m, "send") == 0)
                mode = NH_SYNC_MODE_SEND;
            else if (strcmp(m, "two-way") == 0)
                mode = NH_SYNC_MODE_TWO_WAY;
            else {
                free(ignores);
                return usage();
            }
        } else if (strcmp(a, "--compress") == 0 && i + 1 < argc) {
            const char *m = argv[++i];
            if (strcmp(m, "auto") == 0)
                compression = NH_SYNC_COMPRESS_AUTO;
            else if (strcmp(m, "on") == 0)
                compression = NH_SYNC_COMPRESS_ON;
            else if (strcmp(m, "off") == 0)
                compression = NH_SYNC_COMPRESS_OFF;
            else {
                fprintf(stderr, "nh sync: --compress takes auto, on or off, not '%s'\n", m);
                free(ignores);
                return usage();
            }
        } else if (strcmp(a, "--once") == 0)
            once = 1;
        else if (strcmp(a, "--gitignore") == 0)
            gitignore = 1;
        else if (strcmp(a, "--quiet") == 0)
            g_quiet = 1;
        else if (strcmp(a, "--ignore") == 0 && i + 1 < argc)
            ignores[n_ignores++] = argv[++i];
        else if (strcmp(a, "--state-dir") == 0 && i + 1 < argc)
            state_dir = argv[++i];
        else if (a[0] != '-' && !dir)
            dir = a;
        else {
            free(ignores);
            return usage();
        }
    }
    if (!dir || !to || !token_file) {
        free(ignores);
        return usage();
    }
    token = read_token(token_file);
    if (!token || !*token) {
        fprintf(stderr, "nh sync: cannot read a token from '%s'\n", token_file);
        free(token);
        free(ignores);
        return 2;
    }

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    opts.mode = mode;
    opts.ignore_patterns = ignores;
    opts.ignore_patterns_count = n_ignores;
    opts.use_gitignore = gitignore;
    opts.state_dir = state_dir;
    opts.compression = compression;
    /* --once: the tree as it is now, nothing watched (no inotify watches to set up and release). */
    opts.once = once;
    opts.callback = on_event;
    rc = nh_sync_start(&sync, dir, to, token, &opts);
    memset(token, 0, strlen(token));
    free(token);
    if (rc != NH_OK) {
        fprintf(stderr, "nh sync: %s\n", nh_error_last()->message);
        free(ignores);
        return 1;
    }
    for (;;) {
        if (g_interrupted) {
            exit_code = 130;
            break;
        }
        if (once) {
            rc = nh_sync_flush(sync, 200, NULL);
            if (rc == NH_OK) break;
            if (rc != NH_ETIMEOUT) {
                fprintf(stderr, "nh sync: %s\n", nh_error_last()->message);
                exit_code = 1;
                break;
            }
        } else {
            nh_sync_status st = NH_SYNC_STATUS_INIT;
            struct timespec ts = {0, 200 * 1000 * 1000};
            nanosleep(&ts, NULL);
            if (nh_sync_status_get(&st, sync) == NH_OK && st.state == NH_SYNC_ERROR) {
                nh_buf msg = NH_BUF_INIT;
                nh_sync_last_error(&msg, sync);
                fprintf(stderr, "nh sync: %s\n", msg.ptr ? msg.ptr : "failed");
                nh_buf_dispose(&msg);
                exit_code = 1;
                break;
            }
        }
    }
    if (once && exit_code == 0) {
        nh_sync_status st = NH_SYNC_STATUS_INIT;
        nh_sync_status_get(&st, sync);
        if (!g_quiet)
            fprintf(stderr, "nh sync: done: %llu files sent, %llu errors\n", (unsigned long long)st.files_synced,
                    (unsigned long long)st.file_errors);
        if (st.file_errors) exit_code = 1;
    }
    nh_sync_stop(sync);
    nh_sync_free(sync);
    free(ignores);
    return exit_code;
}
