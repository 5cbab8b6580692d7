/*
 * nocalhost.h — the public C interface of libnocalhost.
 *
 * libnocalhost puts Kubernetes workloads into dev mode and brings them back
 * exactly. This header is its manual: every function states who owns what,
 * what is thread-safe and which errors it returns.
 *
 * Conventions (they hold for every function below):
 *
 *  - Every symbol starts with `nh_` or `NH_`; functions are nh_<object>_<verb>.
 *  - Functions return an `int`: NH_OK (0) on success or a negative value of
 *    `nh_error_code`. After a failure, nh_error_last() describes it on the
 *    calling thread.
 *  - Output parameters come first and are called `out`. Handles returned
 *    through `T **out` belong to the caller and are released with the
 *    matching NULL-safe nh_<object>_free().
 *  - Strings passed in are copied; the caller may release them as soon as
 *    the call returns. Strings and data handed out come in an `nh_buf`,
 *    released with nh_buf_dispose(), or are owned by a handle and valid for
 *    as long as that handle (said so where it applies).
 *  - Options structs start with `version`; initialise them with their
 *    NH_X_OPTIONS_INIT macro or nh_x_options_init(). Passing NULL means
 *    "all defaults". New fields are only ever appended, and each bumps the
 *    struct's NH_X_OPTIONS_VERSION. nh_x_options_init(opts, v) writes only
 *    the fields version v has, so a program built against an older header
 *    passes its own (smaller) struct with its own version safely; the
 *    library reads no field newer than the version a struct says.
 *  - Callbacks receive `void *payload` last. Where a callback returns int,
 *    returning non-zero stops the operation, which then returns
 *    NH_ECANCELLED.
 *  - Every call that can block accepts an `nh_cancel` token; triggering it
 *    from any thread makes the call return NH_ECANCELLED promptly.
 *  - No C++ exception ever crosses this interface.
 *
 * Thread safety: nh_init/nh_shutdown are reference counted and thread-safe.
 * Distinct handles may be used from distinct threads freely. One nh_client
 * may be used by several threads at once. nh_cancel_trigger() may be called
 * from any thread, including signal-handling threads (not from a signal
 * handler itself).
 */
#ifndef NOCALHOST_H
#define NOCALHOST_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32) && !defined(NH_STATIC)
#if defined(NH_BUILDING_LIBRARY)
#define NH_EXTERN __declspec(dllexport)
#else
#define NH_EXTERN __declspec(dllimport)
#endif
#elif defined(__GNUC__)
#define NH_EXTERN __attribute__((visibility("default")))
#else
#define NH_EXTERN
#endif

/* ------------------------------------------------------------------ */
/* Versions                                                             */
/* ------------------------------------------------------------------ */

/** The product version of this header. */
#define NH_VERSION_MAJOR 0
#define NH_VERSION_MINOR 1
#define NH_VERSION_PATCH 0
#define NH_VERSION_STRING "0.1.0"
/** A single number to compare versions at compile time. */
#define NH_VERSION_NUMBER (NH_VERSION_MAJOR * 10000 + NH_VERSION_MINOR * 100 + NH_VERSION_PATCH)

/**
 * The ABI number: the shared library's soname is libnocalhost.so.<NH_ABI>.
 * It changes only when a symbol is removed or changes meaning.
 */
#define NH_ABI 0

/**
 * The run-time version of the library (which may be newer than the header
 * the program was compiled with). Any output pointer may be NULL. Returns a
 * static string such as "0.1.0". Thread-safe; needs no nh_init().
 */
NH_EXTERN const char *nh_version(int *major, int *minor, int *patch);

/* ------------------------------------------------------------------ */
/* Errors                                                               */
/* ------------------------------------------------------------------ */

/** Return codes. NH_OK is 0, every failure is negative. */
typedef enum nh_error_code {
    NH_OK = 0,
    NH_ERROR = -1,           /**< an error with no more specific code */
    NH_EINVAL = -2,          /**< an argument is invalid (NULL, out of range, wrong version) */
    NH_ENOMEM = -3,          /**< out of memory */
    NH_ECONFIG = -4,         /**< kubeconfig / configuration unusable (file, line, field in message) */
    NH_ECONNECT = -5,        /**< the server could not be reached (DNS, refused, reset, proxy) */
    NH_ETLS = -6,            /**< TLS failed: unverifiable certificate, unreadable key, handshake */
    NH_ETIMEOUT = -7,        /**< an operation ran out of time */
    NH_ECANCELLED = -8,      /**< stopped through an nh_cancel token or a callback */
    NH_ENOTFOUND = -9,       /**< HTTP 404 / NotFound, or a named thing does not exist */
    NH_EEXISTS = -10,        /**< HTTP 409 AlreadyExists */
    NH_ECONFLICT = -11,      /**< HTTP 409 Conflict (stale resourceVersion) */
    NH_EUNAUTHORIZED = -12,  /**< HTTP 401: credentials missing, wrong or expired */
    NH_EFORBIDDEN = -13,     /**< HTTP 403: the identity lacks the RBAC rights */
    NH_EINVALID = -14,       /**< HTTP 422 Invalid / 400 BadRequest: the server refused the object */
    NH_EGONE = -15,          /**< HTTP 410 Gone / Expired (watch resourceVersion too old) */
    NH_ETOOMANY = -16,       /**< HTTP 429 after every retry */
    NH_ESERVER = -17,        /**< HTTP 5xx after every retry, or another unexpected status */
    NH_EPROTOCOL = -18,      /**< the peer spoke something we could not understand */
    NH_EIO = -19,            /**< a local I/O error (file, socket) */
    NH_EBUSY = -20,          /**< held by someone else (e.g. a dev-mode lock; holder in message) */
    NH_EUNSUPPORTED = -21,   /**< the server or build does not support the operation */
    NH_ESTATE = -22          /**< the object is in the wrong state for the call */
} nh_error_code;

/** What went wrong, as last seen on this thread. */
typedef struct nh_error {
    /** NH_OK when nothing failed yet on this thread, else the code returned. */
    int code;
    /** A one-line, human-readable message; never NULL, never contains secrets. */
    const char *message;
    /** The HTTP status involved, or 0. */
    int http_status;
    /** The Kubernetes Status reason (e.g. "NotFound", "Conflict"), or "". Never NULL. */
    const char *reason;
} nh_error;

/**
 * The last error on the calling thread. Never returns NULL: with no error
 * it returns a struct with code NH_OK and message "no error". The struct
 * and its strings stay valid until the next failing nh_* call on this
 * thread. Thread-local; needs no nh_init().
 */
NH_EXTERN const nh_error *nh_error_last(void);

/** Forget the last error of the calling thread. */
NH_EXTERN void nh_error_clear(void);

/** A static English name for a code, e.g. "NH_ENOTFOUND". Never NULL. */
NH_EXTERN const char *nh_error_name(int code);

/* ------------------------------------------------------------------ */
/* Buffers                                                              */
/* ------------------------------------------------------------------ */

/**
 * Data handed out by the library. `ptr` is always NUL-terminated (the
 * terminator is not counted in `size`), so text can be used as a C string.
 * Initialise with NH_BUF_INIT; release with nh_buf_dispose().
 */
typedef struct nh_buf {
    char *ptr;
    size_t size;
    size_t reserved; /**< library-private; leave untouched */
} nh_buf;

#define NH_BUF_INIT {NULL, 0, 0}

/** Release the memory of a buffer and reset it to NH_BUF_INIT. NULL-safe. */
NH_EXTERN void nh_buf_dispose(nh_buf *buf);

/* ------------------------------------------------------------------ */
/* Library lifetime                                                     */
/* ------------------------------------------------------------------ */

/**
 * Initialise the library (libcurl, OpenSSL). Reference counted: every
 * successful nh_init() needs one nh_shutdown(). Call it before any handle
 * is created; never from a static initializer. Thread-safe.
 * Returns the new reference count (>0) or a negative error code.
 */
NH_EXTERN int nh_init(void);

/**
 * Drop one reference; the last one releases global state. Every handle
 * must be freed before the last nh_shutdown(). Returns the remaining count,
 * or NH_ESTATE when called more often than nh_init().
 */
NH_EXTERN int nh_shutdown(void);

/* ------------------------------------------------------------------ */
/* Logging                                                              */
/* ------------------------------------------------------------------ */

typedef enum nh_log_level {
    NH_LOG_ERROR = 0,
    NH_LOG_WARN = 1,
    NH_LOG_INFO = 2,
    NH_LOG_DEBUG = 3,
    NH_LOG_TRACE = 4
} nh_log_level;

/**
 * Receives log lines. `message` is valid only during the call and never
 * contains tokens, keys or passwords. Called from whichever thread logs.
 */
typedef void (*nh_log_cb)(int level, const char *message, void *payload);

/**
 * Route the library's log lines at `max_level` and below to `cb` (NULL:
 * discard; the default). The environment variable NH_LOG=error|warn|info|
 * debug|trace prints to stderr when no callback is set. Thread-safe. When
 * it returns, the previous callback is neither running nor called again,
 * so its payload may be released. Must not be called from a log callback.
 */
NH_EXTERN void nh_log_set_callback(nh_log_cb cb, int max_level, void *payload);

/* ------------------------------------------------------------------ */
/* Cancellation                                                         */
/* ------------------------------------------------------------------ */

/** A token that stops blocking calls from another thread. */
typedef struct nh_cancel nh_cancel;

/** Create an untriggered token in *out. Free it with nh_cancel_free(). */
NH_EXTERN int nh_cancel_new(nh_cancel **out);

/**
 * Trigger the token: every call that was given it returns NH_ECANCELLED
 * promptly (within about 100 ms), and later calls given it return at once.
 * Thread-safe; idempotent; NULL-safe.
 */
NH_EXTERN void nh_cancel_trigger(nh_cancel *cancel);

/** Non-zero once triggered. Thread-safe. */
NH_EXTERN int nh_cancel_is_triggered(const nh_cancel *cancel);

/** Make the token untriggered again (no call may be using it). */
NH_EXTERN void nh_cancel_reset(nh_cancel *cancel);

/** Release a token no call is still using. NULL-safe. */
NH_EXTERN void nh_cancel_free(nh_cancel *cancel);

/**
 * Create in *out a token that is triggered when `parent` is (at once if it
 * already is), and can also be triggered on its own, without affecting the
 * parent: one call can so be stopped by its caller's token and by another
 * reason (a binding's close(), Ctrl-C). The parent must outlive the child;
 * free the child with nh_cancel_free(). Thread-safe.
 */
NH_EXTERN int nh_cancel_new_child(nh_cancel **out, nh_cancel *parent);

/* ------------------------------------------------------------------ */
/* Cluster client                                                       */
/* ------------------------------------------------------------------ */

/** A connection to one cluster, as a kubeconfig context describes it. */
typedef struct nh_client nh_client;

typedef struct nh_client_options {
    unsigned int version;
    /**
     * kubeconfig file(s) to load, separated by ':' like KUBECONFIG. NULL:
     * kubectl's rules: $KUBECONFIG (merged, first file wins per entry),
     * else ~/.kube/config, else the in-cluster service account.
     */
    const char *kubeconfig;
    /** The context to use; NULL: the kubeconfig's current-context. */
    const char *context;
    /** The default namespace; NULL: the context's namespace, else "default". */
    const char *namespace_name;
    /** Per-request timeout in milliseconds; 0: 30000. Watches are not bound by it. */
    long timeout_ms;
    /** Retries of idempotent requests on 429, 5xx and resets; -1: the default (5).
        A server that answered this client before and now refuses connections
        (restarting) is waited for up to 60 s beyond this count; 0 turns that off too. */
    int max_retries;
    /** A User-Agent; NULL: "libnocalhost/<version>". */
    const char *user_agent;
} nh_client_options;

#define NH_CLIENT_OPTIONS_VERSION 1
#define NH_CLIENT_OPTIONS_INIT {NH_CLIENT_OPTIONS_VERSION, NULL, NULL, NULL, 0, -1, NULL}

/** Fill `opts` with defaults for the given struct version. */
NH_EXTERN int nh_client_options_init(nh_client_options *opts, unsigned int version);

/**
 * Open a client. Loads and validates the kubeconfig (errors name the file,
 * line and field), resolves credentials (files are read, exec plugins run
 * lazily on the first request). Makes no request. The client in *out
 * belongs to the caller: nh_client_free(). Errors: NH_ECONFIG, NH_ETLS
 * (unreadable certificate or key), NH_EINVAL.
 */
NH_EXTERN int nh_client_new(nh_client **out, const nh_client_options *opts);

/** Release a client. NULL-safe. No call may still be using it. */
NH_EXTERN void nh_client_free(nh_client *client);

/** The namespace in effect. Owned by the client. */
NH_EXTERN const char *nh_client_namespace(const nh_client *client);

/** The server URL in effect. Owned by the client. */
NH_EXTERN const char *nh_client_server(const nh_client *client);

/** The context name in effect ("" for in-cluster). Owned by the client. */
NH_EXTERN const char *nh_client_context(const nh_client *client);

/**
 * The server's version (GET /version) as its JSON object, into *out (NUL-
 * terminated). Errors: those of nh_client_request().
 */
NH_EXTERN int nh_client_server_version(nh_buf *out, nh_client *client, nh_cancel *cancel);

/** A request for nh_client_request(). */
typedef struct nh_request_options {
    unsigned int version;
    /** "GET", "POST", "PUT", "PATCH", "DELETE"; NULL: "GET". */
    const char *method;
    /** The path and query, e.g. "/api/v1/namespaces/default/configmaps". Required. */
    const char *path;
    /** The body, or NULL. */
    const char *body;
    /** The body's length; (size_t)-1: strlen(body). */
    size_t body_len;
    /**
     * The body's content type; NULL: "application/json". For PATCH use
     * "application/json-patch+json", "application/merge-patch+json",
     * "application/strategic-merge-patch+json" or "application/apply-patch+yaml".
     */
    const char *content_type;
    /** Overrides the client's timeout for this request; 0: the client's. */
    long timeout_ms;
    /** Stops the request from another thread; may be NULL. */
    nh_cancel *cancel;
} nh_request_options;

#define NH_REQUEST_OPTIONS_VERSION 1
#define NH_REQUEST_OPTIONS_INIT {NH_REQUEST_OPTIONS_VERSION, NULL, NULL, NULL, (size_t)-1, NULL, 0, NULL}

NH_EXTERN int nh_request_options_init(nh_request_options *opts, unsigned int version);

/**
 * Send one request to the API server. Idempotent methods (GET, PUT,
 * DELETE) are retried on 429 (honouring Retry-After), 5xx and connection
 * resets; POST and PATCH only when the connection failed before sending.
 * When a server that answered this client before refuses connections (an
 * API server restarting), a request keeps trying, about every second, for up
 * to 60 s, however many retries max_retries allows.
 *
 * On any HTTP answer *out_status gets the status and *out_body the body
 * (either may be NULL). A 2xx answer returns NH_OK; any other returns the
 * code mapped from the Kubernetes Status (NH_ENOTFOUND, NH_ECONFLICT,
 * NH_EFORBIDDEN, ...) with the server's message in nh_error_last(). Without
 * an answer: NH_ECONNECT, NH_ETLS, NH_ETIMEOUT, NH_ECANCELLED.
 * Thread-safe with respect to the client.
 */
NH_EXTERN int nh_client_request(nh_buf *out_body, int *out_status, nh_client *client,
                                const nh_request_options *opts);

