#include "limit/limiter.h"

#include <algorithm>
#include <boost/json.hpp>
#include <climits>
#include <cmath>
#include <cstdio>

namespace dg {

namespace {

// How long a strike against an account's clean history is remembered.
constexpr TimeNs kStrikeMemory = 90LL * 86400 * kNsPerSec;
constexpr double kMinMultiplier = 0.001;
// Early retries (a request refused before the previous refusal's Retry-After)
// tolerated per minute before they count as a strike: parallel workers that all
// hit the limit at once are not misbehaving.
constexpr double kEarlyRetriesPerMinute = 10;

int64_t floor_limit(double per_minute) {
  return std::max<int64_t>(1, static_cast<int64_t>(std::floor(per_minute)));
}

}  // namespace

Limiter::Limiter(const LimitsConfig& limits, Clock& clock)
    : store_(static_cast<size_t>(limits.max_tracked_keys)), clock_(clock) {}

GcraRate Limiter::rate(const TierConfig& tier, bool tokens, double fraction) const {
  GcraRate r;
  r.per_minute =
      static_cast<double>(tokens ? tier.tokens_per_minute : tier.requests_per_minute) * fraction;
  r.burst_seconds = tier.burst_seconds;
  return r;
}

double Limiter::ramp_fraction(const TierConfig& tier, TimeNs account_created,
                              std::string_view account) {
  const RampConfig& ramp = tier.ramp;
  if (ramp.start_fraction >= 1.0 || ramp.full_after_days <= 0) return 1.0;
  const TimeNs now = clock_.now();
  TimeNs since = account_created;
  if (ramp.requires_clean_history) {
    TimeNs strike_expiry = store_.load(LimitKey::of("acct", account, "strike"), now);
    if (strike_expiry > 0) since = std::max(since, strike_expiry - kStrikeMemory);
  }
  const double age_days = static_cast<double>(now - since) / (86400.0 * kNsPerSec);
  if (age_days >= ramp.full_after_days) return 1.0;
  if (age_days <= 0) return ramp.start_fraction;
  return ramp.start_fraction + (1.0 - ramp.start_fraction) * age_days / ramp.full_after_days;
}

void Limiter::add_strike(std::string_view account) {
  const TimeNs now = clock_.now();
  store_.store_max(LimitKey::of("acct", account, "strike"), now + kStrikeMemory, now);
}

Admission Limiter::admit(const AdmitRequest& r) {
  Admission a;
  const TimeNs now = clock_.now();
  const TierConfig& tier = *r.tier;
  double m = r.multiplier;
  if (!(m > kMinMultiplier)) m = kMinMultiplier;
  if (m > 1.0) m = 1.0;
  a.fraction = ramp_fraction(tier, r.account_created, r.account) * m;
  const GcraRate rr = rate(tier, false, a.fraction);
  const GcraRate tr = rate(tier, true, a.fraction);
  a.limit_requests = floor_limit(rr.per_minute);
  a.limit_tokens = floor_limit(tr.per_minute);
  const LimitKey rk = LimitKey::of("acct", r.account, "rpm");
  const LimitKey tk = LimitKey::of("acct", r.account, "tpm");
  const double tokens = static_cast<double>(std::max<int64_t>(0, r.estimated_tokens));

  auto fill = [&](const GcraDecision& req, const GcraDecision& tok) {
    a.remaining_requests = std::min(req.remaining, a.limit_requests);
    a.reset_requests = req.reset_after;
    a.remaining_tokens = std::min(tok.remaining, a.limit_tokens);
    a.reset_tokens = tok.reset_after;
  };

  GcraDecision dr = store_.acquire(rk, rr, 1, now);
  if (!dr.allowed) {
    fill(dr, store_.peek(tk, tr, 0, now));
    a.refused_by = LimitKind::kRequests;
    a.retry_after = dr.retry_after;
  } else {
    GcraDecision dt = store_.acquire(tk, tr, tokens, now);
    if (!dt.allowed) {
      store_.adjust(rk, rr, -1, now);
      fill(store_.peek(rk, rr, 0, now), dt);
      a.refused_by = LimitKind::kTokens;
      a.retry_after = dt.retry_after;
      a.too_large = dt.retry_after == INT64_MAX;
    } else {
      fill(dr, dt);
      // Extra limits: all or nothing.
      size_t done = 0;
      for (; done < r.extra.size(); ++done) {
        const ExtraLimit& e = r.extra[done];
        GcraRate er = e.rate;
        er.per_minute *= m;
        GcraDecision de = store_.acquire(e.key, er, e.cost, now);
        if (!de.allowed) {
          a.refused_by = LimitKind::kExtra;
          a.refused_extra = e.name;
          a.retry_after = de.retry_after;
          a.too_large = de.retry_after == INT64_MAX;
          break;
        }
      }
      if (a.refused_by == LimitKind::kNone) {
        a.allowed = true;
        a.charged_tokens = static_cast<int64_t>(tokens);
        return a;
      }
      for (size_t i = 0; i < done; ++i) {
        GcraRate er = r.extra[i].rate;
        er.per_minute *= m;
        store_.adjust(r.extra[i].key, er, -r.extra[i].cost, now);
      }
      store_.adjust(rk, rr, -1, now);
      store_.adjust(tk, tr, -tokens, now);
    }
  }

  // Refused. Early retries (before the last Retry-After) beyond a small
  // allowance are a strike against the account's clean history.
  const LimitKey retry_key = LimitKey::of("acct", r.account, "retry_at");
  if (store_.load(retry_key, now) > 0) {
    GcraRate early{kEarlyRetriesPerMinute, 60};
    if (!store_.acquire(LimitKey::of("acct", r.account, "early"), early, 1, now).allowed) {
      add_strike(r.account);
    }
  }
  if (a.retry_after != INT64_MAX) store_.store_max(retry_key, now + a.retry_after, now);
  return a;
}

void Limiter::reconcile(std::string_view account, const TierConfig& tier, TimeNs account_created,
                        double multiplier, int64_t charged_tokens, int64_t actual_tokens) {
  const int64_t delta = actual_tokens - charged_tokens;
  if (delta == 0) return;
  double m = std::clamp(multiplier, kMinMultiplier, 1.0);
  double fraction = ramp_fraction(tier, account_created, account) * m;
  store_.adjust(LimitKey::of("acct", account, "tpm"), rate(tier, true, fraction),
                static_cast<double>(delta), clock_.now());
}

void Limiter::add_headers(const Admission& a,
                          std::vector<std::pair<std::string, std::string>>& headers) {
  headers.emplace_back("x-ratelimit-limit-requests", std::to_string(a.limit_requests));
  headers.emplace_back("x-ratelimit-limit-tokens", std::to_string(a.limit_tokens));
  headers.emplace_back("x-ratelimit-remaining-requests", std::to_string(a.remaining_requests));
  headers.emplace_back("x-ratelimit-remaining-tokens", std::to_string(a.remaining_tokens));
  headers.emplace_back("x-ratelimit-reset-requests", format_reset_duration(a.reset_requests));
  headers.emplace_back("x-ratelimit-reset-tokens", format_reset_duration(a.reset_tokens));
  if (!a.allowed && a.retry_after > 0 && a.retry_after != INT64_MAX) {
    const int64_t ms = (a.retry_after + kNsPerMs - 1) / kNsPerMs;
    const int64_t secs = (a.retry_after + kNsPerSec - 1) / kNsPerSec;
    headers.emplace_back("retry-after-ms", std::to_string(ms));
    headers.emplace_back("Retry-After", std::to_string(secs));
  }
}

std::string format_reset_duration(TimeNs d) {
  if (d <= 0) return "0s";
  const int64_t ms = (d + kNsPerMs - 1) / kNsPerMs;
  if (ms < 1000) return std::to_string(ms) + "ms";
  const int64_t h = ms / 3'600'000;
  const int64_t m = (ms / 60'000) % 60;
  const int64_t s = (ms / 1000) % 60;
  const int64_t frac = ms % 1000;
  std::string out;
  if (h > 0) out += std::to_string(h) + "h";
  if (h > 0 || m > 0) out += std::to_string(m) + "m";
  out += std::to_string(s);
  if (frac) {
    char buf[8];
    std::snprintf(buf, sizeof buf, ".%03d", static_cast<int>(frac));
    std::string f(buf);
    while (f.back() == '0') f.pop_back();
    out += f;
  }
  out += "s";
  return out;
}

namespace {

int64_t text_chars(const boost::json::value& v) {
  if (v.is_string()) return static_cast<int64_t>(v.get_string().size());
  int64_t n = 0;
  if (v.is_array()) {
    for (const auto& e : v.get_array()) {
      if (e.is_string()) {
        n += static_cast<int64_t>(e.get_string().size());
      } else if (e.is_object()) {  // content parts: {"type":"text","text":"..."}
        if (const auto* t = e.get_object().if_contains("text")) n += text_chars(*t);
      }
    }
  }
  return n;
}

int64_t as_int(const boost::json::value* v, int64_t def) {
  if (!v) return def;
  if (v->is_int64()) return v->get_int64();
  if (v->is_uint64()) return static_cast<int64_t>(std::min<uint64_t>(v->get_uint64(), INT64_MAX));
  if (v->is_double()) return static_cast<int64_t>(v->get_double());
  return def;
}

}  // namespace

int64_t estimate_tokens(const boost::json::object& request, int64_t default_completion) {
  int64_t chars = 0;
  if (const auto* msgs = request.if_contains("messages"); msgs && msgs->is_array()) {
    for (const auto& m : msgs->get_array()) {
      if (!m.is_object()) continue;
      if (const auto* c = m.get_object().if_contains("content")) chars += text_chars(*c);
    }
  }
  if (const auto* p = request.if_contains("prompt")) chars += text_chars(*p);
  int64_t completion = as_int(request.if_contains("max_completion_tokens"), -1);
  if (completion < 0) completion = as_int(request.if_contains("max_tokens"), -1);
  if (completion < 0) completion = default_completion;
  int64_t n = std::clamp<int64_t>(as_int(request.if_contains("n"), 1), 1, 128);
  return (chars + 3) / 4 + completion * n;
}

}  // namespace dg
