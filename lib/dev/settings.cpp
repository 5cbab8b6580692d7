#include "dev/settings.hpp"

namespace nh::dev {
namespace {

using json = nlohmann::json;

// A Nocalhost sync pattern as a gitignore pattern: "./src" is anchored at the root ("/src").
std::string pattern_of(const std::string &p) {
    if (p.rfind("./", 0) == 0) return "/" + p.substr(2);
    return p;
}

bool whole_tree(const std::string &p) { return p == "." || p == "./" || p == "/" || p == "*"; }

SyncSettings sync_settings(const json &sync) {
    SyncSettings s;
    s.two_way = sync.value("type", "send") == "sendReceive";
    s.gitignore = sync.value("mode", "pattern") == "gitIgnore";
    for (const auto &p : sync.value("ignoreFilePattern", json::array()))
        if (p.is_string() && !p.get<std::string>().empty()) s.ignore.push_back(pattern_of(p.get<std::string>()));
    // filePattern limits what is synced in pattern mode; "." means everything.
    if (!s.gitignore) {
        bool all = false;
        for (const auto &p : sync.value("filePattern", json::array())) {
            if (!p.is_string()) continue;
            if (whole_tree(p.get<std::string>())) all = true;
            else s.include.push_back(pattern_of(p.get<std::string>()));
        }
        if (all) s.include.clear();
    }
    s.delete_protection = sync.value("deleteProtection", true);
    return s;
}

}  // namespace

LoopSettings loop_settings(const json &recorded) {
    LoopSettings out;
    if (!recorded.is_object()) return out;
    const json sync = recorded.value("sync", json());
    if (sync.is_object()) out.sync = sync_settings(sync);
    json forwards = recorded.value("portForward", json::array());
    if (!forwards.is_array()) forwards = json::array({forwards});
    for (const auto &p : forwards) {
        std::string s = p.is_string() ? p.get<std::string>() : p.is_number_integer() ? std::to_string(p.get<int>()) : "";
        if (!s.empty()) out.port_forwards.push_back(s);
    }
    return out;
}

}  // namespace nh::dev