/** Watch event types. */
typedef enum nh_watch_event_type {
    NH_WATCH_ADDED = 1,
    NH_WATCH_MODIFIED = 2,
    NH_WATCH_DELETED = 3,
    /** The watch fell behind (410 Gone) and re-listed: `object` is the full list. */
    NH_WATCH_RELISTED = 4
} nh_watch_event_type;

/**
 * Receives one watch event: `object` is the object's JSON (`len` bytes,
 * NUL-terminated), valid only during the call. Return non-zero to stop.
 */
typedef int (*nh_watch_cb)(int type, const char *object, size_t len, void *payload);

typedef struct nh_watch_options {
    unsigned int version;
    /** A collection path, e.g. "/api/v1/namespaces/default/configmaps". Required. */
    const char *path;
    /** Start after this resourceVersion; NULL: list first and start from the list's. */
    const char *resource_version;
    /** A label selector, or NULL. */
    const char *label_selector;
    /** A field selector, or NULL. */
    const char *field_selector;
    /** Stop after this many milliseconds without error; 0: until cancelled or stopped. */
    long duration_ms;
    nh_cancel *cancel;
    nh_watch_cb callback;
    void *payload;
} nh_watch_options;

#define NH_WATCH_OPTIONS_VERSION 1
#define NH_WATCH_OPTIONS_INIT {NH_WATCH_OPTIONS_VERSION, NULL, NULL, NULL, NULL, 0, NULL, NULL, NULL}

NH_EXTERN int nh_watch_options_init(nh_watch_options *opts, unsigned int version);

/**
 * Watch a collection and deliver each event to the callback on the calling
 * thread. When the connection drops, the watch resumes from the last
 * resourceVersion seen; when that version is too old (410 Gone), it lists
 * again and reports NH_WATCH_RELISTED. Without resource_version, objects
 * that already exist are delivered as NH_WATCH_ADDED first.
 * Returns NH_OK when duration_ms elapsed, NH_ECANCELLED when cancelled or
 * the callback returned non-zero, or an error that retrying cannot fix
 * (NH_EFORBIDDEN, NH_ENOTFOUND, ...).
 */
NH_EXTERN int nh_client_watch(nh_client *client, const nh_watch_options *opts);

/* ==== dev mode (sessions) ==== */

/*
 * Dev mode puts a workload (of any kind below) into dev mode: one dev pod,
 * the chosen container running a dev image kept alive without the app,
 * probes removed, a sync sidecar (nhsyncd) sharing the work dir, HPAs
 * pinned to one replica. Ending it restores the original in place (the same
 * object, same UID; a bare Pod, which cannot be changed that way, is
 * created again from its record), from any process. Two modes (below):
 * replace the workload itself, or develop on a duplicate. The state lives in the cluster (see
 * docs/dev-mode.md): a Lease "nh-dev-<kind>-<name>" while a start or an end
 * runs, and a Secret of the same name holding the original, the HPAs and
 * the sync token, created before anything is changed.
 *
 * Kinds are given as text: "deployment" ("deploy", "deployments",
 * "Deployment"), "statefulset" ("sts"), "replicaset" ("rs"), "daemonset"
 * ("ds"), "job", "cronjob" ("cj"), "pod" ("po"), or a custom kind as
 * "<resource>.<group>" (e.g. "rollouts.argoproj.io"; its pod template and
 * replica count are found at JSON pointers, see nh_dev_start_options).
 * Deployments, StatefulSets and ReplicaSets run their dev pod themselves
 * (one replica); DaemonSets (kept off every node), Jobs and CronJobs
 * (suspended), custom kinds (scaled to 0) and bare Pods (deleted after
 * their definition is recorded; a Pod owned by a controller is refused with
 * NH_EINVAL naming the owner) run it from a generated Deployment built from
 * their pod template. Errors about the kind are the same in every call: an
 * unknown kind (a misspelling such as "deploymnet", or "service") is
 * NH_EINVAL; a "<resource>.<group>" the server does not serve is
 * NH_ENOTFOUND; a cluster-scoped custom kind is NH_EUNSUPPORTED.
 *
 * Modes: NH_DEV_MODE_REPLACE changes the workload itself; NH_DEV_MODE_DUPLICATE
 * leaves it untouched and develops on a private copy (a Deployment named
 * "<name>-dup-<developer>-<hash>" with labels and a selector of its own, so
 * no Service selects it), one per developer, each with its own session
 * Secret and lock "nh-dev-<kind>-<name>-dup-<hash>".
 * Identity: the user needs get/list/update on the workload, its pods, HPAs,
 * events, and create/update/delete on Secrets and Leases in the namespace.
 */

/** Dev modes (nh_dev_start_options.mode and the end and query options). */
typedef enum nh_dev_mode {
    NH_DEV_MODE_REPLACE = 0,   /**< the workload itself goes into dev mode */
    NH_DEV_MODE_DUPLICATE = 1  /**< a private copy; the original keeps serving, untouched */
} nh_dev_mode;

/** The default work dir in the dev container (Nocalhost's). */
#define NH_DEV_DEFAULT_WORKDIR "/home/nocalhost-dev"
/** The port of the sync sidecar: the library's default, nhsyncd's and the sidecar image's. */
#define NH_DEV_DEFAULT_SYNC_PORT 7710

/**
 * The sync sidecar's image used when none is given: "" (a static string).
 * No image of ours is needed: the sidecar runs from the dev image (or
 * sidecar_base_image) as a small /bin/sh bootstrap that waits in its own
 * emptyDir for nhsyncd, and the library uploads the static nhsyncd for the
 * node's architecture through exec when the session's sync starts, and
 * again into each new dev pod while it runs (see docs/sidecar.md).
 */
NH_EXTERN const char *nh_dev_default_sidecar_image(void);

/**
 * The caller's identity as the library names it by default, "user@host"
 * ($USER, else the account's name), into *out: the default developer of
 * duplicate mode, and the default owner without its "/pid". A tool compares
 * it with a session's owner to tell its user's sessions. Errors: NH_EINVAL.
 */
NH_EXTERN int nh_dev_default_identity(nh_buf *out);

/**
 * The built-in kind `text` names, spelled as "KIND/NAME" takes it: the
 * lower-case singular ("deployment" for "deploy", "Deployments",
 * "deployments.apps"; kubectl's short names po, deploy, sts, ds, rs, cj and
 * the singular and plural forms, in any case, optionally qualified by group
 * and version), or NULL when it names none (a custom "<resource>.<group>",
 * a misspelling). A static string; needs no nh_init(). Since 0.1.
 */
NH_EXTERN const char *nh_kind_name(const char *text);

/**
 * A workload in dev mode, as seen when the handle was made or refreshed.
 * Strings returned by its getters belong to the handle and stay valid until
 * nh_session_refresh() or nh_session_free(). The handle keeps what it needs
 * of its client: the nh_client may be freed first. One handle must not be
 * used by two threads at once.
 */
typedef struct nh_session nh_session;

/** Kinds of dev-mode events. */
typedef enum nh_dev_event_type {
    NH_DEV_EVENT_PHASE = 1,   /**< a step begins (its phase: nh_dev_phase) */
    NH_DEV_EVENT_POD = 2,     /**< the dev pod changed: its phase and container states */
    NH_DEV_EVENT_WARNING = 3, /**< a warning Event of the dev pod, or a change being overwritten */
    NH_DEV_EVENT_INFO = 4     /**< anything else worth telling (e.g. taking over a dead start) */
} nh_dev_event_type;

/**
 * The phases dev-mode events report: an event's `phase` is the name of one
 * (nh_dev_phase_name()), the string after each value below. No other phase
 * is ever reported; new phases are only appended.
 */
typedef enum nh_dev_phase {
    NH_DEV_PHASE_LOCK = 1,      /**< "lock": taking the dev-mode lock, waiting for its holder */
    NH_DEV_PHASE_READ = 2,      /**< "read": reading the workload */
    NH_DEV_PHASE_RECORD = 3,    /**< "record": writing the session record (the original) */
    NH_DEV_PHASE_HPA = 4,       /**< "hpa": pinning the HorizontalPodAutoscalers to one replica */
    NH_DEV_PHASE_PVC = 5,       /**< "pvc": claims of the persistent dirs */
    NH_DEV_PHASE_PARK = 6,      /**< "park": parking the original (DaemonSet off every node, Job
                                     suspended, custom kind scaled to 0, bare Pod deleted) */
    NH_DEV_PHASE_PATCH = 7,     /**< "patch": switching the workload to its dev form, the config's patches */
    NH_DEV_PHASE_WAIT = 8,      /**< "wait": waiting for the dev pod (also its pod and warning events) */
    NH_DEV_PHASE_READY = 9,     /**< "ready": the dev pod runs and is Ready */
    NH_DEV_PHASE_ROLLBACK = 10, /**< "rollback": a failed start is undone */
    NH_DEV_PHASE_RESTORE = 11,  /**< "restore": putting the original back */
    NH_DEV_PHASE_HISTORY = 12,  /**< "history": dropping dev mode's revisions from the rollout history */
    NH_DEV_PHASE_CLEANUP = 13,  /**< "cleanup": removing the session record, lock and dev pods */
    NH_DEV_PHASE_FORCE = 14,    /**< "force": an end with force and no record (see nh_dev_end_options) */
    NH_DEV_PHASE_DONE = 15,     /**< "done": the operation completed */
    NH_DEV_PHASE_UPLOAD = 16,   /**< "upload": nhsyncd uploaded into the sync sidecar */
    NH_DEV_PHASE_FORWARD = 17,  /**< "forward": forwarding a local port to the sync sidecar */
    NH_DEV_PHASE_SYNC = 18,     /**< "sync": the sync of the local directory starts */
    NH_DEV_PHASE_SYNCED = 19,   /**< "synced": the first full sync is acknowledged */
    NH_DEV_PHASE_PORT_FORWARD = 20, /**< "port-forward": a port-forward of the Nocalhost dev config */
    NH_DEV_PHASE_IMAGE = 21,    /**< "image": before anything changes, a short-lived pod checks that
                                     the node can pull and start the dev pod's images (docs/sidecar.md) */
    NH_DEV_PHASE_ACCESS = 22    /**< "access": before anything changes, the API server is asked
                                     (SelfSubjectAccessReview) for every right the start and the end
                                     need (nh_dev_required_rights()) */
} nh_dev_phase;

/**
 * The name of an nh_dev_phase as events carry it ("lock", "port-forward"),
 * or "unknown". A static string; needs no nh_init(). Since 0.1.
 */
NH_EXTERN const char *nh_dev_phase_name(int phase);

/**
 * Receives dev-mode events on the thread that called nh_dev_start() or
 * nh_dev_end(). `phase` and `message` (one line for humans) are never NULL;
 * `detail` is a JSON object with the facts (for NH_DEV_EVENT_POD:
 * {"name","phase","ready","containers":[{"name","state","reason","ready",
 * "restarts"}]}) or NULL. All are valid only during the call and never
 * contain the sync token. Return non-zero to stop the operation, which then
 * returns NH_ECANCELLED (a start rolls back first).
 */
typedef int (*nh_dev_event_cb)(int type, const char *phase, const char *message, const char *detail,
                               void *payload);

typedef struct nh_dev_start_options {
    unsigned int version;
    /** The workload's namespace; NULL: the client's. */
    const char *namespace_name;
    /** The container to develop in; NULL: the only container (NH_EINVAL when there are several). */
    const char *container;
    /** The dev image (compilers, tools). Required. */
    const char *image;
    /** The work dir, shared with the sidecar; NULL: NH_DEV_DEFAULT_WORKDIR. Absolute. */
    const char *workdir;
    /** Extra environment of the dev container, "NAME=VALUE" each; replaces same-named entries. */
    const char *const *env;
    size_t env_count;
    /** The dev container's resources as a JSON ResourceRequirements object, e.g.
        {"limits":{"memory":"2Gi"}}; NULL: unchanged. */
    const char *resources_json;
    /** The sync sidecar's image, whose command is "nhsyncd" (e.g. one written by
        nh_sidecar_image_write()); NULL: nh_dev_default_sidecar_image(), the uploaded nhsyncd. */
    const char *sidecar_image;
    /** The sidecar's sync port; 0: NH_DEV_DEFAULT_SYNC_PORT. */
    int sync_port;
    /** How long to wait for the dev pod to be Running and Ready; 0: 300000 (5 minutes). */
    long timeout_ms;
    /** Non-zero (the default): a failed or cancelled start restores the workload exactly. */
    int rollback_on_failure;
    /** Who holds the lock and owns the session; NULL: "user@host/pid". */
    const char *owner;
    /** The lock's lease duration in seconds, renewed while starting; 0: 30. */
    int lease_duration_s;
    /** Progress events, or NULL. */
    nh_dev_event_cb events;
    void *payload;
    /** Stops the start from another thread (it then rolls back); may be NULL. */
    nh_cancel *cancel;
    /* Since options version 2: the whole loop. */
    /**
     * A local directory to sync into the work dir. When set, the start also
     * port-forwards 127.0.0.1 to the sync sidecar (following the dev pod if
     * it is replaced), starts a sync (see nh_sync_start) and returns only
     * when the first full sync is acknowledged; events report the phases
     * "upload" (without a sidecar image: nhsyncd uploaded into the sidecar,
     * detail {"pod","arch","bytes","seconds","version","checked"}), "forward",
     * "sync" and "synced". The session then owns the sync:
     * nh_session_sync(). The Nocalhost dev config's sync settings fill what
     * sync_options leaves at its defaults, and its portForward entries are
     * forwarded from 127.0.0.1 to the dev pod for as long as the sync runs
     * (phase "port-forward"; a local port that is taken is a warning event,
     * not an error). See nh_session_sync_start_v2(). NULL: no sync.
     */
    const char *local_dir;
    /** Options of that sync (mode, ignore patterns, events); NULL: defaults. */
    const struct nh_sync_options *sync_options;
    /* Since options version 2: modes, kinds, Nocalhost's dev config, persistent dirs. */
    /** NH_DEV_MODE_REPLACE (0, the default) or NH_DEV_MODE_DUPLICATE. */
    int mode;
    /** Duplicate mode: the developer's identity, part of the copy's name; NULL: "user@host". */
    const char *developer;
    /** Custom kinds: the API version ("argoproj.io/v1alpha1"; NULL: the group's preferred one), and
        JSON pointers to the pod template (NULL: "/spec/template") and to the replica count
        (NULL: "/spec/replicas"). */
    const char *api_version;
    const char *pod_template_path;
    const char *replicas_path;
    /** Nocalhost dev config (v2, see docs/nocalhost-config.md): a .nocalhost/config.yaml file, or a
        directory holding .nocalhost/config.yaml; NULL: none. Explicit options override it. */
    const char *config_path;
    /** The Nocalhost application, whose ConfigMap "dev.nocalhost.config.<app>" is read; NULL: the
        workload's own (its dev.nocalhost/application-name annotation or label), if it has one. */
    const char *app_name;
    /** Non-zero: ignore the workload's dev.nocalhost annotation and the application ConfigMap. */
    int ignore_cluster_config;
    /** imagePullPolicy of the dev container ("Always", "IfNotPresent", "Never"); NULL: unchanged. */
    const char *image_pull_policy;
    /** Patches applied after the switch, as a JSON array [{"type":"strategic"|"merge"|"json",
        "patch":<the patch as a JSON value, or as JSON text>}]; NULL: none. */
    const char *patches_json;
    /** Dirs of the dev container kept on PersistentVolumeClaims, as a JSON array
        [{"path":"/root/.m2","capacity":"10Gi","storageClass":"fast"}]; NULL: none. */
    const char *persistent_dirs_json;
    /* Since options version 3. */
    /** 0 (the default, as Nocalhost): a patch the API server refuses (HTTP 4xx) is skipped with a
        warning event (phase "patch") and the start goes on; non-zero: it fails the start, which
        is rolled back. Either way a patch naming Nocalhost's containers "nocalhost-dev" and
        "nocalhost-sidecar" applies to the dev container and to the sync sidecar. */
    int patch_errors_fatal;
    /* Since options version 4: the sidecar without an image of ours. */
    /** Without a sidecar image: the image the sidecar's bootstrap runs from, which needs /bin/sh
        (for a dev image without a shell); NULL: the dev image. */
    const char *sidecar_base_image;
    /** The directory holding the static nhsyncd-linux-<arch> binaries to upload; NULL:
        $NH_SYNCD_DIR, else share/nocalhost beside the library (<prefix>/share/nocalhost for
        <prefix>/lib/libnocalhost.so), where they are installed. */
    const char *syncd_dir;
    /* Since options version 5: traffic (docs/traffic.md). */
    /** Non-zero: local mode. The dev pod runs only the sync sidecar, no dev container (nor init
        containers); the sidecar declares the containers' ports (numbers and names) and keeps the
        pod's labels, so the workload's Services select it and it is Ready. Every connection to
        one of `local_ports` in the pod (so through the workload's Services) is carried to a
        process on this machine for as long as the returned session lives (nh_session_free()
        stops it; dev mode stays on). `image` is optional here: the sidecar's bootstrap runs from
        it, else from the container's own image, unless `sidecar_image` is given. With
        NH_DEV_MODE_DUPLICATE: a local copy, which receives only what `headers` routes to it. */
    int local;
    /** Local mode: the ports carried to this machine (at least one), each "PORT" or "PORT:LOCAL"
        (PORT a containerPort of the workload's pods, else NH_EINVAL before anything changes;
        LOCAL the local process's on 127.0.0.1; default PORT). */
    const char *const *local_ports;
    size_t local_ports_count;
    /** Cluster Services made reachable from this machine for as long as the returned session
        lives, in any mode, each "svc/NAME:PORT[:LOCAL]" (PORT the Service's port, LOCAL on
        127.0.0.1, default PORT; 0 picks one): a port-forward to one of the Service's ready
        endpoints (as its EndpointSlices list them), moved to another when that one goes. A
        hosts-style file and an env file (NAME_SERVICE_HOST, NAME_SERVICE_PORT,
        NAME_SERVICE_PORT_<PORT NAME>, as Kubernetes names them) name their local ends; an event
        of phase "forward" and nh_session_status() say where. NULL: none. */
    const char *const *forwards;
    size_t forwards_count;
    /** Duplicate mode: requests to the workload's Services that carry every one of these
        headers ("NAME=VALUE", exact match) go to the copy, all others to the original;
        NULL: no routing (docs/traffic.md, "Header routing"). NAME is an HTTP token, compared
        case-insensitively; VALUE visible ASCII, at most 256 characters. NH_EINVAL for a bad
        entry or outside duplicate mode; NH_ESTATE, before anything changes, when the cluster
        serves no router's API or no Service selects the workload's pods. */
    const char *const *headers;
    size_t headers_count;
    /** What routes `headers`: NULL or "auto" (Istio where its API, networking.istio.io/v1
        VirtualService, is served, else the Gateway API's gateway.networking.k8s.io/v1
        HTTPRoute), "istio" or "gateway-api". */
    const char *router;
} nh_dev_start_options;

