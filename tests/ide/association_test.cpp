// The folder association store through the C ABI: several processes writing it at once lose
// no entry; the nearest associated ancestor wins; symlinked and relative directories resolve to
// one entry; a file that is not a store is refused and left as it is; the user's config dir.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "nocalhost.h"
#include "test_support.hpp"

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

json take(nh_buf &b) {
    json j = json::parse(b.ptr ? b.ptr : "null");
    nh_buf_dispose(&b);
    return j;
}

class Associations : public ::testing::Test {
protected:
    void SetUp() override {
        root = fs::canonical(tmp.path());
        store = (root / "config" / "associations.json").string();
        o.store_path = store.c_str();
    }

    fs::path dir(const std::string &rel) {
        fs::create_directories(root / rel);
        return root / rel;
    }

    int set(const fs::path &d, const char *kind, const char *name, const char *ns = "demo",
            const char *container = nullptr) {
        nh_association_options so = o;
        so.namespace_name = ns;
        so.container = container;
        so.context = "ctx";
        return nh_association_set(nullptr, d.c_str(), kind, name, &so);
    }

    json get(const fs::path &d, int expect = NH_OK) {
        nh_buf b = NH_BUF_INIT;
        EXPECT_EQ(nh_association_get(&b, d.c_str(), &o), expect) << nh_error_last()->message;
        return take(b);
    }

    json list() {
        nh_buf b = NH_BUF_INIT;
        EXPECT_EQ(nh_association_list(&b, &o), NH_OK) << nh_error_last()->message;
        return take(b);
    }

    nh::test::TempDir tmp;
    fs::path root;
    std::string store;
    nh_association_options o = NH_ASSOCIATION_OPTIONS_INIT;
};

}  // namespace

TEST_F(Associations, ProcessesWritingAtOnceLoseNoEntry) {
    constexpr int kProcs = 6, kEach = 30;
    for (int p = 0; p < kProcs; ++p)
        for (int i = 0; i < kEach; ++i) dir("w/p" + std::to_string(p) + "-" + std::to_string(i));
    std::vector<pid_t> kids;
    for (int p = 0; p < kProcs; ++p) {
        pid_t pid = fork();
        ASSERT_GE(pid, 0);
        if (pid == 0) {
            int bad = 0;
            for (int i = 0; i < kEach; ++i) {
                std::string name = "web-" + std::to_string(p) + "-" + std::to_string(i);
                fs::path d = root / "w" / ("p" + std::to_string(p) + "-" + std::to_string(i));
                if (set(d, "deployment", name.c_str()) != NH_OK) ++bad;
            }
            _exit(bad);
        }
        kids.push_back(pid);
    }
    for (pid_t k : kids) {
        int status = 0;
        ASSERT_EQ(waitpid(k, &status, 0), k);
        EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "a writer failed";
    }
    json all = list();
    std::set<std::string> names;
    for (const auto &e : all) names.insert(e.value("name", ""));
    EXPECT_EQ(names.size(), static_cast<size_t>(kProcs * kEach)) << "entries were lost to a concurrent writer";
    EXPECT_EQ(all.size(), static_cast<size_t>(kProcs * kEach));
    // No temporary file is left beside the store.
    for (const auto &f : fs::directory_iterator(fs::path(store).parent_path()))
        EXPECT_EQ(f.path().filename().string().find(".tmp-"), std::string::npos) << f.path();
}

TEST_F(Associations, TheNearestAssociatedAncestorWins) {
    ASSERT_EQ(set(dir("repo"), "deploy", "web", "demo", "app"), NH_OK) << nh_error_last()->message;
    ASSERT_EQ(set(dir("repo/services/api"), "sts", "api"), NH_OK);
    json e = get(root / "repo/services/api/src/handlers");  // need not exist
    EXPECT_EQ(e["name"], "api");
    EXPECT_EQ(e["kind"], "statefulset");
    e = get(dir("repo/services/web"));
    EXPECT_EQ(e["name"], "web");
    EXPECT_EQ(e["kind"], "deployment");
    EXPECT_EQ(e["container"], "app");
    EXPECT_EQ(e["namespace"], "demo");
    EXPECT_EQ(e["context"], "ctx");
    EXPECT_EQ(e["dir"], (root / "repo").string());
    get(root / "elsewhere", NH_ENOTFOUND);
    EXPECT_NE(std::string(nh_error_last()->message).find("elsewhere"), std::string::npos);
    // A directory associated again takes the new workload; one entry per directory.
    ASSERT_EQ(set(root / "repo", "deployment", "web2"), NH_OK);
    EXPECT_EQ(get(root / "repo/x")["name"], "web2");
    EXPECT_EQ(list().size(), 2u);
}

