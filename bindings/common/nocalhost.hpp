// The C++ layer the Python and Node native layers share: RAII over
// include/nocalhost.h, header-only, with no dependency but the C header and
// the standard library. It holds what does not depend on the language:
//  - Error: nh_error_last() as an exception (code, message, HTTP status,
//    Kubernetes reason); check() throws it for a failed call;
//  - Unique<T>: a move-only owner of one C handle, freed exactly once;
//    Buffer: an nh_buf disposed of by its destructor;
//  - Canceller / CallToken: cancellation sources made of nh_cancel tokens and
//    nh_cancel_new_child(): a handle's in-flight calls are children of its
//    canceller, so close() triggers one token;
//  - Shared<T>: a handle shared by a binding's object and its calls in flight
//    (close() is idempotent, use after close is NH_ESTATE, the handle is freed
//    when the last call lets go);
//  - option builders (DevStartOptions, SyncOptions, ...) that own every string
//    the C options struct points to, with visit() naming each option once for
//    the bindings' readers (snake_case; Node reads the camelCase of the name).
// Bindings translate Error into their language's exception at their edge.
// Private to the bindings: the public, stable interface stays the C ABI.
#pragma once

#include <nocalhost.h>

#include <algorithm>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace nocalhost {

// -- errors ------------------------------------------------------------------

class Error : public std::runtime_error {
public:
    Error() : Error(NH_OK, "") {}
    Error(int code, const std::string &message, int http_status = 0, std::string reason = {})
        : std::runtime_error(message), code_(code), http_status_(http_status), reason_(std::move(reason)) {}

    // A copy of nh_error_last(): take it on the thread that made the failing call.
    static Error last() {
        const nh_error *e = nh_error_last();
        return Error(e->code, e->message, e->http_status, e->reason);
    }

    int code() const noexcept { return code_; }
    std::string message() const { return what(); }
    int http_status() const noexcept { return http_status_; }
    const std::string &reason() const noexcept { return reason_; }

private:
    int code_;
    int http_status_;
    std::string reason_;
};

// Throws Error::last() when `rc` is an error code; returns it otherwise.
inline int check(int rc) {
    if (rc < 0) throw Error::last();
    return rc;
}

// -- handles -----------------------------------------------------------------

// Owns one C handle: move-only, freed exactly once (Free is NULL-safe in the C ABI).
template <class T, void (*Free)(T *)>
class Unique {
public:
    Unique() = default;
    explicit Unique(T *raw) noexcept : raw_(raw) {}
    Unique(Unique &&o) noexcept : raw_(o.release()) {}
    Unique &operator=(Unique &&o) noexcept {
        if (this != &o) reset(o.release());
        return *this;
    }
    Unique(const Unique &) = delete;
    Unique &operator=(const Unique &) = delete;
    ~Unique() { reset(); }

    T *get() const noexcept { return raw_; }
    explicit operator bool() const noexcept { return raw_ != nullptr; }
    T *release() noexcept { return std::exchange(raw_, nullptr); }
    void reset(T *raw = nullptr) noexcept {
        if (T *old = std::exchange(raw_, raw)) Free(old);
    }
    // For the C calls that create a handle: nh_client_new(h.out(), ...). Frees what was held.
    T **out() noexcept {
        reset();
        return &raw_;
    }
    // Hands the handle to a shared_ptr with the same deleter.
    std::shared_ptr<T> share() { return std::shared_ptr<T>(release(), [](T *p) { Free(p); }); }

private:
    T *raw_ = nullptr;
};

using ClientHandle = Unique<nh_client, nh_client_free>;
using SessionHandle = Unique<nh_session, nh_session_free>;
using ExecHandle = Unique<nh_exec, nh_exec_free>;
using ForwardHandle = Unique<nh_forward, nh_forward_free>;
using SyncHandle = Unique<nh_sync, nh_sync_free>;
using CancelHandle = Unique<nh_cancel, nh_cancel_free>;

// An nh_buf the library fills; disposed of by the destructor.
class Buffer {
public:
    Buffer() = default;
    Buffer(const Buffer &) = delete;
    Buffer &operator=(const Buffer &) = delete;
    ~Buffer() { nh_buf_dispose(&buf_); }

    nh_buf *out() noexcept { return &buf_; }
    const char *data() const noexcept { return buf_.ptr ? buf_.ptr : ""; }
    size_t size() const noexcept { return buf_.size; }
    std::string_view view() const noexcept { return {data(), size()}; }
    std::string str() const { return std::string(view()); }

private:
    nh_buf buf_ = NH_BUF_INIT;
};

