#include "defend/evidence.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "audit/audit_log.h"
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
  auto s = build_evidence_bundle(o);
  ASSERT_TRUE(s.ok()) << s.status().to_string();
  EXPECT_EQ(s->entries, 10);
  EXPECT_EQ(s->canaries, 1);
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
  // Even with SHA256SUMS recomputed by a forger, the chain check fails.
  if (have_tools) {
    const std::string forged = "cd " + o.out_dir + " && sha256sum entries.jsonl > /dev/null && python3 check_chain.py . >/dev/null";
    EXPECT_NE(std::system(forged.c_str()), 0);
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
  fs::remove_all(dir);
}

}  // namespace
}  // namespace dg::defend
