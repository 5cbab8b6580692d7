// nh sidecar image: the sync sidecar's OCI image archive, for clusters that pull it.
#include <cstdio>
#include <string>
#include <vector>

#include "cli.hpp"

void nh_cli_register_sidecar(CLI::App &app, nh_cli::Globals &) {
    auto *sidecar = app.add_subcommand("sidecar", "the sync sidecar: image");
    sidecar->require_subcommand(1);

    struct ImageArgs {
        std::string output, name, syncd_dir;
        std::vector<std::string> arch;
    };
    static ImageArgs a;
    auto *image = sidecar->add_subcommand(
        "image", "write the sync sidecar's multi-architecture OCI image archive (no Docker, no base image)");
    image->add_option("--output", a.output, "the archive to write, e.g. nhsyncd.tar")->required();
    image->add_option("--name", a.name, std::string("image name with its tag (default nhsyncd:") + NH_VERSION_STRING + ")");
    image->add_option("--arch", a.arch, "architecture to include, amd64 or arm64 (repeatable; default: every one installed)")
        ->allow_extra_args(false);
    image->add_option("--syncd-dir", a.syncd_dir,
                      "directory of the nhsyncd-linux-ARCH binaries (default: $NH_SYNCD_DIR, else share/nocalhost of the "
                      "library's installation)");
    image->footer(
        "Then push it:   skopeo copy --all oci-archive:FILE.tar docker://REGISTRY/nhsyncd:TAG\n"
        "or load it:     ctr -n k8s.io images import FILE.tar   (on each node)\n"
        "and use it:     nh dev start KIND/NAME --sidecar-image REGISTRY/nhsyncd:TAG ...");
    image->callback([] {
        std::vector<const char *> arches;
        for (const auto &x : a.arch) arches.push_back(x.c_str());
        nh_sidecar_image_options o = NH_SIDECAR_IMAGE_OPTIONS_INIT;
        if (!a.name.empty()) o.name = a.name.c_str();
        if (!a.syncd_dir.empty()) o.syncd_dir = a.syncd_dir.c_str();
        o.architectures = arches.empty() ? nullptr : arches.data();
        o.architectures_count = arches.size();
        nh_buf out = NH_BUF_INIT;
        if (nh_sidecar_image_write(&out, a.output.c_str(), &o) != NH_OK) throw CLI::RuntimeError(nh_cli::report_error());
        nlohmann::json j = nlohmann::json::parse(std::string(out.ptr, out.size));
        nh_buf_dispose(&out);
        std::printf("wrote %s: image %s (%s), %zu bytes\n", j["path"].get<std::string>().c_str(),
                    j["name"].get<std::string>().c_str(), j["digest"].get<std::string>().c_str(),
                    j["size"].get<size_t>());
        for (const auto &i : j["images"])
            std::printf("  linux/%s  %s  nhsyncd %zu bytes\n", i["architecture"].get<std::string>().c_str(),
                        i["digest"].get<std::string>().c_str(), i["bytes"].get<size_t>());
    });
}
