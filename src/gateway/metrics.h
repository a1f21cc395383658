// The gateway's Prometheus metrics. One list of metric names (here and in
// metrics.cc's render), documented in docs/life-of-a-request.md.
//
// Hot path: each I/O worker owns a WorkerMetrics and is the only thread that
// writes it (plain integers: no atomics, no locks). /metrics gathers a copy
// from every worker by running a small task on each worker's own thread
// (co_spawn to its io_context), then sums them.
//
// Metrics:
//   dg_requests_total{route,status,tier}      counter  every answered request
//   dg_local_replies_total{code}              counter  replies the gateway made itself, by reason code
//   dg_limit_refusals_total{tier}             counter  429s from the limit stage
//   dg_upstream_first_byte_seconds            histogram request sent -> upstream response head
//   dg_upstream_failures_total{upstream}      counter  unreachable, timed out or died mid-response
//   dg_client_disconnects_total               counter  clients gone before the response ended
//   dg_active_streams                         gauge    SSE responses being relayed
//   dg_upstream_idle_connections              gauge    pooled keep-alive connections
//   dg_audit_backlog, dg_audit_written_total, dg_audit_write_errors_total,
//   dg_audit_refused_total, dg_audit_mirror_errors_total, dg_audit_dropped_total
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace dg::gateway {

enum class RouteId : int { kChat = 0, kCompletions, kModels, kOther, kCount };
const char* route_label(RouteId r);

// Histogram bucket bounds, seconds.
inline constexpr std::array<double, 14> kLatencyBuckets = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

struct WorkerMetrics {
  // Flat [route][status][tier] counters; see MetricsLayout.
  std::vector<uint64_t> requests;
  std::map<std::string, uint64_t, std::less<>> local_replies;
  std::vector<uint64_t> limit_refusals;  // by tier
  std::array<uint64_t, kLatencyBuckets.size() + 1> upstream_buckets{};  // last = +Inf
  double upstream_sum_s = 0;
  uint64_t upstream_count = 0;
  std::vector<uint64_t> upstream_failures;  // by upstream
  uint64_t client_disconnects = 0;
  uint64_t audit_dropped = 0;
  int64_t active_streams = 0;
  int64_t idle_connections = 0;

  void add(const WorkerMetrics& o);
};

// Label sets known at start: tiers from the config (+ "-" for unauthenticated),
// a fixed list of statuses (+ "other").
class MetricsLayout {
 public:
  MetricsLayout(std::vector<std::string> tiers, std::vector<std::string> upstreams);
  WorkerMetrics make() const;

  size_t tier_index(std::string_view tier) const;  // unknown/empty -> "-"
  static size_t status_index(int status);
  size_t index(RouteId r, int status, size_t tier) const {
    return (static_cast<size_t>(r) * kStatuses.size() + status_index(status)) * tiers_.size() + tier;
  }

  void count_request(WorkerMetrics& m, RouteId r, int status, std::string_view tier) const {
    ++m.requests[index(r, status, tier_index(tier))];
  }
  static void observe_upstream(WorkerMetrics& m, double seconds);

  struct AuditFigures {
    int64_t backlog = 0, written = 0, write_errors = 0, refused = 0, mirror_errors = 0;
  };
  std::string render(const WorkerMetrics& total, const AuditFigures& audit) const;

  static constexpr std::array<int, 14> kStatuses = {200, 400, 401, 403, 404, 405, 413,
                                                    429, 499, 500, 502, 503, 504, 0};

 private:
  std::vector<std::string> tiers_;  // last is "-"
  std::vector<std::string> upstreams_;
};

}  // namespace dg::gateway
