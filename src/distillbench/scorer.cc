#include "distillbench/scorer.h"

#include <zlib.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>
#include <unordered_map>

#include "distillguard/exchange_record.h"

namespace dg::distillbench {
namespace json = boost::json;

std::optional<double> quantile(std::vector<double> v, double q) {
  if (v.empty()) return std::nullopt;
  std::sort(v.begin(), v.end());
  double pos = q * static_cast<double>(v.size() - 1);
  size_t lo = static_cast<size_t>(std::floor(pos));
  size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (v[hi] - v[lo]) * (pos - static_cast<double>(lo));
}

Result<std::vector<Label>> parse_labels(std::string_view text, const std::string& origin) {
  std::vector<Label> out;
  std::unordered_map<std::string, size_t> seen;
  size_t pos = 0, line_no = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    std::string where = origin + ":" + std::to_string(line_no) + ": ";
    boost::system::error_code ec;
    json::value v = json::parse(line, ec);
    if (ec || !v.is_object()) return invalid_argument(where + "not a JSON object");
    const json::object& o = v.as_object();
    Label l;
    auto get = [&](const char* k, std::string* dst, bool nullable) -> Status {
      auto it = o.find(k);
      if (it == o.end()) return invalid_argument(where + "missing '" + k + "'");
      if (it->value().is_null() && nullable) return Status();
      if (!it->value().is_string()) return invalid_argument(where + "'" + k + "' must be a string");
      *dst = std::string(it->value().as_string());
      return Status();
    };
    std::string label;
    DG_RETURN_IF_ERROR(get("account", &l.account, false));
    DG_RETURN_IF_ERROR(get("label", &label, false));
    DG_RETURN_IF_ERROR(get("campaign", &l.campaign, true));
    DG_RETURN_IF_ERROR(get("persona", &l.persona, false));
    if (label != "legit" && label != "attack")
      return invalid_argument(where + "'label' must be \"legit\" or \"attack\"");
    l.attack = label == "attack";
    if (l.attack && l.campaign.empty()) return invalid_argument(where + "attack account '" + l.account + "' without a campaign");
    if (!seen.emplace(l.account, out.size()).second)
      return invalid_argument(where + "account '" + l.account + "' labelled twice");
    out.push_back(std::move(l));
  }
  return out;
}

Result<std::vector<Label>> load_labels(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return invalid_argument("cannot read labels file '" + path + "'");
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_labels(ss.str(), path);
}

namespace {

struct Verdict {
  std::string verdict;
  std::optional<TimeNs> flagged_ts;
  std::optional<uint64_t> flagged_exchange;
  std::optional<uint64_t> exchanges;
  uint64_t trace_total = 0;
  uint64_t trace_before = 0;
  bool present = false;
};

std::optional<std::string_view> string_field(std::string_view line, std::string_view key_pattern) {
  size_t p = line.find(key_pattern);
  if (p == std::string_view::npos) return std::nullopt;
  p += key_pattern.size();
  size_t q = line.find('"', p);
  if (q == std::string_view::npos) return std::nullopt;
  std::string_view v = line.substr(p, q - p);
  if (v.find('\\') != std::string_view::npos) return std::nullopt;  // escaped: parse properly
  return v;
}

// Streams the trace (plain or gzip) and counts, per account, its exchanges and
// those strictly before its first_flagged moment; also per campaign the
// exchanges before its earliest flag.
Status scan_trace(const std::string& path, std::unordered_map<std::string, Verdict*>& by_account,
                  const std::unordered_map<std::string, const Label*>& labels,
                  std::map<std::string, std::pair<TimeNs, uint64_t>>& campaign_first) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) return invalid_argument("cannot read trace '" + path + "'");
  gzbuffer(f, 1 << 20);
  std::string buf, carry;
  buf.resize(1 << 20);
  uint64_t line_no = 0;
  Status st;
  auto handle = [&](std::string_view line) -> Status {
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) return Status();
    auto ts_s = string_field(line, "\"ts\":\"");
    auto acct = string_field(line, "\"account\":\"");
    std::string account_owned;
    TimeNs ts = 0;
    if (ts_s && acct) {
      auto t = parse_rfc3339(*ts_s);
      if (!t.ok()) return invalid_argument(path + ":" + std::to_string(line_no) + ": " + t.status().message());
      ts = *t;
    } else {
      auto r = parse_exchange_record(line);
      if (!r.ok()) return invalid_argument(path + ":" + std::to_string(line_no) + ": " + r.status().message());
      ts = r->ts;
      account_owned = r->account;
      acct = account_owned;
    }
    auto it = by_account.find(std::string(*acct));
    if (it == by_account.end())
      return invalid_argument(path + ":" + std::to_string(line_no) + ": account '" + std::string(*acct) +
                              "' is not in the labels");
    Verdict& v = *it->second;
    v.trace_total++;
    if (!v.flagged_ts || ts < *v.flagged_ts) v.trace_before++;
    const Label* l = labels.at(it->first);
    if (l->attack) {
      auto& cf = campaign_first[l->campaign];
      if (ts < cf.first) cf.second++;
    }
    return Status();
  };
  for (;;) {
    int n = gzread(f, buf.data(), static_cast<unsigned>(buf.size()));
    if (n < 0) {
      gzclose(f);
      return invalid_argument("cannot read trace '" + path + "': corrupt or truncated");
    }
    if (n == 0) break;
    std::string_view chunk(buf.data(), static_cast<size_t>(n));
    size_t pos = 0;
    while (pos < chunk.size()) {
      size_t nl = chunk.find('\n', pos);
      if (nl == std::string_view::npos) {
        carry.append(chunk.substr(pos));
        break;
      }
      if (!carry.empty()) {
        carry.append(chunk.substr(pos, nl - pos));
        st = handle(carry);
        carry.clear();
      } else {
        st = handle(chunk.substr(pos, nl - pos));
      }
      if (!st.ok()) {
        gzclose(f);
        return st;
      }
      pos = nl + 1;
    }
  }
  if (!carry.empty()) st = handle(carry);
  gzclose(f);
  return st;
}

}  // namespace

