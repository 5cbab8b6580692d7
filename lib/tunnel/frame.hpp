// The frames of a reverse tunnel (docs/traffic.md): a 9-byte header (payload length u32,
// type u8, stream id u32, big-endian) and at most kMaxPayload bytes of payload. One tunnel is
// one TCP connection from the developer's machine to the sidecar (through the API server's
// port-forward); it carries many streams, each a connection accepted in the pod.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace nh::tunnel {

inline constexpr uint8_t kVersion = 1;
inline constexpr std::string_view kMagic = "NHTUNNEL";
inline constexpr size_t kHeaderSize = 9;
inline constexpr uint32_t kMaxPayload = 64u << 10;
inline constexpr uint32_t kMaxHelloPayload = 4096 + 16;
// The bytes a sender may have in flight on one stream before the receiver grants more.
inline constexpr uint32_t kInitialWindow = 512u << 10;

enum class Type : uint8_t {
    Hello = 0x01,      // laptop -> pod, stream 0: magic, version u8, token
    Welcome = 0x02,    // pod -> laptop, stream 0: version u8
    Fail = 0x03,       // either way, stream 0: code i32, message; the tunnel closes after it
    Listen = 0x10,     // laptop -> pod, stream = listener id: port u16, address
    Listening = 0x11,  // pod -> laptop, stream = listener id: port u16 (0: failed), message
    Open = 0x20,       // pod -> laptop, new stream: listener id u32, the peer's address
    Data = 0x21,       // bytes of a stream, at most the receiver's window
    Window = 0x22,     // credit u32: the receiver wrote that many more bytes out
    Close = 0x23,      // the sender's direction ended (EOF); the other may go on
    Reset = 0x24,      // the stream is aborted; message says why
};
const char *type_name(Type t);

struct Frame {
    Type type = Type::Data;
    uint32_t stream = 0;
    std::string payload;
};

// Appends one encoded frame to `out`.
void append_frame(std::string &out, Type type, uint32_t stream, std::string_view payload = {});

// Cuts frames out of a byte stream. Throws nh::Error(NH_EPROTOCOL) for an unknown type or a
// payload longer than the limit (kMaxHelloPayload until set_limit()).
class FrameReader {
public:
    void feed(const char *data, size_t len) { buf_.append(data, len); }
    std::optional<Frame> next();
    void set_limit(uint32_t max_payload) { limit_ = max_payload; }
    size_t buffered() const { return buf_.size() - pos_; }

private:
    std::string buf_;
    size_t pos_ = 0;
    uint32_t limit_ = kMaxHelloPayload;
};

// Big-endian helpers for payloads.
void put_u16(std::string &out, uint16_t v);
void put_u32(std::string &out, uint32_t v);
// Read at `at` and advance it; throw NH_EPROTOCOL when the payload is too short.
uint16_t get_u16(std::string_view p, size_t &at);
uint32_t get_u32(std::string_view p, size_t &at);

// Compares secrets in a time that does not depend on where they differ.
bool secret_equal(std::string_view a, std::string_view b);

}  // namespace nh::tunnel
