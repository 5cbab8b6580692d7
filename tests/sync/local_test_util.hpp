// Helpers shared by the local tree layer's tests.
#pragma once

#include <string>
#include <vector>

namespace nh::sync::local::test {

// A fresh directory under $TMPDIR, removed with everything in it at the end.
class TempDir {
public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir &) = delete;
    TempDir &operator=(const TempDir &) = delete;
    const std::string &path() const { return path_; }
    std::string operator/(const std::string &rel) const { return path_ + "/" + rel; }

private:
    std::string path_;
};

void write_file(const std::string &path, const std::string &content);
void append_file(const std::string &path, const std::string &content);
void make_dirs(const std::string &path);
void remove_tree(const std::string &path);
// Sets the mtime of path (not following symlinks) to seconds since the epoch.
void set_mtime(const std::string &path, long seconds);

// Runs a shell command; returns its stdout. Fails the test on a non-zero
// exit unless allowed_exit matches.
std::string run(const std::string &command, int allowed_exit = 0);
std::string shell_quote(const std::string &s);

// gen_tree.py from the shared benchmarks, or "" if it is not there.
std::string gen_tree_script();
// Splits on NUL bytes, dropping a trailing empty item.
std::vector<std::string> split_nul(const std::string &s);

}  // namespace nh::sync::local::test
