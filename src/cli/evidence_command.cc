// distillguard evidence: writes a self-checking evidence bundle for an account
// or a cluster (see src/defend/evidence.h for the layout). A cluster is found
// from the audit log alone (defend::find_cluster: the engine replays the log as
// `audit export | analyze` does): give its id from that report or any member.
#include <CLI/CLI.hpp>
#include <cstdio>

#include "cli/commands.h"
#include "config/config.h"
#include "defend/evidence.h"
#include "defend/verify.h"
#include "engine/analyze.h"

namespace dg::cli {
namespace {

int run_evidence(int argc, char** argv) {
  CLI::App app{"Write an evidence bundle for an account or a cluster"};
  std::string account, cluster, out, audit_db, canary_db, master_file, config_path;
  std::vector<std::string> suspects;
  int context = 3;
  auto* a = app.add_option("--account", account, "the account");
  auto* c = app.add_option("--cluster", cluster,
                           "a cluster: its id in `audit export | analyze`'s report (e.g. c3) or any member account");
  a->excludes(c);
  app.add_option("--out", out, "output directory")->required();
  app.add_option("--config", config_path, "config file (audit/storage paths, [engine] settings)");
  app.add_option("--audit-db", audit_db, "audit log SQLite file (default: from --config)");
  app.add_option("--canary-db", canary_db, "canary registry SQLite file (default: storage.sqlite_path)");
  app.add_option("--master-key-file", master_file, "master secret for watermark results (or $DG_WATERMARK_MASTER_KEY)");
  app.add_option("--suspect", suspects, "text file(s) from a suspect model to test");
  app.add_option("--context", context, "audit entries either side of each subject entry (default 3)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (account.empty() && cluster.empty()) return std::fprintf(stderr, "evidence: give --account or --cluster\n"), 2;
  engine::EngineConfig engine_config;
  if (!config_path.empty()) {
    auto cfg = load_config_file(config_path);
    if (!cfg.ok()) return std::fprintf(stderr, "evidence: %s\n", cfg.status().to_string().c_str()), 2;
    if (audit_db.empty()) audit_db = cfg->audit.effective_sqlite_path(cfg->storage);
    if (canary_db.empty()) canary_db = cfg->storage.sqlite_path;
    auto ec = engine::engine_config_from(*cfg);
    if (!ec.ok()) return std::fprintf(stderr, "evidence: %s\n", ec.status().to_string().c_str()), 2;
    engine_config = *ec;
  }
  if (audit_db.empty()) return std::fprintf(stderr, "evidence: give --audit-db or --config\n"), 2;
  defend::EvidenceOptions o;
  defend::ClusterMembers members;
  if (!account.empty()) {
    o.subject = "account:" + account;
    o.accounts = {account};
  } else {
    auto m = defend::find_cluster(audit_db, cluster, engine_config);
    if (!m.ok()) return std::fprintf(stderr, "evidence: %s\n", m.status().to_string().c_str()), 1;
    members = std::move(m).value();
    o.subject = "cluster:" + members.id;
    o.accounts = members.accounts;
    o.cluster = &members;
    std::string list;
    for (const auto& x : members.accounts) list += (list.empty() ? "" : ", ") + x;
    std::printf("cluster %s (%s, risk %.2f): %zu accounts: %s\n", members.id.c_str(),
                engine::verdict_name(members.verdict), members.risk, members.accounts.size(), list.c_str());
  }
  o.audit_db = audit_db;
  o.canary_db = canary_db;
  o.out_dir = out;
  o.context = context;
  o.suspect_files = suspects;
  if (auto s = defend::load_master_secret(master_file); s.ok()) o.master_secret = *s;
  auto r = defend::build_evidence_bundle(o);
  if (!r.ok()) return std::fprintf(stderr, "evidence: %s\n", r.status().to_string().c_str()), 1;
  std::printf("evidence bundle for %s in %s: %lld entries, %lld chain rows, %lld canaries planted, %lld canary hits "
              "in suspect texts\n",
              o.subject.c_str(), out.c_str(), static_cast<long long>(r->entries), static_cast<long long>(r->chain_rows),
              static_cast<long long>(r->canaries), static_cast<long long>(r->canary_hits));
  std::printf("check it: (cd %s && sha256sum -c SHA256SUMS && python3 check_chain.py .)\n", out.c_str());
  return 0;
}

}  // namespace

Command dg_command_evidence() { return {"evidence", run_evidence, "write an evidence bundle for an account or cluster"}; }

}  // namespace dg::cli
