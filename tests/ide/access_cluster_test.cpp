// The rights pre-check of dev start on the test cluster, through the C ABI: an identity with
// some of the rights gets every missing one named at once and the workload is untouched; a Role
// made from nh_dev_required_rights() is enough for a start and an end; where the server will not
// say (SelfSubjectAccessReview forbidden) the start goes on with an info event. And
// `nh dev associate` as a user runs it.
#include <set>

#include "ide_fixture.hpp"

using namespace nh::test;
using nh::dev::Kind;

namespace {

// Events of a start: phases in order, and the info events.
struct Seen {
    std::vector<std::string> phases, infos;
    static int cb(int type, const char *phase, const char *message, const char *, void *p) {
        auto *self = static_cast<Seen *>(p);
        if (type == NH_DEV_EVENT_PHASE) self->phases.push_back(phase);
        if (type == NH_DEV_EVENT_INFO) self->infos.push_back(std::string(phase) + ": " + message);
        return 0;
    }
    long at(const std::string &phase) const {
        auto it = std::find(phases.begin(), phases.end(), phase);
        return it == phases.end() ? -1 : it - phases.begin();
    }
};

// "verb group resource subresource" of each right in RBAC rules.
std::set<std::string> expand(const json &rules) {
    std::set<std::string> out;
    for (const auto &r : rules)
        for (const auto &g : r["apiGroups"])
            for (const auto &res : r["resources"])
                for (const auto &v : r["verbs"]) {
                    std::string rs = res.get<std::string>(), sub;
                    if (auto slash = rs.find('/'); slash != std::string::npos) {
                        sub = rs.substr(slash + 1);
                        rs = rs.substr(0, slash);
                    }
                    out.insert(v.get<std::string>() + " " + g.get<std::string>() + " " + rs + " " + sub);
                }
    return out;
}

}  // namespace

class AccessCheck : public DevTest {
protected:
    // A ServiceAccount bound to a Role with `rules` in the test namespace, and a client as it.
    nh_client *as_service_account(const std::string &name, const json &rules) {
        kube->create("/api/v1/namespaces/" + ns + "/serviceaccounts",
                     {{"apiVersion", "v1"}, {"kind", "ServiceAccount"}, {"metadata", {{"name", name}}}});
        bind(name, rules, {{"kind", "ServiceAccount"}, {"name", name}, {"namespace", ns}});
        json tr = kube->create("/api/v1/namespaces/" + ns + "/serviceaccounts/" + name + "/token",
                               {{"apiVersion", "authentication.k8s.io/v1"},
                                {"kind", "TokenRequest"},
                                {"spec", {{"expirationSeconds", 3600}}}});
        return client_as("token: " + tr["status"].value("token", ""));
    }

    void bind(const std::string &name, const json &rules, const json &subject) {
        kube->create("/apis/rbac.authorization.k8s.io/v1/namespaces/" + ns + "/roles",
                     {{"apiVersion", "rbac.authorization.k8s.io/v1"}, {"kind", "Role"}, {"metadata", {{"name", name}}},
                      {"rules", rules}});
        kube->create("/apis/rbac.authorization.k8s.io/v1/namespaces/" + ns + "/rolebindings",
                     {{"apiVersion", "rbac.authorization.k8s.io/v1"},
                      {"kind", "RoleBinding"},
                      {"metadata", {{"name", name}}},
                      {"roleRef", {{"apiGroup", "rbac.authorization.k8s.io"}, {"kind", "Role"}, {"name", name}}},
                      {"subjects", {subject}}});
    }

    // A client of the test cluster's server as the user `user_yaml` describes ("{}": anonymous).
    nh_client *client_as(const std::string &user_yaml) {
        std::string cfg = "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: " +
                          env_or_empty("NH_TEST_SERVER") + "\n    certificate-authority: " + env_or_empty("NH_TEST_CA_FILE") +
                          "\nusers:\n- name: u\n  user:\n    " + user_yaml +
                          "\ncontexts:\n- name: x\n  context: {cluster: c, user: u, namespace: " + ns +
                          "}\ncurrent-context: x\n";
        nh_client *c = nullptr;
        EXPECT_EQ(nh_client_new_from_data(&c, cfg.c_str(), cfg.size(), nullptr), NH_OK) << nh_error_last()->message;
        if (c) extra_clients.push_back(c);
        return c;
    }

