// A small JSON document kept in a file under the user's config dir and shared by every process
// of the user: read under a shared lock, changed under an exclusive one (flock on a lock file
// beside it, since the document itself is replaced), written whole to a temporary file that is
// renamed over it, so a reader sees the old or the new document and never half of one. A file
// that is not such a document (corrupt, or someone else's) is refused with NH_ECONFIG naming
// it, and left as it is.
#pragma once

#include <functional>
#include <string>

#include <nlohmann/json.hpp>

namespace nh::ide {

using json = nlohmann::json;

// The time now in UTC as RFC 3339 (entries' "updated").
std::string now_rfc3339();

// $XDG_CONFIG_HOME/nocalhost/<file> ($XDG_CONFIG_HOME when absolute, else ~/.config).
std::string user_config_file(const std::string &file);

class FileStore {
public:
    // `path`: the document; `key`: the array member it holds ("associations"); `what`: how
    // errors name it ("association store").
    FileStore(std::string path, std::string key, std::string what);

    const std::string &path() const { return path_; }

    // The array under `key` ([] when the file does not exist yet).
    json read() const;
    // Runs `change` on the array under an exclusive lock and writes the result when it returns
    // true. Returns what `change` returned.
    bool update(const std::function<bool(json &)> &change) const;

private:
    json parse(const std::string &text) const;

    std::string path_, key_, what_;
};

}  // namespace nh::ide
