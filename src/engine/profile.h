// A behavioural profile: everything the engine remembers about one account (or,
// merged, about one cluster of linked accounts), in constant memory whatever
// the volume (about 1.4 KiB; static_assert below). Built only from record
// features and record time, so a replay rebuilds the same profile.
//
// Not thread-safe: owned and updated by the engine's single writer.
#pragma once

#include <array>
#include <cstdint>

#include "engine/features.h"
#include "engine/sketch.h"

namespace dg::engine {

// Salts that tell a template opening's key from an ending's (`Profile::reused_keys`
// and the engine's link index).
inline constexpr uint64_t kPrefixKeySalt = 0x11, kSuffixKeySalt = 0x12;

struct Profile {
  uint32_t n = 0;  // exchanges
  TimeNs first_ts = 0;
  TimeNs last_ts = 0;
  TimeNs created = 0;               // account creation (0 unknown); for clusters the earliest
  Welford gap;                      // inter-arrival time, seconds
  uint32_t bursts = 0;              // gaps under 2 s
  std::array<uint32_t, 24> hour{};  // hour-of-day histogram (UTC)
  std::array<uint32_t, kCapabilityCount> cap{};  // capability areas asked
  uint32_t temp0 = 0, multi_sample = 0, logprobs = 0, with_system = 0, multi_turn = 0;
  uint32_t tools = 0, cot = 0, rubric = 0, benchmark = 0;
  uint64_t prompt_tokens = 0, completion_tokens = 0;
  // Context-free requests (single-turn, no system prompt): their count and
  // capability areas. A reseller's or a mixed account's extraction half shows
  // here even when genuine traffic dilutes the account's totals.
  uint32_t app_system = 0;  // requests with an application-sized system prompt (features.h)
  uint32_t bare = 0;
  std::array<uint32_t, kCapabilityCount> bare_cap{};
  // Exchanges whose template opening or ending was already seen at least once
  // on this account (a reused wrapper around new content).
  uint32_t rewrapped = 0;
  uint32_t bare_rewrapped = 0;  // of which context-free
  // The last few prompts (32-bit hashes): a retried or regenerated prompt is a
  // repeat, not a wrapper around new content.
  std::array<uint32_t, 8> recent_prompts{};
  uint8_t recent_next = 0;
  Hll<7> prompts;    // distinct prompts
  Hll<6> templates;  // distinct masked templates
  Hll<6> days;       // distinct active days
  Hll<6> ips;        // distinct client addresses
  Hll<6> blocks;     // distinct address blocks
  Hll<6> systems;    // distinct system prompts
  Hll<6> models;     // distinct model names
  TopK<6> prefixes;  // most used template openings
  TopK<6> suffixes;  // most used template endings
  // Reused template keys (openings ^ kPrefixKeySalt, endings ^
  // kSuffixKeySalt): a key enters on its second sighting (the last 64 first
  // sightings are remembered), so an account's few reused wrappers survive the
  // one-off openings of its genuine traffic, which churn `prefixes`.
  TopK<4> reused_keys;
  std::array<uint16_t, 64> seen_once{};  // 16-bit hashes: a false match ~0.2 %
  uint8_t seen_once_next = 0;
  TopK<2> system_top;
  TopK<2> block_top;
  TopK<2> fp_top;
  TopK<2> model_top;
  MinHash<16> activity;  // 10-minute activity buckets (synchronised timing)

  void add(const RecordFeatures& f);
  // Guaranteed uses of a reused template key (0: seen at most once lately).
  uint32_t reused_uses(uint64_t key) const;
  // Folds another profile in (cluster aggregation). Timing moments are
  // combined as if the streams were one; the histograms and sketches exactly.
  void merge(const Profile& o);
  double hours() const { return static_cast<double>(last_ts - first_ts) / (3600.0 * kNsPerSec); }
  // Share of exchanges whose template opening or ending is the account's most used one.
  double template_share() const;
  // Share of exchanges on the two most used openings (or endings): a pipeline
  // with one or two fixed prompt formats covers nearly everything.
  double top2_template_share() const;
  // Wrapper rotation in [0, 1]: the share of context-free exchanges carrying
  // a reused opening/ending (bare_rewrapped / bare), less the share of the
  // two most used ones. Several instruction wrappers rotated around new
  // content score high; one fixed application template scores 0.
  double wrapper_rotation() const;
};

static_assert(sizeof(Profile) <= 1664, "profile must stay small");

}  // namespace dg::engine
