// nh reverse-forward: listeners in a dev pod whose connections come back to this machine.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "cli.hpp"

namespace {

struct ReverseFlags {
    std::string workload;
    std::vector<std::string> ports;
    std::string address = "127.0.0.1";
    std::string mode, developer, syncd_dir;
    long timeout_s = 120;
};

void on_event(int type, const char *pod, int remote, int local, const char *message, void *) {
    switch (type) {
        case NH_REVERSE_CONNECTED:
            std::fprintf(stderr, "Handling connection for %s:%d -> 127.0.0.1:%d\n", pod, remote, local);
            break;
        case NH_REVERSE_ERROR:
            std::fprintf(stderr, "error: %s:%d -> 127.0.0.1:%d: %s\n", pod, remote, local, message);
            break;
        case NH_REVERSE_POD_LOST:
            std::fprintf(stderr, "%s: %s\n", *pod ? pod : "the dev pod", message);
            break;
        case NH_REVERSE_RECONNECTED:
            std::fprintf(stderr, "now listening in pod %s again\n", pod);
            break;
        default:
            break;
    }
}

}  // namespace

void nh_cli_register_traffic(CLI::App &app, nh_cli::Globals &g) {
    auto f = std::make_shared<ReverseFlags>();
    auto *rf = app.add_subcommand("reverse-forward",
                                  "listen in a workload's dev pod and carry each connection back to a local port "
                                  "until interrupted");
    rf->add_option("workload", f->workload, "KIND/NAME of a workload in dev mode")->required();
    rf->add_option("ports", f->ports, "REMOTE:LOCAL (the pod's port to this machine's) or PORT")->required();
    rf->add_option("--address", f->address,
                   "IPv4 address to listen on in the pod (default 127.0.0.1: the pod's containers only; "
                   "0.0.0.0: also through the pod's IP)");
    rf->add_option("--mode", f->mode, "replace or duplicate: which dev session (default: replace)")
        ->check(CLI::IsMember({"replace", "duplicate"}));
    rf->add_option("--developer", f->developer, "duplicate mode: whose copy (default: yours, user@host)");
    rf->add_option("--syncd-dir", f->syncd_dir, "where the nhsyncd binaries to upload are");
    rf->add_option("--timeout", f->timeout_s, "seconds to wait for the sidecar's tunnel (default 120)");
    rf->callback([f, &g] {
        auto slash = f->workload.find('/');
        if (slash == std::string::npos || slash == 0 || slash + 1 == f->workload.size())
            throw CLI::ValidationError("workload", "'" + f->workload + "' is not KIND/NAME");
        nh_client *c = nh_cli::open_client(g);
        if (!c) throw CLI::RuntimeError(nh_cli::report_error());
        std::vector<const char *> ports;
        for (auto &p : f->ports) ports.push_back(p.c_str());
        ports.push_back(nullptr);
        std::string kind = f->workload.substr(0, slash), name = f->workload.substr(slash + 1);
        nh_reverse_options o = NH_REVERSE_OPTIONS_INIT;
        if (!g.ns.empty()) o.namespace_name = g.ns.c_str();
        o.mode = f->mode == "duplicate" ? NH_DEV_MODE_DUPLICATE : NH_DEV_MODE_REPLACE;
        if (!f->developer.empty()) o.developer = f->developer.c_str();
        o.remote_address = f->address.c_str();
        if (!f->syncd_dir.empty()) o.syncd_dir = f->syncd_dir.c_str();
        o.timeout_ms = f->timeout_s * 1000;
        o.cancel = nh_cli::interrupt_token();
        o.on_event = on_event;
        nh_reverse *rev = nullptr;
        int code = 0;
        if (nh_reverse_start(&rev, c, kind.c_str(), name.c_str(), ports.data(), &o) != NH_OK) {
            code = nh_cli::report_error();
        } else {
            nh_buf pod = NH_BUF_INIT;
            nh_reverse_pod(&pod, rev);
            for (const auto &spec : f->ports) {
                auto colon = spec.find(':');
                std::string remote = spec.substr(0, colon), local = colon == std::string::npos ? spec : spec.substr(colon + 1);
                std::printf("Reverse forwarding from %s:%s in pod %s -> 127.0.0.1:%s\n", f->address.c_str(),
                            remote.c_str(), pod.ptr ? pod.ptr : "", local.c_str());
            }
            std::fflush(stdout);
            nh_buf_dispose(&pod);
            int rc = nh_reverse_wait(rev, -1);
            // Ctrl-C is how it normally ends.
            if (rc != NH_OK && rc != NH_ECANCELLED) code = nh_cli::report_error();
            nh_reverse_free(rev);
        }
        nh_client_free(c);
        if (code != 0) throw CLI::RuntimeError(code);
    });
}