// One reference to the library (nh_init() ... nh_shutdown()), for handles that
// must keep it initialised until they are freed.
class Library {
public:
    Library() { check(nh_init()); }
    Library(const Library &) = delete;
    Library &operator=(const Library &) = delete;
    ~Library() { nh_shutdown(); }
};

// -- cancellation ------------------------------------------------------------

// A cancellation source: one nh_cancel that the tokens of calls derive from
// (nh_cancel_new_child), so that trigger() stops them all; a source may itself
// be the child of another (a stream's stop under its client's close). Held by
// shared_ptr: children keep their parent alive, as the C ABI requires.
// Thread-safe.
class Canceller {
public:
    static std::shared_ptr<Canceller> make(std::shared_ptr<Canceller> parent = nullptr) {
        return std::shared_ptr<Canceller>(new Canceller(std::move(parent)));
    }

    nh_cancel *get() const noexcept { return token_.get(); }
    bool triggered() const { return nh_cancel_is_triggered(token_.get()) != 0; }
    // Triggers this token (so every child) and the tokens linked to it.
    void trigger() {
        nh_cancel_trigger(token_.get());
        std::lock_guard lock(mu_);
        for (nh_cancel *t : linked_) nh_cancel_trigger(t);
    }
    // Untriggered again: later calls run (children made before stay triggered).
    void reset() { nh_cancel_reset(token_.get()); }

private:
    friend class CallToken;
    explicit Canceller(std::shared_ptr<Canceller> parent) : parent_(std::move(parent)) {
        if (parent_)
            check(nh_cancel_new_child(token_.out(), parent_->get()));
        else
            check(nh_cancel_new(token_.out()));
    }

    // The C ABI gives a token one parent; a call stopped by two sources (its
    // handle's close() and the caller's token) is linked to the second here.
    void link(nh_cancel *t) {
        std::lock_guard lock(mu_);
        linked_.push_back(t);
        if (triggered()) nh_cancel_trigger(t);
    }
    void unlink(nh_cancel *t) {
        std::lock_guard lock(mu_);
        linked_.erase(std::remove(linked_.begin(), linked_.end(), t), linked_.end());
    }

    std::shared_ptr<Canceller> parent_;  // declared first: outlives token_
    CancelHandle token_;
    std::mutex mu_;
    std::vector<nh_cancel *> linked_;
};

using CancellerPtr = std::shared_ptr<Canceller>;

// The token of one call: a child of `owner` (the handle whose close() stops
// it; none: a token of its own), also triggered by `caller` (the caller's
// token) while it lives, and by trigger() (Ctrl-C, a listener that threw).
// `external`: use that token (owned by the caller, e.g. one a C handle keeps
// as its opts->cancel after the call) instead, linked to both while this lives.
class CallToken {
public:
    explicit CallToken(CancellerPtr owner, CancellerPtr caller = nullptr, nh_cancel *external = nullptr)
        : owner_(std::move(owner)), caller_(std::move(caller)), token_(external) {
        if (external) {
            if (owner_) owner_->link(external);
        } else if (owner_) {
            check(nh_cancel_new_child(own_.out(), owner_->get()));
        } else {
            check(nh_cancel_new(own_.out()));
        }
        if (!token_) token_ = own_.get();
        if (caller_) caller_->link(token_);
    }
    CallToken(const CallToken &) = delete;
    CallToken &operator=(const CallToken &) = delete;
    ~CallToken() {
        if (caller_) caller_->unlink(token_);
        if (!own_ && owner_) owner_->unlink(token_);
    }

    nh_cancel *get() const noexcept { return token_; }
    void trigger() noexcept { nh_cancel_trigger(token_); }
    bool triggered() const noexcept { return nh_cancel_is_triggered(token_) != 0; }

private:
    CancellerPtr owner_, caller_;  // declared first: outlive own_
    CancelHandle own_;
    nh_cancel *token_;
};

