// The start of dev mode, as named steps over a plan: validate the options and make the plan
// (kind, names, mode); lock; read (the workload, or the record of a start that died half-way);
// check (the dev pod's spec and images, before anything changes); record; pin the HPAs; claim the
// persistent dirs; park the original (kinds that cannot run one dev replica); patch (the switch,
// or the generated Deployment); wait for the dev pod; route (duplicate mode's header routes to
// the copy); mark the session active. A failure after
// the record rolls back from it.
#include "dev/start.hpp"

#include <algorithm>
#include <cctype>
#include <optional>

#include "dev/access_check.hpp"
#include "dev/config.hpp"
#include "dev/history.hpp"
#include "dev/image_check.hpp"
#include "dev/lease.hpp"
#include "dev/session_internal.hpp"
#include "dev/wait.hpp"
#include "kube/objects.hpp"
#include "traffic/routing.hpp"

namespace nh::dev {

namespace {

// A parked original: a kind that cannot run one dev replica is stopped from running pods
// while its dev pod runs from a generated Deployment.
json parked(const json &original, const WorkloadKind &k, const std::string &secret_name) {
    json w = original;
    w["metadata"]["annotations"][kSessionAnnotation] = secret_name;
    switch (k.kind) {
        case Kind::DaemonSet:
            pod_template(w, k)["spec"]["nodeSelector"][kParkedNodeLabel] = "true";
            break;
        case Kind::Job:
        case Kind::CronJob:
            w["spec"]["suspend"] = true;
            break;
        case Kind::Custom: {
            if (k.replicas_path.empty())
                fail(NH_EINVAL, "custom kind " + k.lower + " has no replicas path: dev mode cannot stop its pods");
            w[json::json_pointer(k.replicas_path)] = 0;
            break;
        }
        default:
            break;
    }
    return w;
}

// The dev config's patches, in order. Nocalhost's container names in them mean ours; a patch
// the API server refuses (4xx) is skipped with a warning, as Nocalhost does, unless the caller
// made that fatal.
void apply_patches(kube::Client &c, const std::string &path, const StartOptions &o, const std::string &dev_container,
                   json &last, CancelToken *cancel) {
    for (size_t i = 0; i < o.patches.size(); ++i) {
        const std::string what = "patch " + std::to_string(i + 1) + " of the dev config";
        try {
            last = c.patch(path, o.patches[i].type, nocalhost_container_names(o.patches[i].body, dev_container), cancel);
        } catch (const Error &e) {
            bool refused = e.http_status() >= 400 && e.http_status() < 500;
            if (!refused || o.patch_errors_fatal)
                throw Error(e.code(), what + " failed: " + e.what(), e.http_status(), e.reason());
            emit(o.events, EventType::Warning, Phase::Patch, what + " was refused and skipped: " + e.what(),
                 {{"patch", i + 1}, {"status", e.http_status()}});
        }
    }
}

// What a start is to do, decided from its options before anything changes.
struct Plan {
    WorkloadKind kind;
    bool dup = false;
    std::string developer, ns, what, owner, object_name;
    std::string path;       // of the workload
    std::string generated;  // the Deployment the dev pod runs from, or "" (in place)
    Clock::time_point deadline;
    std::vector<traffic::Header> headers;  // duplicate mode's header routing, or none
    std::optional<traffic::Router> router;  // with headers
};

Plan make_plan(kube::Client &c, const StartOptions &o) {
    if (o.name.empty()) fail(NH_EINVAL, "dev start: the workload name is empty");
    if (o.image.empty() && !o.local) fail(NH_EINVAL, "dev start: the dev image is empty");
    if (o.local && o.local_ports.empty())
        fail(NH_EINVAL, "dev start: local mode needs at least one port to carry to this machine (PORT[:LOCAL])");
    if (!o.local && !o.local_ports.empty()) fail(NH_EINVAL, "dev start: local-mode ports given without local mode");
    if (o.sync_port < 1 || o.sync_port > 65535) fail(NH_EINVAL, "dev start: sync port out of range");
    if (o.workdir.empty() || o.workdir[0] != '/') fail(NH_EINVAL, "dev start: the work dir must be an absolute path");
    if (!o.image_pull_policy.empty() && o.image_pull_policy != "Always" && o.image_pull_policy != "IfNotPresent" &&
        o.image_pull_policy != "Never")
        fail(NH_EINVAL, "dev start: unknown image pull policy '" + o.image_pull_policy + "' (valid: Always, IfNotPresent, Never)");
    Plan p;
    p.kind = o.kind;
    resolve_kind(c, p.kind, o.cancel);
    p.dup = o.mode == Mode::Duplicate;
    p.developer = developer_of(o.mode, o.developer);
    p.ns = o.ns.empty() ? c.ns() : o.ns;
    p.what = what_of(p.kind, p.ns, o.name, o.mode, p.developer);
    p.owner = o.owner.empty() ? default_owner() : o.owner;
    p.object_name = session_object_name(p.kind, o.name, o.mode, p.developer);
    p.path = workload_path(p.kind, p.ns, o.name);
    p.generated = p.dup ? duplicate_copy_name(o.name, p.developer) : p.kind.in_place() ? "" : p.object_name;
    p.deadline = Clock::now() + o.timeout;
    traffic::check_router_choice(o.router);
    if (!o.headers.empty() || !o.router.empty()) {
        if (!p.dup)
            fail(NH_EINVAL, "dev start: header routing sends requests to a developer's copy: it needs duplicate mode");
        if (o.headers.empty()) fail(NH_EINVAL, "dev start: a router is chosen but no header to route (NAME=VALUE)");
        p.headers = traffic::parse_headers(o.headers);
        // The mesh's API, asked before anything changes: none served is an error now.
        p.router = traffic::resolve_router(c, o.router, o.cancel);
    }
    return p;
}

class Start {
public:
    Start(kube::Client &c, const StartOptions &o, const StepHook &after_step)
        : c_(c), o_(o), after_step_(after_step), cancel_(o.cancel), p_(make_plan(c, o)),
          lock_(c, p_.ns, p_.object_name, p_.owner, o.lease_duration) {}

