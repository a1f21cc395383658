// Per-account request and token limits from the config's tiers, on GCRA.
//
// For each request: requests_per_minute (cost 1) and tokens_per_minute (cost =
// the token estimate at admission, reconciled with the upstream's usage when
// the response ends: refund or extra charge). Effective limits are the tier's
// limits scaled by
//   - the new-account ramp: start_fraction at age 0, growing linearly to 1 at
//     full_after_days; with requires_clean_history the age counts from the
//     account's last strike instead of its creation. A strike: more than 10
//     requests a minute refused before the previous refusal's Retry-After had
//     passed (a client ignoring Retry-After; parallel workers that hit the
//     limit together are tolerated). Strikes are remembered 90 days;
//   - a per-request multiplier in (0, 1] (anomaly throttling: the engine or a
//     policy lowers an account's limits as its risk rises).
// Extra generic limits (per capability, per cluster of linked accounts) go
// through the same call via AdmitRequest::extra.
//
// Headers follow OpenAI: x-ratelimit-limit-requests (the effective limit per
// minute), x-ratelimit-remaining-requests, x-ratelimit-reset-requests (Go
// duration string, "1s", "6m0s", "20ms": time until back to full), the same
// with -tokens, and on refusal Retry-After (whole seconds, rounded up) and
// retry-after-ms (what the openai clients read first).
//
// Thread-safety: thread-safe; admit()/reconcile() take one shard lock per limit.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/json/object.hpp>

#include "config/config.h"
#include "distillguard/clock.h"
#include "limit/gcra.h"

namespace dg {

// One additional limit checked with the account's (e.g. per capability).
struct ExtraLimit {
  LimitKey key;
  GcraRate rate;
  double cost = 1;
  std::string_view name;  // for notes, e.g. "cap:math:rpm"
};

struct AdmitRequest {
  std::string_view account;
  const TierConfig* tier = nullptr;  // required
  TimeNs account_created = 0;
  int64_t estimated_tokens = 0;
  double multiplier = 1.0;           // (0, 1]; values outside are clamped
  std::vector<ExtraLimit> extra;     // optional, all-or-nothing with the account limits
};

enum class LimitKind { kNone, kRequests, kTokens, kExtra };

struct Admission {
  bool allowed = false;
  LimitKind refused_by = LimitKind::kNone;
  std::string_view refused_extra;    // ExtraLimit::name when refused_by == kExtra
  bool too_large = false;            // the request alone exceeds the token capacity
  TimeNs retry_after = 0;            // if refused
  int64_t limit_requests = 0, remaining_requests = 0;
  TimeNs reset_requests = 0;
  int64_t limit_tokens = 0, remaining_tokens = 0;
  TimeNs reset_tokens = 0;
  double fraction = 1.0;             // ramp * multiplier applied
  int64_t charged_tokens = 0;        // what reconcile() must be told
};

class Limiter {
 public:
  Limiter(const LimitsConfig& limits, Clock& clock);

  // Checks every limit; charges all of them only if all allow.
  Admission admit(const AdmitRequest& r);
  // After the response: actual = prompt + completion tokens from the
  // upstream's usage. Charges actual - charged (negative = refund).
  void reconcile(std::string_view account, const TierConfig& tier, TimeNs account_created,
                 double multiplier, int64_t charged_tokens, int64_t actual_tokens);

  // The ramp fraction in (0, 1] for an account now.
  double ramp_fraction(const TierConfig& tier, TimeNs account_created, std::string_view account);
  // Records a strike against an account's clean history (resets its ramp age).
  void add_strike(std::string_view account);

  // Appends the x-ratelimit-* headers (and Retry-After / retry-after-ms if refused).
  static void add_headers(const Admission& a,
                          std::vector<std::pair<std::string, std::string>>& headers);

  GcraStore& store() { return store_; }
  Clock& clock() { return clock_; }

 private:
  GcraRate rate(const TierConfig& tier, bool tokens, double fraction) const;
  GcraStore store_;
  Clock& clock_;
};

// Go-style duration as OpenAI sends it: "0s", "20ms", "1s", "1.5s", "6m0s", "1h2m3s".
std::string format_reset_duration(TimeNs d);
// Token estimate at admission: prompt characters / 4 (messages' content and
// prompt) + max_tokens / max_completion_tokens (or `default_completion`) × n.
int64_t estimate_tokens(const boost::json::object& request, int64_t default_completion);

}  // namespace dg