// A C handle shared by a binding's object and the calls using it: close()
// drops the object's reference and triggers `inflight` (the parent of the
// calls' tokens); the handle is freed when the last call lets go of it.
template <class T, void (*Free)(T *)>
class Shared {
public:
    // Takes ownership of `raw`; `keep` (a parent handle, a Library reference,
    // a callback's payload) lives until `raw` is freed.
    void reset(T *raw, std::shared_ptr<void> keep = {}) {
        std::shared_ptr<T> p(raw, [keep = std::move(keep)](T *h) mutable {
            Free(h);
            keep.reset();
        });
        std::lock_guard lock(mu_);
        ptr_.swap(p);
    }
    void reset(Unique<T, Free> h, std::shared_ptr<void> keep = {}) { reset(h.release(), std::move(keep)); }

    // The handle for a call; Error(NH_ESTATE, "<what> is closed") after close().
    std::shared_ptr<T> get(const char *what) const {
        std::lock_guard lock(mu_);
        if (!ptr_) throw Error(NH_ESTATE, std::string(what) + " is closed");
        return ptr_;
    }

    // Cancels the calls in flight and gives up the object's reference, returned
    // so that the caller chooses where the last reference is dropped (freeing
    // may join threads). Idempotent.
    std::shared_ptr<T> close() {
        std::shared_ptr<T> p;
        {
            std::lock_guard lock(mu_);
            p.swap(ptr_);
        }
        inflight_->trigger();
        return p;
    }
    bool closed() const {
        std::lock_guard lock(mu_);
        return !ptr_;
    }
    const CancellerPtr &inflight() const noexcept { return inflight_; }

private:
    mutable std::mutex mu_;
    std::shared_ptr<T> ptr_;
    CancellerPtr inflight_ = Canceller::make();
};

// -- option builders ---------------------------------------------------------

// Optional strings: nullopt -> NULL.
inline const char *c_str_or_null(const std::optional<std::string> &s) noexcept { return s ? s->c_str() : nullptr; }

// A list of strings as the C ABI takes them (a NULL-terminated array of
// `const char *`), owning its copies; copies and moves point at their own.
class Strings {
public:
    Strings() { rebuild(); }
    Strings(std::vector<std::string> values) : values_(std::move(values)) { rebuild(); }  // NOLINT: implicit
    Strings(const Strings &o) : values_(o.values_) { rebuild(); }
    Strings(Strings &&o) noexcept : values_(std::move(o.values_)) {
        rebuild();
        o.rebuild();
    }
    Strings &operator=(Strings o) noexcept {
        values_.swap(o.values_);
        rebuild();
        return *this;
    }

    void push_back(std::string s) {
        values_.push_back(std::move(s));
        rebuild();
    }
    const std::vector<std::string> &values() const noexcept { return values_; }
    size_t size() const noexcept { return values_.size(); }
    bool empty() const noexcept { return values_.empty(); }
    // Always an array ending in NULL (argv, ports).
    const char *const *argv() const noexcept { return ptrs_.data(); }
    // NULL when empty (the options structs' lists with a count).
    const char *const *data_or_null() const noexcept { return empty() ? nullptr : ptrs_.data(); }

private:
    void rebuild() {
        ptrs_.clear();
        for (auto &s : values_) ptrs_.push_back(s.c_str());
        ptrs_.push_back(nullptr);
    }
    std::vector<std::string> values_;
    std::vector<const char *> ptrs_;
};

// What every option builder below has: fields(f) names each option once, as
// f(name, field, C member) (a list: f(name, field, pointer member, count
// member)); visit() hands the bindings' readers (name, field), and fill() sets
// the C members from the fields (strings and lists point into this object,
// bools become 0/1). The rest of the C struct (callbacks, cancel) is per call.
template <class Self>
struct OptionFields {
    template <class V>
    void visit(V &&v) {
        static_cast<Self *>(this)->fields([&](const char *name, auto &field, auto...) { v(name, field); });
    }

protected:
    template <class C>
    void fill(C &c) {
        static_cast<Self *>(this)->fields(Fill<C>{c});
    }

private:
    template <class C>
    struct Fill {
        C &c;
        void operator()(const char *, const std::optional<std::string> &v, const char *C::*m) const { c.*m = c_str_or_null(v); }
        void operator()(const char *, bool v, int C::*m) const { c.*m = v ? 1 : 0; }
        template <class T, class M>
        void operator()(const char *, const T &v, M C::*m) const {
            c.*m = v;
        }
        void operator()(const char *, const Strings &v, const char *const *C::*m, size_t C::*count) const {
            c.*m = v.data_or_null();
            c.*count = v.size();
        }
    };
};

