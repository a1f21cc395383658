// The analyze report in its three forms. JSON follows spec/analyze-report.md
// exactly (plus input.rejected_lines, an additive field listing the first
// malformed lines); text is a terminal summary; HTML is one self-contained page
// with inline SVG plots and no network fetches.
#include <algorithm>
#include <boost/json.hpp>
#include <cmath>
#include <fmt/format.h>
#include <map>

#include "engine/analyze.h"

namespace dg::engine {
namespace json = boost::json;

namespace {

double r3(double x) { return std::round(x * 1000.0) / 1000.0; }

json::array reasons_json(const std::vector<Reason>& rs) {
  json::array a;
  for (const auto& r : rs)
    a.push_back(json::object{{"signal", r.signal}, {"value", r3(r.value)}, {"weight", r3(r.weight)}, {"detail", r.detail}});
  return a;
}

json::value flagged_json(const std::optional<FirstFlagged>& f) {
  if (!f) return nullptr;
  return json::object{{"ts", format_rfc3339(f->ts)}, {"exchange", f->exchange}};
}

std::string html_escape(std::string_view s) {
  std::string o;
  o.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '<': o += "&lt;"; break;
      case '>': o += "&gt;"; break;
      case '&': o += "&amp;"; break;
      case '"': o += "&quot;"; break;
      default: o += c;
    }
  }
  return o;
}

struct Counts {
  size_t ok = 0, suspicious = 0, attack = 0;
};
Counts count_verdicts(const EngineReport& r) {
  Counts c;
  for (const auto& a : r.accounts) {
    if (a.verdict == Verdict::kAttack) ++c.attack;
    else if (a.verdict == Verdict::kSuspicious) ++c.suspicious;
    else ++c.ok;
  }
  return c;
}

// Accounts ordered by risk (highest first), then name.
std::vector<const AccountReport*> by_risk(const EngineReport& r) {
  std::vector<const AccountReport*> v;
  for (const auto& a : r.accounts) v.push_back(&a);
  std::stable_sort(v.begin(), v.end(), [](auto* x, auto* y) { return x->risk > y->risk; });
  return v;
}

}  // namespace

std::string report_json(const AnalyzeResult& res) {
  json::object input{{"records", res.input.records},
                     {"rejected", res.input.rejected},
                     {"accounts", res.report.accounts.size()},
                     {"from", res.input.records ? json::value(format_rfc3339(res.input.from)) : json::value(nullptr)},
                     {"to", res.input.records ? json::value(format_rfc3339(res.input.to)) : json::value(nullptr)}};
  json::array rej;
  for (const auto& l : res.input.rejected_lines)
    rej.push_back(json::object{{"file", l.file}, {"line", l.line}, {"error", l.error}});
  input["rejected_lines"] = std::move(rej);
  json::array accounts;
  accounts.reserve(res.report.accounts.size());
  for (const auto& a : res.report.accounts) {
    accounts.push_back(json::object{
        {"account", a.account},
        {"verdict", verdict_name(a.verdict)},
        {"risk", r3(a.risk)},
        {"cluster", a.cluster.empty() ? json::value(nullptr) : json::value(a.cluster)},
        {"exchanges", a.exchanges},
        {"first_flagged", flagged_json(a.first_flagged)},
        {"reasons", reasons_json(a.reasons)},
    });
  }
  json::array clusters;
  for (const auto& c : res.report.clusters) {
    json::array members;
    for (const auto& m : c.accounts) members.push_back(json::string(m));
    clusters.push_back(json::object{{"id", c.id},
                                    {"accounts", std::move(members)},
                                    {"risk", r3(c.risk)},
                                    {"verdict", verdict_name(c.verdict)},
                                    {"first_flagged", flagged_json(c.first_flagged)},
                                    {"reasons", reasons_json(c.reasons)}});
  }
  json::object root{{"input", std::move(input)}, {"accounts", std::move(accounts)}, {"clusters", std::move(clusters)}};
  return json::serialize(root) + "\n";
}