TEST_F(Associations, SymlinkedAndRelativeDirectoriesResolveToOneEntry) {
    fs::path real = dir("real/project");
    fs::create_directory_symlink(real, root / "link");
    ASSERT_EQ(set(root / "link", "deployment", "web"), NH_OK) << nh_error_last()->message;
    json all = list();
    ASSERT_EQ(all.size(), 1u);
    EXPECT_EQ(all[0]["dir"], real.string()) << "the symlink was stored, not the directory";
    EXPECT_EQ(get(real / "sub")["name"], "web");
    EXPECT_EQ(get(root / "link" / "sub")["name"], "web");
    // Relative to the current directory, with "..".
    fs::path cwd = fs::current_path();
    fs::current_path(dir("real/other"));
    EXPECT_EQ(get("../project/a/b")["name"], "web");
    ASSERT_EQ(set(".", "deployment", "other"), NH_OK);
    fs::current_path(cwd);
    EXPECT_EQ(get(root / "real/other")["name"], "other");
    EXPECT_EQ(get(root / "real/other")["dir"], (root / "real/other").string());
    // Removed through the symlink, as it was made.
    EXPECT_EQ(nh_association_remove((root / "link").c_str(), &o), NH_OK) << nh_error_last()->message;
    get(real, NH_ENOTFOUND);
    EXPECT_EQ(nh_association_remove((root / "link").c_str(), &o), NH_ENOTFOUND);
}

TEST_F(Associations, FindByWorkloadInAnySpellingOfTheKind) {
    ASSERT_EQ(set(dir("a"), "deployment", "web", "demo"), NH_OK);
    ASSERT_EQ(set(dir("b"), "Deployments", "web", "staging"), NH_OK);
    ASSERT_EQ(set(dir("c"), "sts", "web", "demo"), NH_OK);
    nh_buf b = NH_BUF_INIT;
    ASSERT_EQ(nh_association_find(&b, "deploy", "web", &o), NH_OK);
    EXPECT_EQ(take(b).size(), 2u);
    nh_association_options fo = o;
    fo.namespace_name = "demo";
    ASSERT_EQ(nh_association_find(&b, "deployments.apps", "web", &fo), NH_OK);
    json found = take(b);
    ASSERT_EQ(found.size(), 1u);
    EXPECT_EQ(found[0]["dir"], (root / "a").string());
    fo.context = "other-context";
    ASSERT_EQ(nh_association_find(&b, "deploy", "web", &fo), NH_OK);
    EXPECT_EQ(take(b).size(), 0u);
    EXPECT_EQ(nh_association_find(&b, "deploymnet", "web", &o), NH_EINVAL);
    EXPECT_EQ(set(dir("d"), "service", "web"), NH_EINVAL);
    EXPECT_EQ(set(root / "missing", "deployment", "web"), NH_ENOTFOUND);
    EXPECT_EQ(list().size(), 3u) << "a refused association was stored";
}

