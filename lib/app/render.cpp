#include "app/render.hpp"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/error.hpp"
#include "kube/yaml.hpp"

extern char **environ;

namespace nh::app {

namespace fs = std::filesystem;

namespace {

std::string read_text(const fs::path &p) {
    std::ifstream in(p, std::ios::binary);
    if (!in) fail(NH_EIO, "cannot read " + p.string() + ": " + std::strerror(errno));
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

struct Run {
    int status = -1;
    std::string out, err;
};

// Runs argv (found on PATH) with stdin from /dev/null; its output and error text.
Run run(const std::vector<std::string> &argv, CancelToken *cancel) {
    int out_pipe[2], err_pipe[2];
    if (pipe2(out_pipe, O_CLOEXEC) != 0) fail(NH_EIO, std::string("pipe: ") + std::strerror(errno));
    if (pipe2(err_pipe, O_CLOEXEC) != 0) {
        close(out_pipe[0]);
        close(out_pipe[1]);
        fail(NH_EIO, std::string("pipe: ") + std::strerror(errno));
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, out_pipe[1], 1);
    posix_spawn_file_actions_adddup2(&fa, err_pipe[1], 2);
    std::vector<char *> args;
    for (const auto &a : argv) args.push_back(const_cast<char *>(a.c_str()));
    args.push_back(nullptr);
    pid_t pid = 0;
    int rc = posix_spawnp(&pid, args[0], &fa, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    close(out_pipe[1]);
    close(err_pipe[1]);
    if (rc != 0) {
        close(out_pipe[0]);
        close(err_pipe[0]);
        fail(rc == ENOENT ? NH_EUNSUPPORTED : NH_EIO,
             "cannot run " + argv[0] + ": " + std::strerror(rc) + (rc == ENOENT ? " (is it installed and on PATH?)" : ""));
    }
    Run r;
    pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
    int open_fds = 2;
    bool cancelled = false;
    while (open_fds > 0) {
        if (cancel && cancel->triggered()) {
            cancelled = true;
            kill(pid, SIGKILL);
            break;
        }
        int n = poll(fds, 2, 200);
        if (n < 0 && errno != EINTR) break;
        for (int i = 0; i < 2; i++) {
            if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            char buf[65536];
            ssize_t got = read(fds[i].fd, buf, sizeof buf);
            if (got > 0) {
                (i == 0 ? r.out : r.err).append(buf, static_cast<size_t>(got));
            } else if (got == 0 || errno != EINTR) {
                close(fds[i].fd);
                fds[i].fd = -1;
                open_fds--;
            }
        }
    }
    for (auto &f : fds)
        if (f.fd >= 0) close(f.fd);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    if (cancelled) fail(NH_ECANCELLED, "cancelled while running " + argv[0]);
    r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
    return r;
}

std::string tool_output(const std::vector<std::string> &argv, CancelToken *cancel) {
    Run r = run(argv, cancel);
    if (r.status != 0) {
        std::string cmd;
        for (const auto &a : argv) cmd += (cmd.empty() ? "" : " ") + a;
        while (!r.err.empty() && (r.err.back() == '\n' || r.err.back() == ' ')) r.err.pop_back();
        fail(NH_ERROR, cmd + " failed (exit " + std::to_string(r.status) + "): " + r.err);
    }
    return r.out;
}

bool manifest_file(const fs::path &p) {
    const std::string e = p.extension().string();
    return e == ".yaml" || e == ".yml" || e == ".json";
}

void add_object(json obj, const std::string &where, Source &out) {
    if (obj.is_null()) return;
    if (!obj.is_object()) fail(NH_EINVAL, where + ": not a Kubernetes object (a YAML mapping with apiVersion and kind)");
    const std::string kind = obj.value("kind", "");
    if (kind.size() > 4 && kind.compare(kind.size() - 4, 4, "List") == 0 && obj.contains("items")) {
        for (const auto &item : obj["items"]) add_object(item, where, out);
        return;
    }
    auto field = [&](const json &o, const char *k) { return o.contains(k) && o[k].is_string() ? o[k].get<std::string>() : ""; };
    if (field(obj, "apiVersion").empty()) fail(NH_EINVAL, where + ": the object has no apiVersion");
    if (kind.empty()) fail(NH_EINVAL, where + ": the object has no kind");
    if (!obj.contains("metadata") || !obj["metadata"].is_object() || field(obj["metadata"], "name").empty())
        fail(NH_EINVAL, where + ": the " + kind + " has no metadata.name");
    out.objects.push_back(std::move(obj));
    out.where.push_back(where);
}

}  // namespace

void parse_documents(const std::string &text, const std::string &file, Source &out) {
    std::vector<YAML::Node> docs;
    try {
        docs = YAML::LoadAll(text);
    } catch (const YAML::Exception &e) {
        fail(NH_EINVAL, file + ":" + std::to_string(e.mark.line + 1) + ": not YAML: " + e.msg);
    }
    for (const auto &d : docs) {
        const std::string where = file + ":" + std::to_string(d.Mark().line + 1);
        add_object(kube::yaml_to_json(d), where, out);
    }
}

std::string source_type(const std::string &path) {
    std::error_code ec;
    const fs::path p(path);
    if (!fs::exists(p, ec)) fail(NH_ENOTFOUND, "no such file or directory: " + path);
    if (fs::is_directory(p, ec)) {
        if (fs::exists(p / "Chart.yaml", ec)) return kHelmType;
        for (const char *k : {"kustomization.yaml", "kustomization.yml", "Kustomization"})
            if (fs::exists(p / k, ec)) return kKustomizeType;
        return kManifestType;
    }
    const std::string s = p.filename().string();
    if (s.size() > 4 && (s.ends_with(".tgz") || s.ends_with(".tar.gz"))) return kHelmType;
    fail(NH_EINVAL, path + " is not an application's source: a directory of manifests, a Kustomize directory or a Helm chart");
}

Source render(const std::string &path, const RenderOptions &o) {
    Source out;
    out.type = source_type(path);
    if (out.type != kHelmType && (!o.values_files.empty() || !o.set.empty()))
        fail(NH_EINVAL, "--values and --set are for Helm charts; " + path + " is not one");
    if (out.type == kManifestType) {
        std::vector<fs::path> files;
        for (auto it = fs::recursive_directory_iterator(path); it != fs::recursive_directory_iterator(); ++it) {
            // .nocalhost (the dev config), .git and other hidden directories hold no manifests.
            if (it->path().filename().string().starts_with(".")) {
                if (it->is_directory()) it.disable_recursion_pending();
                continue;
            }
            if (it->is_regular_file() && manifest_file(it->path())) files.push_back(it->path());
        }
        std::sort(files.begin(), files.end());
        for (const auto &f : files) parse_documents(read_text(f), f.string(), out);
    } else if (out.type == kKustomizeType) {
        parse_documents(tool_output({"kubectl", "kustomize", path}, o.cancel), "kubectl kustomize " + path, out);
    } else {
        std::vector<std::string> argv = {"helm", "template", o.name, path, "--namespace", o.ns};
        for (const auto &f : o.values_files) argv.insert(argv.end(), {"--values", f});
        for (const auto &s : o.set) argv.insert(argv.end(), {"--set", s});
        Source all;
        parse_documents(tool_output(argv, o.cancel), "helm template " + path, all);
        // Hooks (tests among them) are run by Helm around a release, not part of its objects.
        for (size_t i = 0; i < all.objects.size(); i++) {
            const json &md = all.objects[i]["metadata"];
            if (md.contains("annotations") && md["annotations"].is_object() && md["annotations"].contains("helm.sh/hook"))
                continue;
            out.objects.push_back(all.objects[i]);
            out.where.push_back(all.where[i]);
        }
    }
    for (const auto &obj : out.objects) out.manifest += "---\n" + obj.dump() + "\n";
    return out;
}

}  // namespace nh::app
