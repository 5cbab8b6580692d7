#include "dev/sidecar_upload.hpp"

#include <dlfcn.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/error.hpp"
#include "common/log.hpp"
#include "dev/sidecar_image.hpp"
#include "dev/workload.hpp"
#include "nocalhost.h"
#include "stream/exec.hpp"
#include "sync/protocol.hpp"

namespace nh::dev {
namespace fs = std::filesystem;

namespace {

// Kubernetes' architecture names of `uname -m`'s.
std::string arch_of_machine(std::string m) {
    while (!m.empty() && (m.back() == '\n' || m.back() == '\r' || m.back() == ' ')) m.pop_back();
    if (m == "x86_64") return "amd64";
    if (m == "aarch64" || m == "arm64") return "arm64";
    return m;
}

std::string sh_quote(const std::string &s) {
    std::string out = "'";
    for (char ch : s) out += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
    return out + "'";
}

stream::ExecOutput sidecar_exec(kube::Client &c, const std::string &ns, const std::string &pod,
                                const std::string &script, std::string_view input, CancelToken *cancel) {
    stream::ExecRequest req;
    req.ns = ns;
    req.pod = pod;
    req.container = kSidecarName;
    req.command = {"/bin/sh", "-c", script};
    req.stdin_ = !input.empty();
    return stream::exec_run(c, req, input, cancel);
}

std::string node_architecture(kube::Client &c, const std::string &ns, const std::string &pod, CancelToken *cancel) {
    json p = c.get("/api/v1/namespaces/" + ns + "/pods/" + pod, cancel);
    std::string node = p.value("spec", json::object()).value("nodeName", "");
    if (!node.empty()) {
        try {
            json n = c.get("/api/v1/nodes/" + node, cancel);
            std::string a = n.value("status", json::object()).value("nodeInfo", json::object()).value("architecture", "");
            if (!a.empty()) return a;
        } catch (const Error &e) {
            // Namespaced users may not read nodes: the sidecar's own `uname -m` tells too.
            if (e.code() != NH_EFORBIDDEN && e.code() != NH_ENOTFOUND) throw;
        }
    }
    auto out = sidecar_exec(c, ns, pod, "uname -m", {}, cancel);
    if (out.exit_code != 0 || out.out.empty())
        fail(NH_ERROR, "cannot tell the architecture of pod " + pod + "'s node (uname -m: " + out.err + ")");
    return arch_of_machine(out.out);
}

}  // namespace

std::string file_bytes(const std::string &path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) fail(NH_EIO, "cannot read " + path);
    std::ostringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

#ifndef NH_LIBDIR_TO_SYNCD_DIR
#define NH_LIBDIR_TO_SYNCD_DIR "../share/nocalhost"
#endif

std::string syncd_dir(const std::string &option) {
    if (!option.empty()) return option;
    if (const char *e = std::getenv("NH_SYNCD_DIR"); e && *e) return e;
    Dl_info info{};
    // The object this code is linked into: libnocalhost.so, in <prefix>/lib or
    // <prefix>/lib/<multiarch> when installed, in build/lib beside build/share in the build tree.
    if (dladdr(reinterpret_cast<void *>(&syncd_dir), &info) && info.dli_fname) {
        std::error_code ec;
        fs::path dir = fs::weakly_canonical(fs::path(info.dli_fname), ec).parent_path();
        fs::path installed = (dir / NH_LIBDIR_TO_SYNCD_DIR).lexically_normal();
        fs::path build_tree = (dir / ".." / "share" / "nocalhost").lexically_normal();
        if (!fs::is_directory(installed, ec) && fs::is_directory(build_tree, ec)) return build_tree.string();
        return installed.string();
    }
    return "share/nocalhost";
}

std::string elf_architecture(const std::string &path) {
    std::ifstream f(path, std::ios::binary);
    unsigned char h[20] = {};
    if (!f.read(reinterpret_cast<char *>(h), sizeof h)) return "";
    if (h[0] != 0x7f || h[1] != 'E' || h[2] != 'L' || h[3] != 'F' || h[5] != 1 /* little-endian */) return "";
    unsigned machine = h[18] | (h[19] << 8);
    if (machine == 62) return "amd64";
    if (machine == 183) return "arm64";
    return "";
}

std::string syncd_binary(const std::string &dir, const std::string &arch) {
    std::string path = (fs::path(dir) / ("nhsyncd-linux-" + arch)).string();
    std::error_code ec;
    if (!fs::is_regular_file(path, ec))
        fail(NH_ENOTFOUND, "no nhsyncd for linux/" + arch + " at " + path +
                               " (build it with NOCALHOST_SYNCD_ARCHES, point NH_SYNCD_DIR or the syncd_dir "
                               "option at a directory holding nhsyncd-linux-" + arch +
                               ", or give a sidecar image: see docs/sidecar.md)");
    std::string got = elf_architecture(path);
    if (got != arch)
        fail(NH_EINVAL, path + " is " + (got.empty() ? std::string("not an ELF executable of a known machine")
                                                    : "built for " + got) +
                            ", but the node runs linux/" + arch);
    return path;
}

UploadResult ensure_sidecar_binary(kube::Client &c, const std::string &ns, const std::string &pod,
                                   const std::string &dir, const UploadProgress &progress, CancelToken *cancel) {
    UploadResult r;
    r.pod = pod;
    r.arch = node_architecture(c, ns, pod, cancel);
    r.binary = syncd_binary(dir, r.arch);
    const std::string data = file_bytes(r.binary);
    const std::string hash = sha256_digest(data).substr(7);
    const std::string bin = kSidecarBinary;
    const std::string bin_dir = fs::path(bin).parent_path().string();

    auto have = sidecar_exec(c, ns, pod, "cat " + bin + ".sha256 2>/dev/null || true", {}, cancel);
    if (have.exit_code == 0 && have.out.rfind(hash, 0) == 0) {
        r.bytes = data.size();
        return r;
    }
    const std::string size = std::to_string(data.size());
    // Reads exactly the binary's size (no end of stdin needed), checks it, and installs it
    // under its final name only once it runs here.
    const std::string script =
        "set -e; d=" + bin_dir + "; mkdir -p \"$d\"; t=\"$d/nhsyncd.tmp.$$\"; head -c " + size + " > \"$t\"; " +
        "n=$(wc -c < \"$t\"); n=$((n + 0)); " +
        "if [ \"$n\" != " + size + " ]; then rm -f \"$t\"; echo \"got $n of " + size + " bytes\" >&2; exit 3; fi; " +
        "if command -v sha256sum >/dev/null 2>&1; then h=$(sha256sum \"$t\"); h=${h%% *}; " +
        "if [ \"$h\" != " + hash + " ]; then rm -f \"$t\"; echo \"sha256 $h, expected " + hash + "\" >&2; exit 4; fi; " +
        "echo nh-hash: sha256; else echo nh-hash: size; fi; " +
        "chmod 755 \"$t\"; if ! v=$(\"$t\" --version 2>&1); then rm -f \"$t\"; echo \"$v\" >&2; exit 5; fi; " +
        "echo \"nh-version: $v\"; echo " + hash + " > \"$d/nhsyncd.sha256.tmp\"; mv -f \"$t\" " + sh_quote(bin) +
        "; mv -f \"$d/nhsyncd.sha256.tmp\" \"$d/nhsyncd.sha256\"";
    if (progress)
        progress("uploading nhsyncd for linux/" + r.arch + " (" + size + " bytes) into the sidecar of pod " + pod,
                 {{"pod", pod}, {"arch", r.arch}, {"binary", r.binary}, {"bytes", data.size()}});
    auto t0 = std::chrono::steady_clock::now();
    auto out = sidecar_exec(c, ns, pod, script, data, cancel);
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    auto err_line = [&] {
        std::string e = out.err;
        while (!e.empty() && (e.back() == '\n' || e.back() == ' ')) e.pop_back();
        return e.empty() ? std::string("no message") : e;
    };
    if (out.exit_code == 5)
        fail(NH_ERROR, "the nhsyncd uploaded from " + r.binary + " does not run in the sidecar of pod " + pod +
                           " (node linux/" + r.arch + "): " + err_line());
    if (out.exit_code == 3 || out.exit_code == 4)
        fail(NH_EIO, "uploading nhsyncd into the sidecar of pod " + pod + " was corrupted: " + err_line());
    if (out.exit_code != 0)
        fail(NH_ERROR, "uploading nhsyncd into the sidecar of pod " + pod + " failed (exit " +
                           std::to_string(out.exit_code) + "): " + err_line());
    r.uploaded = true;
    r.bytes = data.size();
    r.hash_checked = out.out.find("nh-hash: sha256") != std::string::npos;
    auto v = out.out.find("nh-version: ");
    if (v != std::string::npos) r.version = out.out.substr(v + 12, out.out.find('\n', v) - v - 12);
    const std::string want = "(protocol " + std::to_string(sync::proto::kVersion) + ")";
    if (r.version.find(want) == std::string::npos)
        fail(NH_EUNSUPPORTED, "the nhsyncd at " + r.binary + " says '" + r.version + "', but this library speaks " +
                                  "sync protocol " + std::to_string(sync::proto::kVersion) +
                                  ": use the nhsyncd installed with this library");
    if (progress) {
        std::ostringstream m;
        m.precision(2);
        m << std::fixed << "uploaded " << r.bytes << " bytes in " << r.seconds << " s (" << r.version << ", "
          << (r.hash_checked ? "sha256" : "size") << " checked in the pod)";
        progress(m.str(), {{"pod", pod},
                           {"arch", r.arch},
                           {"bytes", r.bytes},
                           {"seconds", r.seconds},
                           {"version", r.version},
                           {"checked", r.hash_checked ? "sha256" : "size"}});
    }
    log::info("uploaded nhsyncd (" + r.arch + ", " + std::to_string(r.bytes) + " bytes) into pod " + pod);
    return r;
}

std::vector<SidecarPod> running_sidecars(kube::Client &c, const std::string &ns, const std::string &selector,
                                         const std::string &session_id, CancelToken *cancel) {
    json list = c.get("/api/v1/namespaces/" + ns + "/pods?labelSelector=" + kube::url_escape(selector), cancel);
    std::vector<SidecarPod> out;
    for (const auto &p : list.value("items", json::array())) {
        const json md = p.value("metadata", json::object());
        if (md.contains("deletionTimestamp")) continue;
        if (md.value("annotations", json::object()).value(kSessionIdAnnotation, "") != session_id) continue;
        for (const auto &cs : p.value("status", json::object()).value("containerStatuses", json::array()))
            if (cs.value("name", "") == kSidecarName && cs.value("state", json::object()).contains("running"))
                out.push_back({md.value("name", ""), md.value("uid", "")});
    }
    return out;
}

}  // namespace nh::dev