    Session run() {
        // Every right the start and the end need, asked before anything changes.
        check_access(c_, p_.kind, p_.ns, o_, p_.what, p_.router ? traffic::router_group(*p_.router) : "");
        lock();
        try {
            step("lock");
            read();
            check();
            record();
            step("record");
            pin_hpas();
            step("hpa");
            claim_pvcs();
            step("pvc");
            park();
            step("park");
            patch();
            step("patch");
            PodState pod = wait();
            step("wait");
            route();
            step("route");
            mark_active();
            step("active");
            lock_.release();
            return ready(pod);
        } catch (const Error &e) {
            throw on_failure(e);
        } catch (const std::bad_alloc &) {
            throw;
        } catch (const std::exception &e) {
            throw on_failure(Error(NH_ERROR, std::string("internal error: ") + e.what()));
        }
    }

private:
    void step(const char *name) {
        if (lock_.lost()) fail(NH_EBUSY, "lost the dev-mode lock of " + p_.what + " to another client");
        if (after_step_) after_step_(name);
    }

    void lock() {
        emit(o_.events, EventType::Phase, Phase::Lock, "locking " + p_.what);
        if (auto s = get_optional(c_, secret_path(p_.ns, p_.object_name), cancel_);
            s && annotation(*s, kPhaseAnnotation) == "active")
            throw busy_active(p_.what, *s);
        lock_.acquire(p_.what, std::chrono::milliseconds(0), cancel_, lock_progress(o_.events));
        lock_.start_renewing();
    }

