#include "defend/evidence.h"

#include <fmt/format.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <tuple>

#include "audit/audit_log.h"
#include "common/hash.h"
#include "defend/canary.h"
#include "defend/verify.h"
#include "distillguard/exchange_record.h"

namespace dg::defend {
namespace json = boost::json;
namespace fs = std::filesystem;

namespace {

constexpr const char* kCheckScript = R"PY(#!/usr/bin/env python3
"""Checks an evidence bundle with the Python standard library only.
Usage: python3 check_chain.py [BUNDLE_DIR]   (exit 0 = intact)"""
import hashlib, json, os, sys

d = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
bad = []
# 1. every file matches SHA256SUMS
for line in open(os.path.join(d, "SHA256SUMS")):
    digest, name = line.rstrip("\n").split("  ", 1)
    with open(os.path.join(d, name), "rb") as f:
        if hashlib.sha256(f.read()).hexdigest() != digest:
            bad.append(f"{name}: sha256 mismatch")
# 2. each entry's hash = sha256(unhex(prev_hash) || line)
chain = {}
for row in open(os.path.join(d, "chain.tsv")):
    if row.startswith("seq"):
        continue
    seq, prev, h, subj = row.rstrip("\n").split("\t")
    chain[int(seq)] = (prev, h)
for line in open(os.path.join(d, "entries.jsonl"), encoding="utf-8"):
    e = json.loads(line)
    h = hashlib.sha256(bytes.fromhex(e["prev_hash"]) + e["line"].encode("utf-8")).hexdigest()
    if h != e["hash"]:
        bad.append(f"entry seq {e['seq']}: hash does not match its line")
    if chain.get(e["seq"]) != (e["prev_hash"], e["hash"]):
        bad.append(f"entry seq {e['seq']}: not the entry in chain.tsv")
# 3. consecutive rows of chain.tsv link up
for seq, (prev, h) in chain.items():
    if seq - 1 in chain and chain[seq - 1][1] != prev:
        bad.append(f"chain seq {seq}: prev_hash is not the hash of seq {seq - 1}")
for b in bad[:20]:
    print("BROKEN:", b)
print("intact" if not bad else f"{len(bad)} problem(s)")
sys.exit(1 if bad else 0)
)PY";

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Status write_file(const fs::path& p, const std::string& data) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  if (!out) return unavailable("cannot write " + p.string());
  out << data;
  return out.good() ? Status() : unavailable("write failed: " + p.string());
}

std::string day_of(TimeNs t) { return format_rfc3339(t).substr(0, 10); }

}  // namespace

Result<ClusterMembers> find_cluster(const std::string& audit_db, std::string_view wanted,
                                    const engine::EngineConfig& config) {
  engine::Engine eng(config);
  ClusterMembers m;
  DG_RETURN_IF_ERROR(read_audit_entries(audit_db, 0, 0, "", [&](const AuditEntry& e) {
    m.last_seq = e.seq;
    auto r = parse_exchange_record(e.line);
    if (!r.ok()) return true;  // analyze would reject the line too
    eng.observe(*r);
    ++m.records;
    return true;
  }));
  const engine::EngineReport rep = eng.report();
  const engine::ClusterReport* found = nullptr;
  for (const auto& c : rep.clusters)
    if (c.id == wanted) found = &c;
  if (!found) {
    const engine::AccountReport* acct = nullptr;
    for (const auto& a : rep.accounts)
      if (a.account == wanted) acct = &a;
    if (!acct) {
      return not_found(fmt::format(
          "no cluster '{}' and no account of that name in the audit log ({} records, {} clusters)",
          wanted, m.records, rep.clusters.size()));
    }
    if (acct->cluster.empty())
      return not_found(fmt::format("account '{}' is in no cluster", wanted));
    for (const auto& c : rep.clusters)
      if (c.id == acct->cluster) found = &c;
    if (!found)
      return internal_error("cluster " + acct->cluster + " of " + std::string(wanted) +
                            " not in the report");
  }
  m.id = found->id;
  m.accounts = found->accounts;
  m.verdict = found->verdict;
  m.risk = found->risk;
  m.reasons = found->reasons;
  return m;
}

