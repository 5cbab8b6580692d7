#include "dev/config_write.hpp"

#include "common/error.hpp"
#include "dev/config.hpp"
#include "dev/session.hpp"
#include "dev/sidecar_image.hpp"
#include "kube/client.hpp"

namespace nh::dev {

namespace {

constexpr const char *kAnnotation = "dev.nocalhost";

std::string cm_name(const ConfigTarget &t) { return "dev.nocalhost.config." + t.app; }
std::string cm_path(const ConfigTarget &t, bool item = true) {
    return "/api/v1/namespaces/" + t.ns + "/configmaps" + (item ? "/" + cm_name(t) : "");
}
std::string source_of(const ConfigTarget &t) {
    return t.app.empty() ? std::string("annotation ") + kAnnotation + " of " + t.kind.lower + "/" + t.name
                         : "ConfigMap " + cm_name(t);
}

json text_or_null(const json &map, const std::string &key) {
    if (!map.is_object() || !map.contains(key) || !map[key].is_string()) return nullptr;
    return map[key];
}

[[noreturn]] void stale(const ConfigTarget &t, const std::string &why) {
    throw Error(NH_ECONFLICT, "the dev config in the " + source_of(t) + " " + why +
                                  "; read it again and write over the version read (nothing was overwritten)",
                409, "Conflict");
}

// The version of the annotation's text that a write must find again: "" when there is none,
// else a digest of the text. Not the workload's resourceVersion, which every unrelated change
// of the workload (its status, a label, a scale) moves on.
std::string annotation_version(const json &text) {
    return text.is_string() ? sha256_digest(text.get<std::string>()).substr(0, 7 + 16) : "";
}

}  // namespace

json read_dev_config(kube::Client &c, const ConfigTarget &t, CancelToken *cancel) {
    json out = {{"source", source_of(t)}};
    if (t.app.empty()) {
        json wl = c.get(workload_path(t.kind, t.ns, t.name), cancel);
        out["config"] = text_or_null(wl["metadata"].value("annotations", json::object()), kAnnotation);
        out["resource_version"] = annotation_version(out["config"]);
        return out;
    }
    try {
        json cm = c.get(cm_path(t), cancel);
        out["config"] = text_or_null(cm.value("data", json::object()), "config");
        out["resource_version"] = cm["metadata"].value("resourceVersion", "");
    } catch (const Error &e) {
        if (e.code() != NH_ENOTFOUND) throw;
        out["config"] = nullptr;
        out["resource_version"] = "";
    }
    return out;
}

json write_dev_config(kube::Client &c, const ConfigTarget &t, const std::string &text,
                      const std::string &resource_version, CancelToken *cancel) {
    const std::string source = source_of(t);
    json services;
    try {
        services = parse_nocalhost_config(text, source);
    } catch (const Error &e) {
        if (e.code() != NH_ECONFIG) throw;
        throw Error(NH_EINVAL, std::string("invalid dev config (nothing was written): ") + e.what());
    }
    if (t.app.empty() && find_service(services, t.kind, t.name).is_null())
        fail(NH_EINVAL, "invalid dev config (nothing was written): it configures no " + t.kind.lower + " named " + t.name);

    if (t.app.empty()) {
        // Compare and swap on the annotation alone: the workload as it is now must still hold the
        // text read, and the patch carries this fresh read's resourceVersion, so that nothing
        // can change the annotation between the comparison and the write. A workload changed by
        // someone else in between (its status, a label) is read again, not refused.
        const std::string path = workload_path(t.kind, t.ns, t.name);
        for (int attempt = 0; attempt < 5; ++attempt) {
            json wl = c.get(path, cancel);
            const json ann = wl["metadata"].value("annotations", json::object());
            if (ann.contains(kSessionAnnotation))
                fail(NH_ESTATE, t.kind.lower + "/" + t.name +
                                    " is in dev mode: its end restores the recorded original, annotations too; write "
                                    "the dev config after the end (nothing was written)");
            const std::string now = annotation_version(text_or_null(ann, kAnnotation));
            if (now != resource_version)
                stale(t, resource_version.empty() ? "exists and no version was given"
                         : now.empty()            ? "was removed since it was read"
                                                  : "was changed since it was read");
            json patch = {{"metadata",
                           {{"resourceVersion", wl["metadata"].value("resourceVersion", "")},
                            {"annotations", {{kAnnotation, text}}}}}};
            try {
                c.patch(path, kube::PatchType::Merge, patch.dump(), cancel);
                return read_dev_config(c, t, cancel);
            } catch (const Error &e) {
                if (e.code() != NH_ECONFLICT) throw;  // the workload moved on since this read: compare again
            }
        }
        stale(t, "could not be compared: the workload kept changing");
    }
    if (resource_version.empty()) {
        json cm = {{"apiVersion", "v1"},
                   {"kind", "ConfigMap"},
                   {"metadata", {{"name", cm_name(t)}, {"namespace", t.ns}}},
                   {"data", {{"config", text}}}};
        try {
            c.create(cm_path(t, false), cm, cancel);
        } catch (const Error &e) {
            if (e.code() != NH_EEXISTS) throw;
            stale(t, "exists and no resourceVersion was given");
        }
        return read_dev_config(c, t, cancel);
    }
    // Only the config key changes; the rest of the ConfigMap is kept as read.
    json patch = {{"metadata", {{"resourceVersion", resource_version}}}, {"data", {{"config", text}}}};
    try {
        c.patch(cm_path(t), kube::PatchType::Merge, patch.dump(), cancel);
    } catch (const Error &e) {
        if (e.code() == NH_ENOTFOUND) stale(t, "was deleted since it was read");
        throw;
    }
    return read_dev_config(c, t, cancel);
}

}  // namespace nh::dev
