// Evidence bundles: everything about an account (or a cluster's accounts)
// that a lawyer or another provider can check WITHOUT distillguard.
//
// Bundle layout (DIR/):
//   README.md        what each file is and how to check integrity (sha256sum, python3)
//   SHA256SUMS       sha256 of every other file (`sha256sum -c SHA256SUMS`)
//   entries.jsonl    the subject's audit-log entries: {seq, ts, account, prev_hash, hash, line}
//                    where `line` is the exchange record exactly as chained
//   chain.tsv        seq, prev_hash, hash, subject(1/0) for every audit entry within
//                    `context` entries of a subject entry (other accounts' contents are
//                    not included, only their hashes), so the links around each
//                    subject entry can be checked
//   decisions.jsonl  per exchange: time, action, status, the stages' notes (reasons)
//   timeline.md      first/last seen, exchanges per day and action, action changes
//   canaries.jsonl   canary plantings registered for the subject (if a registry is given)
//   canary_hits.jsonl the subject's canary signatures (registry, and every kind's
//                    derived signature with the master secret) found in suspect texts,
//                    with the chance bound canary_chance(signatures, 1, text length)
//   watermark.json   watermark test of the responses the subject received (own key) and of
//                    any suspect texts given, with positions, score and p-values
//   head.txt         the audit chain head (seq and hash) at export time
//   cluster.json     (cluster subjects) how membership was found, the engine's
//                    verdict, risk and reasons for the cluster
//   check_chain.py   the integrity check (stdlib only), also described in README.md
//
// Chain rule (src/audit/audit_log.h): hash = hex(SHA-256(unhex(prev_hash) || line)).
//
// Thread-safety: functions are independent; they read the databases only.
#pragma once

#include <string>
#include <vector>

#include "distillguard/status.h"
#include "engine/engine.h"

namespace dg::defend {

// A cluster of linked accounts as `distillguard analyze` names it, found from
// the audit log alone: the detection engine (the same Engine::observe analyze
// runs) replays the log's exchange records in chain order — exactly what
// `audit export | analyze --input -` does, so ids match that report — and the
// cluster is looked up by its id ("c3") or, failing that, by any member account.
struct ClusterMembers {
  std::string id;                     // "c3"
  std::vector<std::string> accounts;  // sorted
  engine::Verdict verdict = engine::Verdict::kOk;
  double risk = 0;
  std::vector<engine::Reason> reasons;
  int64_t records = 0;                // audit records replayed
  int64_t last_seq = 0;               // chain position the replay stopped at
};
// Errors: kNotFound (no cluster with that id, or the account is in none / was
// never seen), or the audit log's read error. Lines that are not exchange
// records are skipped (as analyze rejects them).
Result<ClusterMembers> find_cluster(const std::string& audit_db, std::string_view cluster_or_account,
                                    const engine::EngineConfig& config = {});

struct EvidenceOptions {
  std::string subject;                // "account:A" or "cluster:C" (for the README)
  std::vector<std::string> accounts;  // the subject's accounts
  const ClusterMembers* cluster = nullptr;  // cluster subjects: written to cluster.json
  std::string audit_db;               // SQLite audit log
  std::string out_dir;
  std::string canary_db;              // "" = none
  std::string master_secret;          // "" = no watermark results
  std::vector<std::string> suspect_files;  // texts to test against the subject's keys
  int context = 3;                    // chain entries either side of each subject entry
};

struct EvidenceSummary {
  int64_t entries = 0;       // subject entries exported
  int64_t chain_rows = 0;
  int64_t canaries = 0;
  int64_t canary_hits = 0;   // (signature, suspect file) pairs found
  std::vector<std::string> files;
};

Result<EvidenceSummary> build_evidence_bundle(const EvidenceOptions& options);

struct BundleCheck {
  bool ok = false;
  std::vector<std::string> problems;  // human-readable, first ones
};
// The same checks as the bundle's check_chain.py plus the SHA256SUMS file.
Result<BundleCheck> check_evidence_bundle(const std::string& dir);

}  // namespace dg::defend
