// The session record (lib/dev/record): the Secret that dev mode writes is read back the same,
// and records in the format earlier versions wrote still read, so their sessions end and resume.
#include <gtest/gtest.h>

#include <string>

#include "common/base64.hpp"
#include "common/error.hpp"
#include "dev/record.hpp"

namespace {

using nh::dev::json;

// The spec of a record as the start wrote it before SessionRecord existed.
json older_spec() {
    return {{"container", "app"},
            {"image", "registry.example/dev:1"},
            {"workdir", "/home/nocalhost-dev"},
            {"sidecar_image", ""},
            {"sync_port", 7001},
            {"session_id", "0123456789abcdef"},
            {"workload_kind", nh::dev::WorkloadKind(nh::dev::Kind::Deployment).to_json()},
            {"mode", "replace"},
            {"developer", ""},
            {"generated", ""},
            {"pod_selector", "app=web"},
            {"extra", {{"sync", {{"type", "sendReceive"}}}}}};
}

json older_secret(const json &spec, const std::string &kind_annotation) {
    json original = {{"apiVersion", "apps/v1"}, {"kind", "Deployment"}, {"metadata", {{"name", "web"}}}};
    return {{"apiVersion", "v1"},
            {"kind", "Secret"},
            {"metadata",
             {{"name", "nh-dev-deployment-web"},
              {"namespace", "team"},
              {"annotations",
               {{nh::dev::kKindAnnotation, kind_annotation},
                {nh::dev::kNameAnnotation, "web"},
                {nh::dev::kPhaseAnnotation, "active"},
                {nh::dev::kOwnerAnnotation, "ana@laptop/42"},
                {nh::dev::kSinceAnnotation, "2026-01-02T03:04:05Z"},
                {nh::dev::kModeAnnotation, "replace"},
                {nh::dev::kDeveloperAnnotation, ""},
                {nh::dev::kDevGenerationAnnotation, "3"}}}}},
            {"data",
             {{"original", nh::base64::encode(original.dump())},
              {"hpas", nh::base64::encode("[]")},
              {"spec", nh::base64::encode(spec.dump())},
              {"token", nh::base64::encode("s3cret-token")}}}};
}

json decoded(const json &secret, const char *key) {
    return json::parse(*nh::base64::decode(secret["data"][key].get<std::string>()));
}

}  // namespace

TEST(SessionRecord, AnOlderRecordReadsAsTheSessionItRecorded) {
    auto r = nh::dev::SessionRecord::read_with_original(older_secret(older_spec(), "Deployment"));
    nh::dev::Session s = r.session();
    EXPECT_EQ(s.kind.kind, nh::dev::Kind::Deployment);
    EXPECT_EQ(s.ns, "team");
    EXPECT_EQ(s.name, "web");
    EXPECT_EQ(s.object_name, "nh-dev-deployment-web");
    EXPECT_EQ(s.phase, "active");
    EXPECT_EQ(s.owner, "ana@laptop/42");
    EXPECT_EQ(s.container, "app");
    EXPECT_EQ(s.sync_port, 7001);
    EXPECT_EQ(s.session_id, "0123456789abcdef");
    EXPECT_EQ(s.token, "s3cret-token");
    EXPECT_EQ(s.pod_selector, "app=web");
    EXPECT_EQ(s.extra["sync"]["type"], "sendReceive");
    EXPECT_EQ(s.target(), "deployment/web");
    EXPECT_EQ(r.dev_generation, "3");
    EXPECT_EQ(r.original["metadata"]["name"], "web");
    EXPECT_TRUE(r.hpas.is_array());
}

TEST(SessionRecord, WritesTheFormatItReads) {
    const json older = older_secret(older_spec(), "Deployment");
    auto r = nh::dev::SessionRecord::read_with_original(older);
    json again = r.secret();
    EXPECT_EQ(decoded(again, "spec"), older_spec()) << "the spec's keys and values are those older versions read";
    EXPECT_EQ(decoded(again, "original"), decoded(older, "original"));
    EXPECT_EQ(decoded(again, "hpas"), json::array());
    EXPECT_EQ(*nh::base64::decode(again["data"]["token"].get<std::string>()), "s3cret-token");
    EXPECT_EQ(again["metadata"]["annotations"], older["metadata"]["annotations"]);
    EXPECT_EQ(again["metadata"]["labels"][nh::dev::kRoleLabel], nh::dev::kRoleSession);
}

TEST(SessionRecord, ARecordWithoutItsKindInTheSpecTakesTheAskedOrAnnotatedKind) {
    json spec = older_spec();
    spec.erase("workload_kind");
    const json secret = older_secret(spec, "StatefulSet");
    EXPECT_EQ(nh::dev::SessionRecord::read(secret).kind.kind, nh::dev::Kind::StatefulSet);
    const nh::dev::WorkloadKind asked(nh::dev::Kind::ReplicaSet);
    EXPECT_EQ(nh::dev::SessionRecord::read(secret, &asked).kind.kind, nh::dev::Kind::ReplicaSet);
}

TEST(SessionRecord, AnUnreadableSpecIsAProtocolErrorNamingTheKeyNotItsContent) {
    json secret = older_secret(older_spec(), "Deployment");
    secret["data"]["spec"] = nh::base64::encode("{not json s3cret");
    try {
        nh::dev::SessionRecord::read(secret);
        FAIL() << "an unreadable spec was read";
    } catch (const nh::Error &e) {
        EXPECT_EQ(e.code(), NH_EPROTOCOL);
        EXPECT_NE(std::string(e.what()).find("'spec'"), std::string::npos) << e.what();
        EXPECT_EQ(std::string(e.what()).find("s3cret"), std::string::npos) << e.what();
    }
}