TEST_F(Associations, AFileThatIsNotAStoreIsRefusedAndKept) {
    fs::create_directories(root / "config");
    for (const std::string &text : {std::string("{\"associations\": [ {\"dir\": \"/x\"}, "),  // cut short
                                   std::string("{\"workspaces\": {\"a\": 1}}\n"),             // someone else's
                                   std::string("[1, 2, 3]\n")}) {
        nh::test::write_file(store, text);
        EXPECT_EQ(set(dir("p"), "deployment", "web"), NH_ECONFIG) << text;
        std::string message = nh_error_last()->message;
        EXPECT_NE(message.find(store), std::string::npos) << message;
        EXPECT_NE(message.find("left as it is"), std::string::npos) << message;
        nh_buf b = NH_BUF_INIT;
        EXPECT_EQ(nh_association_list(&b, &o), NH_ECONFIG);
        EXPECT_EQ(nh_association_get(&b, dir("p").c_str(), &o), NH_ECONFIG);
        EXPECT_EQ(nh_association_remove(dir("p").c_str(), &o), NH_ECONFIG);
        nh_buf_dispose(&b);
        EXPECT_EQ(nh::test::read_file(store), text) << "the file was changed";
    }
}

TEST_F(Associations, TheDefaultStoreIsInTheUsersConfigDir) {
    const char *old = std::getenv("XDG_CONFIG_HOME");
    std::string saved = old ? old : "";
    setenv("XDG_CONFIG_HOME", (root / "xdg").c_str(), 1);
    EXPECT_EQ(nh_association_set(nullptr, dir("p").c_str(), "deployment", "web", nullptr), NH_OK)
        << nh_error_last()->message;
    EXPECT_TRUE(fs::exists(root / "xdg" / "nocalhost" / "associations.json"));
    EXPECT_EQ(fs::status(root / "xdg" / "nocalhost").permissions() & fs::perms::all, fs::perms::owner_all);
    nh_buf b = NH_BUF_INIT;
    EXPECT_EQ(nh_association_get(&b, (root / "p" / "q").c_str(), nullptr), NH_OK);
    EXPECT_EQ(take(b)["name"], "web");
    if (old) setenv("XDG_CONFIG_HOME", saved.c_str(), 1);
    else unsetenv("XDG_CONFIG_HOME");
}

TEST_F(Associations, OptionsAreVersioned) {
    nh_association_options v = {};
    EXPECT_EQ(nh_association_options_init(&v, 1), NH_OK);
    EXPECT_EQ(v.version, 1u);
    EXPECT_EQ(v.store_path, nullptr);
    EXPECT_EQ(nh_association_options_init(&v, NH_ASSOCIATION_OPTIONS_VERSION + 1), NH_EINVAL);
    v.version = NH_ASSOCIATION_OPTIONS_VERSION + 1;
    nh_buf b = NH_BUF_INIT;
    EXPECT_EQ(nh_association_list(&b, &v), NH_EINVAL);
}

TEST_F(Associations, TheDevProfileRemembersEachFieldPerWorkloadAndContext) {
    const std::string profiles = (root / "config" / "profiles.json").string();
    nh_dev_profile_options p = NH_DEV_PROFILE_OPTIONS_INIT;
    p.store_path = profiles.c_str();
    p.namespace_name = "demo";
    p.context = "ctx";
    nh_buf b = NH_BUF_INIT;
    EXPECT_EQ(nh_dev_profile_get(&b, "deployment", "web", &p), NH_ENOTFOUND);
    p.image = "golang:1.22";
    p.container = "app";
    ASSERT_EQ(nh_dev_profile_set(nullptr, "deploy", "web", &p), NH_OK) << nh_error_last()->message;
    // A later start that chose only another work dir keeps the image and container.
    p.image = nullptr;
    p.container = nullptr;
    p.workdir = "/src";
    ASSERT_EQ(nh_dev_profile_set(nullptr, "deployments", "web", &p), NH_OK);
    ASSERT_EQ(nh_dev_profile_get(&b, "deployment", "web", &p), NH_OK);
    json e = take(b);
    EXPECT_EQ(e["image"], "golang:1.22");
    EXPECT_EQ(e["container"], "app");
    EXPECT_EQ(e["workdir"], "/src");
    // Another context or namespace is another workload.
    p.context = "other";
    EXPECT_EQ(nh_dev_profile_get(&b, "deployment", "web", &p), NH_ENOTFOUND);
    p.workdir = "relative/dir";
    EXPECT_EQ(nh_dev_profile_set(nullptr, "deployment", "web", &p), NH_EINVAL);
    nh_buf_dispose(&b);
}