Result<EvidenceSummary> build_evidence_bundle(const EvidenceOptions& opt) {
  std::error_code ec;
  fs::create_directories(opt.out_dir, ec);
  if (ec) return unavailable("cannot create " + opt.out_dir + ": " + ec.message());
  const fs::path dir(opt.out_dir);
  const std::set<std::string> subject(opt.accounts.begin(), opt.accounts.end());
  EvidenceSummary sum;

  // Pass 1: the subject's entries (and the chain head).
  std::vector<AuditEntry> mine;
  int64_t head_seq = 0;
  std::string head_hash;
  DG_RETURN_IF_ERROR(read_audit_entries(opt.audit_db, 0, 0, "", [&](const AuditEntry& e) {
    head_seq = e.seq;
    head_hash = e.hash;
    if (subject.count(e.account)) mine.push_back(e);
    return true;
  }));
  // Ranges of chain rows to include.
  std::vector<std::pair<int64_t, int64_t>> ranges;
  for (const auto& e : mine) {
    const int64_t lo = std::max<int64_t>(1, e.seq - opt.context),
                  hi = std::min(head_seq, e.seq + opt.context);
    if (!ranges.empty() && lo <= ranges.back().second + 1) {
      ranges.back().second = std::max(ranges.back().second, hi);
    } else {
      ranges.emplace_back(lo, hi);
    }
  }
  std::string chain = "seq\tprev_hash\thash\tsubject\n";
  size_t ri = 0;
  DG_RETURN_IF_ERROR(read_audit_entries(opt.audit_db, 0, 0, "", [&](const AuditEntry& e) {
    while (ri < ranges.size() && e.seq > ranges[ri].second) ++ri;
    if (ri == ranges.size()) return false;
    if (e.seq >= ranges[ri].first) {
      chain += fmt::format("{}\t{}\t{}\t{}\n", e.seq, e.prev_hash, e.hash,
                           subject.count(e.account) ? 1 : 0);
      ++sum.chain_rows;
    }
    return true;
  }));

  std::string entries, decisions;
  std::map<std::string, std::map<std::string, int>> per_day;  // day -> action -> count
  std::string timeline_changes;
  std::map<std::string, std::string> last_action;
  std::map<std::string, std::string> received;  // account -> concatenated responses
  TimeNs first = 0, last = 0;
  for (const auto& e : mine) {
    entries += json::serialize(json::object{{"seq", e.seq},
                                            {"ts", format_rfc3339(e.ts)},
                                            {"account", e.account},
                                            {"prev_hash", e.prev_hash},
                                            {"hash", e.hash},
                                            {"line", e.line}}) +
               "\n";
    boost::system::error_code jec;
    auto v = json::parse(e.line, jec);
    json::object rec = (!jec && v.is_object()) ? v.as_object() : json::object{};
    const std::string action = rec.contains("action") && rec["action"].is_string()
                                   ? rec["action"].as_string().c_str()
                                   : "allow";
    json::object d{
        {"seq", e.seq}, {"ts", format_rfc3339(e.ts)}, {"account", e.account}, {"action", action}};
    if (rec.contains("status")) d["status"] = rec["status"];
    if (rec.contains("endpoint")) d["endpoint"] = rec["endpoint"];
    if (rec.contains("notes")) d["reasons"] = rec["notes"];
    decisions += json::serialize(d) + "\n";
    per_day[day_of(e.ts)][action]++;
    if (last_action[e.account] != action) {
      timeline_changes += fmt::format(
          "| {} | {} | {} → {} | seq {} |\n", format_rfc3339(e.ts), e.account,
          last_action[e.account].empty() ? "(first)" : last_action[e.account], action, e.seq);
      last_action[e.account] = action;
    }
    if (std::string t = record_response_text(rec); !t.empty()) {
      std::string& all = received[e.account];
      all += t;
      all += "\n\n";
    }
    if (first == 0) first = e.ts;
    last = e.ts;
  }
  sum.entries = static_cast<int64_t>(mine.size());

  std::string timeline =
      fmt::format("# Timeline — {}\n\nAccounts: {}\n\nExchanges: {}  first: {}  last: {}\n\n",
                  opt.subject, fmt::join(opt.accounts, ", "), mine.size(),
                  first ? format_rfc3339(first) : "-", last ? format_rfc3339(last) : "-");
  timeline += "## Exchanges per day and action\n\n| day | actions |\n|---|---|\n";
  for (const auto& [day, acts] : per_day) {
    std::string s;
    for (const auto& [a, n] : acts) s += fmt::format("{} {}  ", a, n);
    timeline += fmt::format("| {} | {} |\n", day, s);
  }
  timeline +=
      "\n## Action changes\n\n| time | account | change | audit entry |\n|---|---|---|---|\n" +
      timeline_changes;

  std::string canaries;
  // Signatures to look for in suspect texts: planted ones (registry) and, with
  // the master secret, every kind's signature of every subject account.
  std::set<std::tuple<std::string, std::string, std::string>> sigs;  // account, kind, signature
  if (!opt.canary_db.empty()) {
    DG_ASSIGN_OR_RETURN(auto reg, CanaryRegistry::open(opt.canary_db));
    for (const auto& a : opt.accounts) {
      DG_ASSIGN_OR_RETURN(auto rows, reg->list(a));
      for (const auto& r : rows) {
        canaries += json::serialize(json::object{{"account", r.account},
                                                 {"kind", r.kind},
                                                 {"signature", r.signature},
                                                 {"first_planted", format_rfc3339(r.first)},
                                                 {"last_planted", format_rfc3339(r.last)},
                                                 {"count", r.count}}) +
                    "\n";
        ++sum.canaries;
        sigs.emplace(r.account, r.kind, r.signature);
      }
    }
  }
  if (!opt.master_secret.empty()) {
    for (const auto& a : opt.accounts)
      for (const auto& k : canary_kinds())
        sigs.emplace(a, k, canary_signature(opt.master_secret, a, k));
  }
  std::string canary_hits;
  for (const auto& f : opt.suspect_files) {
    const std::string text = read_file(f);
    const double chance = canary_chance(sigs.size(), 1, text.size());
    for (const auto& [account, kind, signature] : sigs) {
      size_t n = 0;
      for (size_t at = text.find(signature); at != std::string::npos;
           at = text.find(signature, at + 1))
        ++n;
      if (n == 0) continue;
      canary_hits += json::serialize(json::object{{"file", fs::path(f).filename().string()},
                                                  {"account", account},
                                                  {"kind", kind},
                                                  {"signature", signature},
                                                  {"occurrences", n},
                                                  {"signatures_searched", sigs.size()},
                                                  {"chance_bound", chance}}) +
                     "\n";
      ++sum.canary_hits;
    }
  }

  json::object wm{
      {"null_hypothesis",
       "the text was not written under the account's key: each distinct (context, synonym group) "
       "position is green with probability 1/k independently"}};
  if (!opt.master_secret.empty()) {
    VerifyOptions vo;
    for (const auto& a : opt.accounts)
      vo.keys.push_back({a, derive_account_key(opt.master_secret, a)});
    json::array rec_results;
    for (const auto& [acct, text] : received) {
      VerifyOptions one = vo;
      one.account = acct;
      auto r = verify_text(SynonymTable::builtin(), text, one);
      rec_results.push_back(json::object{{"account", acct},
                                         {"what", "responses the account received"},
                                         {"positions", r.positions},
                                         {"score", r.score},
                                         {"p_value", r.p_value}});
    }
    wm["received"] = rec_results;
    json::array sus;
    for (const auto& f : opt.suspect_files) {
      auto r = verify_text(SynonymTable::builtin(), read_file(f), vo);
      sus.push_back(json::object{
          {"file", fs::path(f).filename().string()},
          {"positions", r.positions},
          {"score", r.score},
          {"account", r.account.empty() ? json::value(nullptr) : json::value(r.account)},
          {"account_p_value", r.account_p_value},
          {"keys_tested", vo.keys.size()}});
    }
    wm["suspect_texts"] = sus;
  } else {
    wm["note"] = "no master key given: watermark results not computed";
  }

  const std::string readme = fmt::format(
      R"(# Evidence bundle — {subject}

Produced by `distillguard evidence` at audit-chain head seq {head_seq}. Accounts: {accounts}.
{entries} audit-log entries of the subject are included.

## Files
- `entries.jsonl` — the subject's audit-log entries: `seq`, `ts`, `account`, `prev_hash`, `hash`,
  and `line`, the exchange record exactly as it was chained (spec: exchange-log).
- `chain.tsv` — `seq, prev_hash, hash, subject` for the audit entries around each subject entry
  ({context} either side). Other accounts' contents are withheld; their hashes are not.
- `decisions.jsonl` — per exchange: time, action taken (allow/throttle/degrade/trace/block), status, and the
  reasons each stage noted.
- `timeline.md` — first/last seen, exchanges per day and action, every change of action.
- `canaries.jsonl` — canary signatures planted in answers to the subject (registry), with times.
- `canary_hits.jsonl` — the subject's canary signatures found in the suspect texts given, with the
  chance of any such hit by accident (union bound: signatures × text length / 70^6).
- `watermark.json` — watermark tests (null hypothesis stated inside).
- `head.txt` — the chain head at export time; compare it with a head published or anchored earlier.
- `check_chain.py` — the integrity check below, Python standard library only.
- `cluster.json` — (cluster bundles) how the cluster's membership was found, and the detection
  engine's verdict, risk and reasons for it.

## How to check integrity (no distillguard needed)
1. Files unchanged: `sha256sum -c SHA256SUMS`
2. Chain: every audit entry commits to the one before it:
   `hash = hex(SHA-256(unhex(prev_hash) || line))`. Check one entry by hand:
   ```sh
   python3 -c 'import json,hashlib,sys; e=json.loads(sys.stdin.readline()); \
   print(hashlib.sha256(bytes.fromhex(e["prev_hash"])+e["line"].encode()).hexdigest()==e["hash"])' < entries.jsonl
   ```
   or all of them, plus the links in `chain.tsv`: `python3 check_chain.py .` (prints `intact`).
3. Any edited, deleted or reordered byte in an entry breaks its hash or the link to its neighbours.
)",
      fmt::arg("subject", opt.subject), fmt::arg("head_seq", head_seq),
      fmt::arg("accounts", fmt::join(opt.accounts, ", ")), fmt::arg("entries", mine.size()),
      fmt::arg("context", opt.context));

  const std::vector<std::pair<std::string, std::string>> files = {
      {"README.md", readme},
      {"entries.jsonl", entries},
      {"chain.tsv", chain},
      {"decisions.jsonl", decisions},
      {"timeline.md", timeline},
      {"canaries.jsonl", canaries},
      {"canary_hits.jsonl", canary_hits},
      {"watermark.json", json::serialize(wm) + "\n"},
      {"head.txt", fmt::format("{}\t{}\n", head_seq, head_hash)},
      {"check_chain.py", kCheckScript},
  };
  std::vector<std::pair<std::string, std::string>> all = files;
  if (opt.cluster) {
    const ClusterMembers& c = *opt.cluster;
    json::array reasons;
    for (const auto& r : c.reasons)
      reasons.push_back(json::object{
          {"signal", r.signal}, {"value", r.value}, {"weight", r.weight}, {"detail", r.detail}});
    json::object cj{
        {"id", c.id},
        {"accounts", json::value_from(c.accounts)},
        {"verdict", engine::verdict_name(c.verdict)},
        {"risk", c.risk},
        {"reasons", reasons},
        {"how_found",
         fmt::format(
             "the detection engine replayed the audit log's {} exchange records (chain seq 1..{}) "
             "in chain order, as `distillguard audit export | distillguard analyze --input -` "
             "does; "
             "this is cluster {} of that replay's report",
             c.records, c.last_seq, c.id)}};
    all.emplace_back("cluster.json", json::serialize(cj) + "\n");
  }
  std::string sums;
  for (const auto& [name, data] : all) {
    DG_RETURN_IF_ERROR(write_file(dir / name, data));
    sums += sha256_hex(data) + "  " + name + "\n";
    sum.files.push_back(name);
  }
  DG_RETURN_IF_ERROR(write_file(dir / "SHA256SUMS", sums));
  sum.files.push_back("SHA256SUMS");
  return sum;
}

