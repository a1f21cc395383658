// The assess stage: the detection engine inside the gateway.
//
// on_request (I/O thread, lock-free): reads the account's published risk and
// its cluster's (the engine's effective risk = max of the two) into ctx.risk
// (the limit stage after it tightens limits as risk rises: risk_multiplier),
// classifies the prompt into ctx.capability, notes ("assess", "risk 0.93
// attack, cluster of 41, capability math"), and enforces two extra GCRA limits
// that tighten with risk too:
//   - per capability area: [engine] capability_rpm requests/min per account and
//     area (0 = off);
//   - per cluster: [engine] cluster_rpm requests/min shared by every account of
//     a cluster (one budget for the whole ring; 0 = off).
// A refusal is 429 `rate_limited` (`capability_rate_limited` /
// `cluster_rate_limited`) with Retry-After; shadow mode only notes it.
// on_complete: extracts the exchange's features on the I/O thread and hands
// them to the engine thread through a bounded lock-free queue (fail-open: a
// full queue drops the exchange from the engine and counts it).
//
// Why one engine thread: clusters join accounts across shards, so the engine
// is one writer; I/O threads never lock — they push to a Vyukov MPMC ring and
// read risk from a fixed table of atomics (account hash -> risk, cluster), so
// a request costs a few atomic loads plus the classifier (~5 us). Online =
// offline: the engine thread runs the same Engine::observe the analyze
// command runs, on the same features, in arrival order.
//
// Thread-safety: thread-safe (shared by all requests).
#pragma once

#include <memory>
#include <string>

#include "config/config.h"
#include "distillguard/clock.h"
#include "distillguard/stage.h"
#include "engine/engine.h"

namespace dg {

struct AssessConfig {
  engine::EngineConfig engine;
  double capability_rpm = 0;  // [engine] capability_rpm: per account and capability area (0 = off)
  double cluster_rpm = 0;     // [engine] cluster_rpm: per cluster of linked accounts (0 = off)
  size_t queue_capacity = 65536;  // [engine] queue_capacity: exchanges waiting for the engine thread
  size_t published_slots = size_t{1} << 20;  // risk table slots (accounts hashed into them)
};

Result<AssessConfig> assess_config_from(const Config& config);

// What the stage can tell about an account right now (lock-free read).
struct PublishedRisk {
  bool known = false;
  double risk = 0;  // effective (max of account and cluster)
  engine::Verdict verdict = engine::Verdict::kOk;
  uint32_t cluster = 0;  // engine index of the cluster root (0 with cluster_size 1)
  uint32_t cluster_size = 1;
};

class AssessStage : public Stage {
 public:
  static std::unique_ptr<AssessStage> create(const AssessConfig& config, Clock& clock, StageMode mode);
  virtual PublishedRisk published(std::string_view account) const = 0;
  // Blocks until every exchange handed over so far went through the engine
  // (tests, shutdown).
  virtual void flush() = 0;
  // The engine's report (after flush(); for tests and the admin API).
  virtual engine::EngineReport report() = 0;
  virtual uint64_t dropped() const = 0;
};

Result<std::unique_ptr<Stage>> make_assess_stage(const Config& config, Clock& clock, StageMode mode);

}  // namespace dg