    nh_dev_start_options start_options(Seen *seen) {
        nh_dev_start_options o = NH_DEV_START_OPTIONS_INIT;
        o.image = "registry.example/dev:1";
        o.sidecar_image = "registry.example/nhsyncd:test";
        o.container = "app";
        o.timeout_ms = 90000;
        o.ignore_cluster_config = 1;
        o.events = Seen::cb;
        o.payload = seen;
        return o;
    }

    json required_rules() {
        nh_buf b = NH_BUF_INIT;
        nh_dev_start_options o = NH_DEV_START_OPTIONS_INIT;
        o.ignore_cluster_config = 1;
        EXPECT_EQ(nh_dev_required_rights(&b, client, "deployment", "web", &o), NH_OK) << nh_error_last()->message;
        return take_json(b);
    }

    void start_and_end_as(nh_client *c) {
        Seen seen;
        nh_dev_start_options o = start_options(&seen);
        json original = create(web_deployment());
        wait_ready(Kind::Deployment, "web", 1);
        original = get(Kind::Deployment, "web");
        nh_session *s = nullptr;
        ASSERT_EQ(nh_dev_start(&s, c, "deployment", "web", &o), NH_OK) << nh_error_last()->message;
        nh_session_free(s);
        EXPECT_GE(seen.at("access"), 0);
        EXPECT_LT(seen.at("access"), seen.at("lock")) << "the rights are checked before the lock is taken";
        int result = 0;
        nh_dev_end_options eo = NH_DEV_END_OPTIONS_INIT;
        eo.timeout_ms = 60000;
        ASSERT_EQ(nh_dev_end(&result, c, "deployment", "web", &eo), NH_OK) << nh_error_last()->message;
        wait_ready(Kind::Deployment, "web", 1);
        expect_restored(Kind::Deployment, "web", original);
    }
};

TEST_F(AccessCheck, APartialIdentityGetsEveryMissingRightAndNothingChanges) {
    json granted = {
        {{"apiGroups", {"apps"}}, {"resources", {"deployments"}}, {"verbs", {"get", "update"}}},
        {{"apiGroups", {""}}, {"resources", {"secrets"}}, {"verbs", {"get", "create", "patch", "delete"}}},
        {{"apiGroups", {"coordination.k8s.io"}}, {"resources", {"leases"}}, {"verbs", {"get", "create", "update", "delete"}}},
        {{"apiGroups", {""}}, {"resources", {"pods"}}, {"verbs", {"get", "list"}}}};
    nh_client *partial = as_service_account("partial", granted);
    ASSERT_NE(partial, nullptr);
    create(web_deployment());
    json before = get(Kind::Deployment, "web");

    Seen seen;
    nh_dev_start_options o = start_options(&seen);
    nh_session *s = nullptr;
    ASSERT_EQ(nh_dev_start(&s, partial, "deployment", "web", &o), NH_EFORBIDDEN);
    EXPECT_EQ(nh_error_last()->http_status, 403);
    const std::string message = nh_error_last()->message;
    for (const char *right : {"create pods/exec", "create pods/portforward", "delete pods", "list events",
                              "list replicasets.apps", "patch replicasets.apps", "delete replicasets.apps",
                              "list horizontalpodautoscalers.autoscaling", "update horizontalpodautoscalers.autoscaling",
                              "nothing was changed"})
        EXPECT_NE(message.find(right), std::string::npos) << right << " is not named in: " << message;
    for (const char *held : {"update deployments", "get deployments", "create secrets", "update leases", "list pods,"})
        EXPECT_EQ(message.find(held), std::string::npos) << held << " is held, yet named in: " << message;
    EXPECT_EQ(seen.at("lock"), -1) << "the lock was taken before the check refused";

    json after = get(Kind::Deployment, "web");
    EXPECT_EQ(nh::dev::clean_object(after), nh::dev::clean_object(before)) << "the workload was changed";
    EXPECT_EQ(after["metadata"]["generation"], before["metadata"]["generation"]);
    std::string obj = nh::dev::session_object_name(Kind::Deployment, "web");
    EXPECT_FALSE(exists(nh::dev::secret_path(ns, obj)));
    EXPECT_FALSE(exists(nh::dev::lease_path(ns, obj)));

    // The check on its own: exactly what the Role lacks of the required rights.
    nh_buf b = NH_BUF_INIT;
    nh_dev_start_options co = NH_DEV_START_OPTIONS_INIT;
    co.ignore_cluster_config = 1;
    ASSERT_EQ(nh_dev_access_check(&b, partial, "deployment", "web", &co), NH_OK) << nh_error_last()->message;
    json report = take_json(b);
    EXPECT_EQ(report["checked"], true);
    std::set<std::string> want, missing;
    std::set<std::string> held = expand(granted);
    for (const auto &r : expand(required_rules()))
        if (!held.count(r)) want.insert(r);
    for (const auto &m : report["missing"])
        missing.insert(m.value("verb", "") + " " + m.value("group", "") + " " + m.value("resource", "") + " " +
                       m.value("subresource", ""));
    EXPECT_EQ(missing, want) << report.dump(2);
    EXPECT_EQ(report["rules"], required_rules());
}

