#include "dev/sidecar_image.hpp"

#include <openssl/evp.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "common/error.hpp"
#include "dev/sidecar_upload.hpp"
#include "dev/workload.hpp"
#include "nocalhost.h"

namespace nh::dev {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

constexpr size_t kBlock = 512;

// width - 1 octal digits and a NUL, as ustar wants.
void octal(char *field, size_t width, unsigned long long value) {
    field[width - 1] = '\0';
    for (size_t i = width - 1; i-- > 0; value >>= 3) field[i] = static_cast<char>('0' + (value & 7));
}

const char *kIndexType = "application/vnd.oci.image.index.v1+json";
const char *kManifestType = "application/vnd.oci.image.manifest.v1+json";
const char *kConfigType = "application/vnd.oci.image.config.v1+json";
const char *kLayerType = "application/vnd.oci.image.layer.v1.tar";

}  // namespace

void TarWriter::header(const std::string &name, char type, size_t size, unsigned mode) {
    if (name.size() > 100) fail(NH_EINVAL, "tar entry name too long: " + name);
    char h[kBlock] = {};
    std::memcpy(h, name.data(), name.size());
    octal(h + 100, 8, mode);
    octal(h + 108, 8, 0);
    octal(h + 116, 8, 0);
    octal(h + 124, 12, size);
    octal(h + 136, 12, 0);
    std::memset(h + 148, ' ', 8);
    h[156] = type;
    std::memcpy(h + 257, "ustar", 6);  // magic "ustar\0", version "00"
    std::memcpy(h + 263, "00", 2);
    std::memcpy(h + 265, "root", 4);
    std::memcpy(h + 297, "root", 4);
    unsigned sum = 0;
    for (unsigned char c : h) sum += c;
    octal(h + 148, 7, sum);  // six digits, NUL, and the space left from above
    out_.append(h, kBlock);
}

void TarWriter::dir(const std::string &name, unsigned mode) { header(name.back() == '/' ? name : name + "/", '5', 0, mode); }

void TarWriter::file(const std::string &name, const std::string &data, unsigned mode) {
    header(name, '0', data.size(), mode);
    out_ += data;
    out_.append((kBlock - data.size() % kBlock) % kBlock, '\0');
}

std::string TarWriter::finish() {
    out_.append(2 * kBlock, '\0');
    return std::move(out_);
}

std::string sha256_digest(const std::string &data) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (EVP_Digest(data.data(), data.size(), md, &n, EVP_sha256(), nullptr) != 1) fail(NH_ERROR, "sha256 failed");
    static const char *hex = "0123456789abcdef";
    std::string out = "sha256:";
    for (unsigned int i = 0; i < n; ++i) {
        out += hex[md[i] >> 4];
        out += hex[md[i] & 15];
    }
    return out;
}

json sidecar_image_config(const std::string &arch, const std::string &layer_digest) {
    const std::string port = std::to_string(NH_DEV_DEFAULT_SYNC_PORT);
    return {{"architecture", arch},
            {"os", "linux"},
            {"config",
             {{"Entrypoint", {"/usr/local/bin/nhsyncd"}},
              {"Cmd", {"--root", NH_DEV_DEFAULT_WORKDIR, "--listen", "0.0.0.0:" + port, "--state-dir", kSidecarStateDir}},
              {"Env", {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}},
              {"ExposedPorts", {{port + "/tcp", json::object()}}},
              {"WorkingDir", "/"}}},
            {"rootfs", {{"type", "layers"}, {"diff_ids", {layer_digest}}}}};
}