std::string report_text(const AnalyzeResult& res) {
  const auto& rep = res.report;
  auto c = count_verdicts(rep);
  std::string o;
  o += fmt::format("distillguard analyze: {} records ({} rejected), {} accounts, {} clusters\n", res.input.records,
                   res.input.rejected, rep.accounts.size(), rep.clusters.size());
  if (res.input.records)
    o += fmt::format("period: {} .. {}\n", format_rfc3339(res.input.from), format_rfc3339(res.input.to));
  o += fmt::format("verdicts: {} attack, {} suspicious, {} ok\n", c.attack, c.suspicious, c.ok);
  for (const auto& l : res.input.rejected_lines) o += fmt::format("rejected: {}:{}: {}\n", l.file, l.line, l.error);
  if (res.input.rejected > res.input.rejected_lines.size())
    o += fmt::format("rejected: ... and {} more\n", res.input.rejected - res.input.rejected_lines.size());

  std::vector<const ClusterReport*> flagged_clusters;
  for (const auto& cl : rep.clusters)
    if (cl.verdict != Verdict::kOk) flagged_clusters.push_back(&cl);
  std::stable_sort(flagged_clusters.begin(), flagged_clusters.end(), [](auto* x, auto* y) { return x->risk > y->risk; });
  if (!flagged_clusters.empty()) o += "\nclusters (flagged):\n";
  size_t shown = 0;
  for (auto* cl : flagged_clusters) {
    if (++shown > 15) {
      o += fmt::format("  ... and {} more\n", flagged_clusters.size() - 15);
      break;
    }
    o += fmt::format("  {:<6} {:<10} risk {:.2f}  {} accounts{}\n", cl->id, verdict_name(cl->verdict), cl->risk,
                     cl->accounts.size(),
                     cl->first_flagged ? "  flagged " + format_rfc3339(cl->first_flagged->ts) : std::string());
    for (size_t i = 0; i < std::min<size_t>(4, cl->reasons.size()); ++i)
      o += fmt::format("           - {}: {}\n", cl->reasons[i].signal, cl->reasons[i].detail);
  }
  o += "\naccounts (flagged, highest risk first):\n";
  shown = 0;
  size_t flagged = c.attack + c.suspicious;
  for (auto* a : by_risk(rep)) {
    if (a->verdict == Verdict::kOk) break;
    if (++shown > 20) {
      o += fmt::format("  ... and {} more\n", flagged - 20);
      break;
    }
    o += fmt::format("  {:<24} {:<10} risk {:.2f}  {} exchanges{}{}\n", a->account, verdict_name(a->verdict), a->risk,
                     a->exchanges, a->cluster.empty() ? "" : "  cluster " + a->cluster,
                     a->first_flagged ? fmt::format("  flagged at exchange {}", a->first_flagged->exchange) : "");
    for (size_t i = 0; i < std::min<size_t>(3, a->reasons.size()); ++i)
      o += fmt::format("      - {}: {}\n", a->reasons[i].signal, a->reasons[i].detail);
  }
  if (flagged == 0) o += "  (none)\n";
  return o;
}

