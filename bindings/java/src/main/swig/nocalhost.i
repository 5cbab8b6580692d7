/* SWIG interface of the JVM binding: generates dev.nocalhost.jni (class NH
 * and one proxy class per struct of nocalhost.h) from the C header itself.
 * What this file adds to the header, generically:
 *  - const char * in and out as UTF-8 (not JNI's modified UTF-8);
 *  - strings stored into option structs are copied and freed with the struct;
 *  - String[] for NULL-terminated string lists (argv, ports);
 *  - out-parameters of handles and ints through small pointer classes;
 *  - nh_buf contents as byte[];
 *  - one C trampoline per callback type, calling a Java interface of
 *    dev.nocalhost.jni with the listener as payload (a JNI global ref).
 * The idiomatic API is dev.nocalhost; this layer is private to it. */
%module NH

/* Every call into the JNI class loads the native libraries first. */
%pragma(java) jniclasscode=%{
  static {
    NativeLibrary.load();
  }
%}

%{
#include <nocalhost.h>
#include <jni.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static JavaVM *nhj_vm;

JNIEXPORT jint JNICALL JNI_OnLoad(JavaVM *vm, void *reserved) {
    (void)reserved;
    nhj_vm = vm;
    return JNI_VERSION_1_8;
}

/* The JNIEnv of the calling thread, attaching library threads as daemons. */
static JNIEnv *nhj_env(void) {
    JNIEnv *env = NULL;
    if ((*nhj_vm)->GetEnv(nhj_vm, (void **)&env, JNI_VERSION_1_8) == JNI_EDETACHED)
        (*nhj_vm)->AttachCurrentThreadAsDaemon(nhj_vm, (void **)&env, NULL);
    return env;
}

static jbyteArray nhj_bytes(JNIEnv *env, const char *data, size_t len) {
    jbyteArray a = (*env)->NewByteArray(env, (jsize)len);
    if (a && len) (*env)->SetByteArrayRegion(env, a, 0, (jsize)len, (const jbyte *)data);
    return a;
}

/* Strings stored in structs from Java: copies owned by the struct, released
 * by nhj_struct_release() when the proxy is deleted. */
typedef struct nhj_owned { const void *owner; char *str; struct nhj_owned *next; } nhj_owned;
static nhj_owned *nhj_owned_list;
static pthread_mutex_t nhj_owned_mu = PTHREAD_MUTEX_INITIALIZER;

static char *nhj_own(const void *owner, const char *value, size_t len) {
    nhj_owned *o;
    char *copy;
    if (!value) return NULL;
    copy = (char *)malloc(len + 1);
    o = (nhj_owned *)malloc(sizeof *o);
    if (!copy || !o) { free(copy); free(o); return NULL; }
    memcpy(copy, value, len);
    copy[len] = '\0';
    pthread_mutex_lock(&nhj_owned_mu);
    o->owner = owner; o->str = copy; o->next = nhj_owned_list; nhj_owned_list = o;
    pthread_mutex_unlock(&nhj_owned_mu);
    return copy;
}

static void nhj_struct_release(const void *owner) {
    nhj_owned **p;
    pthread_mutex_lock(&nhj_owned_mu);
    for (p = &nhj_owned_list; *p;) {
        if ((*p)->owner == owner) {
            nhj_owned *dead = *p;
            *p = dead->next;
            free(dead->str);
            free(dead);
        } else {
            p = &(*p)->next;
        }
    }
    pthread_mutex_unlock(&nhj_owned_mu);
}
%}

/* ---- const char *: UTF-8 bytes across JNI, String in Java ---- */
%typemap(jni) const char *, char * "jbyteArray"
%typemap(jtype) const char *, char * "byte[]"
%typemap(jstype) const char *, char * "String"
%typemap(javain) const char *, char * "dev.nocalhost.jni.Utf8.encode($javainput)"
%typemap(javaout) const char *, char * { return dev.nocalhost.jni.Utf8.decode($jnicall); }
%typemap(javadirectorin) const char *, char * "dev.nocalhost.jni.Utf8.decode($jniinput)"
%typemap(in) const char *, char * {
    $1 = NULL;
    if ($input) {
        jsize n = JCALL1(GetArrayLength, jenv, $input);
        $1 = ($1_ltype)malloc((size_t)n + 1);
        if (!$1) return $null;
        JCALL4(GetByteArrayRegion, jenv, $input, 0, n, (jbyte *)$1);
        ((char *)$1)[n] = '\0';
    }
}
%typemap(freearg) const char *, char * "free((void *)$1);"
%typemap(out) const char *, char * { $result = $1 ? nhj_bytes(jenv, $1, strlen($1)) : NULL; }
/* Stored into a struct: a copy owned by the struct. */
%typemap(memberin) const char * { $1 = nhj_own(arg1, $input, $input ? strlen($input) : 0); }

