// The detection engine: one library, two feeds. The gateway (src/stages/assess)
// feeds it live exchanges; `distillguard analyze` feeds it log records. Both
// call observe() with records in non-decreasing time order, and the record
// time is the only clock, so a replay gives the verdicts the gateway gave.
//
// Per account it keeps a bounded Profile (profile.h); accounts are linked into
// clusters by shared templates, address blocks, client fingerprints, creation
// bursts, synchronised activity and shared system prompts (weighted links with
// evidence, union-find with a guard against one shared signal gluing large
// groups together); a cluster is scored as one actor on its merged profile.
// Risk is re-evaluated on every exchange (online): an account's effective
// risk is the larger of its own and its cluster's; `attack` is sticky and
// first_flagged records the first moment (record time, own exchange index).
//
// Thread-safety: none. One writer owns an Engine (the analyze loop, or the
// assess stage's engine thread). Memory: about 1.7 KiB per account plus the
// fixed link index (EngineConfig::link_slots_log2).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "distillguard/exchange_record.h"
#include "engine/profile.h"
#include "engine/risk.h"

namespace dg::engine {

struct EngineConfig {
  Thresholds thresholds;       // [engine] suspicious_threshold, attack_threshold
  bool clustering = true;      // [engine] clustering
  double link_threshold = 0.6; // [engine] link_threshold: evidence needed to link two accounts
  uint32_t link_slots_log2 = 18;  // [engine] link_index_slots_log2 (2^n slots x 64 bytes)
};

// Link evidence kinds (bit flags).
enum LinkKind : uint8_t {
  kLinkTemplate = 1, kLinkAddressBlock = 2, kLinkFingerprint = 4, kLinkCreationBurst = 8,
  kLinkSyncTiming = 16, kLinkSystemPrompt = 32,
};
inline constexpr int kLinkKinds = 6;
const char* link_kind_name(int bit_index);

struct FirstFlagged {
  TimeNs ts = 0;
  uint32_t exchange = 0;  // 1-based, in the account's own exchanges
};

struct RiskPoint {
  TimeNs ts = 0;
  float risk = 0;
};

// What observe() returns: the account's state after the exchange.
struct Assessment {
  uint32_t account = 0;  // engine-internal account index
  double risk = 0;       // effective risk (max of own and cluster)
  double own_risk = 0;
  double cluster_risk = 0;
  Verdict verdict = Verdict::kOk;
  uint32_t cluster_size = 1;
  uint32_t cluster_root = 0;  // engine index of the cluster's root account (valid when cluster_size > 1)
  Verdict cluster_verdict = Verdict::kOk;
  Capability capability = Capability::kOther;
};

struct AccountReport {
  std::string account;
  Verdict verdict = Verdict::kOk;
  double risk = 0;
  std::string cluster;  // "" when in no cluster
  uint32_t exchanges = 0;
  std::optional<FirstFlagged> first_flagged;
  std::vector<Reason> reasons;
  std::array<uint32_t, kCapabilityCount> capabilities{};
  std::vector<RiskPoint> history;
};

struct ClusterReport {
  std::string id;
  std::vector<std::string> accounts;
  double risk = 0;
  Verdict verdict = Verdict::kOk;
  std::optional<FirstFlagged> first_flagged;  // exchange = cluster's own exchange count
  std::vector<Reason> reasons;
  std::array<uint32_t, kLinkKinds> links{};  // links by evidence kind
  std::array<uint32_t, kCapabilityCount> capabilities{};
  std::vector<RiskPoint> history;
};

struct LinkEdge {
  uint32_t a = 0, b = 0;
  uint8_t kinds = 0;
};

struct EngineReport {
  std::vector<AccountReport> accounts;  // in order of first appearance
  std::vector<ClusterReport> clusters;
  std::vector<LinkEdge> edges;  // a bounded sample of the links (account indices)
};

class Engine {
 public:
  explicit Engine(EngineConfig config = {},
                  const CapabilityClassifier& classifier = CapabilityClassifier::builtin());
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  Assessment observe(const ExchangeRecord& r);
  // As observe(), with features already extracted (the gateway extracts on its I/O thread).
  Assessment observe(std::string_view account, const RecordFeatures& f);

  size_t account_count() const;
  // Effective risk and verdict of a known account; nullopt if never seen.
  std::optional<Assessment> lookup(std::string_view account) const;
  const std::string& account_name(uint32_t index) const;
  EngineReport report() const;
  const EngineConfig& config() const { return config_; }
  // Development aid (weight fitting): called with the signal values of an
  // account (cluster=false) or a cluster (cluster=true, named by its root
  // account) when its exchange count reaches 5, 10, 20, 50, 100, 200, 500,
  // 1000, 2000, 5000.
  using SignalTap = void (*)(void* ctx, std::string_view name, bool cluster, uint32_t n, uint32_t size,
                             const SignalValues& v);
  void set_signal_tap(SignalTap tap, void* ctx) {
    tap_ = tap;
    tap_ctx_ = ctx;
  }
  // Approximate heap bytes held (profiles, names, index, clusters).
  size_t memory_bytes() const;

 private:
  struct Impl;
  EngineConfig config_;
  const CapabilityClassifier& classifier_;
  Impl* impl_;
  std::string scratch_;
  SignalTap tap_ = nullptr;
  void* tap_ctx_ = nullptr;
};

}  // namespace dg::engine
