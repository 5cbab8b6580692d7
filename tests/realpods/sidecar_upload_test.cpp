// The sync sidecar without an image of ours, on the test cluster's real node: the sidecar
// runs the dev image's shell, the library uploads the static nhsyncd for the node's
// architecture through exec (share/nocalhost/nhsyncd-linux-<arch> of this build), and the
// bootstrap starts it. A restarted sidecar finds the binary in its emptyDir; a new pod gets a
// new upload; an image without a shell, and a binary of the wrong architecture, are clear
// errors. Only the C ABI, kubectl to look and containerd's ctr to kill a container.
#include <gtest/gtest.h>
#include <nocalhost.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "realpods_fixture.hpp"

using namespace nh::test;

namespace {

// The events of a start, kept for the assertions.
struct Events {
    std::vector<std::pair<std::string, std::string>> seen;  // phase, message
    std::vector<json> uploads;                              // the detail of "upload" events with bytes
    size_t count(const std::string &phase) const {
        size_t n = 0;
        for (auto &[p, m] : seen) n += p == phase;
        return n;
    }
    std::string all() const {
        std::string s;
        for (auto &[p, m] : seen) s += p + ": " + m + "\n";
        return s;
    }
};
int on_event(int, const char *phase, const char *message, const char *detail, void *payload) {
    auto *e = static_cast<Events *>(payload);
    e->seen.emplace_back(phase, message);
    if (std::string(phase) == "upload" && detail) {
        json d = json::parse(detail, nullptr, false);
        if (d.is_object() && d.contains("seconds")) e->uploads.push_back(d);
    }
    return 0;
}

// The real-pod fixture with a Deployment "web" of the app image, and the session of the test.
class SidecarUpload : public RealPods {
protected:
    void SetUp() override {
        RealPods::SetUp();
        if (HasFatalFailure() || IsSkipped()) return;
        pause_image_ = nh::test::cluster_env("NH_TEST_IMAGE_PAUSE");
        ASSERT_FALSE(pause_image_.empty());
        apply("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: " + ns_ + "}\n"
              "spec:\n  replicas: 1\n  selector: {matchLabels: {app: web}}\n  template:\n"
              "    metadata: {labels: {app: web}}\n    spec:\n"
              "      nodeSelector: {" + taint_ + ": \"true\"}\n"
              "      tolerations: [{key: " + taint_ + ", operator: Exists, effect: NoSchedule}]\n"
              "      terminationGracePeriodSeconds: 1\n"
              "      containers:\n      - name: app\n        image: " + app_image_ + "\n"
              "        ports: [{containerPort: 8080}]\n");
    }

    void TearDown() override {
        if (session_) {
            nh_session_sync_stop(session_);
            nh_session_free(session_);
        }
        RealPods::TearDown();
    }

    // `argv` in a container of the dev pod: {exit code, stdout}; -1 when it could not run.
    std::pair<int, std::string> exec(const std::string &container, std::vector<const char *> argv) {
        return RealPods::exec("deployment/web", std::move(argv), "", container.c_str());
    }
    std::string cat(const std::string &path) {
        auto [code, out] = exec("app", {"cat", path.c_str()});
        return code == 0 ? out : "<exit " + std::to_string(code) + ": " + out + ">";
    }

    int start(const std::string &image, Events &events, const char *syncd_dir = nullptr,
              const char *sidecar_image = nullptr) {
        nh_dev_start_options o = NH_DEV_START_OPTIONS_INIT;
        o.image = image.c_str();
        o.sidecar_image = sidecar_image;
        std::string src = src_.string();
        o.local_dir = src.c_str();
        o.timeout_ms = 180000;
        o.events = on_event;
        o.payload = &events;
        o.syncd_dir = syncd_dir;
        return nh_dev_start(&session_, client_, "deployment", "web", &o);
    }

    json template_of() {
        return json::parse(kubectl("-n " + ns_ + " get deployment web -o json"), nullptr, false)["spec"]["template"];
    }