// nh_sync_options and what it points to. c() rebuilds the C struct on each
// call; it stays valid while this object lives unchanged. The event callback
// and payload are the binding's (they must outlive the sync).
struct SyncOptions : OptionFields<SyncOptions> {
    int mode = 0, compression = 0;
    Strings ignore, include;
    bool use_gitignore = false, delete_protection = false, once = false;
    std::optional<std::string> state_dir;
    long connect_timeout_ms = 0, max_backoff_ms = 0;
    nh_sync_event_cb callback = nullptr;
    void *payload = nullptr;

    // Each option a binding reads, by its snake_case name, and the C member it sets.
    template <class F>
    void fields(F &&f) {
        f("mode", mode, &nh_sync_options::mode);
        f("ignore", ignore, &nh_sync_options::ignore_patterns, &nh_sync_options::ignore_patterns_count);
        f("include", include, &nh_sync_options::include_patterns, &nh_sync_options::include_patterns_count);
        f("use_gitignore", use_gitignore, &nh_sync_options::use_gitignore);
        f("state_dir", state_dir, &nh_sync_options::state_dir);
        f("compression", compression, &nh_sync_options::compression);
        f("connect_timeout_ms", connect_timeout_ms, &nh_sync_options::connect_timeout_ms);
        f("max_backoff_ms", max_backoff_ms, &nh_sync_options::max_backoff_ms);
        f("delete_protection", delete_protection, &nh_sync_options::delete_protection);
        f("once", once, &nh_sync_options::once);
    }

    nh_sync_options &c() {
        c_ = nh_sync_options NH_SYNC_OPTIONS_INIT;
        fill(c_);
        c_.callback = callback;
        c_.payload = payload;
        return c_;
    }

private:
    nh_sync_options c_ = NH_SYNC_OPTIONS_INIT;
};

// nh_dev_start_options (also what nh_dev_config_resolve() takes) and what it
// points to; the local dir and its sync options are set apart from visit().
// The events callback and cancel token are the caller's, per call.
struct DevStartOptions : OptionFields<DevStartOptions> {
    std::optional<std::string> namespace_name, container, image, workdir, resources_json, sidecar_image, owner,
        developer, api_version, pod_template_path, replicas_path, config_path, app_name, image_pull_policy,
        patches_json, persistent_dirs_json, router;
    Strings env, headers;
    int sync_port = 0, lease_duration_s = 0, mode = NH_DEV_MODE_REPLACE;
    long timeout_ms = 0;
    bool rollback_on_failure = true, ignore_cluster_config = false, patch_errors_fatal = false;
    // Local mode and the Service forwards (options version 5, docs/traffic.md).
    bool local = false;
    Strings local_ports, forwards;
    std::optional<std::string> local_dir;
    std::optional<SyncOptions> sync;  // used with local_dir
    nh_dev_event_cb events = nullptr;
    void *payload = nullptr;

    template <class F>
    void fields(F &&f) {
        f("namespace", namespace_name, &nh_dev_start_options::namespace_name);
        f("container", container, &nh_dev_start_options::container);
        f("image", image, &nh_dev_start_options::image);
        f("workdir", workdir, &nh_dev_start_options::workdir);
        f("env", env, &nh_dev_start_options::env, &nh_dev_start_options::env_count);
        f("resources_json", resources_json, &nh_dev_start_options::resources_json);
        f("sidecar_image", sidecar_image, &nh_dev_start_options::sidecar_image);
        f("sync_port", sync_port, &nh_dev_start_options::sync_port);
        f("timeout_ms", timeout_ms, &nh_dev_start_options::timeout_ms);
        f("rollback_on_failure", rollback_on_failure, &nh_dev_start_options::rollback_on_failure);
        f("owner", owner, &nh_dev_start_options::owner);
        f("lease_duration_s", lease_duration_s, &nh_dev_start_options::lease_duration_s);
        f("mode", mode, &nh_dev_start_options::mode);
        f("developer", developer, &nh_dev_start_options::developer);
        f("api_version", api_version, &nh_dev_start_options::api_version);
        f("pod_template_path", pod_template_path, &nh_dev_start_options::pod_template_path);
        f("replicas_path", replicas_path, &nh_dev_start_options::replicas_path);
        f("config_path", config_path, &nh_dev_start_options::config_path);
        f("app_name", app_name, &nh_dev_start_options::app_name);
        f("ignore_cluster_config", ignore_cluster_config, &nh_dev_start_options::ignore_cluster_config);
        f("image_pull_policy", image_pull_policy, &nh_dev_start_options::image_pull_policy);
        f("patches_json", patches_json, &nh_dev_start_options::patches_json);
        f("persistent_dirs_json", persistent_dirs_json, &nh_dev_start_options::persistent_dirs_json);
        f("patch_errors_fatal", patch_errors_fatal, &nh_dev_start_options::patch_errors_fatal);
        f("local", local, &nh_dev_start_options::local);
        f("local_ports", local_ports, &nh_dev_start_options::local_ports, &nh_dev_start_options::local_ports_count);
        f("forwards", forwards, &nh_dev_start_options::forwards, &nh_dev_start_options::forwards_count);
        f("headers", headers, &nh_dev_start_options::headers, &nh_dev_start_options::headers_count);
        f("router", router, &nh_dev_start_options::router);
    }