    // The workload, or the record of a start that died half-way (taken over: continued from its
    // record, never from the changed workload).
    void read() {
        emit(o_.events, EventType::Phase, Phase::Read, "reading " + p_.what);
        secret_ = get_optional(c_, secret_path(p_.ns, p_.object_name), cancel_);
        // A bare Pod is deleted by the start: a start taken over may find it gone.
        if (p_.kind.kind == Kind::Pod && secret_)
            wl_ = get_optional(c_, p_.path, cancel_);
        else
            wl_ = c_.get(p_.path, cancel_);
        if (secret_) {
            if (annotation(*secret_, kPhaseAnnotation) == "active") throw busy_active(p_.what, *secret_);
            changed_ = true;
            emit(o_.events, EventType::Info, Phase::Read,
                 "taking over the unfinished start of " + p_.what + " by " + annotation(*secret_, kOwnerAnnotation));
            SessionRecord old = SessionRecord::read_with_original(*secret_, &p_.kind);
            original_ = old.original;
            hpas_ = old.hpas;
            spec_.session_id = old.session_id;
            token_ = old.token;
            if (!original_.is_object() || spec_.session_id.empty() || token_.empty())
                fail(NH_EPROTOCOL, "the session record of " + p_.what + " is incomplete");
        } else {
            if (!p_.dup) refuse_marked();
            original_ = clean_object(*wl_);
            if (p_.dup) original_["metadata"]["uid"] = (*wl_)["metadata"].value("uid", "");
            if (!p_.dup && scalable(p_.kind)) hpas_ = find_hpas(c_, p_.kind, p_.ns, o_.name, cancel_);
            spec_.session_id = random_hex(8);
            token_ = random_hex(32);
        }
        if (p_.dup && wl_) original_["metadata"]["uid"] = (*wl_)["metadata"].value("uid", "");
    }

    // A workload in dev mode without our record, in nhctl's dev mode, or run by a controller
    // that would undo dev mode.
    void refuse_marked() {
        if (!annotation(*wl_, kSessionAnnotation).empty()) throw missing_record(p_.what, p_.object_name);
        if (!annotation(*wl_, kNhctlOriginAnnotation).empty())
            fail(NH_EBUSY, p_.what + " is in Nocalhost's dev mode (annotation " + kNhctlOriginAnnotation +
                               "); end it first (nh dev end restores its original)");
        std::string ctl = controller_of(*wl_);
        if (!ctl.empty()) {
            std::string ctl_kind = ctl.substr(0, ctl.find('/'));
            for (auto &ch : ctl_kind) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
            fail(NH_EINVAL, p_.what + " is managed by " + ctl + ", which would undo dev mode; start dev mode on " +
                                ctl_kind + ctl.substr(ctl.find('/')) + " instead");
        }
    }

    json build_generated() const {
        json tpl = pod_template(original_, p_.kind);
        if (!p_.dup && p_.kind.kind != Kind::Pod && !wl_) fail(NH_ENOTFOUND, p_.what + " does not exist");
        json g = generated_deployment(p_.generated, p_.ns, tpl, p_.dup, wl_ ? *wl_ : original_, p_.kind, p_.developer);
        if (p_.dup) g["metadata"]["labels"][kDeveloperLabel] = label_value(p_.developer.substr(0, p_.developer.find('@')));
        return apply_dev_spec(g, Kind::Deployment, spec_);
    }

    // The dev spec; validated before anything changes, and then the node's check of its images.
    void check() {
        if (o_.local) check_local();
        spec_.container = o_.local && o_.container.empty() ? first_container_ : choose_container(original_, p_.kind, o_.container);
        spec_.image = o_.image.empty() ? local_image_ : o_.image;
        spec_.local = o_.local;
        spec_.workdir = o_.workdir;
        spec_.env = o_.env;
        spec_.resources = o_.resources;
        spec_.sidecar_image = o_.sidecar_image.empty() ? default_sidecar_image() : o_.sidecar_image;
        spec_.sidecar_base_image = o_.sidecar_base_image;
        spec_.sync_port = o_.sync_port;
        spec_.secret_name = p_.object_name;
        spec_.image_pull_policy = o_.image_pull_policy;
        for (const auto &d : o_.persistent_dirs) spec_.pvc_mounts.emplace_back("validate", d.path);
        json dev_pod_spec = p_.generated.empty()
                                ? pod_template(apply_dev_spec(original_, p_.kind, spec_), p_.kind)["spec"]
                                : pod_template(build_generated(), WorkloadKind(Kind::Deployment))["spec"];
        spec_.pvc_mounts.clear();
        if (!secret_) check_images(c_, p_.ns, dev_pod_spec, spec_, p_.what, p_.deadline, o_.events, cancel_);
        pod_selector_ = p_.generated.empty() ? kube::workload_selector(original_)
                                             : std::string(kGeneratedLabel) + "=" + label_value(p_.generated);
        if (p_.router) {
            const json labels = pod_template(original_, p_.kind).value("metadata", json::object()).value("labels", json::object());
            routes_ = traffic::plan_routes(c_, p_.ns, labels, {{kGeneratedLabel, label_value(p_.generated)}},
                                           spec_.session_id, *p_.router, p_.headers, p_.what, cancel_);
        }
    }