/* ---- NULL-terminated string lists (argv, ports) from String[] ---- */
%typemap(jni) const char *const * "jobjectArray"
%typemap(jtype) const char *const * "byte[][]"
%typemap(jstype) const char *const * "String[]"
%typemap(javain) const char *const * "dev.nocalhost.jni.Utf8.encodeAll($javainput)"
%typemap(in) const char *const * {
    jsize i, n = $input ? JCALL1(GetArrayLength, jenv, $input) : 0;
    char **list = NULL;
    if ($input) {
        list = (char **)calloc((size_t)n + 1, sizeof(char *));
        for (i = 0; i < n; ++i) {
            jbyteArray b = (jbyteArray)JCALL2(GetObjectArrayElement, jenv, $input, i);
            jsize len = JCALL1(GetArrayLength, jenv, b);
            list[i] = (char *)malloc((size_t)len + 1);
            JCALL4(GetByteArrayRegion, jenv, b, 0, len, (jbyte *)list[i]);
            list[i][len] = '\0';
            JCALL1(DeleteLocalRef, jenv, b);
        }
    }
    $1 = ($1_ltype)list;
}
/* Lists stored in structs are write-only from Java. */
%typemap(out) const char *const * "$result = 0;"
%typemap(javaout) const char *const * { $jnicall; return null; }
%typemap(freearg) const char *const * {
    if ($1) { char **p; for (p = (char **)$1; *p; ++p) free(*p); free((void *)$1); }
}

/* Plain numbers: 64-bit counters as Java long. */
%apply long long { uint64_t };
%apply long long { int64_t };
/* Sync counters: Java long (they never reach 2^63). */
%apply long long { uint64_t };

/* Struct proxies free the strings they own before the struct itself. */
%typemap(javadestruct, methodname="delete", methodmodifiers="public synchronized") SWIGTYPE {
    if (swigCPtr != 0) {
      if (swigCMemOwn) {
        swigCMemOwn = false;
        NHJNI.nhj_struct_release(swigCPtr);
        $jnicall;
      }
      swigCPtr = 0;
    }
  }
void nhj_struct_release(const void *owner);

/* String lists stored into a struct (env, patterns): deep copies owned by it. */
%{
static const char *const *nhj_own_list(const void *owner, const char *const *list) {
    size_t n = 0, i;
    char **tmp;
    const char *const *owned;
    if (!list) return NULL;
    while (list[n]) ++n;
    tmp = (char **)calloc(n + 1, sizeof(char *));
    if (!tmp) return NULL;
    for (i = 0; i < n; ++i) tmp[i] = nhj_own(owner, list[i], strlen(list[i]));
    owned = (const char *const *)nhj_own(owner, (const char *)tmp, (n + 1) * sizeof(char *));
    free(tmp);
    return owned;
}
%}
%typemap(memberin) const char *const * { $1 = nhj_own_list(arg1, $input); }

/* Out-parameters: new_<name>() / <name>_value() / delete_<name>(). */
%include <cpointer.i>
%pointer_functions(int, IntOut);
%pointer_functions(nh_client *, ClientOut);
%pointer_functions(nh_session *, SessionOut);
%pointer_functions(nh_exec *, ExecOut);
%pointer_functions(nh_forward *, ForwardOut);
%pointer_functions(nh_reverse *, ReverseOut);
%pointer_functions(nh_sync *, SyncOut);
%pointer_functions(nh_cancel *, CancelOut);

