#include "kube/errors.hpp"

#include <nlohmann/json.hpp>

namespace nh::kube {

int code_for_status(std::string_view reason, int http_status) {
    if (reason == "NotFound") return NH_ENOTFOUND;
    if (reason == "AlreadyExists") return NH_EEXISTS;
    if (reason == "Conflict") return NH_ECONFLICT;
    if (reason == "Forbidden") return NH_EFORBIDDEN;
    if (reason == "Unauthorized") return NH_EUNAUTHORIZED;
    if (reason == "Invalid" || reason == "BadRequest" || reason == "RequestEntityTooLarge")
        return NH_EINVALID;
    if (reason == "Gone" || reason == "Expired") return NH_EGONE;
    if (reason == "TooManyRequests") return NH_ETOOMANY;
    if (reason == "Timeout" || reason == "ServerTimeout") return NH_ETIMEOUT;
    if (reason == "MethodNotAllowed" || reason == "UnsupportedMediaType" || reason == "NotAcceptable")
        return NH_EUNSUPPORTED;
    if (reason == "InternalError" || reason == "ServiceUnavailable") return NH_ESERVER;
    switch (http_status) {
        case 400:
        case 422:
            return NH_EINVALID;
        case 401:
            return NH_EUNAUTHORIZED;
        case 403:
            return NH_EFORBIDDEN;
        case 404:
            return NH_ENOTFOUND;
        case 405:
        case 406:
        case 415:
            return NH_EUNSUPPORTED;
        case 409:
            return NH_ECONFLICT;
        case 410:
            return NH_EGONE;
        case 429:
            return NH_ETOOMANY;
        case 504:
            return NH_ETIMEOUT;
        default:
            return http_status >= 500 ? NH_ESERVER : NH_ERROR;
    }
}

namespace {

// A resource's plural as a user names one object: "deployments" -> "deployment",
// "ingresses" -> "ingress", "namespaces" -> "namespace".
std::string singular(std::string plural) {
    if (plural.size() > 4 && plural.compare(plural.size() - 4, 4, "sses") == 0) return plural.substr(0, plural.size() - 2);
    if (plural.size() > 1 && plural.back() == 's') plural.pop_back();
    return plural;
}

// The namespace a request path is in ("/apis/apps/v1/namespaces/NS/..."), or "".
std::string namespace_of(const std::string &path) {
    const std::string marker = "/namespaces/";
    auto at = path.find(marker);
    if (at == std::string::npos) return "";
    auto start = at + marker.size();
    auto end = path.find('/', start);
    // "/api/v1/namespaces/NS" is the namespace itself, not something in it.
    return end == std::string::npos ? "" : path.substr(start, end - start);
}

}  // namespace

Error status_error(int http_status, const std::string &body, const std::string &method,
                   const std::string &path) {
    std::string reason, message, object_kind, object_name;
    auto j = nlohmann::json::parse(body, nullptr, false);
    if (j.is_object() && j.value("kind", "") == "Status") {
        if (j.contains("reason") && j["reason"].is_string()) reason = j["reason"];
        if (j.contains("message") && j["message"].is_string()) message = j["message"];
        if (j.contains("details") && j["details"].is_object()) {
            const auto &d = j["details"];
            if (d.contains("kind") && d["kind"].is_string()) object_kind = d["kind"];
            if (d.contains("name") && d["name"].is_string()) object_name = d["name"];
        }
    }
    std::string shown = path.substr(0, path.find('?'));
    int status_code = code_for_status(reason, http_status);
    // A missing object is named as a user names it, whatever request ran into it: a Lease
    // created in a namespace that does not exist answers `namespace "x" not found`.
    if (status_code == NH_ENOTFOUND && !object_kind.empty() && !object_name.empty()) {
        std::string ns = namespace_of(shown);
        std::string text = singular(object_kind) + " \"" + object_name + "\" not found";
        if (object_kind != "namespaces" && !ns.empty()) text += " in namespace \"" + ns + "\"";
        return Error(status_code, text, http_status, reason);
    }
    if (message.empty()) {
        message = body.substr(0, 300);
        while (!message.empty() && (message.back() == '\n' || message.back() == '\r')) message.pop_back();
        if (message.empty()) message = "no message";
    }
    // The query may carry selectors but never credentials; it is dropped anyway to keep messages
    // short. A Status naming its object speaks for itself; anything else says what was asked.
    int code = status_code;
    std::string text = (object_kind.empty() && object_name.empty() ? method + " " + shown + ": " : std::string()) +
                       message + " (HTTP " + std::to_string(http_status) + (reason.empty() ? "" : " " + reason) + ")";
    if (code == NH_EUNAUTHORIZED)
        text += "; the server rejected the credentials (expired or invalid token or certificate?)";
    return Error(code, text, http_status, reason);
}

namespace {
// The "user:password" of a URL's authority (empty if none) and where it starts.
std::string_view userinfo_of(std::string_view url, size_t *start) {
    *start = url.find("://");
    *start = *start == std::string_view::npos ? 0 : *start + 3;
    size_t end = url.find_first_of("/?#", *start);
    if (end == std::string_view::npos) end = url.size();
    size_t at = url.substr(*start, end - *start).rfind('@');
    return at == std::string_view::npos ? std::string_view() : url.substr(*start, at);
}
}  // namespace

std::string url_userinfo(std::string_view url) {
    size_t start;
    return std::string(userinfo_of(url, &start));
}

std::string redact_url(std::string_view url) {
    size_t start;
    std::string_view ui = userinfo_of(url, &start);
    if (ui.empty() && url.substr(start, 1) != "@") return std::string(url);
    return std::string(url.substr(0, start)) + "***" + std::string(url.substr(start + ui.size()));
}

std::string scrub(std::string text, std::initializer_list<std::string_view> secrets) {
    for (std::string_view s : secrets) {
        if (s.empty()) continue;
        for (size_t p = text.find(s); p != std::string::npos; p = text.find(s, p + 3)) text.replace(p, s.size(), "***");
    }
    return text;
}

}  // namespace nh::kube