#define NH_DEV_START_OPTIONS_VERSION 5
#define NH_DEV_START_OPTIONS_INIT \
    {NH_DEV_START_OPTIONS_VERSION, NULL, NULL, NULL, NULL, NULL, 0, NULL, NULL, 0, 0, 1, NULL, 0, NULL, NULL, NULL, NULL, NULL, \
     0, NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL, NULL, NULL, 0, NULL, NULL, 0, NULL, 0, NULL, 0, NULL, 0, NULL}

NH_EXTERN int nh_dev_start_options_init(nh_dev_start_options *opts, unsigned int version);

/**
 * Put a workload into dev mode and wait until its dev pod is Running and
 * Ready, with no other pod of the workload left. In order: ask the API
 * server for every right the start and the later end need (SelfSubjectAccessReview,
 * see nh_dev_access_check(); NH_EFORBIDDEN naming every missing right, nothing
 * changed; where the server will not say, an info event and on); take the lock
 * (NH_EBUSY naming the holder if another client holds it; an expired lock
 * is taken over); check in a short-lived pod, placed as the dev pod will
 * be, that the node can pull and start each image the dev pod runs (the dev
 * image's /bin/sh; nhsyncd in a sidecar image: NH_EINVAL or NH_ERROR with
 * nothing changed, see docs/sidecar.md); record the original and its HPAs in
 * the session Secret;
 * pin the HPAs to 1; update the workload in place (1 replica, Recreate /
 * RollingUpdate, the dev image with a keep-alive command, work dir, env,
 * resources, no probes, the sidecar and a shared emptyDir at the work dir);
 * wait, reporting events. A start that died half-way (its lock expired) is
 * taken over and completed from its record.
 *
 * On success *out gets the session (free with nh_session_free()).
 * Errors: NH_EINVAL (arguments, an unknown kind, several containers and none
 * chosen), NH_EUNSUPPORTED (a cluster-scoped kind), NH_ENOTFOUND (workload,
 * namespace or container: "deployment "web" not found in namespace "x"",
 * "namespace "x" not found"), NH_EBUSY
 * (locked, or already in dev mode: the message names the owner),
 * NH_EFORBIDDEN (nothing was changed), NH_ESTATE (marked as in dev mode but
 * its record is missing), NH_ETIMEOUT, NH_ECANCELLED, NH_ERROR (the dev pod
 * cannot start: image pull error, crash loop, unschedulable, failed; the
 * message says which container and why), or any client error. After a
 * failure the workload has been rolled back exactly (the message says so)
 * unless rollback_on_failure is 0. Thread-safe with respect to the client.
 */
NH_EXTERN int nh_dev_start(nh_session **out, nh_client *client, const char *kind, const char *name,
                           const nh_dev_start_options *opts);

/**
 * The rights nh_dev_start() of KIND/NAME with `opts` (NULL: defaults; its mode,
 * persistent dirs and patches, and the Nocalhost dev config it reads, count) and
 * the later nh_dev_end() need in the workload's namespace, as the rules of an RBAC
 * Role, a JSON array into *out: [{"apiGroups":["apps"],"resources":["deployments"],
 * "verbs":["get","update"]}, {"apiGroups":[""],"resources":["pods/exec"],
 * "verbs":["create"]}...]: the lock's Lease, the session Secret, the workload
 * (a duplicate's or a generated Deployment), ReplicaSets (a Deployment's rollout
 * history), HPAs, pods, pods/exec, pods/portforward, events, PersistentVolumeClaims
 * (persistent dirs). Makes no request but the dev config's. Errors: those of
 * reading the options (NH_EINVAL ...). Since 0.1.
 */
NH_EXTERN int nh_dev_required_rights(nh_buf *out, nh_client *client, const char *kind, const char *name,
                                     const nh_dev_start_options *opts);

/**
 * Ask the API server (one SelfSubjectAccessReview per right) whether the caller
 * has each right nh_dev_required_rights() lists, as a JSON object into *out:
 *   "checked"  false when the server would not say (SelfSubjectAccessReview
 *              forbidden or not served), "reason" then says why (else null)
 *   "missing"  [{"verb","group","resource","subresource","why","needed"}...]: the
 *              rights refused; "needed" false for one dev mode works around (the
 *              image check's pod)
 *   "rules"    what nh_dev_required_rights() gives
 * Returns NH_OK whatever is missing. Errors: client errors. Since 0.1.
 */
NH_EXTERN int nh_dev_access_check(nh_buf *out, nh_client *client, const char *kind, const char *name,
                                  const nh_dev_start_options *opts);

typedef struct nh_dev_end_options {
    unsigned int version;
    /** The workload's namespace; NULL: the client's. */
    const char *namespace_name;
    /** Who takes the lock while ending; NULL: "user@host/pid". */
    const char *owner;
    /** How long to wait for another client's start or end to finish (or its lock to
        expire) before NH_EBUSY; 0: 60000. */
    long timeout_ms;
    /** The lock's lease duration in seconds; 0: 30. */
    int lease_duration_s;
    nh_dev_event_cb events;
    void *payload;
    nh_cancel *cancel;
    /* Since options version 2. */
    /** Which session: NH_DEV_MODE_REPLACE (0) or NH_DEV_MODE_DUPLICATE (with `developer`). */
    int mode;
    /** Duplicate mode: the developer whose copy ends; NULL: "user@host". */
    const char *developer;
    /* Since options version 3. */
    /**
     * Non-zero: a workload marked as in dev mode whose session record is
     * missing (deleted, or lost to a rollback) or unreadable is not refused
     * with NH_ESTATE; every mark of dev mode found is removed instead: the
     * session annotation; the pod template taken from the workload's rollout
     * history (its newest revision that is not dev mode's), or else the sync
     * sidecar, work-dir volume and session-id annotation removed from it; the
     * replica count, strategy or suspension from kubectl's last-applied
     * configuration; the parked nodeSelector; the generated Deployment; dev
     * mode's revisions; HPA bounds from their last-applied configuration; the
     * lock and the unreadable record. What it could not restore (e.g. the dev
     * container's image when no revision records it) is reported as warning
     * events of phase "force". *out is NH_DEV_END_RESTORED (or
     * NH_DEV_END_WORKLOAD_GONE). 0 (the default): NH_ESTATE as before.
     */
    int force;
} nh_dev_end_options;

#define NH_DEV_END_OPTIONS_VERSION 3
#define NH_DEV_END_OPTIONS_INIT {NH_DEV_END_OPTIONS_VERSION, NULL, NULL, 0, 0, NULL, NULL, NULL, 0, NULL, 0}

NH_EXTERN int nh_dev_end_options_init(nh_dev_end_options *opts, unsigned int version);

/** What nh_dev_end() did. */
typedef enum nh_dev_end_result {
    NH_DEV_END_NOT_IN_DEV_MODE = 0,  /**< nothing to do: the workload was not in dev mode */
    NH_DEV_END_RESTORED = 1,         /**< the original is back, in place */
    NH_DEV_END_RESTORED_OVERWRITING = 2, /**< restored, overwriting a change someone made in dev mode */
    NH_DEV_END_WORKLOAD_GONE = 3     /**< the workload had been deleted; what dev mode left was removed */
} nh_dev_end_result;

/**
 * End dev mode: put the original back by updating the same object (same UID;
 * replicas, strategy, pod template, labels and annotations exactly as they
 * were; a bare Pod is created again from its record, under a new UID; in
 * duplicate mode the copy is deleted and the original was never changed),
 * restore the HPAs, and delete the session Secret, the lock and the
 * annotations. Works from any process; idempotent; safe on a workload that
 * is not in dev mode (*out = NH_DEV_END_NOT_IN_DEV_MODE, NH_OK). Waits for a
 * start or end in progress elsewhere (up to timeout_ms). `out` may be NULL.
 * Errors: NH_EINVAL (an unknown kind), NH_EUNSUPPORTED (a cluster-scoped kind), NH_ENOTFOUND (no such workload and no
 * session), NH_EBUSY (another client kept the lock), NH_ESTATE (marked as in
 * dev mode but the record is missing; see `force`), NH_EFORBIDDEN,
 * NH_ECANCELLED, client errors. Thread-safe with respect to the client.
 *
 * The lock: a holder that is a process of this host that no longer runs (a
 * start killed with kill -9, a second Ctrl-C, a crashed editor) is taken over
 * at once (an NH_DEV_EVENT_INFO event of phase "lock" says so); a live
 * holder is waited for with events of phase "lock" naming it and saying when
 * its lock expires, about once a second. A restored Deployment, StatefulSet
 * or DaemonSet also loses the revisions dev mode added to its rollout history
 * (an NH_DEV_EVENT_INFO event of phase "history" names them), so that
 * `kubectl rollout undo` cannot return to dev mode.
 */
NH_EXTERN int nh_dev_end(int *out, nh_client *client, const char *kind, const char *name,
                         const nh_dev_end_options *opts);

/** Options of nh_dev_status(), nh_dev_list() and nh_dev_attach(). */
typedef struct nh_dev_query_options {
    unsigned int version;
    /** The namespace; NULL: the client's. */
    const char *namespace_name;
    /** nh_dev_list() only: non-zero lists every namespace. */
    int all_namespaces;
    nh_cancel *cancel;
    /* Since options version 2. */
    /** nh_dev_status() and nh_dev_attach(): which session, as in nh_dev_end_options. */
    int mode;
    const char *developer;
} nh_dev_query_options;

#define NH_DEV_QUERY_OPTIONS_VERSION 2
#define NH_DEV_QUERY_OPTIONS_INIT {NH_DEV_QUERY_OPTIONS_VERSION, NULL, 0, NULL, 0, NULL}

NH_EXTERN int nh_dev_query_options_init(nh_dev_query_options *opts, unsigned int version);

/**
 * The version of the dev-mode status JSON (its "schema_version"): within a
 * version keys are only added, never renamed, removed or given another
 * meaning. Every key is listed below and in docs/cli.md.
 */
#define NH_DEV_STATUS_SCHEMA_VERSION 1

/**
 * The dev-mode status of one workload (of the session `opts` picks) as a
 * JSON object into *out. Never contains the token. In dev mode:
 *   "kind"                 the workload's Kind ("Deployment", "Rollout"...)
 *   "name", "namespace"    the workload's (in duplicate mode the original's)
 *   "dev_mode"             true
 *   "schema_version"       NH_DEV_STATUS_SCHEMA_VERSION
 *   "mode"                 "replace" or "duplicate"
 *   "phase"                "starting" (a start is under way or died) or "active"
 *   "owner", "since"       who started the session ("user@host/pid") and when (RFC 3339)
 *   "developer"            duplicate mode only: whose copy it is
 *   "headers", "router"    duplicate mode only: the headers routed to the copy
 *                          (["x-dev=alice"], names lower-cased) and "istio" or
 *                          "gateway-api"; [] and null without header routing
 *   "copy"                 duplicate mode: the copy's Deployment name; otherwise null
 *   "generated_deployment" the Deployment dev mode runs the dev pod from (the copy;
 *                          for DaemonSets, Jobs, CronJobs, Pods and custom kinds the
 *                          one generated from their pod template), or null
 *   "container", "image"   the dev container and its image
 *   "workdir"              the work dir shared with the sidecar
 *   "sidecar_image", "sidecar_container", "sync_port"   the sync sidecar
 *   "session_object"       the Secret (and Lease) name holding the session
 *   "persistent_volume_claims"  only when persistent dirs are used: [{"path","claim"}]
 *   "config"               only when a dev config was used: its effective values
 *   "local"                true in local mode (the pod runs only the sidecar)
 *   "local_ports"          local mode only: [{"port","local"}], the pod's ports carried
 *                          to 127.0.0.1:local on the developer's machine
 *   "pod"                  {"name","phase","ready"} of the dev pod, or null
 *   "lock"                 {"holder","expires_in_s"} while a start or end runs, or null
 * Not in dev mode: {"kind","name","namespace","dev_mode":false,"schema_version",
 * "mode":"duplicate" (asked about a copy only), "nocalhost_dev_mode":true (only when
 * Nocalhost's nhctl left it in dev mode), "lock"}.
 * Errors: NH_ENOTFOUND (no such workload and no session), client errors.
 */