    // The C options, `cancel` the call's token.
    nh_dev_start_options &c(nh_cancel *cancel) {
        c_ = nh_dev_start_options NH_DEV_START_OPTIONS_INIT;
        fill(c_);
        c_.local_dir = c_str_or_null(local_dir);
        c_.sync_options = local_dir && sync ? &sync->c() : nullptr;
        c_.events = events;
        c_.payload = payload;
        c_.cancel = cancel;
        return c_;
    }

private:
    nh_dev_start_options c_ = NH_DEV_START_OPTIONS_INIT;
};

// nh_dev_end_options and what it points to.
struct DevEndOptions : OptionFields<DevEndOptions> {
    std::optional<std::string> namespace_name, owner, developer;
    long timeout_ms = 0;
    int lease_duration_s = 0, mode = NH_DEV_MODE_REPLACE;
    bool force = false;
    nh_dev_event_cb events = nullptr;
    void *payload = nullptr;

    template <class F>
    void fields(F &&f) {
        f("namespace", namespace_name, &nh_dev_end_options::namespace_name);
        f("owner", owner, &nh_dev_end_options::owner);
        f("timeout_ms", timeout_ms, &nh_dev_end_options::timeout_ms);
        f("lease_duration_s", lease_duration_s, &nh_dev_end_options::lease_duration_s);
        f("mode", mode, &nh_dev_end_options::mode);
        f("developer", developer, &nh_dev_end_options::developer);
        f("force", force, &nh_dev_end_options::force);
    }

    nh_dev_end_options &c(nh_cancel *cancel) {
        c_ = nh_dev_end_options NH_DEV_END_OPTIONS_INIT;
        fill(c_);
        c_.events = events;
        c_.payload = payload;
        c_.cancel = cancel;
        return c_;
    }

private:
    nh_dev_end_options c_ = NH_DEV_END_OPTIONS_INIT;
};

// nh_dev_query_options (status, list, attach, PVCs) and what it points to.
struct DevQueryOptions : OptionFields<DevQueryOptions> {
    std::optional<std::string> namespace_name, developer;
    bool all_namespaces = false;
    int mode = NH_DEV_MODE_REPLACE;

    template <class F>
    void fields(F &&f) {
        f("namespace", namespace_name, &nh_dev_query_options::namespace_name);
        f("all_namespaces", all_namespaces, &nh_dev_query_options::all_namespaces);
        f("mode", mode, &nh_dev_query_options::mode);
        f("developer", developer, &nh_dev_query_options::developer);
    }

    nh_dev_query_options &c(nh_cancel *cancel) {
        c_ = nh_dev_query_options NH_DEV_QUERY_OPTIONS_INIT;
        fill(c_);
        c_.cancel = cancel;
        return c_;
    }

private:
    nh_dev_query_options c_ = NH_DEV_QUERY_OPTIONS_INIT;
};

// The camelCase of a snake_case option name ("timeout_ms" -> "timeoutMs"), as Node reads it.
inline std::string camel_case(std::string_view snake) {
    std::string out;
    bool upper = false;
    for (char ch : snake) {
        if (ch == '_') {
            upper = true;
            continue;
        }
        out += upper && ch >= 'a' && ch <= 'z' ? static_cast<char>(ch - 'a' + 'A') : ch;
        upper = false;
    }
    return out;
}

// nh_tree_options and what it points to; the callback and cancel token are per call.
struct TreeOptions : OptionFields<TreeOptions> {
    std::optional<std::string> namespace_name, label_selector;
    bool all_namespaces = false;
    Strings kinds;