TEST_F(AccessCheck, ARoleMadeFromTheRequiredRightsStartsAndEnds) {
    json rules = required_rules();
    ASSERT_TRUE(rules.is_array() && !rules.empty());
    nh_client *sa = as_service_account("developer", rules);
    ASSERT_NE(sa, nullptr);
    nh_buf b = NH_BUF_INIT;
    nh_dev_start_options co = NH_DEV_START_OPTIONS_INIT;
    co.ignore_cluster_config = 1;
    ASSERT_EQ(nh_dev_access_check(&b, sa, "deployment", "web", &co), NH_OK);
    json report = take_json(b);
    EXPECT_EQ(report["checked"], true);
    EXPECT_EQ(report["missing"], json::array()) << report.dump(2);
    start_and_end_as(sa);
}

TEST_F(AccessCheck, WhereTheServerWillNotSayTheStartGoesOnWithAnInfoEvent) {
    // Anonymous requests may not create SelfSubjectAccessReviews (a cluster-wide right), yet
    // here they hold every right dev mode needs in the namespace.
    bind("anonymous-dev", required_rules(),
         {{"kind", "User"}, {"apiGroup", "rbac.authorization.k8s.io"}, {"name", "system:anonymous"}});
    nh_client *anon = client_as("{}");
    ASSERT_NE(anon, nullptr);
    nh_buf b = NH_BUF_INIT;
    ASSERT_EQ(nh_dev_access_check(&b, anon, "deployment", "web", nullptr), NH_OK) << nh_error_last()->message;
    json report = take_json(b);
    EXPECT_EQ(report["checked"], false);
    EXPECT_TRUE(report["reason"].is_string());

    Seen seen;
    nh_dev_start_options o = start_options(&seen);
    create(web_deployment());
    wait_ready(Kind::Deployment, "web", 1);
    json original = get(Kind::Deployment, "web");
    nh_session *s = nullptr;
    ASSERT_EQ(nh_dev_start(&s, anon, "deployment", "web", &o), NH_OK) << nh_error_last()->message;
    nh_session_free(s);
    bool told = false;
    for (const auto &i : seen.infos) told = told || i.rfind("access: cannot ask", 0) == 0;
    EXPECT_TRUE(told) << "no info event said the rights could not be checked";
    int result = 0;
    ASSERT_EQ(nh_dev_end(&result, anon, "deployment", "web", nullptr), NH_OK) << nh_error_last()->message;
    wait_ready(Kind::Deployment, "web", 1);
    expect_restored(Kind::Deployment, "web", original);
}