NH_EXTERN int nh_dev_status(nh_buf *out, nh_client *client, const char *kind, const char *name,
                            const nh_dev_query_options *opts);

/**
 * Every workload in dev mode in the namespace (or all namespaces), as a
 * JSON array of nh_dev_status() objects, into *out.
 */
NH_EXTERN int nh_dev_list(nh_buf *out, nh_client *client, const nh_dev_query_options *opts);

/**
 * Resume a session from the cluster state, from any process: *out gets the
 * session of a workload in dev mode (its dev pod, sync port and token), to
 * connect to the sidecar without starting again. Errors: NH_ENOTFOUND (not
 * in dev mode; the message says so), client errors.
 */
NH_EXTERN int nh_dev_attach(nh_session **out, nh_client *client, const char *kind, const char *name,
                            const nh_dev_query_options *opts);

/**
 * The effective Nocalhost dev config of a workload's container as JSON into
 * *out, merged in Nocalhost's order (see docs/nocalhost-config.md) from
 * opts->config_path, the workload's "dev.nocalhost" annotation and the
 * "dev.nocalhost.config.<app>" ConfigMap, with the explicit options of
 * `opts` on top: {"sources":[...],"container","image","imagePullPolicy",
 * "shell","workDir","resources","env","persistentVolumeDirs","portForward",
 * "sync":{"type","mode","filePattern","ignoreFilePattern","deleteProtection"},
 * "sidecarImage","patches","command":{"build","run","debug","hotReloadRun",
 * "hotReloadDebug"},"debug":{"remoteDebugPort","language"},
 * "ignored":[{"field","file","line","reason"}]}. Errors: NH_ECONFIG (invalid
 * config: the message names the file, line, field and the valid choices),
 * NH_ENOTFOUND, client errors.
 */
NH_EXTERN int nh_dev_config_resolve(nh_buf *out, nh_client *client, const char *kind, const char *name,
                                    const nh_dev_start_options *opts);

/** Formats of nh_dev_env(). */
typedef enum nh_dev_env_format {
    NH_DEV_ENV_JSON = 0,   /**< the JSON object described at nh_dev_env() */
    NH_DEV_ENV_DOTENV = 1  /**< a dotenv file: NAME='value' lines, comments for what was left out */
} nh_dev_env_format;

/** Options of nh_dev_env(). */
typedef struct nh_dev_env_options {
    unsigned int version;
    /** The namespace; NULL: the client's. */
    const char *namespace_name;
    /** The container; NULL: the only one (NH_EINVAL when there are several). */
    const char *container;
    /** NH_DEV_ENV_JSON (the default) or NH_DEV_ENV_DOTENV. */
    int format;
    /** Non-zero: include the values that come from Secrets (otherwise named and left out). */
    int include_secrets;
    nh_cancel *cancel;
} nh_dev_env_options;

#define NH_DEV_ENV_OPTIONS_VERSION 1
#define NH_DEV_ENV_OPTIONS_INIT {NH_DEV_ENV_OPTIONS_VERSION, NULL, NULL, NH_DEV_ENV_JSON, 0, NULL}

NH_EXTERN int nh_dev_env_options_init(nh_dev_env_options *opts, unsigned int version);

/**
 * The environment of a workload's container as the kubelet gives it, into
 * *out, so that a local process can run with the container's settings
 * (docs/dev-mode.md, "The container's environment"). Resolved in the
 * kubelet's order: envFrom sources first (ConfigMap "data" and Secret keys
 * with their prefix, a later source overriding an earlier one, keys that are
 * not variable names skipped), then env in order (a later entry overriding),
 * each "value" with $(VAR) expanded from the variables defined before it
 * ($$ is a literal $, an unknown $(VAR) stays as written); valueFrom:
 * configMapKeyRef and secretKeyRef (an optional reference to a missing
 * object or key leaves the variable unset), fieldRef (metadata.namespace,
 * metadata.labels['k'], metadata.annotations['k'] and spec.serviceAccountName
 * from a running pod of the workload or else its pod template;
 * metadata.name, metadata.uid, spec.nodeName, status.podIP(s) and
 * status.hostIP(s) from a running pod only), resourceFieldRef (requests and
 * limits with their divisor, rounded up; a limit not set is the node's
 * allocatable amount). Service-link variables (NAME_SERVICE_HOST...) are not
 * included. A workload in dev mode is read as it was before dev mode.
 * Values from Secrets (and values expanded from them) are included only with
 * opts->include_secrets; otherwise they are named and left out.
 * NH_DEV_ENV_JSON: {"kind","name","namespace","container","pod" (the pod read
 * for the Downward API, or null),"env":[{"name","source","secret","value"}],
 * "notes":[...]}; an entry left out has "withheld" or "unresolved" (the
 * reason) instead of "value". Errors: NH_ENOTFOUND (the workload; a
 * container; a ConfigMap, Secret or key the container needs that is not
 * optional: the kubelet would not start the container either), NH_EINVAL
 * (several containers and none chosen, an unknown format), client errors.
 */
NH_EXTERN int nh_dev_env(nh_buf *out, nh_client *client, const char *kind, const char *name,
                         const nh_dev_env_options *opts);

/**
 * The PersistentVolumeClaims dev mode made for persistentVolumeDirs, of one
 * workload (kind and name) or, with kind and name NULL, of the namespace, as
 * a JSON array [{"name","namespace","workload","path","capacity",
 * "storage_class","phase"}] into *out. They outlive dev mode.
 */
NH_EXTERN int nh_dev_pvc_list(nh_buf *out, nh_client *client, const char *kind, const char *name,
                              const nh_dev_query_options *opts);

/**
 * Delete a workload's dev-mode PersistentVolumeClaim `claim` (its name or
 * its dir), or all of them when `claim` is NULL; the names deleted go into
 * *out as a JSON array (`out` may be NULL). Errors: NH_ENOTFOUND (no such
 * claim of dev mode), client errors.
 */
NH_EXTERN int nh_dev_pvc_delete(nh_buf *out, nh_client *client, const char *kind, const char *name,
                                const char *claim, const nh_dev_query_options *opts);

/** Release a session handle (dev mode stays on: end it with nh_dev_end()). NULL-safe. */
NH_EXTERN void nh_session_free(nh_session *session);

/** Options of nh_session_sync_start_v2(). */
typedef struct nh_session_sync_options {
    unsigned int version;
    /** Options of the sync (mode, ignore patterns, events); NULL: defaults. */
    const struct nh_sync_options *sync_options;
    /** How long to wait for the sidecar (when nhsyncd is uploaded) and for the first full sync,
        each; <= 0: 300000 (5 minutes). */
    long timeout_ms;
    /** Stops the start of the loop from another thread; may be NULL. */
    nh_cancel *cancel;
    /** The loop's phases (see below); NULL: none. */
    nh_dev_event_cb events;
    void *payload;
} nh_session_sync_options;

#define NH_SESSION_SYNC_OPTIONS_VERSION 1
#define NH_SESSION_SYNC_OPTIONS_INIT {NH_SESSION_SYNC_OPTIONS_VERSION, NULL, 0, NULL, NULL, NULL}

NH_EXTERN int nh_session_sync_options_init(nh_session_sync_options *opts, unsigned int version);

/**
 * Start the whole loop on a session (one from nh_dev_start() without a
 * local directory, or resumed with nh_dev_attach()): port-forward to its
 * sync sidecar, sync `local_dir` into the work dir, and wait until the first
 * full sync is acknowledged; then forward the ports of the session's
 * Nocalhost dev config (portForward). Without a sidecar image, nhsyncd is
 * first uploaded into the dev pod's sidecar, and into each new dev pod while
 * the sync runs (docs/sidecar.md). opts->events receive the phases
 * NH_DEV_PHASE_UPLOAD, _FORWARD, _SYNC, _SYNCED and _PORT_FORWARD. `opts`
 * may be NULL (all defaults).
 *
 * The session's Nocalhost config (sync.*, recorded at start) fills what
 * opts->sync_options leaves at its defaults: type sendReceive makes a
 * NH_SYNC_MODE_SEND sync NH_SYNC_MODE_TWO_WAY; mode gitIgnore sets
 * use_gitignore; ignoreFilePattern and (mode pattern) filePattern become
 * the ignore and include patterns when none are given ("./src" is
 * anchored, "/src"; "." means everything); deleteProtection (true unless
 * the config says false) sets delete_protection. The session owns the sync
 * from then on. Errors: NH_ESTATE (the session already syncs, or has no
 * token), those of nh_forward_start() and nh_sync_start(), NH_ETIMEOUT,
 * NH_ECANCELLED, NH_EUNAUTHORIZED (the sidecar refused the token); after an
 * error nothing keeps running. nh_dev_end() in this process stops the
 * session's sync and forward first. Since 0.1.
 */
NH_EXTERN int nh_session_sync_start_v2(nh_session *session, nh_client *client, const char *local_dir,
                                       const nh_session_sync_options *opts);

/**
 * Deprecated: nh_session_sync_start_v2() with its options given one by one
 * (timeout_ms <= 0: 5 minutes; any of the pointers may be NULL).
 */
NH_EXTERN int nh_session_sync_start(nh_session *session, nh_client *client, const char *local_dir,
                                    const struct nh_sync_options *sync_options, long timeout_ms,
                                    nh_cancel *cancel, nh_dev_event_cb events, void *payload);

/**
 * The session's running sync (see the sync section), or NULL. Owned by the
 * session: do not free it; valid until nh_session_sync_stop() or
 * nh_session_free().
 */
NH_EXTERN struct nh_sync *nh_session_sync(nh_session *session);

/**
 * Stop the session's sync (its index is saved) and port-forward. Dev mode
 * stays on. Idempotent; NULL-safe.
 */
NH_EXTERN void nh_session_sync_stop(nh_session *session);

/** The workload's kind ("Deployment", "StatefulSet", "DaemonSet", "Rollout"...), name and namespace. */
NH_EXTERN const char *nh_session_kind(const nh_session *session);
NH_EXTERN const char *nh_session_name(const nh_session *session);
NH_EXTERN const char *nh_session_namespace(const nh_session *session);

/** The dev pod's name; "" when no dev pod exists right now. */
NH_EXTERN const char *nh_session_pod_name(const nh_session *session);

/** The dev container's name, and the sync sidecar's ("nh-sync"). */
NH_EXTERN const char *nh_session_container(const nh_session *session);
NH_EXTERN const char *nh_session_sidecar_container(const nh_session *session);

/** The work dir shared by the dev container and the sidecar. */
NH_EXTERN const char *nh_session_workdir(const nh_session *session);

/** Who started the session, and since when (RFC 3339). */
NH_EXTERN const char *nh_session_owner(const nh_session *session);
NH_EXTERN const char *nh_session_since(const nh_session *session);

/** NH_DEV_MODE_REPLACE or NH_DEV_MODE_DUPLICATE; 0 for NULL. */
NH_EXTERN int nh_session_mode(const nh_session *session);

/** Duplicate mode: the copy's (Deployment's) name; kinds run from a generated Deployment: its
    name; otherwise "". */
NH_EXTERN const char *nh_session_workload(const nh_session *session);

/**
 * The target of streams to the dev pod (nh_exec_start(), nh_forward_start(),
 * nh_target_resolve()): the workload that runs the dev pod, so that a stream
 * follows a replaced dev pod: "deployment/<nh_session_workload()>" when dev
 * mode runs it from a Deployment of its own, else "<kind>/<name>"
 * ("statefulset/db"). "" for NULL. Since 0.1.
 */
NH_EXTERN const char *nh_session_target(const nh_session *session);

/** Duplicate mode: the developer whose copy this is (as given to nh_dev_end() and
    nh_dev_attach() to find it again); otherwise "". Since 0.1. */
NH_EXTERN const char *nh_session_developer(const nh_session *session);

/** The sidecar's sync port in the pod (forward a local port to it); 0 for NULL. */
NH_EXTERN int nh_session_sync_port(const nh_session *session);

/**
 * The per-session sync token the sidecar expects from its client. A secret:
 * never log or display it.
 */
NH_EXTERN const char *nh_session_token(const nh_session *session);

/**
 * The session's state as nh_dev_status() JSON into *out, without a request;
 * while the session runs the whole loop, also "port_forwards":
 * [{"spec","local_port","remote_port"}], the dev config's port-forwards; while it
 * holds local mode's tunnel or Service forwards (nh_dev_start_options version 5),
 * "service_forwards": [{"service","port","local_port","pod"}] and, with forwards,
 * "hosts_file" and "env_file", the generated files naming their local ends.
 */
NH_EXTERN int nh_session_status(nh_buf *out, const nh_session *session);

/**
 * Look for the session's dev pod again (e.g. after the pod was restarted),
 * updating nh_session_pod_name(). Errors: client errors.
 */
NH_EXTERN int nh_session_refresh(nh_session *session, nh_cancel *cancel);


/* ==== the sync sidecar's image ==== */

/*
 * Dev mode needs no image of ours (see nh_dev_default_sidecar_image()). For
 * clusters that should pull the sidecar rather than get nhsyncd uploaded, the
 * library writes the sidecar image itself, without Docker and without a base
 * image: an OCI image archive holding an image index with one image per
 * architecture, each a single layer with the static nhsyncd at
 * /usr/local/bin/nhsyncd (entrypoint; port NH_DEV_DEFAULT_SYNC_PORT). Push it
 * with `skopeo copy --all oci-archive:FILE.tar docker://REGISTRY/nhsyncd:TAG`,
 * or load it into a node with `ctr -n k8s.io images import FILE.tar`, and give
 * it as nh_dev_start_options.sidecar_image (docs/sidecar.md).
 */
typedef struct nh_sidecar_image_options {
    unsigned int version;
    /** The image's name with its tag, as containerd names it on import
        (io.containerd.image.name; the tag is org.opencontainers.image.ref.name);
        NULL: "nhsyncd:" NH_VERSION_STRING. */
    const char *name;
    /** The architectures, "amd64" and/or "arm64"; NULL (count 0): every nhsyncd-linux-<arch> found. */
    const char *const *architectures;
    size_t architectures_count;
    /** Where the nhsyncd-linux-<arch> binaries are; NULL: as nh_dev_start_options.syncd_dir. */
    const char *syncd_dir;
} nh_sidecar_image_options;

#define NH_SIDECAR_IMAGE_OPTIONS_VERSION 1
#define NH_SIDECAR_IMAGE_OPTIONS_INIT {NH_SIDECAR_IMAGE_OPTIONS_VERSION, NULL, NULL, 0, NULL}

NH_EXTERN int nh_sidecar_image_options_init(nh_sidecar_image_options *opts, unsigned int version);

/**
 * Write the sidecar's OCI image archive to `path` (replaced whole: written
 * aside, then renamed). `out_json` (may be NULL) gets {"path","name","digest"
 * (the image index's),"size","images":[{"architecture","digest","binary",
 * "bytes"}]}. `opts` may be NULL. Errors: NH_EINVAL (a name without a tag, an
 * unknown architecture, a binary of another architecture), NH_ENOTFOUND (no
 * binary), NH_EIO.
 */