Result<ScoreResult> score_report(const std::vector<Label>& labels, std::string_view report_json,
                                 const std::string& trace_path) {
  boost::system::error_code ec;
  json::value rv = json::parse(report_json, ec);
  if (ec) return invalid_argument("report is not JSON: " + ec.message());
  if (!rv.is_object()) return invalid_argument("report is not a JSON object");
  const json::object& ro = rv.as_object();
  auto accs_it = ro.find("accounts");
  if (accs_it == ro.end() || !accs_it->value().is_array())
    return invalid_argument("report has no 'accounts' array");

  std::unordered_map<std::string, const Label*> label_of;
  for (const auto& l : labels) label_of.emplace(l.account, &l);
  std::unordered_map<std::string, Verdict> verdicts;
  verdicts.reserve(labels.size());
  for (const auto& a : accs_it->value().as_array()) {
    if (!a.is_object()) return invalid_argument("report: an entry of 'accounts' is not an object");
    const json::object& o = a.as_object();
    auto name_it = o.find("account");
    if (name_it == o.end() || !name_it->value().is_string())
      return invalid_argument("report: an entry of 'accounts' has no 'account' string");
    std::string name(name_it->value().as_string());
    if (!label_of.count(name)) return invalid_argument("report names account '" + name + "' which is not in the labels");
    Verdict& v = verdicts[name];
    if (v.present) return invalid_argument("report names account '" + name + "' twice");
    v.present = true;
    auto vit = o.find("verdict");
    if (vit == o.end() || !vit->value().is_string())
      return invalid_argument("report: account '" + name + "' has no 'verdict'");
    v.verdict = std::string(vit->value().as_string());
    if (v.verdict != "ok" && v.verdict != "suspicious" && v.verdict != "attack")
      return invalid_argument("report: account '" + name + "' has verdict '" + v.verdict +
                              "' (want ok, suspicious or attack)");
    if (auto e = o.find("exchanges"); e != o.end() && e->value().is_number())
      v.exchanges = static_cast<uint64_t>(e->value().to_number<double>());
    if (auto ff = o.find("first_flagged"); ff != o.end() && !ff->value().is_null()) {
      if (!ff->value().is_object()) return invalid_argument("report: account '" + name + "': 'first_flagged' must be an object or null");
      const json::object& f = ff->value().as_object();
      auto ts = f.find("ts");
      auto ex = f.find("exchange");
      if (ts == f.end() || !ts->value().is_string() || ex == f.end() || !ex->value().is_number())
        return invalid_argument("report: account '" + name + "': 'first_flagged' needs 'ts' and 'exchange'");
      auto t = parse_rfc3339(ts->value().as_string());
      if (!t.ok()) return invalid_argument("report: account '" + name + "': first_flagged.ts: " + t.status().message());
      v.flagged_ts = *t;
      double x = ex->value().to_number<double>();
      if (x < 1) return invalid_argument("report: account '" + name + "': first_flagged.exchange must be >= 1");
      v.flagged_exchange = static_cast<uint64_t>(x);
    }
    if (v.verdict == "attack" && !v.flagged_ts)
      return invalid_argument("report: account '" + name + "' has verdict attack but first_flagged is null");
  }
  for (const auto& l : labels)
    if (!verdicts.count(l.account)) return invalid_argument("report omits account '" + l.account + "'");

  ScoreResult r;
  // Per campaign: earliest flag moment.
  std::map<std::string, std::pair<TimeNs, uint64_t>> campaign_first;
  for (const auto& l : labels) {
    if (!l.attack) continue;
    auto& cf = campaign_first.emplace(l.campaign, std::make_pair(std::numeric_limits<TimeNs>::max(), 0)).first->second;
    const Verdict& v = verdicts[l.account];
    if (v.flagged_ts) cf.first = std::min(cf.first, *v.flagged_ts);
  }
  if (!trace_path.empty()) {
    std::unordered_map<std::string, Verdict*> by_account;
    for (auto& [k, v] : verdicts) by_account.emplace(k, &v);
    DG_RETURN_IF_ERROR(scan_trace(trace_path, by_account, label_of, campaign_first));
    r.used_trace = true;
  }

  std::map<std::pair<bool, std::string>, GroupScore> groups;  // (!campaign, name)
  std::map<std::string, std::vector<double>> until;
  std::vector<double> all_until;
  for (const auto& l : labels) {
    const Verdict& v = verdicts[l.account];
    const std::string& gname = l.attack ? l.campaign : l.persona;
    GroupScore& g = groups[{!l.attack, gname}];
    g.name = gname;
    g.campaign = l.attack;
    g.accounts++;
    bool flagged = v.verdict == "attack";
    g.flagged += flagged;
    g.suspicious += v.verdict == "suspicious";
    uint64_t total = r.used_trace ? v.trace_total : v.exchanges.value_or(0);
    g.exchanges += total;
    if (l.attack) {
      r.attack_accounts++;
      r.true_positives += flagged;
      uint64_t leaked = r.used_trace ? v.trace_before
                        : v.flagged_exchange ? *v.flagged_exchange - 1
                                             : total;
      g.leaked += leaked;
      if (v.flagged_exchange) {
        until[gname].push_back(static_cast<double>(*v.flagged_exchange));
        all_until.push_back(static_cast<double>(*v.flagged_exchange));
      }
    } else {
      r.legit_accounts++;
      r.false_positives += flagged;
      r.legit_suspicious += v.verdict == "suspicious";
    }
  }
  for (auto& [key, g] : groups) {
    g.rate = g.accounts ? static_cast<double>(g.flagged) / static_cast<double>(g.accounts) : 0;
    g.suspicious_rate = g.accounts ? static_cast<double>(g.suspicious) / static_cast<double>(g.accounts) : 0;
    if (g.campaign) {
      g.until_median = quantile(until[g.name], 0.5);
      g.until_p90 = quantile(until[g.name], 0.9);
      g.leaked_share = g.exchanges ? static_cast<double>(g.leaked) / static_cast<double>(g.exchanges) : 0;
      if (r.used_trace) g.until_first_detection = campaign_first[g.name].second;
      r.campaigns++;
      r.campaigns_detected += g.flagged > 0;
      r.campaign_exchanges += g.exchanges;
      r.leaked += g.leaked;
    }
    r.groups.push_back(g);
  }
  uint64_t flagged_total = r.true_positives + r.false_positives;
  r.precision = flagged_total ? static_cast<double>(r.true_positives) / static_cast<double>(flagged_total) : 0;
  r.recall = r.attack_accounts ? static_cast<double>(r.true_positives) / static_cast<double>(r.attack_accounts) : 0;
  r.fpr = r.legit_accounts ? static_cast<double>(r.false_positives) / static_cast<double>(r.legit_accounts) : 0;
  r.fpr_suspicious = r.legit_accounts ? static_cast<double>(r.legit_suspicious) / static_cast<double>(r.legit_accounts) : 0;
  r.leaked_share = r.campaign_exchanges ? static_cast<double>(r.leaked) / static_cast<double>(r.campaign_exchanges) : 0;
  r.until_median = quantile(all_until, 0.5);
  r.until_p90 = quantile(all_until, 0.9);
  return r;
}