/* nh_buf: its bytes as byte[] (the pointer itself stays private). */
%ignore nh_buf::ptr;
%ignore nh_buf::reserved;
%typemap(jni) nhj_data "jbyteArray"
%typemap(jtype) nhj_data "byte[]"
%typemap(jstype) nhj_data "byte[]"
%typemap(javaout) nhj_data { return $jnicall; }
%typemap(out) nhj_data { $result = nhj_bytes(jenv, $1.ptr ? $1.ptr : "", $1.size); }
%{
typedef struct nhj_data { const char *ptr; size_t size; } nhj_data;
%}
typedef struct nhj_data nhj_data;
%extend nh_buf {
    nhj_data bytes() { nhj_data d; d.ptr = $self->ptr; d.size = $self->size; return d; }
}

/* Request bodies are bytes. */
%typemap(jni) (const char *data, size_t len) "jbyteArray"
%typemap(jtype) (const char *data, size_t len) "byte[]"
%typemap(jstype) (const char *data, size_t len) "byte[]"
%typemap(javain) (const char *data, size_t len) "$javainput"
%typemap(in) (const char *data, size_t len) {
    $1 = NULL; $2 = 0;
    if ($input) {
        jbyte *b = JCALL2(GetByteArrayElements, jenv, $input, NULL);
        $2 = (size_t)JCALL1(GetArrayLength, jenv, $input);
        $1 = nhj_own(arg1, (const char *)b, $2);
        JCALL3(ReleaseByteArrayElements, jenv, $input, b, JNI_ABORT);
    }
}
/* Bytes for a call (nh_exec_write): a copy for the duration of the call. */
%typemap(jni) (const void *data, size_t len) "jbyteArray"
%typemap(jtype) (const void *data, size_t len) "byte[]"
%typemap(jstype) (const void *data, size_t len) "byte[]"
%typemap(javain) (const void *data, size_t len) "$javainput"
%typemap(in) (const void *data, size_t len) {
    $1 = NULL; $2 = 0;
    if ($input) {
        $2 = (size_t)JCALL1(GetArrayLength, jenv, $input);
        $1 = malloc($2 ? $2 : 1);
        if ($1 && $2) JCALL4(GetByteArrayRegion, jenv, $input, 0, (jsize)$2, (jbyte *)$1);
    }
}
%typemap(freearg) (const void *data, size_t len) "free((void *)$1);"
%extend nh_request_options {
    void setBodyBytes(const char *data, size_t len) { $self->body = data; $self->body_len = data ? len : 0; }
}

/* ---- callbacks: a Java listener as payload, a C trampoline per type ---- */
%typemap(jni) jobject "jobject"
%typemap(jtype) jobject "Object"
%typemap(jstype) jobject "Object"
%typemap(javain) jobject "$javainput"
%typemap(in) jobject "$1 = $input;"