NH_EXTERN int nh_sidecar_image_write(nh_buf *out_json, const char *path, const nh_sidecar_image_options *opts);

/* ==== streams (exec, terminal, port-forward) ==== */

/*
 * Exec, interactive terminals and port-forwards reach a pod through the API
 * server (WebSocket upgrades of pods/exec and pods/portforward) with the
 * client's own TLS settings, credentials and proxy, like kubectl.
 *
 * Targets are strings: "KIND/NAME" where KIND is pod, deployment,
 * statefulset, daemonset or replicaset (kubectl's short names deploy, sts,
 * ds, rs, po work too), or a bare pod NAME. A workload is resolved through
 * its spec.selector to a Running pod, Ready ones first, the newest first (in
 * dev mode, the dev pod).
 *
 * Handles (nh_exec, nh_forward) keep what they need of the client: the
 * nh_client may be freed before them.
 */

/**
 * Resolve `target` in `namespace_name` (NULL: the client's) to the pod that
 * streams would use; its name goes into *out_pod. Errors: NH_EINVAL (bad
 * target text), NH_ENOTFOUND (no such workload or pod), NH_ESTATE (no
 * Running pod), NH_EFORBIDDEN and the other errors of nh_client_request().
 * Since 0.1.
 */
NH_EXTERN int nh_target_resolve(nh_buf *out_pod, nh_client *client, const char *namespace_name,
                                const char *target, nh_cancel *cancel);

/** Output streams of a command, as passed to nh_exec_output_cb. */
typedef enum nh_exec_stream {
    NH_EXEC_STDOUT = 1,
    NH_EXEC_STDERR = 2
} nh_exec_stream;

/**
 * Receives output of an interactive command: `len` bytes of `stream`,
 * valid only during the call. Called on the session's own I/O thread, in
 * order. Return non-zero to stop the command (nh_exec_wait() then returns
 * NH_ECANCELLED). Must not call nh_exec_wait() or nh_exec_free().
 */
typedef int (*nh_exec_output_cb)(int stream, const char *data, size_t len, void *payload);

typedef struct nh_exec_options {
    unsigned int version;
    /** The namespace; NULL: the client's. */
    const char *namespace_name;
    /** The container; NULL: the pod's kubectl.kubernetes.io/default-container, else its first. */
    const char *container;
    /** Non-zero: allocate a terminal (stdout and stderr arrive merged as stdout). */
    int tty;
    /** nh_exec_start(): non-zero opens stdin. nh_exec_run() opens it when given stdin data. */
    int stdin_enabled;
    /** Limit for connecting and upgrading, in ms; 0: the client's request timeout. */
    long timeout_ms;
    /** Triggering it stops the command; blocked calls return NH_ECANCELLED. May be NULL. */
    nh_cancel *cancel;
    /** nh_exec_start() only: receives the output. NULL: output is discarded. */
    nh_exec_output_cb output;
    void *payload;
} nh_exec_options;

#define NH_EXEC_OPTIONS_VERSION 1
#define NH_EXEC_OPTIONS_INIT {NH_EXEC_OPTIONS_VERSION, NULL, NULL, 0, 0, 0, NULL, NULL, NULL}

NH_EXTERN int nh_exec_options_init(nh_exec_options *opts, unsigned int version);

/**
 * Run `argv` (NULL-terminated, argv[0] the program; no shell is involved)
 * in the target's container and wait for it to end. `stdin_data`
 * (`stdin_len` bytes; may be NULL) is sent to its stdin, which is then
 * closed where the server's protocol can say so (v5.channel.k8s.io).
 * Its stdout and stderr go into *out_stdout and *out_stderr (either may be
 * NULL to discard), its exit code into *out_exit_code.
 *
 * Returns NH_OK whenever the command ran and reported an exit code, even a
 * non-zero one. Errors: NH_ENOTFOUND (no such pod), NH_EINVALID (no such
 * container, bad request; the API's message), NH_EFORBIDDEN (no RBAC right
 * to pods/exec), NH_EUNSUPPORTED (the server refused the WebSocket upgrade
 * or our protocols), NH_ESERVER (the runtime failed to run the command, or
 * ended it without an exit code), NH_ECANCELLED, NH_ETIMEOUT, NH_ECONNECT,
 * NH_ETLS, NH_EPROTOCOL. Since 0.1.
 */
NH_EXTERN int nh_exec_run(nh_buf *out_stdout, nh_buf *out_stderr, int *out_exit_code, nh_client *client,
                          const char *target, const char *const *argv, const char *stdin_data,
                          size_t stdin_len, const nh_exec_options *opts);

/** A running interactive command (exec or terminal). */
typedef struct nh_exec nh_exec;

/**
 * Start `argv` in the target's container and return at once with the
 * session in *out (free with nh_exec_free()). Output reaches opts->output
 * from the session's I/O thread. Errors: those of nh_exec_run() for
 * connecting. Since 0.1.
 */
NH_EXTERN int nh_exec_start(nh_exec **out, nh_client *client, const char *target, const char *const *argv,
                            const nh_exec_options *opts);

/**
 * Send `len` bytes to the command's stdin (needs opts->stdin_enabled).
 * Copies the data; blocks only while several MiB wait to be sent.
 * Thread-safe. Errors: NH_ESTATE (stdin closed or command ended),
 * NH_ECANCELLED.
 */
NH_EXTERN int nh_exec_write(nh_exec *exec, const void *data, size_t len);

/**
 * Close the command's stdin (end of input). Thread-safe; idempotent.
 * NH_EUNSUPPORTED when the server speaks only v4.channel.k8s.io, which
 * cannot express it.
 */
NH_EXTERN int nh_exec_close_stdin(nh_exec *exec);

/** Tell the command's terminal its new size (tty sessions). Thread-safe. */
NH_EXTERN int nh_exec_resize(nh_exec *exec, unsigned int width, unsigned int height);

/**
 * Wait for the command to end and store its exit code in *out_exit_code
 * (may be NULL). `timeout_ms` < 0 waits without limit; NH_ETIMEOUT when
 * it passes first (the command keeps running). Returns NH_ECANCELLED once
 * opts->cancel was triggered, else the errors of nh_exec_run(). May be
 * called again after NH_ETIMEOUT.
 */
NH_EXTERN int nh_exec_wait(int *out_exit_code, nh_exec *exec, long timeout_ms);

/** The stream protocol the server chose, e.g. "v5.channel.k8s.io". Owned by the handle. */
NH_EXTERN const char *nh_exec_protocol(const nh_exec *exec);

/** The pod the command runs in. Owned by the handle. */
NH_EXTERN const char *nh_exec_pod(const nh_exec *exec);

/** Stop the command if it still runs and release the handle. NULL-safe. */
NH_EXTERN void nh_exec_free(nh_exec *exec);

/** Local ports forwarded to a pod. */
typedef struct nh_forward nh_forward;

/** What an nh_forward_event_cb reports. */
typedef enum nh_forward_event_type {
    /** A local connection got its stream to the pod. */
    NH_FORWARD_CONNECTED = 1,
    /** A connection ended; `message` says why when it was not a normal end. */
    NH_FORWARD_CLOSED = 2,
    /** A connection failed: the pod's error channel, or no stream could be opened. */
    NH_FORWARD_ERROR = 3,
    /** The pod went away; new connections wait for its replacement. */
    NH_FORWARD_POD_LOST = 4,
    /** The target's new pod was found; `pod` names it. */
    NH_FORWARD_RECONNECTED = 5
} nh_forward_event_type;

/**
 * Receives port-forward events. Strings are valid only during the call;
 * `pod` is "" when unknown, the ports are 0 for events about the pod.
 * Called from the forwarder's threads, possibly several at once.
 */
typedef void (*nh_forward_event_cb)(int type, const char *pod, int local_port, int remote_port,
                                    const char *message, void *payload);

typedef struct nh_forward_options {
    unsigned int version;
    /** The namespace; NULL: the client's. */
    const char *namespace_name;
    /** The IPv4 address to listen on; NULL: "127.0.0.1" (loopback only). */
    const char *address;
    /** Limit for opening each stream, in ms; 0: the client's request timeout. */
    long timeout_ms;
    /**
     * Non-zero (the default): when the pod goes away, resolve the target
     * again and forward new connections to its new pod.
     */
    int follow;
    /** Stops forwarding: nh_forward_wait() returns NH_ECANCELLED. May be NULL. */
    nh_cancel *cancel;
    nh_forward_event_cb on_event;
    void *payload;
} nh_forward_options;

#define NH_FORWARD_OPTIONS_VERSION 1
#define NH_FORWARD_OPTIONS_INIT {NH_FORWARD_OPTIONS_VERSION, NULL, NULL, 0, 1, NULL, NULL, NULL}

NH_EXTERN int nh_forward_options_init(nh_forward_options *opts, unsigned int version);

/**
 * Forward local ports to the target's pod. `ports` is a NULL-terminated
 * list of "LOCAL:REMOTE" ("8080:80"), ":REMOTE" or "0:REMOTE" (pick a free
 * local port) or "PORT" (the same on both sides). Resolves the target and
 * binds every port before returning (nh_forward_local_port_v2() tells the
 * ports picked), then serves connections on its own threads until freed or
 * cancelled: each connection gets its own WebSocket stream. When a local
 * client half-closes, the pod's answer keeps flowing until the pod side
 * closes (the protocol cannot pass the EOF on).
 * Errors: NH_EINVAL (bad port text or address), NH_EBUSY (a local port is
 * taken), those of nh_target_resolve(). Since 0.1.
 */
NH_EXTERN int nh_forward_start(nh_forward **out, nh_client *client, const char *target,
                               const char *const *ports, const nh_forward_options *opts);

/**
 * The local port of ports[index] into *out. Errors: NH_EINVAL (NULL, or an
 * index out of range; *out is then 0). Thread-safe. Since 0.1.
 */
NH_EXTERN int nh_forward_local_port_v2(int *out, const nh_forward *fwd, size_t index);

/**
 * Deprecated: use nh_forward_local_port_v2(), which does not return a port
 * and an error code in the same int. The local port of ports[index], or
 * NH_EINVAL for a bad index. Thread-safe.
 */
NH_EXTERN int nh_forward_local_port(const nh_forward *fwd, size_t index);

/** The name of the pod connections currently go to, into *out. Thread-safe. */
NH_EXTERN int nh_forward_pod(nh_buf *out, nh_forward *fwd);

/**
 * Block until forwarding ends: NH_ECANCELLED once opts->cancel was
 * triggered, or the error that ended it (NH_EFORBIDDEN, ...). With
 * `timeout_ms` >= 0, NH_ETIMEOUT when that passes first (forwarding goes on).
 */
NH_EXTERN int nh_forward_wait(nh_forward *fwd, long timeout_ms);

/** Stop forwarding, close every connection and release the handle. NULL-safe. */
NH_EXTERN void nh_forward_free(nh_forward *fwd);

/* ==== reverse forwarding (docs/traffic.md) ==== */

/**
 * Listeners in a dev pod whose connections come back to local ports on this
 * machine: the sidecar's nhsyncd listens in the pod and carries every
 * connection it accepts to 127.0.0.1:LOCAL here, all of them multiplexed over
 * one tunnel (a port-forward to the sidecar's tunnel port, the sync port + 1,
 * authenticated with the session's sync token) with a window per connection.
 */
typedef struct nh_reverse nh_reverse;

/** What an nh_reverse_event_cb reports. */
typedef enum nh_reverse_event_type {
    /** A connection in the pod reached its local port. */
    NH_REVERSE_CONNECTED = 1,
    /** A connection ended; `message` says why when it was not a normal end. */
    NH_REVERSE_CLOSED = 2,
    /** A connection could not be carried (nothing listens on the local port, ...): the pod's
        side of it is reset and `message` says why; the tunnel stays up. */
    NH_REVERSE_ERROR = 3,
    /** The tunnel ended (the dev pod went away, the forward broke); it is being opened again. */
    NH_REVERSE_POD_LOST = 4,
    /** The tunnel is open again, to `pod`, with every listener bound there again. */
    NH_REVERSE_RECONNECTED = 5
} nh_reverse_event_type;

/**
 * Receives reverse-forward events. Strings are valid only during the call;
 * `pod` is "" when unknown, the ports are 0 for events about the tunnel.
 * Called from the tunnel's thread.
 */
typedef void (*nh_reverse_event_cb)(int type, const char *pod, int remote_port, int local_port,
                                    const char *message, void *payload);

typedef struct nh_reverse_options {
    unsigned int version;
    /** The namespace; NULL: the client's. */
    const char *namespace_name;
    /** Which session of the workload: NH_DEV_MODE_REPLACE (0) or NH_DEV_MODE_DUPLICATE. */
    int mode;
    /** Duplicate mode: the developer whose copy; NULL: the default developer. */
    const char *developer;
    /** The IPv4 address the listeners bind in the pod; NULL: "127.0.0.1" (the pod's own
        containers only); "0.0.0.0" lets other pods connect through the pod's IP. */
    const char *remote_address;
    /** Limit for the first tunnel (nhsyncd's upload included), in ms; 0: 120000. */
    long timeout_ms;
    /** Without a sidecar image: where the nhsyncd binaries are (as nh_dev_start_options'). */
    const char *syncd_dir;
    /** Stops forwarding: nh_reverse_wait() returns NH_ECANCELLED. May be NULL. */
    nh_cancel *cancel;
    nh_reverse_event_cb on_event;
    void *payload;
} nh_reverse_options;

#define NH_REVERSE_OPTIONS_VERSION 1
#define NH_REVERSE_OPTIONS_INIT {NH_REVERSE_OPTIONS_VERSION, NULL, NH_DEV_MODE_REPLACE, NULL, NULL, 0, NULL, NULL, NULL, NULL}

NH_EXTERN int nh_reverse_options_init(nh_reverse_options *opts, unsigned int version);

/**
 * Reverse-forward ports of the workload `kind`/`name`, which must be in dev
 * mode. `ports` is a NULL-terminated list of "REMOTE:LOCAL" ("5005:5005": the
 * pod's port 5005 to 127.0.0.1:5005 here) or "PORT" (the same on both sides).
 * Without a sidecar image, uploads nhsyncd into the dev pod first (as the
 * sync does); returns once every listener is bound in the pod, then keeps the
 * tunnel up on its own thread until freed or cancelled, opening it again to
 * the new dev pod when the pod is replaced. A local port with nothing
 * listening resets that connection in the pod (NH_REVERSE_ERROR says why);
 * the tunnel stays up.
 * Errors: NH_EINVAL (bad port text or address), NH_ESTATE (not in dev mode),
 * NH_EBUSY (a port in the pod is taken), NH_EUNAUTHORIZED (the sidecar refused
 * the session's token), NH_ETIMEOUT (the sidecar did not answer in time), those
 * of nh_forward_start(). Since 0.1.
 */
NH_EXTERN int nh_reverse_start(nh_reverse **out, nh_client *client, const char *kind, const char *name,
                               const char *const *ports, const nh_reverse_options *opts);

/** The dev pod the tunnel goes to now ("" while it is opened again), into *out. Thread-safe. */
NH_EXTERN int nh_reverse_pod(nh_buf *out, nh_reverse *rev);

