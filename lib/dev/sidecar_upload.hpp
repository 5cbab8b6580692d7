// The sync sidecar without an image of ours: the sidecar runs the dev image's shell
// (sidecar_bootstrap() in workload.hpp) and waits in its own emptyDir for the static
// nhsyncd that the library uploads through exec, for the node's architecture.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "common/cancel.hpp"
#include "kube/client.hpp"

namespace nh::dev {

// The directory of the static nhsyncd binaries (nhsyncd-linux-<arch>): `option` when not
// empty, else $NH_SYNCD_DIR, else share/nocalhost beside the library's lib/ (found with
// dladdr). Never empty; whether it holds a binary is syncd_binary()'s to say.
std::string syncd_dir(const std::string &option);

// The binary for `arch` ("amd64", "arm64") in `dir`, checked to be an ELF executable for that
// architecture. Throws NH_ENOTFOUND (missing, naming the path and the ways out) or NH_EINVAL
// (another architecture's binary, or not an ELF executable).
std::string syncd_binary(const std::string &dir, const std::string &arch);

// The whole content of a file; throws NH_EIO.
std::string file_bytes(const std::string &path);

// The Kubernetes architecture ("amd64", "arm64", ...) of an ELF file's machine, or "" when the
// file is no ELF file of a known machine.
std::string elf_architecture(const std::string &path);

struct UploadResult {
    bool uploaded = false;  // false: the pod already had this binary
    std::string arch, binary, pod;
    size_t bytes = 0;
    double seconds = 0;
    std::string version;  // what `nhsyncd --version` said in the pod (uploads only)
    bool hash_checked = false;  // the pod had sha256sum (else the size was checked)
};

// One line for humans on each step ("uploading ...", "uploaded ..."), with its facts as JSON.
using UploadProgress = std::function<void(const std::string &message, const nlohmann::json &detail)>;

// Makes sure the sidecar of pod `pod` has the nhsyncd of this library: finds the node's
// architecture (the node's status, else `uname -m` in the sidecar), picks the binary, and
// unless the sidecar already holds it (same sha256), streams it through exec into the
// sidecar's volume, where the pod checks its size and sha256 (sha256sum if the image has it)
// and runs `nhsyncd --version`, whose protocol must be this library's; the bootstrap then
// execs it. The sidecar container must be running. Throws nh::Error with the reason.
UploadResult ensure_sidecar_binary(kube::Client &c, const std::string &ns, const std::string &pod,
                                   const std::string &syncd_dir, const UploadProgress &progress,
                                   CancelToken *cancel);

// The dev pods of a session (its pod selector and session id) whose sync sidecar container
// is running now and that are not being deleted.
struct SidecarPod {
    std::string name, uid;
};
std::vector<SidecarPod> running_sidecars(kube::Client &c, const std::string &ns, const std::string &selector,
                                         const std::string &session_id, CancelToken *cancel);


}  // namespace nh::dev
