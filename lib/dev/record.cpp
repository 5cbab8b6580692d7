#include "dev/record.hpp"

#include "common/base64.hpp"
#include "common/error.hpp"
#include "dev/kube_ops.hpp"

namespace nh::dev {

namespace {

std::string secret_text(const json &secret, const char *key) {
    const json data = secret.value("data", json::object());
    if (!data.contains(key)) return {};
    auto decoded = base64::decode(data[key].get<std::string>());
    if (!decoded) fail(NH_EPROTOCOL, std::string("the session record has an unreadable '") + key + "'");
    return *decoded;
}

json secret_json(const json &secret, const char *key) {
    std::string text = secret_text(secret, key);
    if (text.empty()) return nullptr;
    auto j = json::parse(text, nullptr, false);
    if (j.is_discarded()) fail(NH_EPROTOCOL, std::string("the session record has an unreadable '") + key + "'");
    return j;
}

// The kind of a record that names none in its spec: from its annotation.
WorkloadKind annotated_kind(const json &secret) {
    const std::string text = annotation(secret, kKindAnnotation);
    try {
        Kind k = parse_kind(text);
        if (k != Kind::Custom) return WorkloadKind(k);
    } catch (const Error &) {
    }
    WorkloadKind k(Kind::Custom);
    if (!text.empty()) k.name = text;
    return k;
}

}  // namespace

SessionRecord SessionRecord::read(const json &secret, const WorkloadKind *kind) {
    SessionRecord r;
    const json md = secret.value("metadata", json::object());
    r.ns = md.value("namespace", "");
    r.object_name = md.value("name", "");
    r.workload = annotation(secret, kNameAnnotation);
    r.phase = annotation(secret, kPhaseAnnotation);
    r.owner = annotation(secret, kOwnerAnnotation);
    r.since = annotation(secret, kSinceAnnotation);
    r.dev_generation = annotation(secret, kDevGenerationAnnotation);
    const json spec = secret_json(secret, "spec");
    if (spec.is_object() && spec.contains("workload_kind"))
        r.kind = WorkloadKind::from_json(spec["workload_kind"]);
    else
        r.kind = kind ? *kind : annotated_kind(secret);
    if (spec.is_object()) {
        r.container = spec.value("container", "");
        r.image = spec.value("image", "");
        r.workdir = spec.value("workdir", "");
        r.sidecar_image = spec.value("sidecar_image", "");
        r.sync_port = spec.value("sync_port", kDefaultSyncPort);
        r.session_id = spec.value("session_id", "");
        r.mode = spec.value("mode", "replace") == "duplicate" ? Mode::Duplicate : Mode::Replace;
        r.developer = spec.value("developer", "");
        r.generated = spec.value("generated", "");
        r.pod_selector = spec.value("pod_selector", "");
        r.pvcs = spec.value("pvcs", json::array());
        r.extra = spec.value("extra", json());
        r.local = spec.value("local", json());
        r.routes = spec.value("routes", json());
    }
    r.token = secret_text(secret, "token");
    return r;
}

SessionRecord SessionRecord::read_with_original(const json &secret, const WorkloadKind *kind) {
    SessionRecord r = read(secret, kind);
    r.original = secret_json(secret, "original");
    r.hpas = secret_json(secret, "hpas");
    return r;
}

json SessionRecord::annotations() const {
    json a = {{kKindAnnotation, kind.name},   {kNameAnnotation, workload},        {kPhaseAnnotation, phase},
              {kOwnerAnnotation, owner},      {kSinceAnnotation, since},          {kModeAnnotation, mode_name(mode)},
              {kDeveloperAnnotation, developer}};
    if (!dev_generation.empty()) a[kDevGenerationAnnotation] = dev_generation;
    return a;
}

json SessionRecord::spec() const {
    json j = {{"container", container},
              {"image", image},
              {"workdir", workdir},
              {"sidecar_image", sidecar_image},
              {"sync_port", sync_port},
              {"session_id", session_id},
              {"workload_kind", kind.to_json()},
              {"mode", mode_name(mode)},
              {"developer", developer},
              {"generated", generated},
              {"pod_selector", pod_selector}};
    if (!pvcs.empty()) j["pvcs"] = pvcs;
    if (!extra.is_null()) j["extra"] = extra;
    if (!local.is_null()) j["local"] = local;
    if (!routes.is_null()) j["routes"] = routes;
    return j;
}

json SessionRecord::secret() const {
    json data = {{"original", base64::encode(original.dump())},
                 {"hpas", base64::encode(hpas.dump())},
                 {"spec", base64::encode(spec().dump())}};
    if (!token.empty()) data["token"] = base64::encode(token);
    return {{"apiVersion", "v1"},
            {"kind", "Secret"},
            {"type", "Opaque"},
            {"metadata",
             {{"name", object_name},
              {"namespace", ns},
              {"labels", {{kManagedByLabel, kManagedByValue}, {kRoleLabel, kRoleSession}}},
              {"annotations", annotations()}}},
            {"data", data}};
}

json SessionRecord::update_patch() const {
    return {{"metadata", {{"annotations", annotations()}}}, {"data", {{"spec", base64::encode(spec().dump())}}}};
}

json SessionRecord::spec_patch() const { return {{"data", {{"spec", base64::encode(spec().dump())}}}}; }

Session SessionRecord::session() const {
    Session s;
    s.kind = kind;
    s.ns = ns;
    s.name = workload;
    s.object_name = object_name;
    s.phase = phase;
    s.owner = owner;
    s.since = since;
    s.container = container;
    s.image = image;
    s.workdir = workdir;
    s.sidecar_image = sidecar_image;
    s.sync_port = sync_port;
    s.session_id = session_id;
    s.token = token;
    s.mode = mode;
    s.developer = developer;
    s.generated = generated;
    s.pod_selector = pod_selector;
    s.pvcs = pvcs;
    s.extra = extra;
    s.local = local;
    s.routes = routes;
    return s;
}

Session session_from_record(const json &secret) { return SessionRecord::read(secret).session(); }

}  // namespace nh::dev