namespace {

// Risk over time for up to 8 series, as an SVG line chart.
std::string svg_risk_over_time(const std::vector<std::pair<std::string, std::vector<RiskPoint>>>& series, TimeNs t0,
                               TimeNs t1) {
  const int W = 760, H = 260, L = 50, B = 30;
  static const char* kColors[] = {"#d62728", "#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"};
  double span = std::max<double>(1, static_cast<double>(t1 - t0));
  std::string s = fmt::format("<svg xmlns='http://www.w3.org/2000/svg' width='{}' height='{}' role='img'>", W, H + 20 * ((series.size() + 1) / 2));
  s += fmt::format("<line x1='{}' y1='{}' x2='{}' y2='{}' stroke='#888'/>", L, H - B, W - 10, H - B);
  s += fmt::format("<line x1='{}' y1='10' x2='{}' y2='{}' stroke='#888'/>", L, L, H - B);
  for (double y : {0.0, 0.5, 1.0}) {
    double py = (H - B) - y * (H - B - 10);
    s += fmt::format("<text x='8' y='{:.0f}' font-size='11'>{:.1f}</text><line x1='{}' y1='{:.0f}' x2='{}' y2='{:.0f}' stroke='#eee'/>", py + 4, y, L, py, W - 10, py);
  }
  s += fmt::format("<text x='{}' y='{}' font-size='11'>{}</text>", L, H - 8, html_escape(format_rfc3339(t0)));
  s += fmt::format("<text x='{}' y='{}' font-size='11' text-anchor='end'>{}</text>", W - 10, H - 8, html_escape(format_rfc3339(t1)));
  for (size_t i = 0; i < series.size(); ++i) {
    std::string pts;
    double last_y = 0;
    for (const auto& p : series[i].second) {
      double x = L + (static_cast<double>(p.ts - t0) / span) * (W - 10 - L);
      double y = (H - B) - p.risk * (H - B - 10);
      if (!pts.empty()) pts += fmt::format("{:.1f},{:.1f} ", x, last_y);  // step
      pts += fmt::format("{:.1f},{:.1f} ", x, y);
      last_y = y;
    }
    pts += fmt::format("{:.1f},{:.1f}", static_cast<double>(W - 10), last_y);
    s += fmt::format("<polyline fill='none' stroke='{}' stroke-width='2' points='{}'/>", kColors[i % 8], pts);
    s += fmt::format("<rect x='{}' y='{}' width='10' height='10' fill='{}'/><text x='{}' y='{}' font-size='12'>{}</text>",
                     L + (i % 2) * 360, H + 4 + 20 * (i / 2), kColors[i % 8], L + 14 + (i % 2) * 360, H + 13 + 20 * (i / 2),
                     html_escape(series[i].first));
  }
  return s + "</svg>";
}

std::string svg_capabilities(const std::string& a_name, const std::array<uint32_t, kCapabilityCount>& a,
                             const std::string& b_name, const std::array<uint32_t, kCapabilityCount>* b) {
  const int W = 760, H = 240, L = 40, B = 60;
  double ta = 0, tb = 0;
  for (int i = 0; i < kCapabilityCount; ++i) {
    ta += a[i];
    if (b) tb += (*b)[i];
  }
  std::string s = fmt::format("<svg xmlns='http://www.w3.org/2000/svg' width='{}' height='{}' role='img'>", W, H + 20);
  double bw = (W - L - 10) / static_cast<double>(kCapabilityCount);
  for (int i = 0; i < kCapabilityCount; ++i) {
    double fa = ta ? a[i] / ta : 0, fb = (b && tb) ? (*b)[i] / tb : 0;
    double x = L + i * bw;
    double ha = fa * (H - B - 10), hb = fb * (H - B - 10);
    s += fmt::format("<rect x='{:.1f}' y='{:.1f}' width='{:.1f}' height='{:.1f}' fill='#d62728'><title>{} {:.0f}%</title></rect>",
                     x + 4, H - B - ha, bw / 2 - 4, ha, capability_name(static_cast<Capability>(i)), fa * 100);
    if (b)
      s += fmt::format("<rect x='{:.1f}' y='{:.1f}' width='{:.1f}' height='{:.1f}' fill='#1f77b4'><title>{} {:.0f}%</title></rect>",
                       x + bw / 2, H - B - hb, bw / 2 - 4, hb, capability_name(static_cast<Capability>(i)), fb * 100);
    s += fmt::format("<text x='{:.1f}' y='{}' font-size='10' transform='rotate(35 {:.1f} {})'>{}</text>", x + 4, H - B + 12,
                     x + 4, H - B + 12, capability_name(static_cast<Capability>(i)));
  }
  s += fmt::format("<line x1='{}' y1='{}' x2='{}' y2='{}' stroke='#888'/>", L, H - B, W - 10, H - B);
  s += fmt::format("<rect x='{}' y='{}' width='10' height='10' fill='#d62728'/><text x='{}' y='{}' font-size='12'>{} (flagged)</text>",
                   L, H + 4, L + 14, H + 13, html_escape(a_name));
  if (b)
    s += fmt::format("<rect x='{}' y='{}' width='10' height='10' fill='#1f77b4'/><text x='{}' y='{}' font-size='12'>{} (ok)</text>",
                     L + 360, H + 4, L + 374, H + 13, html_escape(b_name));
  return s + "</svg>";
}

// An account name cut to `n` characters (UTF-8 safe), with an ellipsis.
std::string truncate_name(std::string_view s, size_t n) {
  if (s.size() <= n) return std::string(s);
  size_t cut = n;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;  // not inside a UTF-8 sequence
  return std::string(s.substr(0, cut)) + "\u2026";
}

const char* verdict_color(Verdict v) {
  return v == Verdict::kAttack ? "#d62728" : v == Verdict::kSuspicious ? "#ff7f0e" : "#2ca02c";
}

std::string svg_cluster_graph(const AnalyzeResult& res) {
  // Up to 6 clusters (attack first, then larger), two per row, each drawn as a
  // ring of its first kRing members with the sampled links between them.
  // Nodes are coloured by the account's verdict and labelled with its name
  // (truncated; the full name is the node's tooltip).
  constexpr size_t kRing = 32, kNameChars = 14;
  const auto& rep = res.report;
  std::vector<const ClusterReport*> cl;
  for (const auto& c : rep.clusters) cl.push_back(&c);
  std::stable_sort(cl.begin(), cl.end(), [](auto* x, auto* y) {
    if ((x->verdict == Verdict::kAttack) != (y->verdict == Verdict::kAttack)) return x->verdict == Verdict::kAttack;
    return x->accounts.size() > y->accounts.size();
  });
  if (cl.size() > 6) cl.resize(6);
  std::map<std::string_view, const AccountReport*> by_name;
  for (const auto& a : rep.accounts) by_name[a.account] = &a;
  const int W = 760, cell_w = 380, cell_h = 360;
  const double radius = 95;
  int rows = static_cast<int>((cl.size() + 1) / 2);
  std::string s = fmt::format("<svg xmlns='http://www.w3.org/2000/svg' width='{}' height='{}' role='img' font-family='sans-serif'>",
                              W, std::max(1, rows) * cell_h);
  struct Node {
    double x, y, angle;
    const AccountReport* acc;
  };
  std::map<std::string_view, Node> pos;
  for (size_t k = 0; k < cl.size(); ++k) {
    double cx = cell_w / 2.0 + static_cast<double>(k % 2) * cell_w, cy = 165 + static_cast<double>(k / 2) * cell_h;
    size_t m = std::min(kRing, cl[k]->accounts.size());
    for (size_t i = 0; i < m; ++i) {
      double ang = 2 * M_PI * static_cast<double>(i) / static_cast<double>(m) - M_PI / 2;
      const std::string& name = cl[k]->accounts[i];
      auto it = by_name.find(name);
      pos[name] = {cx + radius * std::cos(ang), cy + radius * std::sin(ang), ang, it == by_name.end() ? nullptr : it->second};
    }
    std::string more = cl[k]->accounts.size() > m ? fmt::format(", {} drawn", m) : "";
    s += fmt::format("<text x='{:.0f}' y='{:.0f}' font-size='12' text-anchor='middle' font-weight='bold'>{} &#8212; {} accounts, "
                     "{} (risk {:.2f}){}</text>",
                     cx, cy + radius + 85, html_escape(cl[k]->id), cl[k]->accounts.size(), verdict_name(cl[k]->verdict),
                     cl[k]->risk, more);
  }
  for (const auto& e : rep.edges) {
    auto ia = pos.find(rep.accounts[e.a].account), ib = pos.find(rep.accounts[e.b].account);
    if (ia == pos.end() || ib == pos.end()) continue;
    const char* col = (e.kinds & kLinkTemplate) ? "#d62728" : (e.kinds & kLinkAddressBlock) ? "#1f77b4" : "#999";
    s += fmt::format("<line x1='{:.1f}' y1='{:.1f}' x2='{:.1f}' y2='{:.1f}' stroke='{}' stroke-opacity='0.5'/>",
                     ia->second.x, ia->second.y, ib->second.x, ib->second.y, col);
  }
  for (const auto& [name, n] : pos) {
    Verdict v = n.acc ? n.acc->verdict : Verdict::kOk;
    s += fmt::format("<circle cx='{:.1f}' cy='{:.1f}' r='4.5' fill='{}' stroke='#333' stroke-width='0.5'><title>{} ({}{})</title></circle>",
                     n.x, n.y, verdict_color(v), html_escape(name), verdict_name(v),
                     n.acc ? fmt::format(", risk {:.2f}, {} exchanges", n.acc->risk, n.acc->exchanges) : "");
    // The label runs outward along the ring's radius; on the left half it is
    // turned the other way so that it never reads upside down.
    double deg = n.angle * 180 / M_PI;
    bool left = std::cos(n.angle) < 0;
    double lx = n.x + 7 * std::cos(n.angle), ly = n.y + 7 * std::sin(n.angle);
    s += fmt::format("<text class='node' x='{:.1f}' y='{:.1f}' font-size='9' dominant-baseline='middle' text-anchor='{}' "
                     "transform='rotate({:.1f} {:.1f} {:.1f})'>{}</text>",
                     lx, ly, left ? "end" : "start", left ? deg + 180 : deg, lx, ly,
                     html_escape(truncate_name(name, kNameChars)));
  }
  return s + "</svg>";
}

}  // namespace

