#include "kube/errors.hpp"

#include <gtest/gtest.h>

using nh::kube::code_for_status;
using nh::kube::status_error;

TEST(Errors, ReasonWinsOverHttpStatus) {
    EXPECT_EQ(code_for_status("AlreadyExists", 409), NH_EEXISTS);
    EXPECT_EQ(code_for_status("Conflict", 409), NH_ECONFLICT);
    EXPECT_EQ(code_for_status("Expired", 410), NH_EGONE);
    EXPECT_EQ(code_for_status("", 409), NH_ECONFLICT);
    EXPECT_EQ(code_for_status("", 404), NH_ENOTFOUND);
    EXPECT_EQ(code_for_status("", 503), NH_ESERVER);
    EXPECT_EQ(code_for_status("", 418), NH_ERROR);
}

TEST(Errors, NonStatusBodyStillGivesAUsefulMessage) {
    auto e = status_error(502, "<html>bad gateway</html>\n", "GET", "/api/v1/pods?labelSelector=a%3Db");
    EXPECT_EQ(e.code(), NH_ESERVER);
    EXPECT_EQ(e.http_status(), 502);
    EXPECT_EQ(std::string(e.what()), "GET /api/v1/pods: <html>bad gateway</html> (HTTP 502)");
}

TEST(Errors, UnauthorizedExplainsItself) {
    auto e = status_error(401, R"({"kind":"Status","reason":"Unauthorized","message":"Unauthorized","code":401})",
                          "GET", "/version");
    EXPECT_EQ(e.code(), NH_EUNAUTHORIZED);
    EXPECT_NE(std::string(e.what()).find("expired or invalid"), std::string::npos);
}

TEST(Errors, NotFoundNamesTheObjectNotTheRequest) {
    auto e = status_error(404, R"({"kind":"Status","reason":"NotFound","message":"namespaces \"x\" not found",
        "details":{"name":"x","kind":"namespaces"},"code":404})",
                          "POST", "/apis/coordination.k8s.io/v1/namespaces/x/leases");
    EXPECT_EQ(e.code(), NH_ENOTFOUND);
    EXPECT_EQ(e.http_status(), 404);
    EXPECT_EQ(std::string(e.what()), "namespace \"x\" not found");

    e = status_error(404, R"({"kind":"Status","reason":"NotFound","message":"deployments.apps \"nope\" not found",
        "details":{"name":"nope","group":"apps","kind":"deployments"},"code":404})",
                     "GET", "/apis/apps/v1/namespaces/demo/deployments/nope");
    EXPECT_EQ(std::string(e.what()), "deployment \"nope\" not found in namespace \"demo\"");

    e = status_error(404, R"({"kind":"Status","reason":"NotFound","message":"ingresses.networking.k8s.io \"i\" not found",
        "details":{"name":"i","kind":"ingresses"},"code":404})",
                     "GET", "/apis/networking.k8s.io/v1/namespaces/demo/ingresses/i?x=1");
    EXPECT_EQ(std::string(e.what()), "ingress \"i\" not found in namespace \"demo\"");
}

TEST(Errors, AStatusNamingItsObjectLeavesTheRequestOut) {
    auto e = status_error(409, R"({"kind":"Status","reason":"AlreadyExists","message":"leases.coordination.k8s.io \"l\" already exists",
        "details":{"name":"l","kind":"leases"},"code":409})",
                          "POST", "/apis/coordination.k8s.io/v1/namespaces/x/leases");
    EXPECT_EQ(e.code(), NH_EEXISTS);
    EXPECT_EQ(std::string(e.what()), "leases.coordination.k8s.io \"l\" already exists (HTTP 409 AlreadyExists)");
}