    template <class F>
    void fields(F &&f) {
        f("namespace", namespace_name, &nh_tree_options::namespace_name);
        f("all_namespaces", all_namespaces, &nh_tree_options::all_namespaces);
        f("kinds", kinds, &nh_tree_options::kinds, &nh_tree_options::kinds_count);
        f("label_selector", label_selector, &nh_tree_options::label_selector);
    }

    nh_tree_options &c(nh_cancel *cancel, nh_tree_event_cb callback = nullptr, void *payload = nullptr) {
        c_ = nh_tree_options NH_TREE_OPTIONS_INIT;
        fill(c_);
        c_.cancel = cancel;
        c_.callback = callback;
        c_.payload = payload;
        return c_;
    }

private:
    nh_tree_options c_ = NH_TREE_OPTIONS_INIT;
};

// nh_space_options and what it points to; the cancel token is per call.
struct SpaceOptions : OptionFields<SpaceOptions> {
    std::optional<std::string> developer, cpu, memory, storage, extra_rules_json;
    bool existing_namespace = false, revoke = false;
    int pods = 0;
    long long token_seconds = 0;

    template <class F>
    void fields(F &&f) {
        f("developer", developer, &nh_space_options::developer);
        f("existing_namespace", existing_namespace, &nh_space_options::existing_namespace);
        f("cpu", cpu, &nh_space_options::cpu);
        f("memory", memory, &nh_space_options::memory);
        f("storage", storage, &nh_space_options::storage);
        f("pods", pods, &nh_space_options::pods);
        f("extra_rules_json", extra_rules_json, &nh_space_options::extra_rules_json);
        f("token_seconds", token_seconds, &nh_space_options::token_seconds);
        f("revoke", revoke, &nh_space_options::revoke);
    }

    nh_space_options &c(nh_cancel *cancel) {
        c_ = nh_space_options NH_SPACE_OPTIONS_INIT;
        fill(c_);
        c_.cancel = cancel;
        return c_;
    }

private:
    nh_space_options c_ = NH_SPACE_OPTIONS_INIT;
};

// nh_app_options and what it points to.
struct AppOptions {
    std::optional<std::string> namespace_name, config_path;
    Strings values_files, set;
    bool all_namespaces = false;

    template <class V>
    void visit(V &&v) {
        v("namespace", namespace_name);
        v("values_files", values_files);
        v("set", set);
        v("config_path", config_path);
        v("all_namespaces", all_namespaces);
    }

    nh_app_options &c(nh_cancel *cancel) {
        c_ = nh_app_options NH_APP_OPTIONS_INIT;
        c_.namespace_name = c_str_or_null(namespace_name);
        c_.values_files = values_files.data_or_null();
        c_.values_files_count = values_files.size();
        c_.set = set.data_or_null();
        c_.set_count = set.size();
        c_.config_path = c_str_or_null(config_path);
        c_.all_namespaces = all_namespaces ? 1 : 0;
        c_.cancel = cancel;
        return c_;
    }

private:
    nh_app_options c_ = NH_APP_OPTIONS_INIT;
};

// nh_pod_logs_options and what it points to; the callback and cancel token are per call.
struct PodLogsOptions : OptionFields<PodLogsOptions> {
    std::optional<std::string> namespace_name, container;
    bool follow = false, previous = false, timestamps = false;
    long tail_lines = -1, since_seconds = 0;

    template <class F>
    void fields(F &&f) {
        f("namespace", namespace_name, &nh_pod_logs_options::namespace_name);
        f("container", container, &nh_pod_logs_options::container);
        f("follow", follow, &nh_pod_logs_options::follow);
        f("tail_lines", tail_lines, &nh_pod_logs_options::tail_lines);
        f("since_seconds", since_seconds, &nh_pod_logs_options::since_seconds);
        f("previous", previous, &nh_pod_logs_options::previous);
        f("timestamps", timestamps, &nh_pod_logs_options::timestamps);
    }

    nh_pod_logs_options &c(nh_cancel *cancel, nh_pod_logs_cb callback = nullptr, void *payload = nullptr) {
        c_ = nh_pod_logs_options NH_POD_LOGS_OPTIONS_INIT;
        fill(c_);
        c_.cancel = cancel;
        c_.callback = callback;
        c_.payload = payload;
        return c_;
    }

private:
    nh_pod_logs_options c_ = NH_POD_LOGS_OPTIONS_INIT;
};

}  // namespace nocalhost