    std::string pause_image_;
    nh_session *session_ = nullptr;
};

TEST_F(SidecarUpload, DefaultSidecarRunsTheUploadedNhsyncdAcrossRestartsAndNewPods) {
    Events events;
    ASSERT_EQ(start(dev_image_, events), NH_OK) << nh_error_last()->message << "\n" << events.all();
    // No image of ours: the sidecar runs the dev image, and the binary came through exec.
    json pod = dev_pod();
    ASSERT_TRUE(pod.is_object());
    for (auto &c : pod["spec"]["containers"])
        if (c.value("name", "") == "nh-sync") {
            EXPECT_EQ(c.value("image", ""), dev_image_);
        }
    ASSERT_EQ(events.uploads.size(), 1u) << events.all();
    std::string arch = json::parse(kubectl("get node " + node_ + " -o json"))["status"]["nodeInfo"]["architecture"];
    EXPECT_EQ(events.uploads[0]["arch"], arch);
    EXPECT_EQ(events.uploads[0]["bytes"].get<size_t>(), fs::file_size(fs::path(NH_SHARE_DIR) / ("nhsyncd-linux-" + arch)));
    EXPECT_EQ(events.uploads[0]["checked"], "sha256");  // busybox has sha256sum
    EXPECT_NE(events.uploads[0]["version"].get<std::string>().find("(protocol "), std::string::npos);
    std::printf("upload: %s\n", events.uploads[0].dump().c_str());
    EXPECT_EQ(cat("hello.txt"), "hello v1\n");

    // The sync server's state is in the sidecar's own volume, not in the user's work dir.
    auto [ls_code, ls] = exec("app", {"ls", "-a", "/home/nocalhost-dev"});
    EXPECT_EQ(ls_code, 0);
    EXPECT_EQ(ls.find(".nocalhost"), std::string::npos) << ls;
    EXPECT_NE(ls.find("hello.txt"), std::string::npos) << ls;
    auto [st_code, state] = exec("nh-sync", {"sh", "-c", "ls /nh-sidecar/state/*/"});
    EXPECT_EQ(st_code, 0) << state;
    EXPECT_NE(state.find("server-id"), std::string::npos) << state;
    auto [dev_code, dev_sees] = exec("app", {"ls", "/nh-sidecar"});
    EXPECT_NE(dev_code, 0) << "the dev container must not see the sidecar's volume: " << dev_sees;

    nh_sync *sync = nh_session_sync(session_);
    ASSERT_NE(sync, nullptr);
    auto mtime = [&] { return exec("nh-sync", {"stat", "-c", "%Y %i", "/nh-sidecar/bin/nhsyncd"}); };
    auto before = mtime();
    ASSERT_EQ(before.first, 0) << before.second;

    // The sidecar container killed: the kubelet restarts it in the same pod, the bootstrap finds
    // the binary in the emptyDir (the same file: nothing uploaded again) and the sync resumes.
    int restarts = container_status(pod, "nh-sync").value("restartCount", 0);
    std::string id = container_status(pod, "nh-sync").value("containerID", "");
    ASSERT_EQ(id.rfind("containerd://", 0), 0u) << id;
    int rc = 0;
    std::string out = sh("ctr --address '" + containerd_ + "' -n k8s.io tasks kill -s SIGKILL " +
                             id.substr(strlen("containerd://")), &rc);
    ASSERT_EQ(rc, 0) << out;
    ASSERT_TRUE(eventually(
        [&] {
            json p = dev_pod();
            json c = container_status(p, "nh-sync");
            return p.is_object() && p["metadata"]["uid"] == pod["metadata"]["uid"] &&
                   c.value("restartCount", 0) > restarts && c["state"].contains("running");
        },
        60s))
        << kubectl("-n " + ns_ + " get pods -o wide");
    std::ofstream(src_ / "hello.txt") << "hello v2, after the sidecar restarted\n";
    ASSERT_EQ(nh_sync_flush(sync, 60000, nullptr), NH_OK) << nh_error_last()->message;
    EXPECT_EQ(cat("hello.txt"), "hello v2, after the sidecar restarted\n");
    EXPECT_EQ(mtime(), before);

    // The dev pod deleted: its Deployment makes a new one with an empty sidecar volume, the
    // loop uploads into it, and the sync goes on there.
    kubectl("-n " + ns_ + " delete pod " + pod["metadata"]["name"].get<std::string>() + " --wait=false");
    ASSERT_TRUE(eventually(
        [&] {
            json p = dev_pod();
            return p.is_object() && p["metadata"]["uid"] != pod["metadata"]["uid"] &&
                   container_status(p, "nh-sync")["state"].contains("running");
        },
        90s))
        << kubectl("-n " + ns_ + " get pods -o wide");
    std::ofstream(src_ / "new.txt") << "in the new pod\n";
    ASSERT_EQ(nh_sync_flush(sync, 90000, nullptr), NH_OK) << nh_error_last()->message;
    EXPECT_EQ(cat("new.txt"), "in the new pod\n");
    EXPECT_EQ(cat("hello.txt"), "hello v2, after the sidecar restarted\n");
    auto [h_code, hash] = exec("nh-sync", {"cat", "/nh-sidecar/bin/nhsyncd.sha256"});
    EXPECT_EQ(h_code, 0) << hash;

    int result = 0;
    nh_session_sync_stop(session_);
    ASSERT_EQ(nh_dev_end(&result, client_, "deployment", "web", nullptr), NH_OK) << nh_error_last()->message;
}

// An image the dev pod could not run fails the start before the session record or the
// workload changes: the workload keeps its generation and template, no record is left, and the check's
// pod goes away.
class SidecarUploadPrecheck : public SidecarUpload {
protected:
    // What a change would move (the status moves on its own as the pod comes up).
    std::string version_of_web() {
        return kubectl("-n " + ns_ + " get deployment web -o jsonpath='{.metadata.generation}'") + " " +
               template_of().dump();
    }
    void expect_nothing_changed(const std::string &version, const Events &events) {
        EXPECT_EQ(version_of_web(), version);
        EXPECT_EQ(events.count("record"), 0u) << events.all();
        EXPECT_EQ(events.count("patch"), 0u) << events.all();
        EXPECT_EQ(events.count("rollback"), 0u) << events.all();
        EXPECT_GE(events.count("image"), 1u) << events.all();
        EXPECT_EQ(kubectl("-n " + ns_ + " get secrets -l dev.nocalhost.io/role=dev-session -o name"), "");
        std::string left = "?";
        for (int i = 0; i < 100 && !left.empty(); ++i) {
            left = kubectl("-n " + ns_ + " get pods -l dev.nocalhost.io/role=image-check -o name");
            if (!left.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
        EXPECT_EQ(left, "") << "the image check pod was not deleted";
    }
};

TEST_F(SidecarUploadPrecheck, AnImageWithoutAShellFailsBeforeAnythingChanges) {
    std::string version = version_of_web();
    Events events;
    int rc = start(pause_image_, events);
    ASSERT_NE(rc, NH_OK);
    std::string msg = nh_error_last()->message;
    EXPECT_EQ(rc, NH_EINVAL) << msg;
    EXPECT_NE(msg.find("no shell"), std::string::npos) << msg;
    EXPECT_NE(msg.find("--sidecar-image"), std::string::npos) << msg;
    EXPECT_NE(msg.find("--sidecar-base-image"), std::string::npos) << msg;
    EXPECT_NE(msg.find("nothing was changed"), std::string::npos) << msg;
    EXPECT_EQ(msg.find("rolled back"), std::string::npos) << msg;
    expect_nothing_changed(version, events);
    EXPECT_EQ(events.uploads.size(), 0u);
}

TEST_F(SidecarUploadPrecheck, AnImageTheNodeCannotPullFailsBeforeAnythingChanges) {
    std::string version = version_of_web();
    Events events;
    int rc = start("registry.nh-test.invalid/no-such-image:1", events);
    ASSERT_NE(rc, NH_OK);
    std::string msg = nh_error_last()->message;
    EXPECT_EQ(rc, NH_ERROR) << msg;
    EXPECT_NE(msg.find("cannot pull the dev image registry.nh-test.invalid/no-such-image:1"), std::string::npos) << msg;
    EXPECT_NE(msg.find("nothing was changed"), std::string::npos) << msg;
    expect_nothing_changed(version, events);
}

TEST_F(SidecarUpload, ABinaryOfAnotherArchitectureIsAClearError) {
    // The node's architecture name pointing at the other architecture's binary.
    std::string arch = json::parse(kubectl("get node " + node_ + " -o json"))["status"]["nodeInfo"]["architecture"];
    std::string other = arch == "amd64" ? "arm64" : "amd64";
    fs::path dir = fs::path(local_.path()) / "syncd";
    fs::create_directories(dir);
    fs::copy_file(fs::path(NH_SHARE_DIR) / ("nhsyncd-linux-" + other), dir / ("nhsyncd-linux-" + arch));
    json before = template_of();
    setenv("NH_SYNCD_DIR", dir.c_str(), 1);
    Events events;
    int rc = start(dev_image_, events);
    unsetenv("NH_SYNCD_DIR");
    ASSERT_NE(rc, NH_OK);
    std::string msg = nh_error_last()->message;
    EXPECT_EQ(rc, NH_EINVAL) << msg;
    EXPECT_NE(msg.find("built for " + other + ", but the node runs linux/" + arch), std::string::npos) << msg;
    EXPECT_NE(msg.find("rolled back"), std::string::npos) << msg;
    EXPECT_EQ(events.uploads.size(), 0u);
    EXPECT_TRUE(eventually([&] { return template_of() == before; }, 30s)) << template_of().dump();
}

TEST_F(SidecarUpload, TheOciArchiveImportedIntoContainerdRunsAsTheSidecarImage) {
    // Written by the C ABI from this build's binaries, imported into the real node's containerd.
    std::string name = "nh.test/nh-sidecar-oci:" + ns_;
    std::string archive = (fs::path(local_.path()) / "sidecar.tar").string();
    nh_sidecar_image_options io = NH_SIDECAR_IMAGE_OPTIONS_INIT;
    io.name = name.c_str();
    io.syncd_dir = NH_SHARE_DIR;
    nh_buf out = NH_BUF_INIT;
    ASSERT_EQ(nh_sidecar_image_write(&out, archive.c_str(), &io), NH_OK) << nh_error_last()->message;
    json written = json::parse(std::string(out.ptr, out.size));
    nh_buf_dispose(&out);
    EXPECT_EQ(written["images"].size(), 2u) << written.dump();
    int rc = 0;
    const std::string ctr = "ctr --address '" + containerd_ + "' -n k8s.io images ";
    std::string got = sh(ctr + "import '" + archive + "'", &rc);
    ASSERT_EQ(rc, 0) << got;
    std::string ls = sh(ctr + "ls name==" + name);
    EXPECT_NE(ls.find("linux/amd64,linux/arm64"), std::string::npos) << ls;

    Events events;
    rc = start(dev_image_, events, nullptr, name.c_str());
    sh(ctr + "rm " + name);  // the running container keeps its snapshot
    ASSERT_EQ(rc, NH_OK) << nh_error_last()->message << "\n" << events.all();
    EXPECT_EQ(events.uploads.size(), 0u) << "a sidecar image needs no upload";
    json pod = dev_pod();
    for (auto &c : pod["spec"]["containers"])
        if (c.value("name", "") == "nh-sync") {
            EXPECT_EQ(c.value("image", ""), name);
            EXPECT_EQ(c["command"][0], "nhsyncd");
        }
    EXPECT_EQ(cat("hello.txt"), "hello v1\n");
    auto [code, listing] = exec("app", {"ls", "-a", "/home/nocalhost-dev"});
    EXPECT_EQ(code, 0);
    EXPECT_EQ(listing.find(".nocalhost"), std::string::npos) << listing;
    int result = 0;
    nh_session_sync_stop(session_);
    ASSERT_EQ(nh_dev_end(&result, client_, "deployment", "web", nullptr), NH_OK) << nh_error_last()->message;
}

// The binaries the build made: both architectures, static; the arm64 one runs under qemu.
TEST(SidecarBinaries, BothArchitecturesAreStaticAndTheArm64OneRuns) {
    fs::path amd = fs::path(NH_SHARE_DIR) / "nhsyncd-linux-amd64";
    fs::path arm = fs::path(NH_SHARE_DIR) / "nhsyncd-linux-arm64";
    ASSERT_TRUE(fs::exists(amd) && fs::exists(arm)) << "build with the arm64 cross compiler (scripts/setup)";
    int rc = 0;
    std::string h = sh("readelf -h '" + arm.string() + "'", &rc);
    EXPECT_NE(h.find("AArch64"), std::string::npos) << h;
    EXPECT_NE(sh("readelf -h '" + amd.string() + "'").find("X86-64"), std::string::npos);
    for (const auto &p : {amd, arm}) {
        std::string d = sh("readelf -d '" + p.string() + "'");
        EXPECT_EQ(d.find("NEEDED"), std::string::npos) << p << " links shared libraries:\n" << d;
        std::printf("%s: %ju bytes\n", p.filename().c_str(), static_cast<uintmax_t>(fs::file_size(p)));
    }
    std::string v = sh("qemu-aarch64-static '" + arm.string() + "' --version", &rc);
    EXPECT_EQ(rc, 0) << v;
    EXPECT_NE(v.find("(protocol "), std::string::npos) << v;
    EXPECT_EQ(v, sh("'" + amd.string() + "' --version"));
}

}  // namespace
