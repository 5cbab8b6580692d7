// The one table of built-in kinds (lib/kube/kinds) as kubectl names them, and the layers that
// read kinds from users agreeing with it: dev mode's kinds and the streams' targets.
#include <gtest/gtest.h>

#include <cctype>
#include <string>

#include "common/error.hpp"
#include "dev/workload.hpp"
#include "kube/kinds.hpp"
#include "stream/target.hpp"

namespace {

std::string kind_of(const char *text) {
    const nh::kube::BuiltinKind *k = nh::kube::find_builtin_kind(text);
    return k ? k->kind : "";
}

}  // namespace

TEST(Kinds, KubectlShortNamesSingularAndPluralInAnyCase) {
    const std::pair<const char *, const char *> names[] = {
        {"po", "Pod"},          {"pod", "Pod"},           {"pods", "Pod"},           {"Pod", "Pod"},
        {"deploy", "Deployment"}, {"deployment", "Deployment"}, {"Deployments", "Deployment"},
        {"sts", "StatefulSet"}, {"statefulset", "StatefulSet"}, {"STATEFULSETS", "StatefulSet"},
        {"ds", "DaemonSet"},    {"daemonset", "DaemonSet"},   {"daemonsets", "DaemonSet"},
        {"rs", "ReplicaSet"},   {"replicaset", "ReplicaSet"}, {"replicasets", "ReplicaSet"},
        {"job", "Job"},         {"jobs", "Job"},             {"cj", "CronJob"},
        {"cronjob", "CronJob"}, {"cronjobs", "CronJob"}};
    for (const auto &[text, kind] : names) EXPECT_EQ(kind_of(text), kind) << text;
}

TEST(Kinds, QualifiedByTheirOwnGroupAndVersionOnly) {
    EXPECT_EQ(kind_of("deployments.apps"), "Deployment");
    EXPECT_EQ(kind_of("deploy.v1.apps"), "Deployment");
    EXPECT_EQ(kind_of("sts.apps"), "StatefulSet");
    EXPECT_EQ(kind_of("cronjobs.batch"), "CronJob");
    EXPECT_EQ(kind_of("pods.v1"), "Pod");
    EXPECT_EQ(kind_of("deployments.batch"), "");
    EXPECT_EQ(kind_of("pods.apps"), "");
    EXPECT_EQ(kind_of("rollouts.argoproj.io"), "");
}

TEST(Kinds, NoKindForMisspellingsOrOtherResources) {
    for (const char *text : {"", "deploymnet", "service", "svc", "jo", ".apps", "deploy."})
        EXPECT_EQ(kind_of(text), "") << text;
}

TEST(Kinds, EveryEntryIsConsistent) {
    for (const auto &k : nh::kube::builtin_kinds()) {
        std::string lower = k.kind;
        for (auto &c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        EXPECT_EQ(lower, k.singular);
        EXPECT_EQ(std::string(k.singular) + "s", k.resource);
        EXPECT_EQ(kind_of(k.kind), k.kind);
    }
}

// Dev mode and the streams read every name of the table the same way.
TEST(Kinds, DevModeAndStreamsUseTheTable) {
    for (const auto &k : nh::kube::builtin_kinds()) {
        for (const char *name : {k.singular, k.resource, k.short_name, k.kind}) {
            if (!*name) continue;
            EXPECT_EQ(nh::dev::kind_info(nh::dev::parse_kind(name)).name, std::string(k.kind)) << name;
            std::string kind = k.kind;
            if (kind == "Job" || kind == "CronJob") {
                // Streams go to pods of workloads that keep a selector of their own.
                EXPECT_THROW(nh::stream::parse_target(std::string(name) + "/x"), nh::Error) << name;
            } else {
                EXPECT_EQ(nh::stream::parse_target(std::string(name) + "/x").kind, kind) << name;
            }
        }
    }
    EXPECT_EQ(nh::stream::parse_target("deploy.v1.apps/web").kind, "Deployment");
    EXPECT_EQ(nh::dev::parse_kind("rollouts.argoproj.io"), nh::dev::Kind::Custom);
    EXPECT_EQ(nh::dev::parse_kind("deployments.batch"), nh::dev::Kind::Custom);
    EXPECT_THROW(nh::dev::parse_kind("deploymnet"), nh::Error);
    EXPECT_THROW(nh::stream::parse_target("svc/web"), nh::Error);
}