json write_sidecar_image(const std::string &path, const std::string &name, const std::vector<std::string> &arches_in,
                         const std::string &syncd_dir_option) {
    if (path.empty()) fail(NH_EINVAL, "sidecar image: no output file");
    auto colon = name.rfind(':');
    if (name.empty() || colon == std::string::npos || colon + 1 == name.size() ||
        name.find('/', colon) != std::string::npos || name.find_first_of(" \t\n") != std::string::npos)
        fail(NH_EINVAL, "sidecar image: '" + name + "' is no image name with a tag (REPOSITORY:TAG)");
    const std::string dir = syncd_dir(syncd_dir_option);
    std::vector<std::string> arches = arches_in;
    if (arches.empty()) {
        for (const char *a : {"amd64", "arm64"})
            if (fs::exists(fs::path(dir) / (std::string("nhsyncd-linux-") + a))) arches.emplace_back(a);
        if (arches.empty())
            fail(NH_ENOTFOUND, "sidecar image: no nhsyncd-linux-amd64 or nhsyncd-linux-arm64 in " + dir);
    }

    std::vector<std::pair<std::string, std::string>> blobs;  // digest, data
    auto blob = [&](std::string data, const char *type) {
        json d = {{"mediaType", type}, {"digest", sha256_digest(data)}, {"size", data.size()}};
        bool have = false;
        for (auto &b : blobs) have |= b.first == d["digest"];
        if (!have) blobs.emplace_back(d["digest"], std::move(data));
        return d;
    };
    json manifests = json::array(), images = json::array();
    for (const auto &arch : arches) {
        if (arch != "amd64" && arch != "arm64")
            fail(NH_EINVAL, "sidecar image: unknown architecture '" + arch + "' (amd64, arm64)");
        const std::string bin = syncd_binary(dir, arch);
        const std::string data = file_bytes(bin);
        TarWriter layer;
        layer.dir("usr/");
        layer.dir("usr/local/");
        layer.dir("usr/local/bin/");
        layer.file("usr/local/bin/nhsyncd", data, 0755);
        layer.dir("tmp/", 01777);
        json layer_desc = blob(layer.finish(), kLayerType);
        json config_desc = blob(sidecar_image_config(arch, layer_desc["digest"]).dump(), kConfigType);
        json manifest = {{"schemaVersion", 2}, {"mediaType", kManifestType}, {"config", config_desc},
                         {"layers", {layer_desc}}};
        json desc = blob(manifest.dump(), kManifestType);
        desc["platform"] = {{"architecture", arch}, {"os", "linux"}};
        manifests.push_back(desc);
        images.push_back({{"architecture", arch}, {"digest", desc["digest"]}, {"binary", bin}, {"bytes", data.size()}});
    }
    json index = {{"schemaVersion", 2}, {"mediaType", kIndexType}, {"manifests", manifests}};
    json index_desc = blob(index.dump(), kIndexType);
    index_desc["annotations"] = {{"io.containerd.image.name", name},
                                 {"org.opencontainers.image.ref.name", name.substr(colon + 1)}};
    json top = {{"schemaVersion", 2}, {"mediaType", kIndexType}, {"manifests", {index_desc}}};

    TarWriter archive;
    archive.file("oci-layout", R"({"imageLayoutVersion":"1.0.0"})");
    archive.file("index.json", top.dump());
    archive.dir("blobs/");
    archive.dir("blobs/sha256/");
    for (const auto &[digest, data] : blobs) archive.file("blobs/sha256/" + digest.substr(7), data);
    const std::string bytes = archive.finish();
    const std::string tmp = path + ".tmp." + std::to_string(::getpid());
    {
        std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
        f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
        f.close();
        if (!f) {
            std::error_code ec;
            fs::remove(tmp, ec);
            fail(NH_EIO, "cannot write " + path);
        }
    }
    std::error_code ec;
    fs::rename(tmp, path, ec);
    if (ec) {
        fs::remove(tmp, ec);
        fail(NH_EIO, "cannot write " + path + ": " + ec.message());
    }
    return {{"path", path}, {"name", name}, {"digest", index_desc["digest"]}, {"size", bytes.size()}, {"images", images}};
}

}  // namespace nh::dev
