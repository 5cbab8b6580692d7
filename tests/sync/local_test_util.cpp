#include "local_test_util.hpp"

#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <stdexcept>

#include <gtest/gtest.h>

namespace nh::sync::local::test {

TempDir::TempDir() {
    const char *base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/nh-local-XXXXXX";
    if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
}

TempDir::~TempDir() { remove_tree(path_); }

void write_file(const std::string &path, const std::string &content) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << content;
    if (!out) ADD_FAILURE() << "cannot write " << path;
}

void append_file(const std::string &path, const std::string &content) {
    std::ofstream out(path, std::ios::binary | std::ios::app);
    out << content;
    if (!out) ADD_FAILURE() << "cannot append to " << path;
}

void make_dirs(const std::string &path) {
    for (size_t slash = path.find('/', 1);; slash = path.find('/', slash + 1)) {
        std::string prefix = path.substr(0, slash);
        ::mkdir(prefix.c_str(), 0755);
        if (slash == std::string::npos) break;
    }
}

void remove_tree(const std::string &path) {
    ::nftw(
        path.c_str(),
        [](const char *p, const struct stat *, int type, struct FTW *) {
            if (type == FTW_DP) {
                ::chmod(p, 0700);
                ::rmdir(p);
            } else {
                ::unlink(p);
            }
            return 0;
        },
        64, FTW_DEPTH | FTW_PHYS);
}

void set_mtime(const std::string &path, long seconds) {
    struct timespec ts[2] = {{seconds, 0}, {seconds, 0}};
    ::utimensat(AT_FDCWD, path.c_str(), ts, AT_SYMLINK_NOFOLLOW);
}

std::string shell_quote(const std::string &s) {
    std::string q = "'";
    for (char c : s) {
        if (c == '\'')
            q += "'\\''";
        else
            q += c;
    }
    return q + "'";
}

std::string run(const std::string &command, int allowed_exit) {
    FILE *p = ::popen(command.c_str(), "r");
    if (!p) {
        ADD_FAILURE() << "cannot run " << command;
        return {};
    }
    std::string out;
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    int status = ::pclose(p);
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    if (code != 0 && code != allowed_exit) ADD_FAILURE() << command << " exited with " << code;
    return out;
}

std::string gen_tree_script() {
    const char *env = std::getenv("NH_GEN_TREE");
    std::string path = env && *env ? env : NH_GEN_TREE;
    return ::access(path.c_str(), R_OK) == 0 ? path : std::string();
}

std::vector<std::string> split_nul(const std::string &s) {
    std::vector<std::string> out;
    size_t start = 0;
    while (start < s.size()) {
        size_t end = s.find('\0', start);
        if (end == std::string::npos) end = s.size();
        out.push_back(s.substr(start, end - start));
        start = end + 1;
    }
    return out;
}

}  // namespace nh::sync::local::test