    // Local mode: every port to carry must be one the workload's containers declare (a Service
    // can only reach those), and the sidecar's bootstrap runs from the container's own image
    // unless a dev image is given.
    void check_local() {
        const json ps = pod_template(original_, p_.kind).value("spec", json::object());
        std::vector<int> declared;
        std::string listed;
        for (const auto &c : ps.value("containers", json::array())) {
            if (first_container_.empty()) first_container_ = c.value("name", "");
            if (c.value("name", "") == (o_.container.empty() ? first_container_ : o_.container))
                local_image_ = c.value("image", "");
            for (const auto &p : c.value("ports", json::array())) {
                declared.push_back(p.value("containerPort", 0));
                listed += (listed.empty() ? "" : ", ") + std::to_string(declared.back());
            }
        }
        rec_.local = json::array();
        for (const auto &lp : o_.local_ports) {
            if (std::find(declared.begin(), declared.end(), lp.port) == declared.end())
                fail(NH_EINVAL, "local mode: " + p_.what + " declares no container port " + std::to_string(lp.port) +
                                    (listed.empty() ? std::string(" (it declares none)") : " (its ports: " + listed + ")"));
            rec_.local.push_back({{"port", lp.port}, {"local", lp.local}});
        }
    }

    void record() {
        rec_.ns = p_.ns;
        rec_.object_name = p_.object_name;
        rec_.workload = o_.name;
        rec_.kind = p_.kind;
        rec_.phase = "starting";
        rec_.owner = p_.owner;
        rec_.since = now_rfc3339();
        rec_.mode = o_.mode;
        rec_.developer = p_.developer;
        rec_.container = spec_.container;
        rec_.image = spec_.image;
        rec_.workdir = spec_.workdir;
        rec_.sidecar_image = spec_.sidecar_image;
        rec_.sync_port = spec_.sync_port;
        rec_.session_id = spec_.session_id;
        rec_.generated = p_.generated;
        rec_.pod_selector = pod_selector_;
        rec_.extra = o_.extra;
        rec_.routes = routes_;
        rec_.token = token_;
        rec_.original = original_;
        rec_.original["metadata"].erase("uid");
        rec_.hpas = hpas_;
        emit(o_.events, EventType::Phase, Phase::Record,
             p_.dup ? "recording the session of " + p_.what : "recording the original of " + p_.what);
        if (secret_) {
            c_.patch(secret_path(p_.ns, p_.object_name), kube::PatchType::Merge, rec_.update_patch().dump(), cancel_);
        } else {
            c_.create(secret_path(p_.ns), rec_.secret(), cancel_);
            changed_ = true;
        }
    }

    void pin_hpas() {
        if (hpas_.empty()) return;
        emit(o_.events, EventType::Phase, Phase::Hpa,
             "pinning " + std::to_string(hpas_.size()) + " HorizontalPodAutoscaler(s) to 1 replica");
        for (const auto &h : hpas_)
            c_.patch(hpa_path(p_.ns, h["metadata"].value("name", "")), kube::PatchType::Merge,
                     R"({"spec":{"minReplicas":1,"maxReplicas":1}})", cancel_);
    }

