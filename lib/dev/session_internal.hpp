// What the files of dev mode's sessions share (internal to lib/dev): session.cpp (queries and
// the helpers below), start.cpp, end.cpp, restore.cpp, nhctl.cpp, pvc.cpp; record.hpp is the
// session record, kube_ops.hpp the Kubernetes helpers.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "dev/kube_ops.hpp"
#include "dev/record.hpp"
#include "dev/session.hpp"

namespace nh::dev {

// "deployment/web in namespace ns" (and " (duplicate of DEVELOPER)").
std::string what_of(const WorkloadKind &k, const std::string &ns, const std::string &name, Mode mode = Mode::Replace,
                    const std::string &developer = {});
// Logs the event and passes it to the sink; throws NH_ECANCELLED when the sink says stop.
void emit(const EventSink &sink, EventType type, Phase phase, const std::string &message, json detail = nullptr);
// Tells who holds the dev-mode lock and when it expires while waiting for it (phase "lock"), and
// that the lock of a dead process was taken over.
std::function<void(const std::string &, bool)> lock_progress(const EventSink &sink);

// Kinds an HPA can scale: those with a replica count (Deployment, StatefulSet, ReplicaSet, and
// custom kinds with a replicas path, which dev mode parks at 0 replicas).
bool scalable(const WorkloadKind &k);
// The HPAs that scale the workload, cleaned for storage: their scaleTargetRef names its kind and
// name (and, for a custom kind, its API group).
json find_hpas(kube::Client &c, const WorkloadKind &k, const std::string &ns, const std::string &name,
               CancelToken *cancel);

Error with_suffix(const Error &e, const std::string &suffix);
Error missing_record(const std::string &what, const std::string &object_name);
Error busy_active(const std::string &what, const json &secret);

// restore.cpp: puts the original of a record back in place and removes what dev mode created,
// except the lock.
struct RestoreReport {
    bool workload_gone = false;
    bool overwrote = false;
    std::vector<std::string> notes;
};
RestoreReport restore(kube::Client &c, const SessionRecord &record, const EventSink &sink, CancelToken *cancel);

// nhctl.cpp: Nocalhost's own (nhctl) dev mode.
// The original a workload had before nhctl put it into dev mode, from its annotation; null
// when it has none.
json nhctl_original(const json &wl);
// Removes what nhctl's dev start made for the workload and its dev end removes. `dev`: the
// workload in nhctl's dev mode. Runs before the restore.
void remove_nhctl_objects(kube::Client &c, const WorkloadKind &k, const std::string &ns, const std::string &name,
                          const json &dev, const EventSink &sink, std::vector<std::string> &notes, CancelToken *cancel);
// Puts back the HPA bounds nhctl kept in its annotations; failures become notes and warnings.
void restore_nhctl_hpas(kube::Client &c, const WorkloadKind &k, const std::string &ns, const std::string &name,
                        const EventSink &sink, std::vector<std::string> &notes, CancelToken *cancel);

// pvc.cpp: finds or creates the claim of each persistent dir and waits until each is bound
// (unless its class binds only with the first pod). Returns [{"path","claim"}].
json ensure_pvcs(kube::Client &c, const std::string &ns, const WorkloadKind &k, const std::string &name,
                 const std::string &key, const std::vector<PersistentDir> &dirs, Clock::time_point deadline,
                 const EventSink &sink, CancelToken *cancel);

}  // namespace nh::dev