%{
/* Calls `method` (looked up once per call site) and reports whether Java
 * asked to stop. A Java exception cannot cross the C library: it is printed,
 * cleared, and stops the operation (the façade catches its own). */
static int nhj_stop_after(JNIEnv *env) {
    if ((*env)->ExceptionCheck(env)) {
        (*env)->ExceptionDescribe(env);
        (*env)->ExceptionClear(env);
        return 1;
    }
    return 0;
}

static int nhj_watch_trampoline(int type, const char *object, size_t len, void *payload) {
    JNIEnv *env = nhj_env();
    jobject listener = (jobject)payload;
    jclass cls = (*env)->GetObjectClass(env, listener);
    jmethodID m = (*env)->GetMethodID(env, cls, "onEvent", "(I[B)Z");
    jbyteArray data = nhj_bytes(env, object, len);
    jboolean stop = (*env)->CallBooleanMethod(env, listener, m, (jint)type, data);
    (*env)->DeleteLocalRef(env, data);
    (*env)->DeleteLocalRef(env, cls);
    return nhj_stop_after(env) || stop;
}

static int nhj_dev_event_trampoline(int type, const char *phase, const char *message, const char *detail,
                                    void *payload) {
    JNIEnv *env = nhj_env();
    jobject listener = (jobject)payload;
    jclass cls = (*env)->GetObjectClass(env, listener);
    jmethodID m = (*env)->GetMethodID(env, cls, "onEvent", "(I[B[B[B)Z");
    jbyteArray p = nhj_bytes(env, phase, strlen(phase));
    jbyteArray msg = nhj_bytes(env, message, strlen(message));
    jbyteArray d = detail ? nhj_bytes(env, detail, strlen(detail)) : NULL;
    jboolean stop = (*env)->CallBooleanMethod(env, listener, m, (jint)type, p, msg, d);
    (*env)->DeleteLocalRef(env, p);
    (*env)->DeleteLocalRef(env, msg);
    if (d) (*env)->DeleteLocalRef(env, d);
    (*env)->DeleteLocalRef(env, cls);
    return nhj_stop_after(env) || stop;
}

/* Interactive output to a dev.nocalhost.jni.ExecOutputCallback; true stops the command. */
static int nhj_exec_output_trampoline(int stream, const char *data, size_t len, void *payload) {
    JNIEnv *env = nhj_env();
    jobject listener = (jobject)payload;
    jclass cls = (*env)->GetObjectClass(env, listener);
    jmethodID m = (*env)->GetMethodID(env, cls, "onOutput", "(I[B)Z");
    jbyteArray d = nhj_bytes(env, data, len);
    jboolean stop = (*env)->CallBooleanMethod(env, listener, m, (jint)stream, d);
    (*env)->DeleteLocalRef(env, d);
    (*env)->DeleteLocalRef(env, cls);
    return nhj_stop_after(env) || stop;
}

/* Port-forward events to a dev.nocalhost.jni.ForwardEventCallback (several threads at once). */
static void nhj_forward_event_trampoline(int type, const char *pod, int local_port, int remote_port,
                                         const char *message, void *payload) {
    JNIEnv *env = nhj_env();
    jobject listener = (jobject)payload;
    jclass cls = (*env)->GetObjectClass(env, listener);
    jmethodID m = (*env)->GetMethodID(env, cls, "onEvent", "(I[BII[B)V");
    jbyteArray p = nhj_bytes(env, pod, strlen(pod));
    jbyteArray msg = nhj_bytes(env, message, strlen(message));
    (*env)->CallVoidMethod(env, listener, m, (jint)type, p, (jint)local_port, (jint)remote_port, msg);
    nhj_stop_after(env);
    (*env)->DeleteLocalRef(env, p);
    (*env)->DeleteLocalRef(env, msg);
    (*env)->DeleteLocalRef(env, cls);
}

/* Sync events to a dev.nocalhost.jni.SyncEventCallback; the status as long[10] (or null). */
static void nhj_sync_event_trampoline(const nh_sync_event *e, void *payload) {
    JNIEnv *env = nhj_env();
    jobject listener = (jobject)payload;
    jclass cls = (*env)->GetObjectClass(env, listener);
    jmethodID m = (*env)->GetMethodID(env, cls, "onEvent", "(I[B[BI[J)V");
    jbyteArray path = nhj_bytes(env, e->path, strlen(e->path));
    jbyteArray msg = nhj_bytes(env, e->message, strlen(e->message));
    jlongArray st = NULL;
    if (e->status) {
        const nh_sync_status *s = e->status;
        jlong v[10];
        v[0] = s->state; v[1] = (jlong)s->files_done; v[2] = (jlong)s->files_total; v[3] = (jlong)s->bytes_done;
        v[4] = (jlong)s->bytes_total; v[5] = (jlong)s->files_synced; v[6] = (jlong)s->file_errors;
        v[7] = (jlong)s->conflicts; v[8] = (jlong)s->reconnects; v[9] = s->error_code;
        st = (*env)->NewLongArray(env, 10);
        if (st) (*env)->SetLongArrayRegion(env, st, 0, 10, v);
    }
    (*env)->CallVoidMethod(env, listener, m, (jint)e->type, path, msg, (jint)e->code, st);
    nhj_stop_after(env);
    (*env)->DeleteLocalRef(env, path);
    (*env)->DeleteLocalRef(env, msg);
    if (st) (*env)->DeleteLocalRef(env, st);
    (*env)->DeleteLocalRef(env, cls);
}

/* The log handler: one process-wide slot, read under a mutex, so replacing
 * it never leaves the library with a dangling payload. */
static pthread_mutex_t nhj_log_mu = PTHREAD_MUTEX_INITIALIZER;
static jobject nhj_log_handler;

static void nhj_log_trampoline(int level, const char *message, void *payload) {
    JNIEnv *env = nhj_env();
    jobject handler;
    (void)payload;
    pthread_mutex_lock(&nhj_log_mu);
    handler = nhj_log_handler ? (*env)->NewLocalRef(env, nhj_log_handler) : NULL;
    pthread_mutex_unlock(&nhj_log_mu);
    if (handler) {
        jclass cls = (*env)->GetObjectClass(env, handler);
        jmethodID m = (*env)->GetMethodID(env, cls, "onLog", "(I[B)V");
        jbyteArray text = nhj_bytes(env, message, strlen(message));
        (*env)->CallVoidMethod(env, handler, m, (jint)level, text);
        nhj_stop_after(env);
        (*env)->DeleteLocalRef(env, text);
        (*env)->DeleteLocalRef(env, cls);
        (*env)->DeleteLocalRef(env, handler);
    }
}
%}