    void claim_pvcs() {
        if (o_.persistent_dirs.empty()) return;
        rec_.pvcs = ensure_pvcs(c_, p_.ns, p_.kind, o_.name, p_.object_name, o_.persistent_dirs, p_.deadline, o_.events,
                                cancel_);
        for (const auto &p : rec_.pvcs)
            spec_.pvc_mounts.emplace_back(p["claim"].get<std::string>(), p["path"].get<std::string>());
        c_.patch(secret_path(p_.ns, p_.object_name), kube::PatchType::Merge, rec_.spec_patch().dump(), cancel_);
    }

    // A kind that cannot run one dev replica stops running pods (a bare Pod is deleted) while
    // its dev pod runs from the generated Deployment.
    void park() {
        if (p_.dup || p_.generated.empty()) return;
        const Kind k = p_.kind.kind;
        if (k == Kind::Pod) {
            emit(o_.events, EventType::Phase, Phase::Park, "deleting " + p_.what + " (its definition is recorded)");
            if (wl_ && !deleting(*wl_)) remove_optional(c_, p_.path, cancel_);
            return;
        }
        emit(o_.events, EventType::Phase, Phase::Park,
             k == Kind::DaemonSet ? "keeping the pods of " + p_.what + " off every node"
             : k == Kind::Custom  ? "scaling " + p_.what + " to 0"
                                  : "suspending " + p_.what);
        json parked_wl = parked(original_, p_.kind, p_.object_name);
        json done = update_with_retry(c_, p_.path, [&](const json &) { return parked_wl; }, cancel_);
        rec_.dev_generation = std::to_string(done["metadata"].value("generation", 0L));
    }

    // The switch of the workload in place, or the generated Deployment; then the config's patches.
    void patch() {
        const std::string runs = o_.local ? "local mode: only the sync sidecar, from " + spec_.image
                                          : "image " + spec_.image;
        emit(o_.events, EventType::Phase, Phase::Patch,
             p_.generated.empty()
                 ? "switching " + p_.what + " to dev mode (" + runs + ", 1 replica, sync sidecar)"
                 : std::string(p_.dup ? "creating the copy " : "creating the dev Deployment ") + p_.generated +
                       " (" + runs + ", sync sidecar)");
        if (p_.generated.empty()) {
            json dev = apply_dev_spec(original_, p_.kind, spec_);
            if (p_.kind.kind == Kind::Deployment) {
                json scaled = update_with_retry(
                    c_, p_.path,
                    [&](const json &cur) {
                        json first = scale_step(dev, cur);
                        first["metadata"] = dev["metadata"];
                        return first;
                    },
                    cancel_);
                wait_observed(c_, p_.path, scaled, p_.deadline, cancel_);
            }
            json updated = update_with_retry(c_, p_.path, [&](const json &) { return dev; }, cancel_);
            apply_patches(c_, p_.path, o_, spec_.container, updated, cancel_);
            rec_.dev_generation = std::to_string(updated["metadata"].value("generation", 0L));
            if (p_.kind.kind == Kind::ReplicaSet) {
                wait_observed(c_, p_.path, updated, p_.deadline, cancel_);
                // A ReplicaSet never replaces its pods for a new template on its own.
                delete_pods_by_session(c_, p_.ns, kube::workload_selector(original_), spec_.session_id, true, cancel_);
            }
        } else {
            json g = build_generated();
            const std::string gpath = workload_path(Kind::Deployment, p_.ns, p_.generated);
            json made;
            try {
                made = c_.create(workload_path(Kind::Deployment, p_.ns, ""), g, cancel_);
            } catch (const Error &e) {
                if (e.code() != NH_EEXISTS) throw;
                made = update_with_retry(c_, gpath, [&](const json &) { return g; }, cancel_);
            }
            apply_patches(c_, gpath, o_, spec_.container, made, cancel_);
        }
    }

