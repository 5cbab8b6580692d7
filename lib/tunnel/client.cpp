#include "tunnel/client.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>

#include "common/error.hpp"

namespace nh::tunnel {
namespace {

int port_of(const std::string &text, const std::string &whole) {
    if (text.empty() || text.size() > 5 || text.find_first_not_of("0123456789") != std::string::npos)
        throw Error(NH_EINVAL, "'" + whole + "' is not REMOTE:LOCAL or PORT");
    int p = std::stoi(text);
    if (p < 1 || p > 65535) throw Error(NH_EINVAL, "port " + text + " in '" + whole + "' is out of range (1-65535)");
    return p;
}

// Reads one frame within `deadline`; NH_ECONNECT when the connection ends first.
Frame read_frame(int fd, FrameReader &reader, std::chrono::steady_clock::time_point deadline) {
    char buf[4096];
    for (;;) {
        if (auto f = reader.next()) return *f;
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) throw Error(NH_ETIMEOUT, "the sidecar's tunnel did not answer in time");
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
        ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) throw Error(NH_ECONNECT, "the sidecar's tunnel port closed the connection (is nhsyncd running there?)");
        reader.feed(buf, static_cast<size_t>(n));
    }
}

[[noreturn]] void fail_frame(const Frame &f) {
    size_t at = 0;
    auto code = static_cast<int32_t>(get_u32(f.payload, at));
    throw Error(code < 0 ? code : NH_EPROTOCOL, "the sidecar refused the tunnel: " + f.payload.substr(at));
}

}  // namespace

Mapping parse_mapping(const std::string &text) {
    auto colon = text.find(':');
    if (colon == std::string::npos) {
        int p = port_of(text, text);
        return {p, p};
    }
    return {port_of(text.substr(0, colon), text), port_of(text.substr(colon + 1), text)};
}

std::unique_ptr<Mux> open_tunnel(int fd, const ClientOptions &o) {
    try {
        if (o.ports.empty()) throw Error(NH_EINVAL, "no port to reverse-forward");
        std::string out, hello(kMagic);
        hello.push_back(static_cast<char>(kVersion));
        hello += o.token;
        append_frame(out, Type::Hello, 0, hello);
        for (size_t i = 0; i < o.ports.size(); ++i) {
            std::string p;
            put_u16(p, static_cast<uint16_t>(o.ports[i].remote));
            p += o.remote_address;
            append_frame(out, Type::Listen, static_cast<uint32_t>(i + 1), p);
        }
        for (size_t off = 0; off < out.size();) {
            ssize_t n = ::send(fd, out.data() + off, out.size() - off, MSG_NOSIGNAL);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) throw Error(NH_ECONNECT, std::string("the tunnel connection broke: ") + std::strerror(errno));
            off += static_cast<size_t>(n);
        }
        auto deadline = std::chrono::steady_clock::now() + o.handshake_timeout;
        FrameReader reader;
        Frame f = read_frame(fd, reader, deadline);
        if (f.type == Type::Fail) fail_frame(f);
        if (f.type != Type::Welcome) throw Error(NH_EPROTOCOL, "the sidecar's tunnel port answered with something else");
        reader.set_limit(kMaxPayload);
        for (size_t got = 0; got < o.ports.size(); ++got) {
            f = read_frame(fd, reader, deadline);
            if (f.type == Type::Fail) fail_frame(f);
            if (f.type != Type::Listening || f.stream < 1 || f.stream > o.ports.size())
                throw Error(NH_EPROTOCOL, std::string("unexpected ") + type_name(f.type) + " while listening");
            size_t at = 0;
            if (get_u16(f.payload, at) == 0) throw Error(NH_EBUSY, "the pod cannot listen on port " +
                                                                     std::to_string(o.ports[f.stream - 1].remote) + ": " +
                                                                     f.payload.substr(at));
        }
        MuxHooks hooks;
        hooks.local_host = o.local_host;
        auto ports = o.ports;
        hooks.local_port = [ports](uint32_t id) { return id >= 1 && id <= ports.size() ? ports[id - 1].local : 0; };
        if (o.on_event)
            hooks.on_event = [ports, cb = o.on_event](StreamEvent e, uint32_t id, const std::string &m) {
                cb(e, id >= 1 && id <= ports.size() ? ports[id - 1] : Mapping{}, m);
            };
        return std::make_unique<Mux>(fd, Role::Laptop, std::move(hooks), std::move(reader));
    } catch (...) {
        ::close(fd);
        throw;
    }
}

}  // namespace nh::tunnel
