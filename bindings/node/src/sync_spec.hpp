// The options of a sync (nh_sync_options) read from a JS object, kept for as
// long as the C options point into them.
#pragma once

#include "common.hpp"

namespace nhnode {

struct SyncSpec {
    std::vector<std::string> ignore, include;
    std::vector<const char *> ignore_ptrs, include_ptrs;
    std::optional<std::string> state_dir;
    int mode = 0, compression = 0;
    bool use_gitignore = false, delete_protection = false;
    long connect_timeout_ms = 0, max_backoff_ms = 0;

    SyncSpec() = default;
    // {mode, ignore, include, useGitignore, stateDir, compression, connectTimeoutMs, maxBackoffMs,
    //  deleteProtection}
    explicit SyncSpec(const Napi::Value &o) {
        mode = static_cast<int>(opt_int(option(o, "mode"), 0));
        ignore = strings(option(o, "ignore"), "ignore");
        include = strings(option(o, "include"), "include");
        use_gitignore = option(o, "useGitignore").ToBoolean().Value();
        state_dir = opt_string(option(o, "stateDir"));
        compression = static_cast<int>(opt_int(option(o, "compression"), 0));
        connect_timeout_ms = static_cast<long>(opt_int(option(o, "connectTimeoutMs"), 0));
        max_backoff_ms = static_cast<long>(opt_int(option(o, "maxBackoffMs"), 0));
        delete_protection = option(o, "deleteProtection").ToBoolean().Value();
    }

    // Points into this object: keep it alive while the result is used.
    nh_sync_options build() {
        ignore_ptrs.clear();
        include_ptrs.clear();
        for (auto &s : ignore) ignore_ptrs.push_back(s.c_str());
        for (auto &s : include) include_ptrs.push_back(s.c_str());
        nh_sync_options x = NH_SYNC_OPTIONS_INIT;
        x.mode = mode;
        x.ignore_patterns = ignore_ptrs.empty() ? nullptr : ignore_ptrs.data();
        x.ignore_patterns_count = ignore_ptrs.size();
        x.include_patterns = include_ptrs.empty() ? nullptr : include_ptrs.data();
        x.include_patterns_count = include_ptrs.size();
        x.use_gitignore = use_gitignore ? 1 : 0;
        x.state_dir = c_str_or_null(state_dir);
        x.compression = compression;
        x.connect_timeout_ms = connect_timeout_ms;
        x.max_backoff_ms = max_backoff_ms;
        x.delete_protection = delete_protection ? 1 : 0;
        return x;
    }

    static std::vector<std::string> strings(const Napi::Value &v, const char *what) {
        std::vector<std::string> out;
        if (v.IsUndefined() || v.IsNull()) return out;
        if (!v.IsArray()) throw_error(v.Env(), NH_EINVAL, std::string(what) + " must be an array of strings");
        auto a = v.As<Napi::Array>();
        for (uint32_t i = 0; i < a.Length(); ++i) out.push_back(a.Get(i).ToString().Utf8Value());
        return out;
    }
};

}  // namespace nhnode
