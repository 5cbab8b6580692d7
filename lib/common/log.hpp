// Library logging: a process-wide sink set through nh_log_set_callback(),
// or stderr when NH_LOG is set. Never pass secrets to these functions.
#pragma once

#include <string>

#include "nocalhost.h"

namespace nh::log {

void set_sink(nh_log_cb cb, int max_level, void *payload);
bool enabled(int level);
void write(int level, const std::string &message);

inline void error(const std::string &m) { write(NH_LOG_ERROR, m); }
inline void warn(const std::string &m) { write(NH_LOG_WARN, m); }
inline void info(const std::string &m) { write(NH_LOG_INFO, m); }
inline void debug(const std::string &m) {
    if (enabled(NH_LOG_DEBUG)) write(NH_LOG_DEBUG, m);
}

}  // namespace nh::log
