#include "defend/evidence.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "audit/audit_log.h"
#include "distillguard/random.h"
#include "engine/analyze.h"
#include "defend/canary.h"
#include "defend/watermark.h"

namespace dg::defend {
namespace {
namespace fs = std::filesystem;

fs::path scratch(const std::string& name) {
  fs::path p = fs::temp_directory_path() / ("dg_evidence_" + std::to_string(::getpid()) + "_" + name);
  fs::remove_all(p);
  fs::create_directories(p);
  return p;
}

void make_log(const std::string& db) {
  auto log = AuditLog::open(db, AuditLogOptions{});
  ASSERT_TRUE(log.ok()) << log.status().to_string();
  const auto key = derive_account_key("master", "thief");
  for (int i = 0; i < 30; ++i) {
    ExchangeRecord r;
    r.ts = (1'700'000'000'000 + i * 60'000) * kNsPerMs;
    r.account = i % 3 == 0 ? "thief" : "honest";
    r.endpoint = "/v1/chat/completions";
    r.request = boost::json::object{{"model", "m"}};
    std::string answer = "It is often useful and usually quick. Perhaps we should proceed rapidly.";
    if (r.account == "thief") answer = watermark_text(SynonymTable::builtin(), key, 1.0, answer);
    r.response = boost::json::object{{"choices", boost::json::array{boost::json::object{{"message", boost::json::object{{"content", answer}}}}}}};
    r.status = 200;
    r.action = i < 15 ? "allow" : "trace";
    r.extra["notes"] = boost::json::array{boost::json::object{{"stage", "policy"}, {"note", "risk 0.9"}}};
    ASSERT_TRUE((*log)->append(r).ok());
  }
  ASSERT_TRUE((*log)->flush().ok());
}

TEST(Evidence, BundleChecksAndBreaksOnOneChangedByte) {
  const fs::path dir = scratch("bundle");
  const std::string db = (dir / "audit.db").string();
  make_log(db);
  const std::string canary_db = (dir / "canary.db").string();
  {
    auto reg = CanaryRegistry::open(canary_db);
    ASSERT_TRUE(reg.ok());
    (*reg)->record({"thief", "list", canary_signature("master", "thief", "list"), 5});
  }
  EvidenceOptions o;
  o.subject = "account:thief";
  o.accounts = {"thief"};
  o.audit_db = db;
  o.out_dir = (dir / "out").string();
  o.canary_db = canary_db;
  o.master_secret = "master";
  // A suspect text carrying the thief's "howto" canary (derived, never planted) and the planted "list" one.
  const std::string suspect = (dir / "suspect.txt").string();
  std::ofstream(suspect) << "Here is a list. " << canary_signature("master", "thief", "list") << " and also "
                         << canary_signature("master", "thief", "howto") << ", "
                         << canary_signature("master", "thief", "howto") << ". Not: "
                         << canary_signature("master", "honest", "list") << "\n";
  o.suspect_files = {suspect};
  auto s = build_evidence_bundle(o);
  ASSERT_TRUE(s.ok()) << s.status().to_string();
  EXPECT_EQ(s->entries, 10);
  EXPECT_EQ(s->canaries, 1);
  EXPECT_EQ(s->canary_hits, 2);  // thief's list and howto; the honest account is not a subject
  {
    std::ifstream in(fs::path(o.out_dir) / "canary_hits.jsonl");
    const std::string hits((std::istreambuf_iterator<char>(in)), {});
    EXPECT_NE(hits.find("\"kind\":\"howto\""), std::string::npos) << hits;
    EXPECT_NE(hits.find("\"occurrences\":2"), std::string::npos) << hits;
    EXPECT_EQ(hits.find("honest"), std::string::npos) << hits;
  }
  auto c = check_evidence_bundle(o.out_dir);
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->ok) << (c->problems.empty() ? "" : c->problems[0]);
  // The bundle's own checks (standard tools only) agree.
  const bool have_tools = std::system("command -v python3 >/dev/null && command -v sha256sum >/dev/null") == 0;
  const std::string check = "cd " + o.out_dir + " && sha256sum --quiet -c SHA256SUMS && python3 check_chain.py . >/dev/null";
  if (have_tools) {
    EXPECT_EQ(std::system(check.c_str()), 0);
  }

  // Flip one byte inside a chained line in entries.jsonl.
  const fs::path entries = fs::path(o.out_dir) / "entries.jsonl";
  std::string data;
  {
    std::ifstream in(entries, std::ios::binary);
    data.assign(std::istreambuf_iterator<char>(in), {});
  }
  const size_t at = data.find("/v1/chat/completions");
  ASSERT_NE(at, std::string::npos);
  data[at + 4] = 'X';
  {
    std::ofstream out(entries, std::ios::binary | std::ios::trunc);
    out << data;
  }
  if (have_tools) {
    EXPECT_NE(std::system(("(" + check + ") >/dev/null 2>&1").c_str()), 0);
  }
  auto broken = check_evidence_bundle(o.out_dir);
  ASSERT_TRUE(broken.ok());
  EXPECT_FALSE(broken->ok);
  bool chain_broke = false, sum_broke = false;
  for (const auto& p : broken->problems) {
    chain_broke |= p.find("hash does not match") != std::string::npos;
    sum_broke |= p.find("sha256 mismatch") != std::string::npos;
  }
  EXPECT_TRUE(chain_broke);
  EXPECT_TRUE(sum_broke);
  // Even with SHA256SUMS recomputed by a forger, the chain check fails.
  if (have_tools) {
    const std::string forge = "cd " + o.out_dir +
                              " && awk '{print $2}' SHA256SUMS | xargs sha256sum > S && mv S SHA256SUMS"
                              " && sha256sum --quiet -c SHA256SUMS";
    ASSERT_EQ(std::system(forge.c_str()), 0);  // the sums now agree with the edited file
    EXPECT_NE(std::system(("cd " + o.out_dir + " && python3 check_chain.py . >/dev/null").c_str()), 0);
  }
  fs::remove_all(dir);
}

// A hydra (accounts sharing one prompt template and client, created in one
// burst) next to human accounts, appended to an audit log in time order.
void make_hydra_log(const std::string& db, const std::string& jsonl) {
  const TimeNs t0 = 1'769'947'200LL * kNsPerSec;
  const std::vector<std::string> topics = {
      "Natalia sold clips to 48 of her friends in April, and half as many in May. How many clips in all?",
      "Write a python function to find the shared elements from two lists.",
      "Compose an engaging travel blog post about a recent trip to Hawaii.",
      "Translate the following sentence into French: The weather is lovely today.",
      "Explain how photosynthesis converts light energy into chemical energy.",
      "Write a JavaScript function that debounces another function.",
      "What is the capital of Australia and why was it chosen?",
      "Solve for x: 3x + 7 = 22. What is the value of x?"};
  Rng rng(5);
  std::vector<ExchangeRecord> recs;
  auto record = [](const std::string& account, TimeNs ts, const std::string& prompt, const std::string& ip,
                   const std::string& ua, double temperature) {
    ExchangeRecord r;
    r.ts = ts;
    r.account = account;
    r.endpoint = "/v1/chat/completions";
    r.ip = ip;
    r.user_agent = ua;
    r.request = boost::json::object{
        {"model", "teacher-1"},
        {"temperature", temperature},
        {"messages", boost::json::array{boost::json::object{{"role", "user"}, {"content", prompt}}}}};
    r.response = boost::json::object{{"usage", boost::json::object{{"prompt_tokens", 40}, {"completion_tokens", 200}}}};
    r.status = 200;
    r.action = "allow";
    return r;
  };
  for (int a = 0; a < 12; ++a) {
    for (int i = 0; i < 25; ++i) {
      const std::string prompt = "You are helping build a dataset. Respond thoroughly and explain every step.\n\n" +
                                 topics[rng.below(topics.size())] + " #" + std::to_string(a * 100 + i) +
                                 "\n\nEnd your answer with a one-line summary of the final result.";
      auto r = record("hydra_" + std::to_string(a), t0 + (a * 25 + i) * 7 * kNsPerSec, prompt,
                      "203.0." + std::to_string(rng.below(250)) + "." + std::to_string(rng.below(250)),
                      "python-requests/2.31", 0.0);
      r.account_created = t0 - 3600 * kNsPerSec + a * 5 * kNsPerSec;
      recs.push_back(std::move(r));
    }
  }
  for (int h = 0; h < 10; ++h) {
    for (int i = 0; i < 10; ++i) {
      recs.push_back(record("human_" + std::to_string(h), t0 + (h * 10 + i) * 31 * kNsPerSec,
                            topics[rng.below(topics.size())], "198.51." + std::to_string(h * 7) + ".9",
                            "Mozilla/5.0 browser " + std::to_string(h), 1.0));
    }
  }
  std::stable_sort(recs.begin(), recs.end(), [](auto& x, auto& y) { return x.ts < y.ts; });
  auto log = AuditLog::open(db, AuditLogOptions{});
  ASSERT_TRUE(log.ok()) << log.status().to_string();
  std::ofstream out(jsonl);
  for (auto& r : recs) {
    out << to_json_line(r) << "\n";
    ASSERT_TRUE((*log)->append(r).ok());
  }
  ASSERT_TRUE((*log)->flush().ok());
}

// --cluster from the audit log alone: the cluster analyze names, by id or by
// any member, and a bundle for it.
TEST(Evidence, FindsTheClusterAnalyzeNamesFromTheAuditLogAlone) {
  const fs::path dir = scratch("cluster");
  const std::string db = (dir / "audit.db").string(), jsonl = (dir / "export.jsonl").string();
  make_hydra_log(db, jsonl);
  // What `analyze` reports over the same records.
  engine::AnalyzeOptions ao;
  ao.inputs = {jsonl};
  auto analyzed = engine::run_analyze(ao);
  ASSERT_TRUE(analyzed.ok()) << analyzed.status().to_string();
  std::string hydra_cluster;
  for (const auto& a : analyzed->report.accounts)
    if (a.account == "hydra_0") hydra_cluster = a.cluster;
  ASSERT_FALSE(hydra_cluster.empty()) << "the engine did not cluster the planted hydra";
  const engine::ClusterReport* expected = nullptr;
  for (const auto& c : analyzed->report.clusters)
    if (c.id == hydra_cluster) expected = &c;
  ASSERT_NE(expected, nullptr);
  EXPECT_GE(expected->accounts.size(), 10u);
  for (const auto& a : expected->accounts) EXPECT_EQ(a.rfind("hydra_", 0), 0u) << a;

  auto by_member = find_cluster(db, "hydra_3");
  ASSERT_TRUE(by_member.ok()) << by_member.status().to_string();
  EXPECT_EQ(by_member->id, expected->id);
  EXPECT_EQ(by_member->accounts, expected->accounts);
  EXPECT_EQ(by_member->verdict, expected->verdict);
  EXPECT_EQ(by_member->records, 400);
  auto by_id = find_cluster(db, expected->id);
  ASSERT_TRUE(by_id.ok()) << by_id.status().to_string();
  EXPECT_EQ(by_id->accounts, expected->accounts);
  std::string loner;  // an account analyze put in no cluster
  for (const auto& a : analyzed->report.accounts)
    if (a.cluster.empty()) loner = a.account;
  ASSERT_FALSE(loner.empty());
  EXPECT_EQ(find_cluster(db, loner).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(find_cluster(db, "c99").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(find_cluster(db, "nobody").status().code(), StatusCode::kNotFound);

  EvidenceOptions o;
  o.subject = "cluster:" + by_id->id;
  o.accounts = by_id->accounts;
  o.cluster = &*by_id;
  o.audit_db = db;
  o.out_dir = (dir / "out").string();
  auto s = build_evidence_bundle(o);
  ASSERT_TRUE(s.ok()) << s.status().to_string();
  EXPECT_EQ(s->entries, static_cast<int64_t>(25 * by_id->accounts.size()));
  EXPECT_NE(std::find(s->files.begin(), s->files.end(), "cluster.json"), s->files.end());
  auto c = check_evidence_bundle(o.out_dir);
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->ok) << (c->problems.empty() ? "" : c->problems[0]);
  std::ifstream cj(fs::path(o.out_dir) / "cluster.json");
  const std::string cluster_json((std::istreambuf_iterator<char>(cj)), {});
  EXPECT_NE(cluster_json.find("\"id\":\"" + by_id->id + "\""), std::string::npos) << cluster_json;
  EXPECT_NE(cluster_json.find("hydra_11"), std::string::npos);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace dg::defend