Result<BundleCheck> check_evidence_bundle(const std::string& dir_s) {
  const fs::path dir(dir_s);
  BundleCheck c;
  std::ifstream sums(dir / "SHA256SUMS");
  if (!sums) return not_found("no SHA256SUMS in " + dir_s);
  std::string line;
  while (std::getline(sums, line)) {
    const size_t sp = line.find("  ");
    if (sp == std::string::npos) continue;
    const std::string name = line.substr(sp + 2);
    if (sha256_hex(read_file(dir / name)) != line.substr(0, sp))
      c.problems.push_back(name + ": sha256 mismatch");
  }
  std::map<int64_t, std::pair<std::string, std::string>> chain;
  std::ifstream ct(dir / "chain.tsv");
  while (std::getline(ct, line)) {
    if (line.rfind("seq", 0) == 0) continue;
    std::istringstream ls(line);
    int64_t seq = 0;
    std::string prev, h;
    ls >> seq >> prev >> h;
    chain[seq] = {prev, h};
  }
  std::ifstream en(dir / "entries.jsonl");
  while (std::getline(en, line)) {
    boost::system::error_code jec;
    auto v = json::parse(line, jec);
    if (jec || !v.is_object()) {
      c.problems.push_back("entries.jsonl: unparsable line");
      continue;
    }
    const auto& o = v.as_object();
    const int64_t seq = o.at("seq").as_int64();
    const std::string prev(o.at("prev_hash").as_string().c_str()),
        h(o.at("hash").as_string().c_str());
    if (chain_hash(prev, std::string_view(o.at("line").as_string().data(),
                                          o.at("line").as_string().size())) != h) {
      c.problems.push_back(fmt::format("entry seq {}: hash does not match its line", seq));
    }
    auto it = chain.find(seq);
    if (it == chain.end() || it->second != std::make_pair(prev, h)) {
      c.problems.push_back(fmt::format("entry seq {}: not the entry in chain.tsv", seq));
    }
  }
  for (const auto& [seq, ph] : chain) {
    auto it = chain.find(seq - 1);
    if (it != chain.end() && it->second.second != ph.first) {
      c.problems.push_back(
          fmt::format("chain seq {}: prev_hash is not the hash of seq {}", seq, seq - 1));
    }
  }
  c.ok = c.problems.empty();
  return c;
}

}  // namespace dg::defend