/**
 * Block until reverse forwarding ends: NH_ECANCELLED once opts->cancel was
 * triggered, or the error that ended it (NH_EUNAUTHORIZED, ...). With
 * `timeout_ms` >= 0, NH_ETIMEOUT when that passes first (forwarding goes on).
 */
NH_EXTERN int nh_reverse_wait(nh_reverse *rev, long timeout_ms);

/** Stop: close the tunnel (the pod's listeners and connections with it) and release the handle. NULL-safe. */
NH_EXTERN void nh_reverse_free(nh_reverse *rev);

/* ==== sync ==== */

/*
 * File sync: keeps a sync server's root (nhsyncd, the sidecar's server)
 * equal to a local directory, continuously, with exact progress. The wire
 * protocol is described in docs/sync-protocol.md.
 *
 * One background thread per nh_sync does the work: it scans the local
 * directory (comparing metadata with the index of what the server last
 * acknowledged, so a restart re-sends only what changed), watches it with
 * inotify and sends each change as it happens, reconnects with backoff when
 * the connection drops and never loses an edit made meanwhile.
 *
 * Thread safety: every nh_sync_* function may be called from any thread.
 * Events are delivered on the sync's own thread; the callback must not call
 * nh_sync_stop() or nh_sync_free() on the same handle.
 */

/** A running sync. */
typedef struct nh_sync nh_sync;

typedef enum nh_sync_mode {
    /** Local is the master: remote changes are overwritten and reported. */
    NH_SYNC_MODE_SEND = 0,
    /**
     * Both ways. When both sides changed a path since the last sync, the
     * local version wins and the server's is kept beside it as
     * "NAME.conflict-YYYYMMDD-HHMMSS" (synced back too), reported as
     * NH_SYNC_EVENT_CONFLICT. A change beats a delete.
     */
    NH_SYNC_MODE_TWO_WAY = 1
} nh_sync_mode;

typedef enum nh_sync_compression {
    /**
     * zstd while the link is measured slow: the client measures how fast the connection
     * takes its data (through a port-forward: the tunnel behind it) and how fast it
     * compresses, and compresses while that pays, at a higher level the slower the link
     * (zstd 1, 3 or 6); it starts at level 1 and goes raw when it, not the link, is the limit.
     */
    NH_SYNC_COMPRESS_AUTO = 0,
    NH_SYNC_COMPRESS_ON = 1, /**< always (when the server supports it), the level as AUTO chooses it */
    NH_SYNC_COMPRESS_OFF = 2 /**< never */
} nh_sync_compression;

typedef enum nh_sync_state {
    NH_SYNC_STARTING = 0,
    NH_SYNC_SCANNING = 1,
    NH_SYNC_CONNECTING = 2,
    NH_SYNC_SYNCING = 3,      /**< sending or waiting for acknowledgements */
    NH_SYNC_IDLE = 4,         /**< everything acknowledged; watching */
    NH_SYNC_DISCONNECTED = 5, /**< reconnecting with backoff; edits are kept */
    NH_SYNC_PAUSED = 6,
    NH_SYNC_ERROR = 7,        /**< gave up (e.g. NH_EUNAUTHORIZED); see nh_sync_status */
    NH_SYNC_STOPPED = 8
} nh_sync_state;

/** A static name such as "idle" for an nh_sync_state. Never NULL. */
NH_EXTERN const char *nh_sync_state_name(int state);

typedef enum nh_sync_event_type {
    NH_SYNC_EVENT_STATE = 1,         /**< the state changed */
    NH_SYNC_EVENT_PROGRESS = 2,      /**< counters moved (at most every 100 ms) */
    NH_SYNC_EVENT_FILE_ERROR = 3,    /**< one path could not be synced: path, code, message */
    NH_SYNC_EVENT_CONFLICT = 4,      /**< two-way: path conflicted; message is the conflict copy */
    NH_SYNC_EVENT_REMOTE_CHANGE = 5  /**< a change made on the server was applied locally,
                                          or (send mode) overwritten: path, message */
} nh_sync_event_type;

/**
 * The state and counters of a sync. Counters of the current round (files
 * and bytes done of total) restart at 0 when the sync becomes idle.
 */
typedef struct nh_sync_status {
    /** Set by the caller to NH_SYNC_STATUS_VERSION (the fields it knows). */
    unsigned int version;
    int state;
    uint64_t files_done;
    uint64_t files_total;
    uint64_t bytes_done;
    uint64_t bytes_total;
    uint64_t files_synced; /**< files acknowledged since the start */
    uint64_t file_errors;  /**< since the start */
    uint64_t conflicts;    /**< since the start */
    uint64_t reconnects;   /**< connections lost since the start */
    /** The last connection or fatal error (nh_error_code), or NH_OK. */
    int error_code;
} nh_sync_status;

#define NH_SYNC_STATUS_VERSION 1
#define NH_SYNC_STATUS_INIT {NH_SYNC_STATUS_VERSION, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}

/** One event. Valid only during the callback; strings are never NULL. */
typedef struct nh_sync_event {
    unsigned int version; /**< NH_SYNC_EVENT_VERSION of the library */
    int type;             /**< nh_sync_event_type */
    const char *path;     /**< relative to the local directory, or "" */
    const char *message;  /**< details, or ""; STATE to NH_SYNC_DISCONNECTED: why the connection
                               was lost or refused and when the next try is ("connection refused;
                               next try in 400 ms"), on each disconnect */
    int code;             /**< FILE_ERROR: an nh_error_code; else 0 */
    const nh_sync_status *status;
} nh_sync_event;

#define NH_SYNC_EVENT_VERSION 1

typedef void (*nh_sync_event_cb)(const nh_sync_event *event, void *payload);

typedef struct nh_sync_options {
    unsigned int version;
    int mode; /**< nh_sync_mode; default NH_SYNC_MODE_SEND */
    /** Nocalhost ignoreFilePattern: gitignore-syntax patterns; may be NULL. */
    const char *const *ignore_patterns;
    size_t ignore_patterns_count;
    /** Nocalhost filePattern: if any, only matching paths are synced; may be NULL. */
    const char *const *include_patterns;
    size_t include_patterns_count;
    /** Non-zero: honour .gitignore files and .git/info/exclude. */
    int use_gitignore;
    /**
     * Where the index of acknowledged files is kept; NULL:
     * $XDG_CACHE_HOME/nocalhost/sync or ~/.cache/nocalhost/sync.
     */
    const char *state_dir;
    int compression; /**< nh_sync_compression */
    /** Per connection attempt, in ms; 0: 5000. */
    long connect_timeout_ms;
    /** The longest wait between reconnection attempts, in ms; 0: 5000. */
    long max_backoff_ms;
    nh_sync_event_cb callback; /**< may be NULL */
    void *payload;
    /* Since options version 2. */
    /**
     * NH_SYNC_MODE_TWO_WAY only. Non-zero: a deletion made on the server
     * never deletes the local file or directory; it is reported
     * (NH_SYNC_EVENT_REMOTE_CHANGE) and the local copy is sent back
     * (Nocalhost's sync.deleteProtection).
     */
    int delete_protection;
    /* Since options version 3. */
    /**
     * Non-zero: a one-shot sync (as `rsync` is): the tree is synced as it is
     * when the sync starts, and nothing is watched, so a change made after
     * the first walk is synced only by the next start. For callers that
     * flush once and stop (`nh sync run --once`): they are spared setting up
     * one inotify watch per directory and the kernel's release of them when
     * the sync ends (tens of milliseconds on a large tree). A dev session's
     * sync (nh_dev_start, nh_session_sync_start) must watch: there it is
     * NH_EINVAL.
     */
    int once;
} nh_sync_options;

#define NH_SYNC_OPTIONS_VERSION 3
#define NH_SYNC_OPTIONS_INIT \
    {NH_SYNC_OPTIONS_VERSION, NH_SYNC_MODE_SEND, NULL, 0, NULL, 0, 0, NULL, NH_SYNC_COMPRESS_AUTO, 0, 0, NULL, NULL, 0, 0}

NH_EXTERN int nh_sync_options_init(nh_sync_options *opts, unsigned int version);

/**
 * Start syncing `local_dir` to the sync server at `address` ("host:port",
 * "[v6]:port"), authenticating with `token` (the session's secret; it is
 * never logged). Returns at once; the first full sync and everything after
 * happen in the background (see nh_sync_flush). The handle in *out belongs
 * to the caller: nh_sync_free(). Errors: NH_EINVAL (arguments, options
 * version, a pattern that cannot be used), NH_EIO (local_dir unreadable).
 * A wrong token shows later as state NH_SYNC_ERROR with NH_EUNAUTHORIZED.
 */
NH_EXTERN int nh_sync_start(nh_sync **out, const char *local_dir, const char *address, const char *token,
                            const nh_sync_options *opts);

/**
 * Copy the current status into *out. Set out->version first (use
 * NH_SYNC_STATUS_INIT); only the fields of that version are written.
 */
NH_EXTERN int nh_sync_status_get(nh_sync_status *out, const nh_sync *sync);

/**
 * The message of the last connection or fatal error into *out ("" if none).
 */
NH_EXTERN int nh_sync_last_error(nh_buf *out, const nh_sync *sync);

/**
 * Block until every change made before the call (and the first full sync)
 * is acknowledged by the server, i.e. durable on its disk. timeout_ms < 0
 * waits without limit. Returns NH_OK, NH_ETIMEOUT, NH_ECANCELLED (cancel
 * triggered), NH_ESTATE (stopped), or the fatal error's code (e.g.
 * NH_EUNAUTHORIZED). Files the server refused are reported as events and do
 * not make it fail; compare nh_sync_status.file_errors.
 */
NH_EXTERN int nh_sync_flush(nh_sync *sync, long timeout_ms, nh_cancel *cancel);

/** Stop sending (and, in two-way mode, applying) changes; they are kept. */
NH_EXTERN int nh_sync_pause(nh_sync *sync);

/** Resume after nh_sync_pause(); what changed meanwhile is synced. */
NH_EXTERN int nh_sync_resume(nh_sync *sync);

/**
 * Stop the sync and wait for its thread; saves the index so the next start
 * resumes from it. Changes not yet acknowledged are sent on the next start.
 * Idempotent.
 */
NH_EXTERN int nh_sync_stop(nh_sync *sync);

/** Stop (if needed) and release a sync. NULL-safe. */
NH_EXTERN void nh_sync_free(nh_sync *sync);

/* ==== the workload tree, its watch, and pod logs ==== */

/*
 * What an IDE's tree view shows: the workloads of a namespace (or of every
 * namespace) with a dev-mode overlay, read with one list per kind, one of the
 * pods and one of the session records, never one request per workload; and
 * kept current from one watch per kind.
 *
 * An entry is a JSON object:
 *   "kind"         "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "Pod"
 *   "name", "namespace"
 *   "application"  Nocalhost's application: the annotation (or label)
 *                  dev.nocalhost/application-name, else the Helm release
 *                  (annotation meta.helm.sh/release-name), else "default.application"
 *   "created"      creationTimestamp (RFC 3339), or null
 *   "replicas", "ready"   as kubectl's READY column: desired and ready pods
 *                  (DaemonSet: desired and ready scheduled; Job: completions (or
 *                  null) and ready; CronJob: null and 0; Pod: its containers and
 *                  those ready)
 *   Job and CronJob also "active", "suspended" (Job: "succeeded", "failed";
 *   CronJob: "schedule", "last_schedule"); Pod also "phase" ("Terminating" while
 *   deleted) and "node"
 *   "containers"   [{"name","image"}] of its pod template (in dev mode: the dev ones)
 *   "dev_mode"     true when "dev" is not empty
 *   "dev"          one object per dev-mode session of the workload (replace, and a
 *                  duplicate per developer): {"tool":"libnocalhost","mode":"replace"|
 *                  "duplicate","phase":"starting"|"active","owner","developer" (duplicate
 *                  only, else null),"since","container","image","copy" (duplicate: the
 *                  copy's Deployment, else null),"generated_deployment","session_object",
 *                  "pod":{"name","phase","ready"} or null (no dev pod yet),
 *                  "sync":{"port","container","workdir"}}; a workload in the dev mode of
 *                  Nocalhost's nhctl has {"tool":"nhctl","mode":"replace","phase":"active",
 *                  "container":"nocalhost-dev","image"} with the rest null (nhctl keeps no
 *                  owner in the cluster)
 * ReplicaSets and Pods that a controller owns are not entries, nor are the
 * Deployments dev mode generates (duplicates, the home of the dev pod of a
 * DaemonSet, Job, CronJob or Pod): they show as the "dev" of their original. A
 * bare Pod in dev mode (deleted while its dev pod runs) stays an entry, built
 * from its recorded original. Entries are sorted by namespace, kind (in the
 * order above) and name. Needs list (and watch) on the kinds, pods and Secrets.
 */

typedef enum nh_tree_event_type {
    NH_TREE_ADDED = 1,    /**< an entry appeared (first the whole tree, one by one) */
    NH_TREE_MODIFIED = 2, /**< an entry changed: scaled, became ready, entered or left dev mode... */
    NH_TREE_DELETED = 3,  /**< an entry went away; `entry` is its last state */
    NH_TREE_SYNCED = 4    /**< the first list was delivered; `entry` is the whole tree (a JSON array) */
} nh_tree_event_type;

/**
 * Receives one tree event: `entry` (`len` bytes, NUL-terminated JSON) is valid
 * only during the call. Called on the thread of nh_tree_watch(). Return
 * non-zero to stop the watch.
 */
typedef int (*nh_tree_event_cb)(int type, const char *entry, size_t len, void *payload);

typedef struct nh_tree_options {
    unsigned int version;
    /** The namespace; NULL: the client's. Ignored with all_namespaces. */
    const char *namespace_name;
    /** Non-zero: every namespace (needs cluster-wide list rights). */
    int all_namespaces;
    /** Kinds to list, as dev mode spells them ("deploy", "statefulset", "pod"...); NULL (count 0):
        every kind above. */
    const char *const *kinds;
    size_t kinds_count;
    /** A label selector the workloads (and bare pods) must match, as kubectl -l; NULL: none. */
    const char *label_selector;
    nh_cancel *cancel;
    /** nh_tree_watch() only: receives the events. */
    nh_tree_event_cb callback;
    void *payload;
} nh_tree_options;

#define NH_TREE_OPTIONS_VERSION 1
#define NH_TREE_OPTIONS_INIT {NH_TREE_OPTIONS_VERSION, NULL, 0, NULL, 0, NULL, NULL, NULL, NULL}

NH_EXTERN int nh_tree_options_init(nh_tree_options *opts, unsigned int version);

/**
 * The workload tree as a JSON array of entries (see above) into *out.
 * Errors: NH_EINVAL (an unknown kind, a kind the tree does not list, a label
 * selector it cannot read), NH_EFORBIDDEN, NH_ECANCELLED, client errors.
 * Since 0.1.
 */
NH_EXTERN int nh_tree_list(nh_buf *out, nh_client *client, const nh_tree_options *opts);

/**
 * The tree kept current: lists as nh_tree_list(), delivers every entry as
 * NH_TREE_ADDED and then NH_TREE_SYNCED, then watches each source from its
 * list's resourceVersion and delivers what each change does to the tree
 * (a change of a pod or of a session record shows as NH_TREE_MODIFIED of the
 * workload it belongs to). A dropped watch resumes from the last
 * resourceVersion seen; one that is too old (410 Gone) lists again and
 * delivers only the difference, as client-go's reflector. Events come in
 * order on the calling thread; the watches run on threads of their own.
 * Blocks until opts->cancel is triggered or the callback returns non-zero
 * (both: NH_ECANCELLED), or a watch fails for good (NH_EFORBIDDEN, ...).
 * opts->callback is required. Since 0.1.
 */
