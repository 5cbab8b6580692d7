#include "ide/file_store.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <ctime>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/error.hpp"
#include "common/random.hpp"

namespace nh::ide {
namespace fs = std::filesystem;

namespace {

[[noreturn]] void io_fail(const std::string &what, const std::string &path) {
    fail(NH_EIO, what + " " + path + ": " + std::strerror(errno));
}

// An flock held on `<path>.lock` for the life of the object.
class FileLock {
public:
    FileLock(const std::string &path, bool exclusive) {
        fd_ = ::open((path + ".lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (fd_ < 0) io_fail("cannot open the lock file of", path);
        while (::flock(fd_, exclusive ? LOCK_EX : LOCK_SH) != 0) {
            if (errno == EINTR) continue;
            int e = errno;
            ::close(fd_);
            errno = e;
            io_fail("cannot lock", path);
        }
    }
    ~FileLock() { ::close(fd_); }  // closing releases the lock
    FileLock(const FileLock &) = delete;
    FileLock &operator=(const FileLock &) = delete;

private:
    int fd_ = -1;
};

void make_dirs(const fs::path &dir) {
    std::error_code ec;
    if (fs::is_directory(dir, ec)) return;
    make_dirs(dir.parent_path());
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) io_fail("cannot create the directory", dir.string());
}

bool read_file(const std::string &path, std::string &text) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        if (errno == ENOENT) return false;
        io_fail("cannot read", path);
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    text = ss.str();
    return true;
}

void write_atomically(const std::string &path, const std::string &text) {
    const std::string tmp = path + ".tmp-" + std::to_string(::getpid()) + "-" + random_hex(4);
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) io_fail("cannot create", tmp);
    size_t done = 0;
    while (done < text.size()) {
        ssize_t n = ::write(fd, text.data() + done, text.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            int e = errno;
            ::close(fd);
            ::unlink(tmp.c_str());
            errno = e;
            io_fail("cannot write", tmp);
        }
        done += static_cast<size_t>(n);
    }
    if (::fsync(fd) != 0 || ::close(fd) != 0) {
        int e = errno;
        ::unlink(tmp.c_str());
        errno = e;
        io_fail("cannot write", tmp);
    }
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
        int e = errno;
        ::unlink(tmp.c_str());
        errno = e;
        io_fail("cannot replace", path);
    }
}

}  // namespace

std::string now_rfc3339() {
    std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

std::string user_config_file(const std::string &file) {
    fs::path base;
    const char *xdg = std::getenv("XDG_CONFIG_HOME");
    if (xdg && xdg[0] == '/') {
        base = xdg;
    } else {
        const char *home = std::getenv("HOME");
        if (!home || !*home) fail(NH_ECONFIG, "cannot find the user's config dir: neither XDG_CONFIG_HOME nor HOME is set");
        base = fs::path(home) / ".config";
    }
    return (base / "nocalhost" / file).string();
}

FileStore::FileStore(std::string path, std::string key, std::string what)
    : path_(std::move(path)), key_(std::move(key)), what_(std::move(what)) {
    if (path_.empty()) fail(NH_EINVAL, "invalid argument: the path of the " + what_ + " is empty");
}

json FileStore::parse(const std::string &text) const {
    const std::string keep = "; it was left as it is (move it away to start a new " + what_ + ")";
    json doc;
    try {
        doc = json::parse(text);
    } catch (const json::parse_error &e) {
        fail(NH_ECONFIG, path_ + " is not a valid " + what_ + " (" + e.what() + ")" + keep);
    }
    if (!doc.is_object() || !doc.contains(key_) || !doc[key_].is_array())
        fail(NH_ECONFIG, path_ + " is not a " + what_ + " (no \"" + key_ + "\" array)" + keep);
    for (const auto &e : doc[key_])
        if (!e.is_object()) fail(NH_ECONFIG, path_ + " is not a " + what_ + " (an entry is not an object)" + keep);
    return doc;
}

json FileStore::read() const {
    std::error_code ec;
    if (!fs::exists(fs::path(path_).parent_path(), ec)) return json::array();
    FileLock lock(path_, false);
    std::string text;
    if (!read_file(path_, text)) return json::array();
    return parse(text)[key_];
}

bool FileStore::update(const std::function<bool(json &)> &change) const {
    make_dirs(fs::path(path_).parent_path());
    FileLock lock(path_, true);
    std::string text;
    json doc = read_file(path_, text) ? parse(text) : json{{"version", 1}, {key_, json::array()}};
    if (!change(doc[key_])) return false;
    write_atomically(path_, doc.dump(2) + "\n");
    return true;
}

}  // namespace nh::ide
