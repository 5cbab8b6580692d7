// The library's side of the per-user agent (docs/agent.md): finding its executable, starting
// it on demand without a race, and one request to it.
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>

namespace nh::agent {

struct ClientOptions {
    std::string dir;         // "": agent_dir()'s default
    std::string agent_path;  // "": agent_executable()'s default
    std::chrono::milliseconds timeout{60000};  // for the answer
};

// The agent's executable: `option` when not empty, else $NH_AGENT_PATH, else
// libexec/nocalhost/nh-agent beside the library's lib/ (found with dladdr), else nh-agent in
// the library's own directory (the Python and Node packages), else, in the build tree,
// build/libexec/nocalhost/nh-agent.
std::string agent_executable(const std::string &option);

// Whether the agent has anything to hold when started: its state file lists items (a crashed
// agent's, which a new one resumes).
bool has_saved_items(const std::string &dir);

// When call() starts an agent that does not run: always (a request that gives it something
// to hold), when its state file lists items (a crashed agent's, which a new one resumes), or
// never.
enum class Start { Always, IfSaved, Never };

// Sends `request` to the agent and returns its answer's "result". An agent that does not run
// is started as `start` says (under a lock, so that two processes starting it at once get one
// agent); when it is not, the answer is `absent`. An answer carrying an error throws it as
// nh::Error (its code and message).
nlohmann::json call(const nlohmann::json &request, const ClientOptions &o, Start start,
                    const nlohmann::json &absent = nullptr);

// Facts about the running agent ({"running":true,"pid","dir","socket","version","items"}) or
// {"running":false,"dir"}; never starts it.
nlohmann::json info(const ClientOptions &o);

}  // namespace nh::agent