NH_EXTERN int nh_tree_watch(nh_client *client, const nh_tree_options *opts);

/**
 * Receives one log line (`len` bytes, without its newline, NUL-terminated),
 * valid only during the call, on the calling thread. Return non-zero to stop.
 */
typedef int (*nh_pod_logs_cb)(const char *line, size_t len, void *payload);

typedef struct nh_pod_logs_options {
    unsigned int version;
    /** The namespace; NULL: the client's. */
    const char *namespace_name;
    /** The container; NULL: the pod's kubectl.kubernetes.io/default-container, else its first. */
    const char *container;
    /** Non-zero: keep streaming new lines until the container ends (kubectl logs -f). */
    int follow;
    /** The last this many lines only; < 0 (the default): every line. */
    long tail_lines;
    /** Only lines newer than this many seconds; 0: every line. */
    long since_seconds;
    /** Non-zero: the previous (terminated) instance of the container. */
    int previous;
    /** Non-zero: each line starts with its RFC 3339 timestamp. */
    int timestamps;
    nh_cancel *cancel;
    /** nh_pod_logs() only: receives the lines. */
    nh_pod_logs_cb callback;
    void *payload;
} nh_pod_logs_options;

#define NH_POD_LOGS_OPTIONS_VERSION 1
#define NH_POD_LOGS_OPTIONS_INIT {NH_POD_LOGS_OPTIONS_VERSION, NULL, NULL, 0, -1, 0, 0, 0, NULL, NULL, NULL}

NH_EXTERN int nh_pod_logs_options_init(nh_pod_logs_options *opts, unsigned int version);

/**
 * The pod whose logs `target` means, as `kubectl logs` picks it, as JSON
 * {"pod","namespace","container","containers":[...],"pods"} into *out: "NAME"
 * or "pod/NAME" is that pod; "KIND/NAME" for deployment, statefulset,
 * daemonset, replicaset and job (kubectl's short names too) is the first of
 * the pods its selector matches, in kubectl's order for logs (scheduled first;
 * Running, then Unknown, then Pending; Ready; Ready for longer; more
 * restarts; older), "pods" how many matched; "container" the one
 * opts->container or the default picks. Errors: NH_EINVAL (bad target, a kind
 * without logs such as cronjob), NH_ENOTFOUND (no such workload or pod, no pod
 * matches, no such container), client errors. Since 0.1.
 */
NH_EXTERN int nh_pod_logs_resolve(nh_buf *out, nh_client *client, const char *target,
                                  const nh_pod_logs_options *opts);

/**
 * Stream the logs of the pod nh_pod_logs_resolve() picks for `target` to
 * opts->callback, one line per call, on the calling thread. Without follow it
 * returns once every line was delivered; with follow, when the container ends,
 * opts->cancel is triggered or the callback returns non-zero (both:
 * NH_ECANCELLED). `out_pod` (may be NULL) gets the pod's name, also when
 * the stream fails after it was picked. Errors: those of nh_pod_logs_resolve(), NH_EINVALID (the
 * server's refusal, e.g. `previous` without a previous instance, or a
 * container still waiting to start: the API's message), client errors.
 * Since 0.1.
 */
NH_EXTERN int nh_pod_logs(nh_buf *out_pod, nh_client *client, const char *target, const nh_pod_logs_options *opts);

/* ==== kubeconfig in memory, and the cluster check ==== */

/**
 * Open a client from kubeconfig text held in memory (`len` bytes of
 * `kubeconfig_data`; (size_t)-1: strlen) rather than a file, e.g. one an
 * editor received from a cloud console or a secret store. Read as one
 * kubeconfig file would be (relative paths in it resolve against the current
 * directory); errors name "kubeconfig data" with the line and field.
 * opts->kubeconfig must be NULL; its other fields (context, namespace,
 * timeouts, retries, user agent) apply as in nh_client_new(). The text is not
 * kept beyond what the client needs. Errors: those of nh_client_new(),
 * NH_EINVAL (no data, or opts->kubeconfig given too). Since 0.1.
 */
NH_EXTERN int nh_client_new_from_data(nh_client **out, const char *kubeconfig_data, size_t len,
                                      const nh_client_options *opts);

/**
 * Whether the cluster answers and who we are, as a JSON object into *out:
 *   "server"         the URL asked
 *   "version"        GET /version's object (its "gitVersion" ...)
 *   "authenticated"  true when the server accepted our credentials
 *   "user"           {"username","uid","groups":[...],"extra":{...}} from a
 *                    SelfSubjectReview (authentication.k8s.io v1, else v1beta1,
 *                    v1alpha1), or null where the server serves none
 *   "error"          null, or {"code","name","message"} of what refused us
 *                    (NH_EUNAUTHORIZED: credentials refused; NH_EFORBIDDEN: no
 *                    right to ask who we are, yet authenticated)
 * Returns NH_OK whenever the server answered /version, even when it refused
 * our credentials; without an answer the error that kept it (NH_ECONNECT,
 * NH_ETLS, NH_ETIMEOUT, NH_ECANCELLED ...), with a message naming the server.
 * Since 0.1.
 */
NH_EXTERN int nh_client_check(nh_buf *out, nh_client *client, nh_cancel *cancel);

/* ==== the agent: syncs and port-forwards that outlive their caller ==== */

/*
 * An editor window that reloads, a script that exits, a crashed plugin host:
 * none of them should stop a sync or a forward. The library hands those to
 * a per-user agent, the executable nh-agent shipped with it
 * (<prefix>/libexec/nocalhost/nh-agent; $NH_AGENT_PATH overrides), which it
 * starts on demand and which exits a few seconds after it holds nothing.
 * It is reached on a Unix socket in a directory only its user can open
 * ($XDG_RUNTIME_DIR/nocalhost, else /tmp/nocalhost-<uid>, mode 0700; the
 * agent also checks each peer's uid) and saves what it holds there, so that
 * after a crash the next call of any process starts it again and it resumes
 * every sync from the index the sync saved, and every forward on the same
 * local ports. Any process of the user lists, reads and stops what it holds.
 * See docs/agent.md.
 *
 * Items are named by an id the agent gives ("s-" for syncs, "f-" for
 * forwards, then hex). Their status is a JSON object:
 *   "id", "type"           the id; "sync" or "forward"
 *   "state"                syncs: "connecting", "syncing", "idle",
 *                          "disconnected", "error", "ended" (its dev mode
 *                          was ended elsewhere: by another process, nhctl
 *                          or the workload restored; its loops stopped and
 *                          the message says so; listed until stopped,
 *                          not re-attachable); forwards:
 *                          "connecting", "forwarding", "waiting" (the pod
 *                          went away; new connections wait for its
 *                          replacement), "error"
 *   "message"              one line for humans on the state (the reason of a
 *                          disconnect or error), or ""
 *   "since"                when the agent took it (RFC 3339)
 *   "namespace", "context" where
 *   syncs:    "kind", "name", "mode" ("replace"/"duplicate"), "developer",
 *             "local_dir", "files_done", "files_total", "bytes_done",
 *             "bytes_total" (the round in flight), "out_of_sync" (files
 *             changed and not yet acknowledged: files_total - files_done),
 *             "files_synced", "file_errors", "conflicts", "reconnects",
 *             "last_sync" (when everything was last acknowledged, RFC 3339,
 *             or null), "error_code"
 *   forwards: "target", "ports" [{"spec","local_port","remote_port"}],
 *             "pod" (connections go to it now, or ""),
 *             "last_error" (the reason of the last failure, or ""),
 *             "last_error_at" (RFC 3339, or null)
 */

typedef struct nh_agent_options {
    unsigned int version;
    /** The agent's directory (socket, locks, state, log); NULL: $NH_AGENT_DIR, else
        $XDG_RUNTIME_DIR/nocalhost, else /tmp/nocalhost-<uid>. Created 0700; one that another
        user owns or that is open to others is refused (NH_EFORBIDDEN). */
    const char *dir;
    /** The agent's executable; NULL: $NH_AGENT_PATH, else libexec/nocalhost/nh-agent beside
        the library's lib/. */
    const char *agent_path;
    /** How long to wait for the agent's answer; 0: 60000, and for nh_agent_detach() 300000
        (the agent answers once its first sync is acknowledged). */
    long timeout_ms;
    /** The kubeconfig text of a client made with nh_client_new_from_data(), which the agent
        needs to make its own client (the library keeps no copy); NULL: the kubeconfig files the
        client was made from. It is handed to the agent and kept in its 0700 directory while
        the agent holds the item; never logged. */
    const char *kubeconfig_data;
    /** nh_agent_forward_start(): the target's namespace; NULL: the client's. */
    const char *namespace_name;
} nh_agent_options;

#define NH_AGENT_OPTIONS_VERSION 1
#define NH_AGENT_OPTIONS_INIT {NH_AGENT_OPTIONS_VERSION, NULL, NULL, 0, NULL, NULL}

NH_EXTERN int nh_agent_options_init(nh_agent_options *opts, unsigned int version);

/**
 * Hand the session's running sync (nh_dev_start() with a local_dir, or
 * nh_session_sync_start_v2(); or the last one it ran, stopped with
 * nh_session_sync_stop()) to the agent, starting the agent if needed:
 * the sync stops here (its index saved), the agent makes its own client of
 * the same kubeconfig and context, attaches to the session and syncs the
 * same local directory with the same settings, resuming from that index;
 * the call returns once the agent's first sync is acknowledged, with the
 * item's id in *out. The session handle stays valid, without a sync; dev
 * mode is untouched. The agent's sync goes on after this process exits;
 * its dev config's port-forwards run in the agent too.
 * Errors: NH_EINVAL (arguments; a client from kubeconfig data without
 * opts->kubeconfig_data), NH_ESTATE (the session never synced), NH_EBUSY
 * (the agent already syncs this session: the message names its id),
 * NH_ENOTFOUND (no agent executable), NH_EFORBIDDEN (the agent's directory
 * is not private), NH_ETIMEOUT, and the agent's errors of attaching and
 * syncing (those of nh_dev_attach() and nh_session_sync_start_v2()); after
 * an error the sync is not running anywhere (start it again; nothing is
 * lost: dev mode and the saved index stay). Since 0.1.
 */
NH_EXTERN int nh_agent_detach(nh_buf *out, nh_session *session, nh_client *client, const nh_agent_options *opts);

/**
 * Forward local ports to `target` ("pod/x", "deployment/web", as
 * nh_forward_start() takes them) from the agent, so that the forward
 * survives the caller; follows a replaced pod. `ports` is a NULL-terminated
 * list as nh_forward_start() takes it; a local port below 1024 is refused
 * with NH_EINVAL before anything starts (the message names it and suggests
 * another), as the agent binds unprivileged ports only. Returns once the
 * agent listens on every port, with the id in *out (its status names the
 * ports picked for "0:REMOTE"). Errors: NH_EINVAL, those of
 * nh_forward_start() (NH_EBUSY: a local port is taken), those of
 * nh_agent_detach() about the agent. Since 0.1.
 */
NH_EXTERN int nh_agent_forward_start(nh_buf *out, nh_client *client, const char *target, const char *const *ports,
                                     const nh_agent_options *opts);

/**
 * What the agent holds, as a JSON array of status objects (above), into
 * *out; "[]" when no agent runs and none has anything to resume (the agent
 * is not started for that). Since 0.1.
 */
NH_EXTERN int nh_agent_list(nh_buf *out, const nh_agent_options *opts);

/**
 * The status object (above) of item `id` into *out. Errors: NH_ENOTFOUND
 * (the agent holds no such item), the agent's. Since 0.1.
 */
NH_EXTERN int nh_agent_status(nh_buf *out, const char *id, const nh_agent_options *opts);

/**
 * Stop item `id` in the agent: a sync stops (its index saved; dev mode
 * stays on: end it with nh_dev_end()), a forward closes its ports. The
 * agent forgets it and exits a few seconds after it holds nothing.
 * Errors: NH_ENOTFOUND, the agent's. Since 0.1.
 */
NH_EXTERN int nh_agent_stop(const char *id, const nh_agent_options *opts);

/**
 * Take the sync `id` back from the agent into this process: the agent stops
 * it (its index saved) and forgets it, and *out gets the session, attached
 * with `client`, syncing the same local directory with the same settings in
 * this process from that index (nh_session_sync() is its sync), as after
 * nh_session_sync_start_v2() with `sync_opts` (NULL: defaults; its
 * sync_options, when given, replace the recorded settings, e.g. to add an
 * events callback). When the sync cannot start here, it is handed back to
 * the agent and the error says so. Errors: NH_ENOTFOUND, NH_EINVAL (`id`
 * is a forward), NH_ESTATE (its dev mode was ended elsewhere: state "ended"),
 * those of nh_dev_attach() and nh_session_sync_start_v2().
 * Since 0.1.
 */
NH_EXTERN int nh_agent_reattach(nh_session **out, nh_client *client, const char *id,
                                const nh_session_sync_options *sync_opts, const nh_agent_options *opts);

/**
 * Facts about the agent as a JSON object into *out, without starting it:
 * {"running":true,"pid","dir","socket","version","items"} or
 * {"running":false,"dir"}. Since 0.1.
 */
NH_EXTERN int nh_agent_info(nh_buf *out, const nh_agent_options *opts);
/* ==== folder associations ==== */

/*
 * Which workload a local directory belongs to, in a store every process of the
 * user shares (the CLI and every editor agree): the file
 * $XDG_CONFIG_HOME/nocalhost/associations.json ($XDG_CONFIG_HOME when
 * absolute, else ~/.config), read under a shared and changed under an
 * exclusive lock (flock on "<file>.lock"), written whole to a temporary file
 * renamed over it. A file that is not such a store (corrupt, or someone
 * else's) is refused with NH_ECONFIG naming it and is never overwritten.
 * Needs no client and no cluster.
 *
 * An association is a JSON object:
 *   "dir"         absolute, with symlinks, "." and ".." resolved; one entry per dir
 *   "namespace", "kind" (as dev mode spells it: "deployment", "statefulset", ...,
 *                 or "<resource>.<group>"), "name", "container" ("" for none),
 *   "kubeconfig", "context"   as given ("" for none)
 *   "updated"     when it was written (RFC 3339)
 */

typedef struct nh_association_options {
    unsigned int version;
    /** The store's file; NULL: the user's (above). */
    const char *store_path;
    /** nh_association_set(): the workload's namespace, its container, the kubeconfig path and
        context that reach it; each NULL: "". nh_association_find(): when not NULL, entries must
        have this value too. */
    const char *namespace_name;
    const char *container;
    const char *kubeconfig;
    const char *context;
} nh_association_options;

#define NH_ASSOCIATION_OPTIONS_VERSION 1
#define NH_ASSOCIATION_OPTIONS_INIT {NH_ASSOCIATION_OPTIONS_VERSION, NULL, NULL, NULL, NULL, NULL}

NH_EXTERN int nh_association_options_init(nh_association_options *opts, unsigned int version);

