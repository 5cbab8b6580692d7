#include "sync/net.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#if defined(__linux__)
#include <linux/sockios.h>
#endif
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/error.hpp"

namespace nh::sync::net {

HostPort parse_host_port(std::string_view s) {
    HostPort hp;
    std::string_view port;
    if (!s.empty() && s.front() == '[') {
        auto close = s.find(']');
        if (close == std::string_view::npos || close + 1 >= s.size() || s[close + 1] != ':')
            throw Error(NH_EINVAL, "invalid address '" + std::string(s) + "' (want [host]:port)");
        hp.host = std::string(s.substr(1, close - 1));
        port = s.substr(close + 2);
    } else {
        auto colon = s.rfind(':');
        if (colon == std::string_view::npos)
            throw Error(NH_EINVAL, "invalid address '" + std::string(s) + "' (want host:port)");
        hp.host = std::string(s.substr(0, colon));
        port = s.substr(colon + 1);
    }
    unsigned long v = 0;
    if (port.empty() || port.size() > 5) throw Error(NH_EINVAL, "invalid port in '" + std::string(s) + "'");
    for (char c : port) {
        if (c < '0' || c > '9') throw Error(NH_EINVAL, "invalid port in '" + std::string(s) + "'");
        v = v * 10 + static_cast<unsigned long>(c - '0');
    }
    if (v > 65535) throw Error(NH_EINVAL, "invalid port in '" + std::string(s) + "'");
    hp.port = static_cast<uint16_t>(v);
    return hp;
}

namespace {

struct AddrInfo {
    addrinfo *ai = nullptr;
    ~AddrInfo() {
        if (ai) freeaddrinfo(ai);
    }
};

void resolve(const HostPort &a, bool passive, AddrInfo &out) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = passive ? AI_PASSIVE : 0;
    std::string port = std::to_string(a.port);
    const char *host = a.host.empty() ? nullptr : a.host.c_str();
    int rc = getaddrinfo(host, port.c_str(), &hints, &out.ai);
    if (rc != 0) throw Error(NH_ECONNECT, "cannot resolve '" + a.host + "': " + gai_strerror(rc));
}

}  // namespace

int listen_tcp(const HostPort &addr, int backlog) {
    AddrInfo ai;
    resolve(addr, true, ai);
    int last = 0;
    for (auto *p = ai.ai; p; p = p->ai_next) {
        int fd = ::socket(p->ai_family, p->ai_socktype | SOCK_CLOEXEC, p->ai_protocol);
        if (fd < 0) {
            last = errno;
            continue;
        }
        int one = 1;
        ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (::bind(fd, p->ai_addr, p->ai_addrlen) == 0 && ::listen(fd, backlog) == 0) return fd;
        last = errno;
        ::close(fd);
    }
    throw Error(NH_EIO, "cannot listen on " + addr.host + ":" + std::to_string(addr.port) + ": " +
                            std::strerror(last));
}

uint16_t local_port(int fd) {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    if (::getsockname(fd, reinterpret_cast<sockaddr *>(&ss), &len) != 0) return 0;
    if (ss.ss_family == AF_INET) return ntohs(reinterpret_cast<sockaddr_in *>(&ss)->sin_port);
    if (ss.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6 *>(&ss)->sin6_port);
    return 0;
}

void set_nonblocking(int fd, bool on) {
    int fl = ::fcntl(fd, F_GETFL);
    ::fcntl(fd, F_SETFL, on ? (fl | O_NONBLOCK) : (fl & ~O_NONBLOCK));
}

int connect_tcp(const HostPort &addr, int timeout_ms) {
    AddrInfo ai;
    resolve(addr, false, ai);
    std::string why = "no address";
    for (auto *p = ai.ai; p; p = p->ai_next) {
        int fd = ::socket(p->ai_family, p->ai_socktype | SOCK_CLOEXEC, p->ai_protocol);
        if (fd < 0) continue;
        set_nonblocking(fd, true);
        int rc = ::connect(fd, p->ai_addr, p->ai_addrlen);
        if (rc != 0 && errno == EINPROGRESS) {
            pollfd pfd{fd, POLLOUT, 0};
            rc = ::poll(&pfd, 1, timeout_ms);
            if (rc == 0) {
                ::close(fd);
                throw Error(NH_ETIMEOUT, "connecting to " + addr.host + ":" + std::to_string(addr.port) + " timed out");
            }
            int err = 0;
            socklen_t len = sizeof err;
            ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
            rc = err ? -1 : 0;
            errno = err;
        }
        if (rc == 0) {
            set_nonblocking(fd, false);
            int one = 1;
            ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            return fd;
        }
        why = std::strerror(errno);
        ::close(fd);
    }
    throw Error(NH_ECONNECT, "cannot connect to " + addr.host + ":" + std::to_string(addr.port) + ": " + why);
}

bool is_loopback_peer(int fd) {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    if (::getpeername(fd, reinterpret_cast<sockaddr *>(&ss), &len) != 0) return false;
    if (ss.ss_family == AF_INET)
        return (ntohl(reinterpret_cast<sockaddr_in *>(&ss)->sin_addr.s_addr) >> 24) == 127;
    if (ss.ss_family == AF_INET6) {
        auto &a = reinterpret_cast<sockaddr_in6 *>(&ss)->sin6_addr;
        if (IN6_IS_ADDR_LOOPBACK(&a)) return true;
        if (IN6_IS_ADDR_V4MAPPED(&a)) return a.s6_addr[12] == 127;
    }
    return false;
}

long unacked_bytes(int fd) {
#if defined(__linux__)
    int n = 0;
    if (::ioctl(fd, SIOCOUTQ, &n) == 0) return n;
#elif defined(SO_NWRITE)
    int n = 0;
    socklen_t len = sizeof n;
    if (::getsockopt(fd, SOL_SOCKET, SO_NWRITE, &n, &len) == 0) return n;
#else
    (void)fd;
#endif
    return -1;
}

void send_all(int fd, std::string_view data) {
    while (!data.empty()) {
        ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) throw Error(NH_ETIMEOUT, "send timed out: the peer does not read");
            throw Error(NH_EIO, std::string("send failed: ") + std::strerror(errno));
        }
        data.remove_prefix(static_cast<size_t>(n));
    }
}

}  // namespace nh::sync::net