%{
/* A log line to a dev.nocalhost.jni.WatchCallback (type 0); true stops the logs. */
static int nhj_line_trampoline(const char *line, size_t len, void *payload) {
    return nhj_watch_trampoline(0, line, len, payload);
}
%}

%inline %{
/* Tree events to `listener` (a dev.nocalhost.jni.WatchCallback: type, entry JSON). */
void nhj_tree_options_set_listener(nh_tree_options *opts, jobject listener) {
    JNIEnv *env = nhj_env();
    opts->callback = nhj_watch_trampoline;
    opts->payload = (*env)->NewGlobalRef(env, listener);
}
void nhj_tree_options_clear_listener(nh_tree_options *opts) {
    if (opts->payload) (*nhj_env())->DeleteGlobalRef(nhj_env(), (jobject)opts->payload);
    opts->payload = NULL;
    opts->callback = NULL;
}
/* Log lines to `listener` (a dev.nocalhost.jni.WatchCallback, type 0). */
void nhj_pod_logs_options_set_listener(nh_pod_logs_options *opts, jobject listener) {
    JNIEnv *env = nhj_env();
    opts->callback = nhj_line_trampoline;
    opts->payload = (*env)->NewGlobalRef(env, listener);
}
void nhj_pod_logs_options_clear_listener(nh_pod_logs_options *opts) {
    if (opts->payload) (*nhj_env())->DeleteGlobalRef(nhj_env(), (jobject)opts->payload);
    opts->payload = NULL;
    opts->callback = NULL;
}
%}

