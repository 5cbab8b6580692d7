// libFuzzer target: the server's frame parser and payload decoders. Every
// input is split into frames and each frame's payload is decoded the way the
// server decodes it; only ProtocolError may escape.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "sync/protocol.hpp"

namespace proto = nh::sync::proto;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    std::string_view buf(reinterpret_cast<const char *>(data), size);
    try {
        proto::Frame fr;
        while (size_t used = proto::parse_frame(buf, proto::kMaxFrame, fr)) {
            buf.remove_prefix(used);
            proto::Reader r(fr.payload);
            try {
                switch (fr.type) {
                case proto::Msg::Hello:
                    for (int i = 0; i < 4; ++i) r.u8();
                    r.varint();
                    r.str(4096);
                    r.u8();
                    r.varint();
                    break;
                case proto::Msg::Manifest: {
                    uint64_t n = r.varint();
                    for (uint64_t i = 0; i < n && i < 100000; ++i) (void)proto::check_path(r.entry().path);
                    break;
                }
                case proto::Msg::File:
                case proto::Msg::Mkdir:
                case proto::Msg::Symlink:
                case proto::Msg::Meta: {
                    r.varint();
                    auto path = r.str(proto::kMaxPath);
                    (void)proto::check_path(path);
                    r.varint();
                    r.svarint();
                    r.expect();
                    auto target = r.str(proto::kMaxPath);
                    (void)proto::check_link_target(path, target);
                    r.rest();
                    break;
                }
                default:
                    r.varint();
                    r.svarint();
                    r.expect();
                    break;
                }
            } catch (const proto::ProtocolError &) {
            }
        }
    } catch (const proto::ProtocolError &) {
    }
    return 0;
}
