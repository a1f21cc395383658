#include "gateway/metrics.h"

#include <cstdio>

namespace dg::gateway {

const char* route_label(RouteId r) {
  switch (r) {
    case RouteId::kChat: return "/v1/chat/completions";
    case RouteId::kCompletions: return "/v1/completions";
    case RouteId::kModels: return "/v1/models";
    default: return "other";
  }
}

void WorkerMetrics::add(const WorkerMetrics& o) {
  for (size_t i = 0; i < requests.size() && i < o.requests.size(); ++i) requests[i] += o.requests[i];
  for (const auto& [k, v] : o.local_replies) local_replies[k] += v;
  for (size_t i = 0; i < limit_refusals.size() && i < o.limit_refusals.size(); ++i)
    limit_refusals[i] += o.limit_refusals[i];
  for (size_t i = 0; i < upstream_buckets.size(); ++i) upstream_buckets[i] += o.upstream_buckets[i];
  upstream_sum_s += o.upstream_sum_s;
  upstream_count += o.upstream_count;
  for (size_t i = 0; i < upstream_failures.size() && i < o.upstream_failures.size(); ++i)
    upstream_failures[i] += o.upstream_failures[i];
  client_disconnects += o.client_disconnects;
  audit_dropped += o.audit_dropped;
  active_streams += o.active_streams;
  idle_connections += o.idle_connections;
}

MetricsLayout::MetricsLayout(std::vector<std::string> tiers, std::vector<std::string> upstreams)
    : tiers_(std::move(tiers)), upstreams_(std::move(upstreams)) {
  tiers_.push_back("-");
}

WorkerMetrics MetricsLayout::make() const {
  WorkerMetrics m;
  m.requests.assign(static_cast<size_t>(RouteId::kCount) * kStatuses.size() * tiers_.size(), 0);
  m.limit_refusals.assign(tiers_.size(), 0);
  m.upstream_failures.assign(upstreams_.size(), 0);
  return m;
}

size_t MetricsLayout::tier_index(std::string_view tier) const {
  for (size_t i = 0; i + 1 < tiers_.size(); ++i)
    if (tiers_[i] == tier) return i;
  return tiers_.size() - 1;
}

size_t MetricsLayout::status_index(int status) {
  for (size_t i = 0; i + 1 < kStatuses.size(); ++i)
    if (kStatuses[i] == status) return i;
  return kStatuses.size() - 1;
}

void MetricsLayout::observe_upstream(WorkerMetrics& m, double seconds) {
  size_t i = 0;
  while (i < kLatencyBuckets.size() && seconds > kLatencyBuckets[i]) ++i;
  ++m.upstream_buckets[i];
  m.upstream_sum_s += seconds;
  ++m.upstream_count;
}

namespace {
void line(std::string& out, const char* fmt, auto... args) {
  char buf[512];
  int n = std::snprintf(buf, sizeof buf, fmt, args...);
  if (n > 0) out.append(buf, static_cast<size_t>(std::min<int>(n, sizeof buf - 1)));
}
}  // namespace

std::string MetricsLayout::render(const WorkerMetrics& m, const AuditFigures& a) const {
  std::string out;
  out.reserve(4096);
  out += "# HELP dg_requests_total Requests answered, by route, status and account tier.\n";
  out += "# TYPE dg_requests_total counter\n";
  for (int r = 0; r < static_cast<int>(RouteId::kCount); ++r) {
    for (size_t s = 0; s < kStatuses.size(); ++s) {
      for (size_t t = 0; t < tiers_.size(); ++t) {
        uint64_t v = m.requests[(static_cast<size_t>(r) * kStatuses.size() + s) * tiers_.size() + t];
        if (v == 0) continue;
        std::string status = kStatuses[s] ? std::to_string(kStatuses[s]) : "other";
        line(out, "dg_requests_total{route=\"%s\",status=\"%s\",tier=\"%s\"} %llu\n",
             route_label(static_cast<RouteId>(r)), status.c_str(), tiers_[t].c_str(),
             static_cast<unsigned long long>(v));
      }
    }
  }
  out += "# HELP dg_local_replies_total Replies the gateway made itself, by reason code.\n";
  out += "# TYPE dg_local_replies_total counter\n";
  for (const auto& [code, v] : m.local_replies)
    line(out, "dg_local_replies_total{code=\"%s\"} %llu\n", code.c_str(), static_cast<unsigned long long>(v));
  out += "# HELP dg_limit_refusals_total Requests refused with 429 by the limit stage, by tier.\n";
  out += "# TYPE dg_limit_refusals_total counter\n";
  for (size_t t = 0; t < tiers_.size(); ++t)
    line(out, "dg_limit_refusals_total{tier=\"%s\"} %llu\n", tiers_[t].c_str(),
         static_cast<unsigned long long>(m.limit_refusals[t]));
  out += "# HELP dg_upstream_first_byte_seconds Request sent to upstream response head.\n";
  out += "# TYPE dg_upstream_first_byte_seconds histogram\n";
  uint64_t cum = 0;
  for (size_t i = 0; i < kLatencyBuckets.size(); ++i) {
    cum += m.upstream_buckets[i];
    line(out, "dg_upstream_first_byte_seconds_bucket{le=\"%g\"} %llu\n", kLatencyBuckets[i],
         static_cast<unsigned long long>(cum));
  }
  cum += m.upstream_buckets.back();
  line(out, "dg_upstream_first_byte_seconds_bucket{le=\"+Inf\"} %llu\n", static_cast<unsigned long long>(cum));
  line(out, "dg_upstream_first_byte_seconds_sum %.6f\n", m.upstream_sum_s);
  line(out, "dg_upstream_first_byte_seconds_count %llu\n", static_cast<unsigned long long>(m.upstream_count));
  out += "# HELP dg_upstream_failures_total Upstream unreachable, timed out or failed mid-response.\n";
  out += "# TYPE dg_upstream_failures_total counter\n";
  for (size_t u = 0; u < upstreams_.size(); ++u)
    line(out, "dg_upstream_failures_total{upstream=\"%s\"} %llu\n", upstreams_[u].c_str(),
         static_cast<unsigned long long>(m.upstream_failures[u]));
  out += "# TYPE dg_client_disconnects_total counter\n";
  line(out, "dg_client_disconnects_total %llu\n", static_cast<unsigned long long>(m.client_disconnects));
  out += "# TYPE dg_active_streams gauge\n";
  line(out, "dg_active_streams %lld\n", static_cast<long long>(m.active_streams));
  out += "# TYPE dg_upstream_idle_connections gauge\n";
  line(out, "dg_upstream_idle_connections %lld\n", static_cast<long long>(m.idle_connections));
  out += "# HELP dg_audit_backlog Exchange records waiting to be written.\n";
  out += "# TYPE dg_audit_backlog gauge\n";
  line(out, "dg_audit_backlog %lld\n", static_cast<long long>(a.backlog));
  out += "# TYPE dg_audit_written_total counter\n";
  line(out, "dg_audit_written_total %lld\n", static_cast<long long>(a.written));
  out += "# TYPE dg_audit_write_errors_total counter\n";
  line(out, "dg_audit_write_errors_total %lld\n", static_cast<long long>(a.write_errors));
  out += "# TYPE dg_audit_refused_total counter\n";
  line(out, "dg_audit_refused_total %lld\n", static_cast<long long>(a.refused));
  out += "# TYPE dg_audit_mirror_errors_total counter\n";
  line(out, "dg_audit_mirror_errors_total %lld\n", static_cast<long long>(a.mirror_errors));
  out += "# HELP dg_audit_dropped_total Records lost because the audit backlog was full at append.\n";
  out += "# TYPE dg_audit_dropped_total counter\n";
  line(out, "dg_audit_dropped_total %llu\n", static_cast<unsigned long long>(m.audit_dropped));
  return out;
}

}  // namespace dg::gateway
