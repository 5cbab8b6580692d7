// The tree kept current: one list, then one watch per source (each kind asked
// for, the pods, the session records), on threads of its own; the changes they
// make to the tree are delivered in order on the calling thread.
#pragma once

#include <functional>

#include "tree/tree.hpp"

namespace nh::tree {

// 1-3: a Change's type; kSynced: every entry of the first list was delivered (entry: the tree).
inline constexpr int kSynced = 4;

// Receives each event on the thread that called watch(); false stops the watch.
using WatchSink = std::function<bool(int type, const json &entry)>;

// Lists every source, delivers its entries as added and then kSynced, then watches each source
// from its list's resourceVersion: a dropped watch resumes from the last one seen, one that is
// too old (410 Gone) lists again and delivers only the difference, as client-go's reflector.
// Returns when `sink` returns false; throws NH_ECANCELLED when opts.cancel is triggered, or the
// error that ended a watch for good (NH_EFORBIDDEN, ...).
void watch(kube::Client &client, const Options &opts, const WatchSink &sink);

}  // namespace nh::tree