TEST_F(AccessCheck, RightsDependOnTheKindAndMode) {
    auto rights = [&](const char *kind, int mode, const char *pvcs = nullptr) {
        nh_buf b = NH_BUF_INIT;
        nh_dev_start_options o = NH_DEV_START_OPTIONS_INIT;
        o.ignore_cluster_config = 1;
        o.mode = mode;
        o.persistent_dirs_json = pvcs;
        EXPECT_EQ(nh_dev_required_rights(&b, client, kind, "x", &o), NH_OK) << nh_error_last()->message;
        return expand(take_json(b));
    };
    auto dep = rights("deployment", NH_DEV_MODE_REPLACE);
    EXPECT_TRUE(dep.count("update apps deployments "));
    EXPECT_TRUE(dep.count("delete apps replicasets "));
    EXPECT_FALSE(dep.count("create apps deployments "));
    EXPECT_FALSE(dep.count("create  persistentvolumeclaims "));
    auto dup = rights("deployment", NH_DEV_MODE_DUPLICATE);
    EXPECT_TRUE(dup.count("create apps deployments ")) << "the copy";
    EXPECT_FALSE(dup.count("update autoscaling horizontalpodautoscalers ")) << "a duplicate leaves the HPAs alone";
    EXPECT_FALSE(dup.count("delete apps replicasets "));
    auto job = rights("job", NH_DEV_MODE_REPLACE);
    EXPECT_TRUE(job.count("update batch jobs "));
    EXPECT_TRUE(job.count("create apps deployments ")) << "the generated Deployment";
    auto pod = rights("pod", NH_DEV_MODE_REPLACE);
    EXPECT_TRUE(pod.count("create  pods ") && pod.count("delete  pods "));
    auto pvc = rights("sts", NH_DEV_MODE_REPLACE, R"([{"path":"/data"}])");
    EXPECT_TRUE(pvc.count("create  persistentvolumeclaims "));
    EXPECT_TRUE(pvc.count("update apps statefulsets "));
    nh_buf b = NH_BUF_INIT;
    EXPECT_EQ(nh_dev_required_rights(&b, client, "service", "x", nullptr), NH_EINVAL);
}

#ifdef NH_CLI_PATH
TEST_F(AccessCheck, NhDevAssociateAsAUserRunsIt) {
    nh::test::TempDir home;
    const std::string dir = home / "project", env = "XDG_CONFIG_HOME='" + home.path() + "/cfg' ";
    std::filesystem::create_directories(dir + "/sub");
    auto nh = [&](const std::string &args) {
        return run_shell(env + "CI=1 '" NH_CLI_PATH "' --kubeconfig '" + kubeconfig + "' -n " + ns + " " + args + " 2>&1");
    };
    CliRun r = nh("dev associate " + dir + " deploy/web -c app");
    ASSERT_EQ(r.code, 0) << r.out;
    EXPECT_NE(r.out.find("deployment/web"), std::string::npos) << r.out;
    r = nh("dev associate --list -o json");
    ASSERT_EQ(r.code, 0) << r.out;
    json list = json::parse(r.out);
    ASSERT_EQ(list.size(), 1u) << r.out;
    EXPECT_EQ(list[0]["namespace"], ns);
    EXPECT_EQ(list[0]["container"], "app");
    EXPECT_EQ(list[0]["kubeconfig"], kubeconfig);
    EXPECT_EQ(list[0]["context"], nh_client_context(client));
    r = nh("dev associate " + dir + "/sub");
    EXPECT_EQ(r.code, 0) << r.out;
    EXPECT_NE(r.out.find(dir + " -> deployment/web"), std::string::npos) << r.out;
    r = nh("dev associate " + dir + " web");
    EXPECT_EQ(r.code, 2) << r.out;

    // dev start with no --local-dir takes the associated directory; one that is gone is an
    // error before anything changes.
    create(web_deployment());
    json before = get(Kind::Deployment, "web");
    std::filesystem::rename(dir, dir + ".moved");
    r = nh("dev start deployment/web --image registry.example/dev:1");
    EXPECT_EQ(r.code, 3) << r.out;
    EXPECT_NE(r.out.find("the directory associated with deployment/web, " + dir + ", does not exist"), std::string::npos)
        << r.out;
    EXPECT_EQ(nh::dev::clean_object(get(Kind::Deployment, "web")), nh::dev::clean_object(before));
    std::filesystem::rename(dir + ".moved", dir);
    // Two directories of one workload: the user says which.
    std::filesystem::create_directories(dir + "2");
    ASSERT_EQ(nh("dev associate " + dir + "2 deployment/web").code, 0);
    r = nh("dev start deployment/web --image registry.example/dev:1");
    EXPECT_EQ(r.code, 2) << r.out;
    EXPECT_NE(r.out.find("associated with 2 directories"), std::string::npos) << r.out;
    EXPECT_EQ(nh::dev::clean_object(get(Kind::Deployment, "web")), nh::dev::clean_object(before));

    r = nh("dev associate --remove " + dir);
    EXPECT_EQ(r.code, 0) << r.out;
    r = nh("dev associate --remove " + dir);
    EXPECT_EQ(r.code, 3) << r.out;
    r = nh("dev associate --list -o json");
    EXPECT_EQ(json::parse(r.out).size(), 1u) << r.out;
}
#endif
