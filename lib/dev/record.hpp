// The session record: the Secret session_object_name() of a workload in dev mode, labelled
// kRoleLabel=kRoleSession. This type is the one place that writes and reads its format, which
// stays as older versions wrote it so that their sessions still end and resume:
//
//   annotations  kKindAnnotation (the Kind name), kNameAnnotation, kPhaseAnnotation ("starting",
//                "active"; "ending" while an end re-creates a bare Pod of Nocalhost's dev mode),
//                kOwnerAnnotation, kSinceAnnotation, kModeAnnotation, kDeveloperAnnotation,
//                kDevGenerationAnnotation (the workload's generation in dev mode, once active)
//   data         "original": the cleaned workload (JSON); "hpas": its HPAs (JSON array);
//                "spec": JSON {container, image, workdir, sidecar_image, sync_port, session_id,
//                workload_kind, mode, developer, generated, pod_selector, pvcs, extra, routes};
//                "token": the sync token
//
// A record without spec.workload_kind (written before custom kinds) takes its kind from the
// caller or from the kind annotation.
#pragma once

#include <optional>
#include <string>

#include "dev/session.hpp"

namespace nh::dev {

struct SessionRecord {
    std::string ns, object_name;  // the Secret's namespace and name
    std::string workload;         // the workload's name
    WorkloadKind kind = Kind::Deployment;
    std::string phase, owner, since, dev_generation;
    Mode mode = Mode::Replace;
    std::string developer;  // duplicate mode
    std::string container, image, workdir, sidecar_image;
    int sync_port = kDefaultSyncPort;
    std::string session_id;
    std::string generated;     // the generated Deployment (the copy in duplicate mode), or ""
    std::string pod_selector;  // selects the dev pod's workload pods
    json pvcs = json::array();  // [{"path","claim"}]
    json extra;                 // the recorded dev config (loop_settings() reads it), or null
    json local;                 // local mode: [{"port","local"}], or null
    json routes;                // the header routing's plan (traffic::plan_routes()), or null
    std::string token;          // secret, never log it
    // Read only by read_with_original(); written by secret().
    json original;  // the cleaned original workload, or null
    json hpas = json::array();

    // Throws NH_EPROTOCOL for an unreadable spec or token. `kind`: the kind a caller asked
    // for, taken when the record names none.
    static SessionRecord read(const json &secret, const WorkloadKind *kind = nullptr);
    // read() and the original and HPAs (NH_EPROTOCOL when unreadable).
    static SessionRecord read_with_original(const json &secret, const WorkloadKind *kind = nullptr);

    json annotations() const;
    json spec() const;
    // The whole Secret, to create.
    json secret() const;
    // A merge patch that writes the annotations and the spec (a start taking over another's).
    json update_patch() const;
    // A merge patch that writes the spec.
    json spec_patch() const;
    // The session, without its dev pod or lock state.
    Session session() const;
};

}  // namespace nh::dev