namespace {
std::string opt_num(const std::optional<double>& v) {
  if (!v) return "-";
  char b[32];
  std::snprintf(b, sizeof b, "%.0f", *v);
  return b;
}
std::string pct(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.1f%%", v * 100);
  return b;
}
json::value opt_json(const std::optional<double>& v) { return v ? json::value(*v) : json::value(nullptr); }
}  // namespace

std::string format_score_table(const ScoreResult& r) {
  std::string out;
  char line[512];
  std::snprintf(line, sizeof line, "%-26s %-8s %8s %8s %8s %8s %8s %10s %10s %12s %8s %10s\n", "group", "kind",
                "accounts", "attack", "susp", "rate", "susp%", "until_med", "until_p90", "exchanges", "leaked",
                "leaked%");
  out += line;
  for (const auto& g : r.groups) {
    std::snprintf(line, sizeof line, "%-26s %-8s %8llu %8llu %8llu %8s %8s %10s %10s %12llu %8s %10s\n",
                  g.name.substr(0, 26).c_str(), g.campaign ? "campaign" : "persona",
                  static_cast<unsigned long long>(g.accounts), static_cast<unsigned long long>(g.flagged),
                  static_cast<unsigned long long>(g.suspicious), pct(g.rate).c_str(), pct(g.suspicious_rate).c_str(),
                  g.campaign ? opt_num(g.until_median).c_str() : "-", g.campaign ? opt_num(g.until_p90).c_str() : "-",
                  static_cast<unsigned long long>(g.exchanges),
                  g.campaign ? std::to_string(g.leaked).c_str() : "-", g.campaign ? pct(g.leaked_share).c_str() : "-");
    out += line;
  }
  out += "(rate = recall for campaigns, false-positive rate for personas)\n";
  std::snprintf(line, sizeof line,
                "overall: precision %s  recall %s  FPR %s  FPR(suspicious) %s  campaigns detected %llu/%llu\n"
                "         leaked %llu of %llu campaign exchanges (%s)  exchanges until detection: median %s, p90 %s%s\n",
                pct(r.precision).c_str(), pct(r.recall).c_str(), pct(r.fpr).c_str(), pct(r.fpr_suspicious).c_str(),
                static_cast<unsigned long long>(r.campaigns_detected), static_cast<unsigned long long>(r.campaigns),
                static_cast<unsigned long long>(r.leaked), static_cast<unsigned long long>(r.campaign_exchanges),
                pct(r.leaked_share).c_str(), opt_num(r.until_median).c_str(), opt_num(r.until_p90).c_str(),
                r.used_trace ? "" : "\n         (no --trace: exchange counts taken from the report)");
  out += line;
  return out;
}

