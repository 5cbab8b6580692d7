// A namespace of its own on the test cluster per test, sample workloads, and
// checks that a workload equals its original.
#pragma once

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "dev/session.hpp"
#include "dev/start.hpp"
#include "dev/workload.hpp"
#include "kube/client.hpp"
#include "nocalhost.h"
#include "test_support.hpp"

namespace nh::test {

using json = nlohmann::json;

inline std::string env_or_empty(const char *name) {
    const char *v = std::getenv(name);
    return v ? v : "";
}

// Fails (not skips) without a cluster, unless NH_SKIP_CLUSTER_TESTS=1.
#define NH_DEV_REQUIRE_CLUSTER()                                                                      \
    do {                                                                                              \
        if (::nh::test::env_or_empty("NH_SKIP_CLUSTER_TESTS") == "1") GTEST_SKIP() << "NH_SKIP_CLUSTER_TESTS=1"; \
        ASSERT_FALSE(::nh::test::env_or_empty("NH_TEST_KUBECONFIG").empty())                          \
            << "NH_TEST_KUBECONFIG is not set: run scripts/test-cluster up and "                      \
               "source <(scripts/test-cluster env), or set NH_SKIP_CLUSTER_TESTS=1";                  \
    } while (0)

inline std::shared_ptr<kube::Client> kube_client(const std::string &kubeconfig) {
    kube::LoadOptions lo;
    lo.paths = kubeconfig;
    return std::make_shared<kube::Client>(kube::load_config(lo));
}

inline json sample_deployment(const std::string &name, int replicas) {
    json probe = {{"httpGet", {{"path", "/healthz"}, {"port", 8080}}}, {"periodSeconds", 5}};
    return {
        {"apiVersion", "apps/v1"},
        {"kind", "Deployment"},
        {"metadata",
         {{"name", name},
          {"labels", {{"app", name}, {"team", "payments"}}},
          {"annotations", {{"example.com/owner", "team-payments"}, {"example.com/note", "keep me"}}}}},
        {"spec",
         {{"replicas", replicas},
          {"selector", {{"matchLabels", {{"app", name}}}}},
          {"strategy", {{"type", "RollingUpdate"}, {"rollingUpdate", {{"maxSurge", 1}, {"maxUnavailable", 0}}}}},
          {"template",
           {{"metadata", {{"labels", {{"app", name}, {"tier", "backend"}}}, {"annotations", {{"example.com/pod", "x"}}}}},
            {"spec",
             {{"containers",
               {{{"name", "app"},
                 {"image", "registry.example/app:1.0"},
                 {"args", {"--serve", "--port=8080"}},
                 {"ports", {{{"containerPort", 8080}}}},
                 {"env", {{{"name", "MODE"}, {"value", "prod"}}}},
                 {"readinessProbe", probe},
                 {"livenessProbe", {{"tcpSocket", {{"port", 8080}}}}},
                 {"startupProbe", probe},
                 {"resources", {{"requests", {{"cpu", "100m"}, {"memory", "64Mi"}}}, {"limits", {{"memory", "128Mi"}}}}}},
                {{"name", "proxy"},
                 {"image", "registry.example/proxy:2.0"},
                 {"ports", {{{"containerPort", 9090}}}},
                 {"readinessProbe", {{"tcpSocket", {{"port", 9090}}}}}}}}}}}}}}};
}

inline json sample_statefulset(const std::string &name, int replicas) {
    json d = sample_deployment(name, replicas);
    d["kind"] = "StatefulSet";
    d["spec"].erase("strategy");
    d["spec"]["serviceName"] = name;
    d["spec"]["updateStrategy"] = {{"type", "OnDelete"}};
    return d;
}

inline json sample_hpa(const std::string &name, const std::string &kind, int min, int max) {
    return {{"apiVersion", "autoscaling/v2"},
            {"kind", "HorizontalPodAutoscaler"},
            {"metadata", {{"name", name}, {"labels", {{"app", name}}}}},
            {"spec",
             {{"scaleTargetRef", {{"apiVersion", "apps/v1"}, {"kind", kind}, {"name", name}}},
              {"minReplicas", min},
              {"maxReplicas", max},
              {"metrics",
               {{{"type", "Resource"},
                 {"resource", {{"name", "cpu"}, {"target", {{"type", "Utilization"}, {"averageUtilization", 80}}}}}}}}}}};
}

// A pod template for simple workloads of every kind: one container "app", no volumes.
inline json simple_template(const std::string &app) {
    return {{"metadata", {{"labels", {{"app", app}}}}},
            {"spec",
             {{"containers",
               {{{"name", "app"},
                 {"image", "registry.example/app:1.0"},
                 {"args", {"--serve"}},
                 {"readinessProbe", {{"tcpSocket", {{"port", 8080}}}}},
                 {"ports", {{{"containerPort", 8080}}}}}}},
              {"terminationGracePeriodSeconds", 1},
              {"restartPolicy", "Always"}}}};
}

// One run of a command (the `nh` CLI built with the tests, kubectl).
struct CliRun {
    int code = -1;
    std::string out;  // what it printed on stdout (and stderr where the command line sends it there)
};

// Runs a shell command line, collecting what it prints on stdout.
inline CliRun run_shell(const std::string &cmd) {
    CliRun r;
    r.out = nh::test::shell(cmd, &r.code);
    return r;
}

#ifdef NH_CLI_PATH
inline CliRun run_nh(const std::string &kubeconfig, const std::string &ns, const std::string &args) {
    return run_shell(std::string("CI=1 '") + NH_CLI_PATH + "' --kubeconfig '" + kubeconfig + "' -n " + ns + " " + args +
                     " 2>&1");
}
#endif

class DevTest : public ::testing::Test {
protected:
    void SetUp() override {
        NH_DEV_REQUIRE_CLUSTER();
        kubeconfig = env_or_empty("NH_TEST_KUBECONFIG");
        kube = kube_client(kubeconfig);
        const auto *info = ::testing::UnitTest::GetInstance()->current_test_info();
        std::string base = std::string("nh-dev-") + info->name();
        for (auto &ch : base) ch = static_cast<char>(std::isalnum(static_cast<unsigned char>(ch)) ? std::tolower(ch) : '-');
        if (base.size() > 50) base.resize(50);
        ns = base + "-" + nh::random_hex(3);
        kube->create("/api/v1/namespaces", {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", ns}}}});
        ASSERT_GT(nh_init(), 0);
        client = open(kubeconfig);
        ASSERT_NE(client, nullptr) << nh_error_last()->message;
    }

    void TearDown() override {
        for (auto *c : extra_clients) nh_client_free(c);
        nh_client_free(client);
        if (kube && !ns.empty() && env_or_empty("NH_DEV_KEEP_NAMESPACES") != "1") {
            try {
                kube->remove("/api/v1/namespaces/" + ns);
            } catch (const std::exception &) {
            }
        }
        if (client) nh_shutdown();
    }

    nh_client *open(const std::string &config) {
        nh_client_options o = NH_CLIENT_OPTIONS_INIT;
        o.kubeconfig = config.c_str();
        o.namespace_name = ns.c_str();
        nh_client *c = nullptr;
        if (nh_client_new(&c, &o) != NH_OK) return nullptr;
        if (client) extra_clients.push_back(c);
        return c;
    }

    std::string path(dev::Kind k, const std::string &name) { return dev::workload_path(k, ns, name); }

#ifdef NH_CLI_PATH
    // `nh <args>` against this test's namespace.
    CliRun cli(const std::string &args) { return run_nh(kubeconfig, ns, args); }
#endif

    // The kind rollouts.argoproj.io (version resolved), its CRD installed once per cluster: a
    // Rollout-like kind with a scale subresource; no controller runs for it on the test cluster.
    dev::WorkloadKind rollout_kind() {
        json crd = {
            {"apiVersion", "apiextensions.k8s.io/v1"},
            {"kind", "CustomResourceDefinition"},
            {"metadata", {{"name", "rollouts.argoproj.io"}}},
            {"spec",
             {{"group", "argoproj.io"},
              {"scope", "Namespaced"},
              {"names", {{"kind", "Rollout"}, {"plural", "rollouts"}, {"singular", "rollout"}}},
              {"versions",
               {{{"name", "v1alpha1"},
                 {"served", true},
                 {"storage", true},
                 {"schema", {{"openAPIV3Schema", {{"type", "object"}, {"x-kubernetes-preserve-unknown-fields", true}}}}},
                 {"subresources",
                  {{"scale", {{"specReplicasPath", ".spec.replicas"}, {"statusReplicasPath", ".status.replicas"}}}}}}}}}}};
        try {
            kube->create("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd);
        } catch (const Error &e) {
            if (e.code() != NH_EEXISTS) throw;
        }
        dev::WorkloadKind k = dev::parse_workload_kind("rollouts.argoproj.io");
        k.group_version = "argoproj.io/v1alpha1";
        k.name = "Rollout";
        return k;
    }

    // A Rollout `name` with `replicas` and a canary strategy; waits until the CRD is served.
    json create_rollout(const std::string &name, int replicas, const json &tpl = nullptr) {
        dev::WorkloadKind k = rollout_kind();
        json ro = {{"apiVersion", "argoproj.io/v1alpha1"},
                   {"kind", "Rollout"},
                   {"metadata", {{"name", name}}},
                   {"spec",
                    {{"replicas", replicas},
                     {"selector", {{"matchLabels", {{"app", name}}}}},
                     {"template", tpl.is_null() ? simple_template(name) : tpl},
                     {"strategy", {{"canary", {{"steps", {{{"setWeight", 20}}}}}}}}}}};
        for (int i = 0;; ++i) {
            try {
                return kube->create(dev::workload_path(k, ns, ""), ro);
            } catch (const Error &) {
                if (i > 50) throw;
                std::this_thread::sleep_for(std::chrono::milliseconds(200));
            }
        }
    }

    json create(const json &obj) {
        dev::Kind k = dev::parse_kind(obj["kind"].get<std::string>());
        return kube->create(dev::workload_path(k, ns, ""), obj);
    }

    json get(dev::Kind k, const std::string &name) { return kube->get(path(k, name)); }

    // Waits until the workload's pods are all ready with the current spec.
    void wait_ready(dev::Kind k, const std::string &name, int replicas, int seconds = 60) {
        auto until = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
        json w;
        while (std::chrono::steady_clock::now() < until) {
            w = get(k, name);
            const json st = w.value("status", json::object());
            if (st.value("readyReplicas", 0) == replicas && st.value("replicas", 0) == replicas &&
                st.value("updatedReplicas", replicas) == replicas &&
                st.value("observedGeneration", 0L) == w["metadata"].value("generation", 0L))
                return;
            std::this_thread::sleep_for(std::chrono::milliseconds(200));
        }
        FAIL() << "workload " << name << " not ready: " << w.value("status", json::object()).dump();
    }

    json pods_of(const std::string &app) {
        return kube->get(dev::pods_path(ns) + "?labelSelector=app%3D" + app)["items"];
    }

    bool exists(const std::string &p) {
        try {
            kube->get(p);
            return true;
        } catch (const Error &e) {
            if (e.code() == NH_ENOTFOUND) return false;
            throw;
        }
    }

    // The workload (and its HPA when given) equal their originals; same UID; nothing left.
    void expect_restored(dev::Kind k, const std::string &name, const json &original_raw, const json *hpa_raw = nullptr) {
        json now = get(k, name);
        EXPECT_EQ(now["metadata"]["uid"], original_raw["metadata"]["uid"]) << "not restored in place";
        json want = dev::clean_object(original_raw), got = dev::clean_object(now);
        EXPECT_EQ(got, want) << "diff: " << json::diff(want, got).dump();
        if (hpa_raw) {
            json h = kube->get(dev::hpa_path(ns, (*hpa_raw)["metadata"]["name"]));
            EXPECT_EQ(h["spec"], (*hpa_raw)["spec"]);
            EXPECT_EQ(h["metadata"]["labels"], (*hpa_raw)["metadata"]["labels"]);
        }
        std::string obj = dev::session_object_name(k, name);
        EXPECT_FALSE(exists(dev::secret_path(ns, obj))) << "session Secret left behind";
        EXPECT_FALSE(exists(dev::lease_path(ns, obj))) << "lease left behind";
    }

    std::string kubeconfig;
    std::shared_ptr<kube::Client> kube;
    std::string ns;
    nh_client *client = nullptr;
    std::vector<nh_client *> extra_clients;
};

// Collects dev-mode events for assertions.
struct EventLog {
    std::vector<std::string> phases, pod_lines, warnings, all;
    int stop_at_phase_count = -1;
    std::string stop_at;
    static int cb(int type, const char *phase, const char *message, const char *, void *payload) {
        auto *self = static_cast<EventLog *>(payload);
        self->all.push_back(std::string(phase) + ": " + message);
        if (type == NH_DEV_EVENT_PHASE) self->phases.push_back(phase);
        if (type == NH_DEV_EVENT_POD) self->pod_lines.push_back(message);
        if (type == NH_DEV_EVENT_WARNING) self->warnings.push_back(message);
        return (!self->stop_at.empty() && self->stop_at == phase) ? 1 : 0;
    }
    bool has_phase(const std::string &p) const {
        return std::find(phases.begin(), phases.end(), p) != phases.end();
    }
    std::string dump() const {
        std::string s;
        for (const auto &l : all) s += l + "\n";
        return s;
    }
};

}  // namespace nh::test
