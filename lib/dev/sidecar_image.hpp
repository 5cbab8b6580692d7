// The sync sidecar as a multi-architecture OCI image archive, without Docker and without a
// base image: one layer per architecture holding only the static nhsyncd, for registries
// (skopeo copy oci-archive:...) and for containerd (ctr images import).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace nh::dev {

// A ustar archive in memory: entries in the order added, owner root, mtime 0 (the same input
// gives the same bytes, so the same digests).
class TarWriter {
public:
    void dir(const std::string &name, unsigned mode = 0755);
    void file(const std::string &name, const std::string &data, unsigned mode = 0644);
    // The archive with its two zero blocks at the end.
    std::string finish();

private:
    void header(const std::string &name, char type, size_t size, unsigned mode);
    std::string out_;
};

// "sha256:<hex>" of data.
std::string sha256_digest(const std::string &data);

// The sidecar's image config: entrypoint /usr/local/bin/nhsyncd, the library's sidecar command
// as its Cmd, PATH, port NH_DEV_DEFAULT_SYNC_PORT.
nlohmann::json sidecar_image_config(const std::string &arch, const std::string &layer_digest);

// Writes the OCI image archive of the nhsyncd binaries in `syncd_dir` (dev/sidecar_upload.hpp)
// for `arches` (empty: every one found of amd64 and arm64) to `path` (written to a temporary
// file then renamed), named `name` (io.containerd.image.name and, its tag,
// org.opencontainers.image.ref.name). Returns {"path","name","digest" (of the image index),
// "size" (of the archive), "images":[{"architecture","digest","binary","bytes"}]}. Throws
// NH_EINVAL (a bad name or architecture), NH_ENOTFOUND (no binary), NH_EIO.
nlohmann::json write_sidecar_image(const std::string &path, const std::string &name,
                                   const std::vector<std::string> &arches, const std::string &syncd_dir);

}  // namespace nh::dev