json::value score_to_json(const ScoreResult& r) {
  json::array personas, campaigns;
  for (const auto& g : r.groups) {
    json::object o;
    o["name"] = g.name;
    o["accounts"] = g.accounts;
    o["flagged"] = g.flagged;
    o["suspicious"] = g.suspicious;
    o["exchanges"] = g.exchanges;
    if (g.campaign) {
      o["recall"] = g.rate;
      o["exchanges_until_detection"] = {{"median", opt_json(g.until_median)}, {"p90", opt_json(g.until_p90)}};
      o["leaked_exchanges"] = g.leaked;
      o["leaked_share"] = g.leaked_share;
      o["campaign_exchanges_until_first_detection"] =
          g.until_first_detection ? json::value(*g.until_first_detection) : json::value(nullptr);
      campaigns.push_back(std::move(o));
    } else {
      o["fpr"] = g.rate;
      o["fpr_suspicious"] = g.suspicious_rate;
      personas.push_back(std::move(o));
    }
  }
  json::object overall;
  overall["legit_accounts"] = r.legit_accounts;
  overall["attack_accounts"] = r.attack_accounts;
  overall["true_positives"] = r.true_positives;
  overall["false_positives"] = r.false_positives;
  overall["precision"] = r.precision;
  overall["recall"] = r.recall;
  overall["fpr"] = r.fpr;
  overall["fpr_suspicious"] = r.fpr_suspicious;
  overall["campaigns"] = r.campaigns;
  overall["campaigns_detected"] = r.campaigns_detected;
  overall["campaign_exchanges"] = r.campaign_exchanges;
  overall["leaked_exchanges"] = r.leaked;
  overall["leaked_share"] = r.leaked_share;
  overall["exchanges_until_detection"] = {{"median", opt_json(r.until_median)}, {"p90", opt_json(r.until_p90)}};
  overall["counts_from"] = r.used_trace ? "trace" : "report";
  return json::object{{"personas", std::move(personas)}, {"campaigns", std::move(campaigns)}, {"overall", std::move(overall)}};
}

}  // namespace dg::distillbench
