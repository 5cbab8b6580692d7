// nh_sidecar_image_*: the sync sidecar's OCI image archive through the C ABI.
#include <iterator>

#include "capi/capi.hpp"
#include "dev/sidecar_image.hpp"

using namespace nh::capi;

extern "C" {

static constexpr std::size_t kSidecarImageOptionsSizes[] = {sizeof(nh_sidecar_image_options)};
static_assert(std::size(kSidecarImageOptionsSizes) == NH_SIDECAR_IMAGE_OPTIONS_VERSION,
              "one size per version of nh_sidecar_image_options");

int nh_sidecar_image_options_init(nh_sidecar_image_options *opts, unsigned int version) {
    return init_options(opts, version, nh_sidecar_image_options NH_SIDECAR_IMAGE_OPTIONS_INIT,
                        kSidecarImageOptionsSizes, "nh_sidecar_image_options");
}

int nh_sidecar_image_write(nh_buf *out_json, const char *path, const nh_sidecar_image_options *opts) {
    NH_CHECK_ARG(path && *path);
    nh_sidecar_image_options defaults = NH_SIDECAR_IMAGE_OPTIONS_INIT;
    if (!opts) opts = &defaults;
    if (int rc = check_version(opts->version, NH_SIDECAR_IMAGE_OPTIONS_VERSION, "nh_sidecar_image_options")) return rc;
    NH_CHECK_ARG(opts->architectures_count == 0 || opts->architectures);
    return guard([&]() -> int {
        std::vector<std::string> arches;
        for (size_t i = 0; i < opts->architectures_count; ++i)
            arches.emplace_back(opts->architectures[i] ? opts->architectures[i] : "");
        std::string name = opts->name ? opts->name : std::string("nhsyncd:") + NH_VERSION_STRING;
        auto j = nh::dev::write_sidecar_image(path, name, arches, opts->syncd_dir ? opts->syncd_dir : "");
        if (out_json) buf_set(out_json, j.dump());
        return NH_OK;
    });
}

}  // extern "C"
