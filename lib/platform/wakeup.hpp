// A file descriptor another thread makes readable to wake a poll() loop: an eventfd on Linux,
// a pipe elsewhere (POSIX). Part of the platform layer: every call the core makes that is not
// plain POSIX or C++ is in lib/platform (see docs/portability.md).
#pragma once

namespace nh::platform {

class Wakeup {
public:
    // Throws nh::Error(NH_EIO) when the descriptor cannot be made.
    Wakeup();
    ~Wakeup();
    Wakeup(const Wakeup &) = delete;
    Wakeup &operator=(const Wakeup &) = delete;

    // Poll this for POLLIN.
    int fd() const { return read_fd_; }
    // Makes fd() readable (until drain()); safe from any thread and from a signal handler.
    void signal();
    // Reads what signal() wrote, so that fd() is not readable until the next signal().
    void drain();

private:
    int read_fd_ = -1;
    int write_fd_ = -1;  // == read_fd_ for an eventfd
};

}  // namespace nh::platform