%inline %{
/* Makes `listener` (a dev.nocalhost.jni.WatchCallback) the options' callback.
 * Call nhj_watch_options_clear_listener() after the call. */
void nhj_watch_options_set_listener(nh_watch_options *opts, jobject listener) {
    JNIEnv *env = nhj_env();
    opts->callback = nhj_watch_trampoline;
    opts->payload = (*env)->NewGlobalRef(env, listener);
}
void nhj_watch_options_clear_listener(nh_watch_options *opts) {
    if (opts->payload) (*nhj_env())->DeleteGlobalRef(nhj_env(), (jobject)opts->payload);
    opts->payload = NULL;
    opts->callback = NULL;
}

/* Dev-mode progress to `listener` (a dev.nocalhost.jni.DevEventCallback). */
void nhj_dev_start_options_set_listener(nh_dev_start_options *opts, jobject listener) {
    opts->events = nhj_dev_event_trampoline;
    opts->payload = (*nhj_env())->NewGlobalRef(nhj_env(), listener);
}
void nhj_dev_start_options_clear_listener(nh_dev_start_options *opts) {
    if (opts->payload) (*nhj_env())->DeleteGlobalRef(nhj_env(), (jobject)opts->payload);
    opts->payload = NULL;
    opts->events = NULL;
}
void nhj_dev_end_options_set_listener(nh_dev_end_options *opts, jobject listener) {
    opts->events = nhj_dev_event_trampoline;
    opts->payload = (*nhj_env())->NewGlobalRef(nhj_env(), listener);
}
void nhj_dev_end_options_clear_listener(nh_dev_end_options *opts) {
    if (opts->payload) (*nhj_env())->DeleteGlobalRef(nhj_env(), (jobject)opts->payload);
    opts->payload = NULL;
    opts->events = NULL;
}

/* Output of an interactive command to `listener` (a dev.nocalhost.jni.ExecOutputCallback).
 * Clear only after nh_exec_free(). */
void nhj_exec_options_set_listener(nh_exec_options *opts, jobject listener) {
    opts->output = nhj_exec_output_trampoline;
    opts->payload = (*nhj_env())->NewGlobalRef(nhj_env(), listener);
}
void nhj_exec_options_clear_listener(nh_exec_options *opts) {
    if (opts->payload) (*nhj_env())->DeleteGlobalRef(nhj_env(), (jobject)opts->payload);
    opts->payload = NULL;
    opts->output = NULL;
}
/* Port-forward events to `listener` (a dev.nocalhost.jni.ForwardEventCallback). Clear after nh_forward_free(). */
void nhj_forward_options_set_listener(nh_forward_options *opts, jobject listener) {
    opts->on_event = nhj_forward_event_trampoline;
    opts->payload = (*nhj_env())->NewGlobalRef(nhj_env(), listener);
}
void nhj_forward_options_clear_listener(nh_forward_options *opts) {
    if (opts->payload) (*nhj_env())->DeleteGlobalRef(nhj_env(), (jobject)opts->payload);
    opts->payload = NULL;
    opts->on_event = NULL;
}
/* Reverse-forward events to `listener` (a dev.nocalhost.jni.ForwardEventCallback: the same
   arguments, the pod's port first). Clear after nh_reverse_free(). */
void nhj_reverse_options_set_listener(nh_reverse_options *opts, jobject listener) {
    opts->on_event = nhj_forward_event_trampoline;
    opts->payload = (*nhj_env())->NewGlobalRef(nhj_env(), listener);
}
void nhj_reverse_options_clear_listener(nh_reverse_options *opts) {
    if (opts->payload) (*nhj_env())->DeleteGlobalRef(nhj_env(), (jobject)opts->payload);
    opts->payload = NULL;
    opts->on_event = NULL;
}
/* Sync events to `listener` (a dev.nocalhost.jni.SyncEventCallback). Clear after the sync stopped. */
void nhj_sync_options_set_listener(nh_sync_options *opts, jobject listener) {
    opts->callback = nhj_sync_event_trampoline;
    opts->payload = (*nhj_env())->NewGlobalRef(nhj_env(), listener);
}
void nhj_sync_options_clear_listener(nh_sync_options *opts) {
    if (opts->payload) (*nhj_env())->DeleteGlobalRef(nhj_env(), (jobject)opts->payload);
    opts->payload = NULL;
    opts->callback = NULL;
}

/* nh_session_sync_start_v2() with the dev-mode phases to `listener` (a
 * dev.nocalhost.jni.DevEventCallback, or null) during the call. */
int nhj_session_sync_start(nh_session *session, nh_client *client, const char *local_dir,
                           const nh_sync_options *sync_options, long timeout_ms, nh_cancel *cancel, jobject listener) {
    JNIEnv *env = nhj_env();
    jobject ref = listener ? (*env)->NewGlobalRef(env, listener) : NULL;
    nh_session_sync_options opts = NH_SESSION_SYNC_OPTIONS_INIT;
    opts.sync_options = sync_options;
    opts.timeout_ms = timeout_ms;
    opts.cancel = cancel;
    opts.events = ref ? nhj_dev_event_trampoline : NULL;
    opts.payload = ref;
    int rc = nh_session_sync_start_v2(session, client, local_dir, &opts);
    if (ref) (*env)->DeleteGlobalRef(env, ref);
    return rc;
}

/* Route log lines at max_level and below to `handler` (a
 * dev.nocalhost.jni.LogCallback), or back to the default with null. */
void nhj_log_set_handler(jobject handler, int max_level) {
    JNIEnv *env = nhj_env();
    jobject old;
    pthread_mutex_lock(&nhj_log_mu);
    old = nhj_log_handler;
    nhj_log_handler = handler ? (*env)->NewGlobalRef(env, handler) : NULL;
    pthread_mutex_unlock(&nhj_log_mu);
    nh_log_set_callback(handler ? nhj_log_trampoline : NULL, max_level, NULL);
    /* The trampoline holds its own local reference while it calls. */
    if (old) (*env)->DeleteGlobalRef(env, old);
}
%}

/* Functions that take callbacks are used through the helpers above. */
%ignore nh_log_set_callback;
/* Deprecated: nhj_session_sync_start() calls nh_session_sync_start_v2(). */
%ignore nh_session_sync_start;

/* Macros become Java compile-time constants. */
%javaconst(1);

#define NH_EXTERN
%include "nocalhost.h"
