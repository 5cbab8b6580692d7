// The sync sidecar's OCI image archive: written through the C ABI (and `nh sidecar image`)
// from this build's static nhsyncd binaries, then read back with tar and sha256sum as a
// registry tool would: the layout, the index, each manifest, config and layer, every blob's
// digest and size, and the binary inside each layer.
#include <gtest/gtest.h>
#include <nocalhost.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "test_support.hpp"

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

std::string sh(const std::string &cmd, int *rc = nullptr) { return nh::test::shell(cmd + " 2>&1", rc); }

std::string slurp(const fs::path &p) {
    std::ifstream f(p, std::ios::binary);
    std::ostringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

class OciImage : public ::testing::Test {
protected:
    void SetUp() override { ASSERT_GE(nh_init(), 1); }
    void TearDown() override { nh_shutdown(); }

    // Writes the archive and extracts it; returns what the call said.
    json write(const nh_sidecar_image_options &o) {
        nh_buf out = NH_BUF_INIT;
        EXPECT_EQ(nh_sidecar_image_write(&out, archive_.c_str(), &o), NH_OK) << nh_error_last()->message;
        json j = out.ptr ? json::parse(std::string(out.ptr, out.size)) : json();
        nh_buf_dispose(&out);
        fs::create_directories(x_);
        int rc = 0;
        std::string got = sh("tar -xf '" + archive_.string() + "' -C '" + x_.string() + "'", &rc);
        EXPECT_EQ(rc, 0) << got;
        return j;
    }
    // The blob a descriptor names, checked against its digest and size.
    std::string blob(const json &desc) {
        std::string digest = desc.at("digest");
        EXPECT_EQ(digest.rfind("sha256:", 0), 0u) << digest;
        fs::path p = x_ / "blobs" / "sha256" / digest.substr(7);
        EXPECT_TRUE(fs::exists(p)) << p;
        std::string sum = sh("sha256sum '" + p.string() + "'");
        EXPECT_EQ(sum.substr(0, 64), digest.substr(7)) << p;
        EXPECT_EQ(fs::file_size(p), desc.at("size").get<size_t>()) << p;
        return slurp(p);
    }

    nh::test::TempDir tmp_;
    fs::path archive_ = fs::path(tmp_.path()) / "sidecar.tar";
    fs::path x_ = fs::path(tmp_.path()) / "x";
};

TEST_F(OciImage, AMultiArchitectureIndexWhoseBlobsMatchTheirDigests) {
    nh_sidecar_image_options o = NH_SIDECAR_IMAGE_OPTIONS_INIT;
    o.name = "registry.example/team/nhsyncd:1.2";
    o.syncd_dir = NH_SHARE_DIR;
    json said = write(o);
    ASSERT_TRUE(said.is_object());
    EXPECT_EQ(said["name"], "registry.example/team/nhsyncd:1.2");
    EXPECT_EQ(said["size"].get<uintmax_t>(), fs::file_size(archive_));

    std::string listing = sh("tar -tf '" + archive_.string() + "'");
    EXPECT_EQ(listing.rfind("oci-layout\nindex.json\nblobs/\nblobs/sha256/\n", 0), 0u) << listing;
    EXPECT_EQ(json::parse(slurp(x_ / "oci-layout")), json::parse(R"({"imageLayoutVersion":"1.0.0"})"));

    json top = json::parse(slurp(x_ / "index.json"));
    EXPECT_EQ(top["schemaVersion"], 2);
    ASSERT_EQ(top["manifests"].size(), 1u);
    json idx_desc = top["manifests"][0];
    EXPECT_EQ(idx_desc["mediaType"], "application/vnd.oci.image.index.v1+json");
    EXPECT_EQ(idx_desc["annotations"]["io.containerd.image.name"], "registry.example/team/nhsyncd:1.2");
    EXPECT_EQ(idx_desc["annotations"]["org.opencontainers.image.ref.name"], "1.2");
    EXPECT_EQ(idx_desc["digest"], said["digest"]);
    json index = json::parse(blob(idx_desc));
    ASSERT_EQ(index["manifests"].size(), 2u);

    size_t blobs_seen = 1;
    for (const auto &m : index["manifests"]) {
        std::string arch = m["platform"]["architecture"];
        EXPECT_EQ(m["platform"]["os"], "linux");
        EXPECT_EQ(m["mediaType"], "application/vnd.oci.image.manifest.v1+json");
        json manifest = json::parse(blob(m));
        json config = json::parse(blob(manifest["config"]));
        EXPECT_EQ(config["architecture"], arch);
        EXPECT_EQ(config["config"]["Entrypoint"], json::array({"/usr/local/bin/nhsyncd"}));
        // The command the library gives an image sidecar, and its port.
        EXPECT_EQ(config["config"]["Cmd"], json::array({"--root", NH_DEV_DEFAULT_WORKDIR, "--listen", "0.0.0.0:7710",
                                                        "--state-dir", "/nh-sidecar/state"}));
        EXPECT_TRUE(config["config"]["ExposedPorts"].contains(std::to_string(NH_DEV_DEFAULT_SYNC_PORT) + "/tcp"));
        ASSERT_EQ(manifest["layers"].size(), 1u);
        // An uncompressed layer: its digest is its diff id.
        EXPECT_EQ(config["rootfs"]["diff_ids"][0], manifest["layers"][0]["digest"]);
        blob(manifest["layers"][0]);
        fs::path layer = x_ / "blobs" / "sha256" / manifest["layers"][0]["digest"].get<std::string>().substr(7);
        std::string files = sh("tar -tvf '" + layer.string() + "'");
        EXPECT_NE(files.find("-rwxr-xr-x root/root"), std::string::npos) << files;
        EXPECT_NE(files.find("usr/local/bin/nhsyncd"), std::string::npos) << files;
        fs::path lx = fs::path(tmp_.path()) / ("layer-" + arch);
        fs::create_directories(lx);
        sh("tar -xf '" + layer.string() + "' -C '" + lx.string() + "'");
        EXPECT_EQ(slurp(lx / "usr/local/bin/nhsyncd"), slurp(fs::path(NH_SHARE_DIR) / ("nhsyncd-linux-" + arch)));
        blobs_seen += 3;
    }
    size_t files = 0;
    for (auto &e : fs::directory_iterator(x_ / "blobs" / "sha256")) files += e.is_regular_file();
    EXPECT_EQ(files, blobs_seen);
}

TEST_F(OciImage, TheSameBinariesGiveTheSameArchive) {
    // No directory given: share/nocalhost beside the library's lib/ (in the build tree too).
    unsetenv("NH_SYNCD_DIR");
    nh_sidecar_image_options o = NH_SIDECAR_IMAGE_OPTIONS_INIT;
    const char *amd64[] = {"amd64"};
    o.architectures = amd64;
    o.architectures_count = 1;
    json first = write(o);
    std::string bytes = slurp(archive_);
    json again = write(o);
    EXPECT_EQ(first["digest"], again["digest"]);
    EXPECT_EQ(slurp(archive_), bytes);
    EXPECT_EQ(first["name"], std::string("nhsyncd:") + NH_VERSION_STRING);
    ASSERT_EQ(first["images"].size(), 1u);
    EXPECT_EQ(first["images"][0]["architecture"], "amd64");
    EXPECT_TRUE(fs::equivalent(first["images"][0]["binary"].get<std::string>(),
                               fs::path(NH_SHARE_DIR) / "nhsyncd-linux-amd64"))
        << first["images"][0]["binary"];
}

TEST_F(OciImage, BadInputIsAClearErrorAndWritesNothing) {
    nh_sidecar_image_options o = NH_SIDECAR_IMAGE_OPTIONS_INIT;
    o.syncd_dir = NH_SHARE_DIR;
    o.name = "no-tag";
    EXPECT_EQ(nh_sidecar_image_write(nullptr, archive_.c_str(), &o), NH_EINVAL);
    EXPECT_NE(std::string(nh_error_last()->message).find("REPOSITORY:TAG"), std::string::npos);
    o.name = nullptr;
    const char *bad[] = {"s390x"};
    o.architectures = bad;
    o.architectures_count = 1;
    EXPECT_EQ(nh_sidecar_image_write(nullptr, archive_.c_str(), &o), NH_EINVAL);
    EXPECT_NE(std::string(nh_error_last()->message).find("s390x"), std::string::npos);
    // A directory whose amd64 binary is the arm64 one.
    fs::path dir = fs::path(tmp_.path()) / "wrong";
    fs::create_directories(dir);
    fs::copy_file(fs::path(NH_SHARE_DIR) / "nhsyncd-linux-arm64", dir / "nhsyncd-linux-amd64");
    const char *amd64[] = {"amd64"};
    o.architectures = amd64;
    o.syncd_dir = dir.c_str();
    EXPECT_EQ(nh_sidecar_image_write(nullptr, archive_.c_str(), &o), NH_EINVAL);
    EXPECT_NE(std::string(nh_error_last()->message).find("built for arm64"), std::string::npos)
        << nh_error_last()->message;
    o.syncd_dir = tmp_.path().c_str();
    o.architectures_count = 0;
    EXPECT_EQ(nh_sidecar_image_write(nullptr, archive_.c_str(), &o), NH_ENOTFOUND);
    EXPECT_FALSE(fs::exists(archive_));
}

// skopeo, the tool the notes show for pushing the archive to a registry, reads it and copies
// each architecture's image out of it (into OCI layouts: this machine has no registry); the
// copied layer holds this build's nhsyncd for that architecture.
TEST_F(OciImage, SkopeoCopiesEachArchitectureOutOfTheArchive) {
    int rc = 0;
    std::string version = sh("skopeo --version", &rc);
    ASSERT_EQ(rc, 0) << "skopeo is missing (scripts/setup installs it, scripts/apt-packages.d/sidecar.txt): " << version;
    nh_sidecar_image_options o = NH_SIDECAR_IMAGE_OPTIONS_INIT;
    o.syncd_dir = NH_SHARE_DIR;
    write(o);
    const std::string src = "oci-archive:" + archive_.string();
    std::string raw = sh("skopeo inspect --raw '" + src + "'", &rc);
    ASSERT_EQ(rc, 0) << raw;
    json index = json::parse(raw, nullptr, false);
    ASSERT_TRUE(index.is_object()) << raw;
    std::vector<std::string> arches;
    for (const auto &m : index["manifests"]) arches.push_back(m["platform"]["architecture"]);
    ASSERT_FALSE(arches.empty()) << raw;
    for (const auto &arch : arches) {
        fs::path binary = fs::path(NH_SHARE_DIR) / ("nhsyncd-linux-" + arch);
        fs::path layout = fs::path(tmp_.path()) / ("copy-" + arch);
        std::string out = sh("skopeo --override-os linux --override-arch " + arch + " copy '" + src + "' 'oci:" +
                                 layout.string() + ":nhsyncd'",
                             &rc);
        ASSERT_EQ(rc, 0) << arch << ": " << out;
        json top = json::parse(slurp(layout / "index.json"));
        ASSERT_EQ(top["manifests"].size(), 1u) << top.dump();
        auto blob_of = [&](const json &desc) {
            return slurp(layout / "blobs" / "sha256" / desc["digest"].get<std::string>().substr(7));
        };
        json manifest = json::parse(blob_of(top["manifests"][0]));
        json config = json::parse(blob_of(manifest["config"]));
        EXPECT_EQ(config["architecture"], arch);
        EXPECT_EQ(config["os"], "linux");
        ASSERT_EQ(manifest["layers"].size(), 1u) << manifest.dump();
        fs::path layer = layout / "blobs" / "sha256" / manifest["layers"][0]["digest"].get<std::string>().substr(7);
        fs::path unpacked = fs::path(tmp_.path()) / ("layer-" + arch);
        fs::create_directories(unpacked);
        out = sh("tar -xf '" + layer.string() + "' -C '" + unpacked.string() + "' && find '" + unpacked.string() +
                     "' -type f -name nhsyncd -exec sha256sum {} + && sha256sum '" + binary.string() + "'",
                 &rc);
        ASSERT_EQ(rc, 0) << out;
        std::istringstream lines(out);
        std::string first, second;
        std::getline(lines, first);
        std::getline(lines, second);
        EXPECT_EQ(first.substr(0, 64), second.substr(0, 64)) << arch << ": " << out;
    }
}

TEST_F(OciImage, TheCliWritesTheArchive) {
    int rc = 0;
    std::string out = sh(std::string(NH_CLI_PATH) + " sidecar image --output '" + archive_.string() +
                             "' --syncd-dir '" NH_SHARE_DIR "' --arch arm64 --name nh.test/nhsyncd:cli", &rc);
    EXPECT_EQ(rc, 0) << out;
    EXPECT_NE(out.find("linux/arm64"), std::string::npos) << out;
    EXPECT_EQ(out.find("linux/amd64"), std::string::npos) << out;
    EXPECT_TRUE(fs::exists(archive_));
    out = sh(std::string(NH_CLI_PATH) + " sidecar image --output '" + archive_.string() + "' --name bad", &rc);
    EXPECT_EQ(rc, 2) << out;  // NH_EINVAL: a usage error
    EXPECT_NE(out.find("REPOSITORY:TAG"), std::string::npos) << out;
}

}  // namespace

