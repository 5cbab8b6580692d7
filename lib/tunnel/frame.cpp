#include "tunnel/frame.hpp"

#include "common/error.hpp"

namespace nh::tunnel {

const char *type_name(Type t) {
    switch (t) {
    case Type::Hello: return "HELLO";
    case Type::Welcome: return "WELCOME";
    case Type::Fail: return "FAIL";
    case Type::Listen: return "LISTEN";
    case Type::Listening: return "LISTENING";
    case Type::Open: return "OPEN";
    case Type::Data: return "DATA";
    case Type::Window: return "WINDOW";
    case Type::Close: return "CLOSE";
    case Type::Reset: return "RESET";
    }
    return "?";
}

namespace {

bool known(uint8_t t) {
    switch (static_cast<Type>(t)) {
    case Type::Hello: case Type::Welcome: case Type::Fail: case Type::Listen: case Type::Listening:
    case Type::Open: case Type::Data: case Type::Window: case Type::Close: case Type::Reset:
        return true;
    }
    return false;
}

uint32_t be32(const unsigned char *p) {
    return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

}  // namespace

void put_u16(std::string &out, uint16_t v) {
    out.push_back(static_cast<char>(v >> 8));
    out.push_back(static_cast<char>(v & 0xff));
}

void put_u32(std::string &out, uint32_t v) {
    for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<char>((v >> s) & 0xff));
}

uint16_t get_u16(std::string_view p, size_t &at) {
    if (p.size() < at + 2) throw Error(NH_EPROTOCOL, "tunnel frame too short");
    auto *u = reinterpret_cast<const unsigned char *>(p.data() + at);
    at += 2;
    return static_cast<uint16_t>((u[0] << 8) | u[1]);
}

uint32_t get_u32(std::string_view p, size_t &at) {
    if (p.size() < at + 4) throw Error(NH_EPROTOCOL, "tunnel frame too short");
    uint32_t v = be32(reinterpret_cast<const unsigned char *>(p.data() + at));
    at += 4;
    return v;
}

void append_frame(std::string &out, Type type, uint32_t stream, std::string_view payload) {
    put_u32(out, static_cast<uint32_t>(payload.size()));
    out.push_back(static_cast<char>(type));
    put_u32(out, stream);
    out.append(payload);
}

std::optional<Frame> FrameReader::next() {
    if (buf_.size() - pos_ < kHeaderSize) {
        if (pos_ > 0 && pos_ == buf_.size()) {
            buf_.clear();
            pos_ = 0;
        }
        return std::nullopt;
    }
    auto *h = reinterpret_cast<const unsigned char *>(buf_.data() + pos_);
    uint32_t len = be32(h);
    if (!known(h[4])) throw Error(NH_EPROTOCOL, "tunnel frame of unknown type " + std::to_string(h[4]));
    if (len > limit_)
        throw Error(NH_EPROTOCOL, "tunnel frame of " + std::to_string(len) + " bytes (at most " +
                                      std::to_string(limit_) + ")");
    if (buf_.size() - pos_ < kHeaderSize + len) return std::nullopt;
    Frame f;
    f.type = static_cast<Type>(h[4]);
    f.stream = be32(h + 5);
    f.payload.assign(buf_, pos_ + kHeaderSize, len);
    pos_ += kHeaderSize + len;
    // Keep the buffer from growing without end: drop what was consumed once it is most of it.
    if (pos_ >= (64u << 10) && pos_ * 2 >= buf_.size()) {
        buf_.erase(0, pos_);
        pos_ = 0;
    }
    return f;
}

bool secret_equal(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    volatile unsigned char diff = 0;
    for (size_t i = 0; i < a.size(); ++i) diff = diff | static_cast<unsigned char>(a[i] ^ b[i]);
    return diff == 0;
}

}  // namespace nh::tunnel
