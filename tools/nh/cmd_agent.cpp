// nh agent list|status|stop|info: what the per-user agent holds (syncs handed over with
// `nh dev start --local-dir DIR --detach`, forwards started with `nh port-forward --detach`).
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli.hpp"

using json = nlohmann::json;

namespace {

json call_json(int rc, nh_buf &b) {
    if (rc != NH_OK) {
        nh_buf_dispose(&b);
        throw CLI::RuntimeError(nh_cli::report_error());
    }
    json j = json::parse(b.ptr ? std::string(b.ptr, b.size) : "null", nullptr, false);
    nh_buf_dispose(&b);
    return j;
}

std::string what_of(const json &it) {
    if (it.value("type", "") == "sync")
        return it.value("kind", "") + "/" + it.value("name", "") + " <- " + it.value("local_dir", "");
    std::string ports;
    for (auto &p : it.value("ports", json::array()))
        ports += (ports.empty() ? "" : ",") + std::to_string(p.value("local_port", 0)) + ":" +
                 std::to_string(p.value("remote_port", 0));
    return it.value("target", "") + " " + ports;
}

void print_status(const json &it) {
    std::printf("%s: %s %s (namespace %s)\n", it.value("id", "").c_str(), it.value("type", "").c_str(),
                what_of(it).c_str(), it.value("namespace", "").c_str());
    std::printf("  state:       %s%s%s\n", it.value("state", "").c_str(), it.value("message", "").empty() ? "" : ": ",
                it.value("message", "").c_str());
    std::printf("  since:       %s\n", it.value("since", "").c_str());
    if (it.value("type", "") == "sync") {
        std::printf("  this round:  %llu/%llu files, %llu/%llu bytes (%llu out of sync)\n",
                    (unsigned long long)it.value("files_done", 0ULL), (unsigned long long)it.value("files_total", 0ULL),
                    (unsigned long long)it.value("bytes_done", 0ULL), (unsigned long long)it.value("bytes_total", 0ULL),
                    (unsigned long long)it.value("out_of_sync", 0ULL));
        std::printf("  since start: %llu files synced, %llu errors, %llu conflicts, %llu reconnects\n",
                    (unsigned long long)it.value("files_synced", 0ULL), (unsigned long long)it.value("file_errors", 0ULL),
                    (unsigned long long)it.value("conflicts", 0ULL), (unsigned long long)it.value("reconnects", 0ULL));
        std::printf("  last sync:   %s\n", it["last_sync"].is_string() ? it["last_sync"].get<std::string>().c_str() : "never");
    } else {
        for (auto &p : it.value("ports", json::array()))
            std::printf("  forwarding:  127.0.0.1:%d -> %d (pod %s)\n", p.value("local_port", 0), p.value("remote_port", 0),
                        it.value("pod", "").c_str());
        if (!it.value("last_error", "").empty())
            std::printf("  last error:  %s (%s)\n", it.value("last_error", "").c_str(),
                        it["last_error_at"].is_string() ? it["last_error_at"].get<std::string>().c_str() : "");
    }
}

}  // namespace

void nh_cli_register_agent(CLI::App &app, nh_cli::Globals &g) {
    auto *agent = app.add_subcommand("agent", "syncs and port-forwards held by your agent beyond the command that started them");
    agent->require_subcommand(1);

    auto *list = agent->add_subcommand("list", "what the agent holds");
    nh_cli::add_output_flag(list, g, {"json", "yaml"});
    list->callback([&g] {
        nh_buf b = NH_BUF_INIT;
        json items = call_json(nh_agent_list(&b, nullptr), b);
        if (!g.output.empty()) {
            nh_cli::print_structured(items, g.output);
            return;
        }
        if (items.empty()) {
            std::fprintf(stderr, "the agent holds nothing (nh dev start --local-dir DIR --detach, nh port-forward --detach)\n");
            return;
        }
        std::vector<std::vector<std::string>> rows{{"ID", "TYPE", "NAMESPACE", "WHAT", "STATE", "SINCE"}};
        for (auto &it : items)
            rows.push_back({it.value("id", ""), it.value("type", ""), it.value("namespace", ""), what_of(it),
                            it.value("state", ""), it.value("since", "")});
        nh_cli::print_table(rows);
    });

    static std::string id;
    auto *status = agent->add_subcommand("status", "the status of one item of the agent");
    status->add_option("id", id, "the item's id (nh agent list)")->required();
    nh_cli::add_output_flag(status, g, {"json", "yaml"});
    status->callback([&g] {
        nh_buf b = NH_BUF_INIT;
        json it = call_json(nh_agent_status(&b, id.c_str(), nullptr), b);
        if (!g.output.empty()) nh_cli::print_structured(it, g.output);
        else print_status(it);
    });

    static std::vector<std::string> ids;
    auto *stop = agent->add_subcommand("stop", "stop items of the agent (a sync stops; dev mode stays on)");
    stop->add_option("id", ids, "the items' ids (nh agent list)")->required();
    stop->callback([] {
        for (auto &i : ids) {
            if (nh_agent_stop(i.c_str(), nullptr) != NH_OK) throw CLI::RuntimeError(nh_cli::report_error());
            std::printf("%s stopped\n", i.c_str());
        }
    });

    auto *info = agent->add_subcommand("info", "whether the agent runs, its pid and socket (never starts it)");
    nh_cli::add_output_flag(info, g, {"json", "yaml"});
    info->callback([&g] {
        nh_buf b = NH_BUF_INIT;
        json j = call_json(nh_agent_info(&b, nullptr), b);
        if (!g.output.empty()) {
            nh_cli::print_structured(j, g.output);
        } else if (j.value("running", false)) {
            std::printf("running: pid %ld, %zu items, socket %s\n", j.value("pid", 0L), j.value("items", size_t{0}),
                        j.value("socket", "").c_str());
        } else {
            std::printf("not running (directory %s)\n", j.value("dir", "").c_str());
        }
    });
}