    PodState wait() {
        emit(o_.events, EventType::Phase, Phase::Wait, "waiting for the dev pod of " + p_.what);
        // No dev pod a while after the switch: the Deployment controller may have stalled the rollout.
        auto next_look = Clock::now() + std::chrono::seconds(3);
        std::function<void()> idle;
        if (p_.kind.kind == Kind::Deployment && p_.generated.empty())
            idle = [&] {
                if (Clock::now() < next_look) return;
                next_look = Clock::now() + std::chrono::seconds(3);
                std::string repaired = unstall_rollout(c_, p_.ns, p_.path, cancel_);
                if (!repaired.empty()) emit(o_.events, EventType::Warning, Phase::Wait, repaired);
            };
        return wait_for_dev_pod(
            c_, p_.ns, pod_selector_, spec_.session_id, p_.what, p_.deadline,
            [&](const Event &e) { emit(o_.events, e.type, e.phase, e.message, e.detail); }, cancel_, idle);
    }

    // The header routes to the copy, once it runs (recorded before, removed by the restore).
    void route() {
        if (!routes_.is_object()) return;
        std::string headers;
        for (const auto &h : p_.headers) headers += (headers.empty() ? "" : ", ") + h.name + "=" + h.value;
        std::string services;
        for (const auto &s : routes_["services"]) services += (services.empty() ? "" : ", ") + s.value("name", "");
        emit(o_.events, EventType::Phase, Phase::Patch,
             "routing requests to " + services + " with " + headers + " to the copy " + p_.generated + " (" +
                 routes_.value("router", "") + ")",
             traffic::route_status(routes_));
        traffic::apply_routes(c_, p_.ns, routes_, cancel_);
    }

    void mark_active() {
        rec_.phase = "active";
        json mark_ann = {{kPhaseAnnotation, rec_.phase}};
        if (!rec_.dev_generation.empty()) mark_ann[kDevGenerationAnnotation] = rec_.dev_generation;
        json mark = {{"metadata", {{"annotations", mark_ann}}}};
        c_.patch(secret_path(p_.ns, p_.object_name), kube::PatchType::Merge, mark.dump(), cancel_);
    }

    Session ready(const PodState &pod) {
        Session s = rec_.session();
        s.pod_name = pod.name;
        s.pod_phase = pod.phase;
        s.pod_ready = pod.ready;
        emit(o_.events, EventType::Phase, Phase::Ready, p_.what + " is in dev mode: pod " + pod.name,
             {{"pod", pod.name}, {"container", spec_.container}, {"sync_port", spec_.sync_port}});
        return s;
    }

    Error on_failure(const Error &e) {
        if (!changed_) {
            lock_.release();
            return e;
        }
        if (!o_.rollback_on_failure) {
            lock_.release();
            return with_suffix(e, "; " + p_.what +
                                      " was left in its partial dev-mode state (rollback disabled): end dev mode to restore it");
        }
        try {
            emit(o_.events, EventType::Phase, Phase::Rollback, "start failed, rolling back " + p_.what + ": " + e.what());
        } catch (const Error &) {
        }
        try {
            // The caller's token may be what stopped us: roll back regardless of it.
            auto secret = get_optional(c_, secret_path(p_.ns, p_.object_name), nullptr);
            if (secret) restore(c_, SessionRecord::read_with_original(*secret, &p_.kind), nullptr, nullptr);
        } catch (const Error &re) {
            lock_.release();
            return with_suffix(e, std::string("; rolling back failed too: ") + re.what() +
                                      " (end dev mode to retry the restore)");
        }
        lock_.release();
        return with_suffix(e, "; " + p_.what + " was rolled back to its original state");
    }

    kube::Client &c_;
    const StartOptions &o_;
    StepHook after_step_;
    CancelToken *cancel_;
    const Plan p_;
    LeaseLock lock_;
    bool changed_ = false;  // true once the cluster holds a session record
    std::optional<json> secret_;  // the record of a start taken over
    std::optional<json> wl_;      // the workload as read (none: a bare Pod a taken-over start deleted)
    json original_, hpas_ = json::array();
    json routes_;  // the header routing's plan, or null
    std::string token_, pod_selector_;
    std::string first_container_, local_image_;  // local mode
    DevSpec spec_;
    SessionRecord rec_;
};

}  // namespace

Session start(kube::Client &c, const StartOptions &o) { return Start(c, o, nullptr).run(); }

Session start_observed(kube::Client &c, const StartOptions &o, const StepHook &after_step) {
    return Start(c, o, after_step).run();
}

}  // namespace nh::dev
