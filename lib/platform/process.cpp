#include "platform/process.hpp"

#include <filesystem>
#include <fstream>
#include <sstream>

namespace nh::platform {

#if defined(__linux__)

namespace {

std::string read_first_line(const std::string &path) {
    std::ifstream in(path);
    std::string line;
    std::getline(in, line);
    return line;
}

}  // namespace

// Field 22 of /proc/PID/stat.
std::string process_start(long pid) {
    std::string stat = read_first_line("/proc/" + std::to_string(pid) + "/stat");
    auto paren = stat.rfind(')');
    if (stat.empty() || paren == std::string::npos) return {};
    std::istringstream fields(stat.substr(paren + 1));
    std::string field;
    for (int i = 3; i <= 22 && fields >> field; ++i) {
        if (i == 3 && field == "Z") return "zombie";
        if (i == 22) return field;
    }
    return {};
}

std::string boot_id() { return read_first_line("/proc/sys/kernel/random/boot_id"); }

std::string pid_namespace() {
    std::error_code ec;
    auto target = std::filesystem::read_symlink("/proc/self/ns/pid", ec);
    return ec ? std::string() : target.string();
}

#else

std::string process_start(long) { return {}; }
std::string boot_id() { return {}; }
std::string pid_namespace() { return {}; }

#endif

}  // namespace nh::platform