namespace {

// nhsyncd run by hand keeps its state outside the root it serves.
TEST(NhsyncdState, OutsideTheRootByDefaultAndARootInsideIsRefused) {
    nh::test::TempDir tmp;
    fs::path root = fs::path(tmp.path()) / "root", home = fs::path(tmp.path()) / "home";
    fs::create_directories(root);
    int rc = 0;
    // Port 0 and a SIGTERM once it listens: it has made its state by then.
    std::string out = sh("cd '" + tmp.path() + "' && (HOME='" + home.string() + "' XDG_STATE_HOME= NH_SYNC_TOKEN=t '" +
                             NHSYNCD_PATH + "' --root '" + root.string() + "' --listen 127.0.0.1:0 & p=$!; " +
                             "for i in $(seq 100); do [ -n \"$(ls -A '" + (home / ".local/state/nhsyncd").string() +
                             "' 2>/dev/null)\" ] && break; sleep 0.05; done; sleep 0.2; kill $p; wait $p)", &rc);
    EXPECT_EQ(rc, 0) << out;
    EXPECT_TRUE(fs::is_empty(root)) << "nhsyncd wrote into the root it serves";
    size_t states = 0;
    for (auto &e : fs::directory_iterator(home / ".local/state/nhsyncd")) {
        EXPECT_TRUE(fs::exists(e.path() / "server-id")) << e.path();
        ++states;
    }
    EXPECT_EQ(states, 1u);
    out = sh("NH_SYNC_TOKEN=t '" NHSYNCD_PATH "' --root '" + root.string() + "' --state-dir '" + root.string() + "/s'", &rc);
    EXPECT_EQ(rc, 2) << out;
    EXPECT_NE(out.find("inside the root"), std::string::npos) << out;
    EXPECT_TRUE(fs::is_empty(root));
}

}  // namespace
