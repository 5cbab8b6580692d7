#include "platform/wakeup.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>

#include "common/error.hpp"

#if defined(__linux__)
#include <sys/eventfd.h>
#endif

namespace nh::platform {

Wakeup::Wakeup() {
#if defined(__linux__)
    read_fd_ = write_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (read_fd_ < 0) throw Error(NH_EIO, std::string("eventfd: ") + std::strerror(errno));
#else
    int p[2];
    if (::pipe(p) != 0) throw Error(NH_EIO, std::string("pipe: ") + std::strerror(errno));
    for (int fd : p) {
        ::fcntl(fd, F_SETFD, FD_CLOEXEC);
        ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
    }
    read_fd_ = p[0];
    write_fd_ = p[1];
#endif
}

Wakeup::~Wakeup() {
    if (write_fd_ >= 0 && write_fd_ != read_fd_) ::close(write_fd_);
    if (read_fd_ >= 0) ::close(read_fd_);
}

void Wakeup::signal() {
    uint64_t one = 1;
#if defined(__linux__)
    (void)!::write(write_fd_, &one, sizeof one);
#else
    (void)!::write(write_fd_, &one, 1);
#endif
}

void Wakeup::drain() {
    char buf[64];
    while (::read(read_fd_, buf, sizeof buf) > 0) {
    }
}

}  // namespace nh::platform
