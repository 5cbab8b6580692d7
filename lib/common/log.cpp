#include "common/log.hpp"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <shared_mutex>

namespace nh::log {
namespace {

struct Sink {
    std::mutex mu;
    // Held shared while a callback runs, exclusively while the sink changes, so a
    // replaced callback is never running once set_sink() returns.
    std::shared_mutex calling;
    nh_log_cb cb = nullptr;
    void *payload = nullptr;
    int max_level = -1;
    bool env_read = false;
};

Sink &sink() {
    static Sink s;
    return s;
}

int level_from_env() {
    const char *v = std::getenv("NH_LOG");
    if (!v) return -1;
    static const char *names[] = {"error", "warn", "info", "debug", "trace"};
    for (int i = 0; i < 5; ++i)
        if (std::strcmp(v, names[i]) == 0) return i;
    return NH_LOG_INFO;
}

const char *level_name(int level) {
    static const char *names[] = {"error", "warn", "info", "debug", "trace"};
    return level >= 0 && level <= 4 ? names[level] : "log";
}

}  // namespace

void set_sink(nh_log_cb cb, int max_level, void *payload) {
    auto &s = sink();
    std::unique_lock calling(s.calling);
    std::lock_guard lock(s.mu);
    s.cb = cb;
    s.payload = payload;
    s.max_level = cb ? max_level : -1;
    s.env_read = cb != nullptr;
}

bool enabled(int level) {
    auto &s = sink();
    std::lock_guard lock(s.mu);
    if (!s.env_read) {
        s.max_level = level_from_env();
        s.env_read = true;
    }
    return level <= s.max_level;
}

void write(int level, const std::string &message) {
    if (!enabled(level)) return;
    auto &s = sink();
    std::shared_lock calling(s.calling);
    nh_log_cb cb;
    void *payload;
    {
        std::lock_guard lock(s.mu);
        cb = s.cb;
        payload = s.payload;
    }
    if (cb)
        cb(level, message.c_str(), payload);
    else
        std::fprintf(stderr, "nocalhost %s: %s\n", level_name(level), message.c_str());
}

}  // namespace nh::log