std::string report_html(const AnalyzeResult& res) {
  const auto& rep = res.report;
  auto c = count_verdicts(rep);
  std::string o =
      "<!DOCTYPE html><html><head><meta charset='utf-8'><title>distillguard analyze report</title><style>"
      "body{font-family:system-ui,sans-serif;margin:24px;color:#222}table{border-collapse:collapse;font-size:13px}"
      "td,th{border-bottom:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}"
      ".attack{color:#b00;font-weight:bold}.suspicious{color:#b60}.ok{color:#070}h2{margin-top:32px}"
      "ul{margin:0;padding-left:16px}</style></head><body>";
  o += "<h1>distillguard analyze report</h1>";
  o += fmt::format("<p>{} records ({} rejected), {} accounts, {} clusters; {} .. {}</p>", res.input.records,
                   res.input.rejected, rep.accounts.size(), rep.clusters.size(),
                   res.input.records ? format_rfc3339(res.input.from) : "-", res.input.records ? format_rfc3339(res.input.to) : "-");
  o += fmt::format("<p>Verdicts: <span class='attack'>{} attack</span>, <span class='suspicious'>{} suspicious</span>, "
                   "<span class='ok'>{} ok</span></p>", c.attack, c.suspicious, c.ok);
  if (!res.input.rejected_lines.empty()) {
    o += "<h2>Rejected lines</h2><ul>";
    for (const auto& l : res.input.rejected_lines)
      o += fmt::format("<li>{}:{}: {}</li>", html_escape(l.file), l.line, html_escape(l.error));
    o += "</ul>";
  }
  // Risk over time: flagged clusters, then flagged accounts outside clusters.
  std::vector<std::pair<std::string, std::vector<RiskPoint>>> series;
  for (const auto& cl : rep.clusters)
    if (cl.verdict != Verdict::kOk && series.size() < 4) series.push_back({"cluster " + cl.id, cl.history});
  auto ranked = by_risk(rep);
  for (auto* a : ranked) {
    if (series.size() >= 8 || a->verdict == Verdict::kOk) break;
    if (a->cluster.empty()) series.push_back({a->account, a->history});
  }
  if (!series.empty()) {
    o += "<h2>Risk over time</h2>";
    o += svg_risk_over_time(series, res.input.from, std::max(res.input.to, res.input.from + 1));
  }
  if (!rep.clusters.empty()) {
    o += "<h2>Cluster graph</h2><p>Links: red = shared templates, blue = shared address block, grey = other evidence "
         "(a bounded sample of the links). Accounts: red = attack, orange = suspicious, green = ok; hover a node for "
         "its full name.</p>";
    o += svg_cluster_graph(res);
  }
  const AccountReport* flagged = nullptr;
  const AccountReport* legit = nullptr;
  for (auto* a : ranked)
    if (!flagged && a->verdict == Verdict::kAttack) flagged = a;
  for (auto it = ranked.rbegin(); it != ranked.rend(); ++it)
    if ((*it)->verdict == Verdict::kOk && (!legit || (*it)->exchanges > legit->exchanges)) legit = *it;
  if (flagged) {
    o += "<h2>Capability areas: a flagged account next to a legitimate one</h2>";
    o += svg_capabilities(flagged->account, flagged->capabilities, legit ? legit->account : "", legit ? &legit->capabilities : nullptr);
  }
  o += "<h2>Clusters</h2><table><tr><th>id</th><th>verdict</th><th>risk</th><th>accounts</th><th>reasons</th></tr>";
  for (const auto& cl : rep.clusters) {
    o += fmt::format("<tr><td>{}</td><td class='{}'>{}</td><td>{:.2f}</td><td>{}</td><td><ul>", cl.id, verdict_name(cl.verdict),
                     verdict_name(cl.verdict), cl.risk, cl.accounts.size());
    for (const auto& r : cl.reasons) o += fmt::format("<li><b>{}</b>: {}</li>", html_escape(r.signal), html_escape(r.detail));
    o += "</ul></td></tr>";
  }
  o += "</table><h2>Accounts</h2><table><tr><th>account</th><th>verdict</th><th>risk</th><th>cluster</th><th>exchanges</th>"
       "<th>first flagged</th><th>reasons</th></tr>";
  size_t shown = 0;
  for (auto* a : ranked) {
    if (++shown > 2000) break;
    o += fmt::format("<tr><td>{}</td><td class='{}'>{}</td><td>{:.2f}</td><td>{}</td><td>{}</td><td>{}</td><td><ul>",
                     html_escape(a->account), verdict_name(a->verdict), verdict_name(a->verdict), a->risk,
                     html_escape(a->cluster), a->exchanges,
                     a->first_flagged ? fmt::format("{} (#{})", format_rfc3339(a->first_flagged->ts), a->first_flagged->exchange) : "");
    for (const auto& r : a->reasons) o += fmt::format("<li><b>{}</b>: {}</li>", html_escape(r.signal), html_escape(r.detail));
    o += "</ul></td></tr>";
  }
  o += "</table>";
  if (rep.accounts.size() > 2000) o += fmt::format("<p>... {} more accounts in the JSON report.</p>", rep.accounts.size() - 2000);
  o += "</body></html>\n";
  return o;
}

}  // namespace dg::engine
