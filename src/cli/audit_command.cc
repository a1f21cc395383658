// distillguard audit verify | tail [-n N] | export [--account A] [--after SEQ] [--out FILE]
//                    | append [FILE]        [--config FILE | --db PATH]
// verify checks the whole hash chain and names the first broken entry (exit 1).
// export writes exchange records as JSON Lines (spec/exchange-log.md), the
// input of analyze and evidence. append imports exchange records into the log.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <iostream>

#include "audit/audit_log.h"
#include "cli/command_support.h"
#include "cli/commands.h"
#include "config/locate.h"

namespace dg::cli {
namespace {

int run_audit(int argc, char** argv) {
  CLI::App app("The hash-chained audit log", "distillguard audit");
  app.require_subcommand(1);
  app.fallthrough();  // --config/--db may follow the subcommand
  std::string config_file, db_path, account, out_path, in_path = "-";
  int64_t n = 10, after = 0;
  app.add_option("--config", config_file, "config file (finds the audit database)");
  app.add_option("--db", db_path, "audit SQLite database (overrides the config)");
  auto* verify = app.add_subcommand("verify", "check the whole chain; exit 1 if broken");
  auto* tail = app.add_subcommand("tail", "print the last records");
  tail->add_option("-n", n, "how many (default 10)");
  auto* exp = app.add_subcommand("export", "write records as JSON Lines");
  exp->add_option("--account", account, "only this account");
  exp->add_option("--after", after, "only entries after this seq");
  exp->add_option("--out", out_path, "output file (default stdout)");
  auto* append = app.add_subcommand("append", "import exchange records (JSONL) into the log");
  append->add_option("file", in_path, "JSONL file, - for stdin");
  if (auto rc = parse_args(app, argc, argv)) return *rc;
  auto loc = locate_store(config_file, "");
  if (!loc.ok()) return fail("audit", loc.status());
  const std::string db = db_path.empty() ? loc->audit_db : db_path;

  if (verify->parsed()) {
    auto r = verify_audit_chain(db);
    if (!r.ok()) return fail("audit", r.status());
    if (r->first_bad_seq != 0) {
      std::printf("BROKEN at seq %lld: %s (%lld entries read)\n",
                  static_cast<long long>(r->first_bad_seq), r->reason.c_str(),
                  static_cast<long long>(r->entries));
      return 1;
    }
    std::printf("ok: %lld entries, chain intact, head %s\n", static_cast<long long>(r->entries),
                r->head_hash.empty() ? "(empty)" : r->head_hash.c_str());
    return 0;
  }
  if (tail->parsed()) {
    auto last = audit_last_seq(db);
    if (!last.ok()) return fail("audit", last.status());
    Status st = read_audit_entries(db, std::max<int64_t>(0, last.value() - n), 0, "",
                                   [](const AuditEntry& e) {
                                     std::printf("%s\n", e.line.c_str());
                                     return true;
                                   });
    return st.ok() ? 0 : fail("audit", st);
  }
  if (exp->parsed()) {
    std::FILE* out = stdout;
    if (!out_path.empty()) {
      out = std::fopen(out_path.c_str(), "w");
      if (!out) return fail("audit", unavailable("cannot write '" + out_path + "'"));
    }
    int64_t count = 0;
    Status st = read_audit_entries(db, after, 0, account, [&](const AuditEntry& e) {
      std::fwrite(e.line.data(), 1, e.line.size(), out);
      std::fputc('\n', out);
      ++count;
      return true;
    });
    if (out != stdout && std::fclose(out) != 0) st = unavailable("write to '" + out_path + "' failed");
    if (!st.ok()) return fail("audit", st);
    std::fprintf(stderr, "exported %lld records\n", static_cast<long long>(count));
    return 0;
  }
  if (append->parsed()) {
    std::ifstream file;
    std::istream* in = &std::cin;
    if (in_path != "-") {
      file.open(in_path);
      if (!file) return fail("audit", invalid_argument("cannot read '" + in_path + "'"));
      in = &file;
    }
    AuditLogOptions o;
    o.keep_content = loc->config.audit.keep_content;
    auto log = AuditLog::open(db, o);
    if (!log.ok()) return fail("audit", log.status());
    std::string line;
    int64_t lineno = 0, added = 0, rejected = 0;
    while (std::getline(*in, line)) {
      ++lineno;
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      auto rec = parse_exchange_record(line);
      if (!rec.ok()) {
        std::fprintf(stderr, "%s:%lld: %s\n", in_path.c_str(), static_cast<long long>(lineno),
                     rec.status().message().c_str());
        ++rejected;
        continue;
      }
      Status st = (*log)->append(std::move(rec).value());
      while (st.code() == StatusCode::kResourceExhausted) {  // backlog full: let it drain
        Status f = (*log)->flush(5 * kNsPerSec);
        if (!f.ok()) return fail("audit", f);
        st = (*log)->append(parse_exchange_record(line).value());
      }
      if (!st.ok()) return fail("audit", st);
      ++added;
    }
    Status st = (*log)->flush(30 * kNsPerSec);
    if (!st.ok()) return fail("audit", st);
    std::fprintf(stderr, "appended %lld records, rejected %lld\n", static_cast<long long>(added),
                 static_cast<long long>(rejected));
    return rejected ? 1 : 0;
  }
  return 0;
}

}  // namespace

Command dg_command_audit() {
  return {"audit", run_audit, "verify the audit log's hash chain; tail, export or import records"};
}

}  // namespace dg::cli