/**
 * Associate `dir` (an existing directory, relative to the current one or
 * absolute) with the workload `kind`/`name`; replaces an earlier association of
 * the same directory. `out` (may be NULL) gets the entry stored. Errors:
 * NH_EINVAL (an unknown kind, an empty name), NH_ENOTFOUND (no such
 * directory), NH_ECONFIG (the store is not one), NH_EIO. Since 0.1.
 */
NH_EXTERN int nh_association_set(nh_buf *out, const char *dir, const char *kind, const char *name,
                                 const nh_association_options *opts);

/**
 * The association of `dir` or of its nearest associated ancestor (`dir` need
 * not exist), as a JSON object into *out. Errors: NH_ENOTFOUND (neither `dir`
 * nor any ancestor is associated), NH_ECONFIG, NH_EIO. Since 0.1.
 */
NH_EXTERN int nh_association_get(nh_buf *out, const char *dir, const nh_association_options *opts);

/**
 * The associations of the workload `kind`/`name` (and of opts' namespace,
 * context and kubeconfig, those given), as a JSON array (maybe empty) into
 * *out. Errors: NH_EINVAL (an unknown kind), NH_ECONFIG, NH_EIO. Since 0.1.
 */
NH_EXTERN int nh_association_find(nh_buf *out, const char *kind, const char *name,
                                  const nh_association_options *opts);

/** Every association, as a JSON array into *out. Errors: NH_ECONFIG, NH_EIO. Since 0.1. */
NH_EXTERN int nh_association_list(nh_buf *out, const nh_association_options *opts);

/**
 * Remove the association of exactly `dir` (resolved as nh_association_set()
 * does; it need not exist any more). Errors: NH_ENOTFOUND (it has none),
 * NH_ECONFIG, NH_EIO. Since 0.1.
 */
NH_EXTERN int nh_association_remove(const char *dir, const nh_association_options *opts);

/* ==== dev config write-back, and the dev profile ==== */

typedef struct nh_dev_config_options {
    unsigned int version;
    /** The workload's namespace; NULL: the client's. */
    const char *namespace_name;
    /** NULL: the workload's `dev.nocalhost` annotation; else the application's ConfigMap
        "dev.nocalhost.config.<app_name>" (its data key "config"), where nhctl keeps it. */
    const char *app_name;
    /** nh_dev_config_write(): the "resource_version" nh_dev_config_read() gave (the annotation's
        version, or the ConfigMap's resourceVersion); NULL or "": write only where there is no
        config yet. */
    const char *resource_version;
    nh_cancel *cancel;
} nh_dev_config_options;

#define NH_DEV_CONFIG_OPTIONS_VERSION 1
#define NH_DEV_CONFIG_OPTIONS_INIT {NH_DEV_CONFIG_OPTIONS_VERSION, NULL, NULL, NULL, NULL}

NH_EXTERN int nh_dev_config_options_init(nh_dev_config_options *opts, unsigned int version);

/**
 * The dev config kept in the cluster for KIND/NAME, where opts->app_name says,
 * as JSON into *out: {"config": the text or null (none yet), "resource_version"
 * (for the annotation a digest of its text, "sha256:" and 16 hex digits, so that
 * only a change of the annotation makes it stale, not the workload's status or
 * labels; for the ConfigMap its resourceVersion; "" when there is none), "source"}.
 * Errors: NH_EINVAL (kind), NH_ENOTFOUND (the workload), client errors. Since 0.1.
 */
NH_EXTERN int nh_dev_config_read(nh_buf *out, nh_client *client, const char *kind, const char *name,
                                 const nh_dev_config_options *opts);

/**
 * Write a Nocalhost dev config (YAML, as .nocalhost/config.yaml or the
 * annotation holds it) where opts->app_name says, with optimistic concurrency:
 * only over opts->resource_version (the version read), or, without one, only
 * where there is no config yet. Validated first with the parser dev start uses;
 * for the annotation it must configure this workload. Nothing is written on any
 * error. `out` (may be NULL) gets what nh_dev_config_read() now gives. Errors:
 * NH_EINVAL (an invalid config: line and field), NH_ECONFLICT (the annotation,
 * or the ConfigMap, changed since it was read, or exists and no version was given), NH_ESTATE (the workload is in
 * our dev mode: its end puts the recorded annotations back), NH_ENOTFOUND,
 * client errors. Since 0.1.
 */
NH_EXTERN int nh_dev_config_write(nh_buf *out, nh_client *client, const char *kind, const char *name,
                                  const char *config, const nh_dev_config_options *opts);

/*
 * The dev profile: what the user chose per workload for dev mode (the dev image,
 * container and work dir), remembered for the next start, in a store shared by
 * every process of the user like the folder associations:
 * $XDG_CONFIG_HOME/nocalhost/profiles.json. An entry: {"context","namespace",
 * "kind","name","image","container","workdir","updated"}. `nh dev start` records
 * what a start used and takes it when neither its flags nor the dev config say.
 */
typedef struct nh_dev_profile_options {
    unsigned int version;
    /** The store's file; NULL: the user's. */
    const char *store_path;
    /** Which workload: its namespace and kubeconfig context (NULL: ""). */
    const char *namespace_name;
    const char *context;
    /** nh_dev_profile_set(): the values to remember; NULL keeps the remembered one. */
    const char *image;
    const char *container;
    const char *workdir;
} nh_dev_profile_options;

#define NH_DEV_PROFILE_OPTIONS_VERSION 1
#define NH_DEV_PROFILE_OPTIONS_INIT {NH_DEV_PROFILE_OPTIONS_VERSION, NULL, NULL, NULL, NULL, NULL, NULL}

NH_EXTERN int nh_dev_profile_options_init(nh_dev_profile_options *opts, unsigned int version);

/**
 * Remember image, container and work dir (those given) for KIND/NAME; `out`
 * (may be NULL) gets the entry. Errors: NH_EINVAL (kind, a relative work dir),
 * NH_ECONFIG (the store is not one; left as it is), NH_EIO. Since 0.1.
 */
NH_EXTERN int nh_dev_profile_set(nh_buf *out, const char *kind, const char *name, const nh_dev_profile_options *opts);

/** The entry of KIND/NAME as JSON into *out. Errors: NH_ENOTFOUND (none), NH_EINVAL, NH_ECONFIG, NH_EIO. Since 0.1. */
NH_EXTERN int nh_dev_profile_get(nh_buf *out, const char *kind, const char *name, const nh_dev_profile_options *opts);
/* ---------------------------------------------------------------------------
 * Dev spaces: what an admin gives a developer, with Kubernetes as the only state
 * ---------------------------------------------------------------------------
 * A space is a namespace (made for it, or an existing one adopted) holding a
 * Role "nocalhost-dev" with the rights dev mode needs (plus rules the admin
 * adds), an optional ResourceQuota and LimitRange "nocalhost-space", and per
 * developer a ServiceAccount "nh-<developer>" bound to the Role. Every object
 * it makes carries the label dev.nocalhost.io/space=<name>; the namespace's
 * annotations say whose it is and since when. A developer's access is a
 * kubeconfig holding a token from the TokenRequest API, the cluster's server
 * and CA, and the space as its namespace.
 *
 * Access, as the JSON object the create, share and renew calls put into *out:
 *   "developer", "service_account", "namespace"
 *   "kubeconfig"   the kubeconfig text (YAML); it holds the token: keep it secret
 *   "expires"      the token's expiry, RFC 3339
 *
 * Lacking a right, a space call fails with NH_EFORBIDDEN before it changes
 * anything, naming every right it lacks (asked with SelfSubjectAccessReview).
 * A create that fails halfway removes what it made.
 */
typedef struct nh_space_options {
    unsigned int version;
    /** create, share, renew: the developer given access (a name or an e-mail
        address; its ServiceAccount is "nh-" and the name made a DNS label).
        nh_space_list(): only the spaces this developer can use; NULL: all.
        nh_space_delete(): only this developer's access; NULL: the whole space. */
    const char *developer;
    /** create: non-zero adopts a namespace that exists (delete then leaves it as it was). */
    int existing_namespace;
    /** create: the quota, as Kubernetes quantities ("2", "500m"; "4Gi"); NULL: none.
        cpu and memory bound requests and limits alike, and a LimitRange gives
        containers that state none a default: a limit of a quarter of the quota
        (at most 1 CPU, 1Gi) and a request of 100m CPU, 128Mi (at most the limit). */
    const char *cpu;
    const char *memory;
    /** create: requests.storage of the space's claims; NULL: none. */
    const char *storage;
    /** create: at most this many pods; 0: no limit. */
    int pods;
    /** create: PolicyRules the Role grants besides dev mode's, as a JSON array; NULL: none. */
    const char *extra_rules_json;
    /** create, share, renew: the token's lifetime in seconds; 0: 24 hours. The
        API server may shorten it (and refuses less than 10 minutes). */
    long long token_seconds;
    /** renew: non-zero revokes every token issued before (the ServiceAccount is made anew;
        the API server caches a token's authentication for up to 10 s). */
    int revoke;
    nh_cancel *cancel;
} nh_space_options;

#define NH_SPACE_OPTIONS_VERSION 1
#define NH_SPACE_OPTIONS_INIT {NH_SPACE_OPTIONS_VERSION, NULL, 0, NULL, NULL, NULL, 0, NULL, 0, 0, NULL}

NH_EXTERN int nh_space_options_init(nh_space_options *opts, unsigned int version);

/**
 * Creates space `name` for opts->developer and puts their access into *out.
 * Errors: NH_EINVAL (a bad name, developer, quantity or rule), NH_EEXISTS (a
 * space of that name, or a namespace without existing_namespace),
 * NH_ENOTFOUND (existing_namespace and no such namespace), NH_EFORBIDDEN
 * (every missing right named), client errors. Since 0.1.
 */
NH_EXTERN int nh_space_create(nh_buf *out, nh_client *client, const char *name, const nh_space_options *opts);

/** Gives opts->developer access to space `name` too (kept if they have it) and their access into *out. Since 0.1. */
NH_EXTERN int nh_space_share(nh_buf *out, nh_client *client, const char *name, const nh_space_options *opts);

/**
 * A new token for opts->developer's access to space `name` (with opts->revoke,
 * every older token stops working). NH_ENOTFOUND when they have none. Since 0.1.
 */
NH_EXTERN int nh_space_renew(nh_buf *out, nh_client *client, const char *name, const nh_space_options *opts);

/**
 * The spaces as a JSON array into *out, each {"name", "owner", "since",
 * "namespace": "created"|"adopted", "phase", "developers": [{"developer",
 * "service_account"}], "quota": {hard quota} or null}. Since 0.1.
 */
NH_EXTERN int nh_space_list(nh_buf *out, nh_client *client, const nh_space_options *opts);

/**
 * Deletes space `name`: everything it made and nothing else (a namespace it
 * made, and waits until it is gone; in an adopted one, its objects, labels and
 * annotations). With opts->developer, only that developer's access. Since 0.1.
 */
NH_EXTERN int nh_space_delete(nh_client *client, const char *name, const nh_space_options *opts);

/* ---------------------------------------------------------------------------
 * Applications: a set of objects installed into a namespace, with Kubernetes
 * as the only state (docs/apps.md)
 * ---------------------------------------------------------------------------
 * An application's source is a directory of manifests (every .yaml, .yml and
 * .json file under it, hidden directories left out), a Kustomize directory
 * (rendered by `kubectl kustomize`) or a Helm chart, a directory with
 * Chart.yaml or a .tgz (rendered by `helm template`; its hooks are left out).
 * Its objects are applied (server-side apply, field manager "nocalhost") into
 * one namespace, each annotated dev.nocalhost/application-name and
 * dev.nocalhost/application-namespace (Nocalhost's, so the workload tree and
 * nhctl group them) and labelled app.kubernetes.io/managed-by=nocalhost. The
 * record of what was installed is the Secret "dev.nocalhost.application.<name>"
 * of type "dev.nocalhost/application.meta", where nhctl keeps its applications.
 * The source's .nocalhost/config.yaml (Nocalhost's dev config, its
 * `application:` form with the services) becomes the ConfigMap
 * "dev.nocalhost.config.<name>", which nh_dev_start() reads for the
 * application's workloads.
 *
 * An application, as the JSON object the calls put into *out:
 *   "name", "namespace"
 *   "type"       Nocalhost's: "rawManifestLocal", "kustomizeLocal", "helmLocal"
 *   "state"      "INSTALLED", or "INSTALLING" while an install or upgrade runs
 *   "objects"    [{"apiVersion", "kind", "name"}], all it installed
 *   "workloads"  [{"kind", "name"}], those of them dev mode works on
 *
 * Lacking a right, a call fails with NH_EFORBIDDEN before it changes anything,
 * naming every right it lacks.
 */
typedef struct nh_app_options {
    unsigned int version;
    /** The application's namespace; NULL: the client's. */
    const char *namespace_name;
    /** Helm charts: values files (helm --values), in order. */
    const char *const *values_files;
    size_t values_files_count;
    /** Helm charts: "key=value" each (helm --set), in order. */
    const char *const *set;
    size_t set_count;
    /** The dev config: a config.yaml, or a directory holding .nocalhost/config.yaml;
        NULL: the source's .nocalhost/config.yaml when there is one. */
    const char *config_path;
    /** nh_app_list(): non-zero lists the applications of every namespace. */
    int all_namespaces;
    nh_cancel *cancel;
} nh_app_options;

#define NH_APP_OPTIONS_VERSION 1
#define NH_APP_OPTIONS_INIT {NH_APP_OPTIONS_VERSION, NULL, NULL, 0, NULL, 0, NULL, 0, NULL}

NH_EXTERN int nh_app_options_init(nh_app_options *opts, unsigned int version);

/**
 * Installs application `name` from `source` and puts it into *out (JSON, above).
 * Errors: NH_EINVAL (a bad name; a manifest that does not parse or is not an
 * object, naming its file and line; a cluster-wide object or one of another
 * namespace; --values/--set for a source that is not a chart), NH_ECONFIG (the
 * dev config), NH_EEXISTS (the application, or objects that exist and are not
 * the application's, named), NH_EFORBIDDEN, NH_EUNSUPPORTED (kubectl or helm
 * is not installed), NH_ERROR (kubectl or helm failed: what it said), client
 * errors. An install that fails halfway removes what it made. Since 0.1.
 */
NH_EXTERN int nh_app_install(nh_buf *out, nh_client *client, const char *name, const char *source,
                             const nh_app_options *opts);

/**
 * Applies the objects of `source` to installed application `name` and deletes
 * those of it that left the set (pruned); *out as nh_app_install(). NH_ENOTFOUND
 * when there is no such application; other errors as nh_app_install(). An
 * upgrade that fails while applying removes the objects it added. Since 0.1.
 */
NH_EXTERN int nh_app_upgrade(nh_buf *out, nh_client *client, const char *name, const char *source,
                             const nh_app_options *opts);

/**
 * Deletes application `name`: exactly the objects it installed (those that
 * still carry its annotation; the call returns once they are gone, their pods
 * first), its dev config ConfigMap and its record. NH_ENOTFOUND when there is
 * no such application. Since 0.1.
 */
NH_EXTERN int nh_app_uninstall(nh_client *client, const char *name, const nh_app_options *opts);

/** The applications of the namespace (or every namespace) as a JSON array into *out. Since 0.1. */
NH_EXTERN int nh_app_list(nh_buf *out, nh_client *client, const nh_app_options *opts);

#ifdef __cplusplus
}
#endif

#endif /* NOCALHOST_H */
