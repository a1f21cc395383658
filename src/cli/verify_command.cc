// distillguard verify: tests texts for the per-account watermark (see
// src/defend/verify.h for the statistic and docs/countermeasures.md).
#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include "cli/commands.h"
#include "config/config.h"
#include "defend/policy.h"
#include "distillguard/clock.h"
#include "store/sqlite/sqlite_account_store.h"
#include "defend/verify.h"

namespace dg::cli {
namespace {

// --config: the master secret from [policy] watermark_master_key_file (or the
// environment) and every account of the store. Returns false after printing an error.
bool from_config(const std::string& path, std::string* secret, std::vector<std::string>* accounts, const char* cmd) {
  auto cfg = load_config_file(path);
  if (!cfg.ok()) return std::fprintf(stderr, "%s: %s\n", cmd, cfg.status().to_string().c_str()), false;
  auto pol = defend::PolicyConfig::from_config(*cfg);
  if (!pol.ok()) return std::fprintf(stderr, "%s: %s\n", cmd, pol.status().to_string().c_str()), false;
  if (secret->empty()) *secret = pol->master_secret;
  SqliteAccountStoreOptions o;
  o.path = cfg->storage.sqlite_path;
  o.poll_interval = 0;
  auto store = open_sqlite_account_store(o, SystemClock::instance());
  if (!store.ok()) return std::fprintf(stderr, "%s: %s\n", cmd, store.status().to_string().c_str()), false;
  auto list = (*store)->list_accounts();
  if (!list.ok()) return std::fprintf(stderr, "%s: %s\n", cmd, list.status().to_string().c_str()), false;
  for (const auto& a : *list) accounts->push_back(a.name);
  return true;
}

int run_verify(int argc, char** argv) {
  CLI::App app{"Test texts for a distillguard account watermark"};
  std::vector<std::string> files;
  std::string account, format = "text", master_file, accounts_file, log_file, keys_file, config_path;
  double strength = 0.5, alpha = 1e-3;
  app.add_option("files", files, "text files to test ('-' = stdin)")->required();
  app.add_option("--account", account, "score this account's key (attribution still tests every key)");
  app.add_option("--format", format, "text|json")->check(CLI::IsMember({"text", "json"}));
  app.add_option("--master-key-file", master_file, "master secret (default: $DG_WATERMARK_MASTER_KEY)");
  app.add_option("--accounts", accounts_file, "account ids, one per line");
  app.add_option("--exchange-log", log_file, "take account ids from an exchange log (JSONL)");
  app.add_option("--keys", keys_file, "explicit keys: lines 'account <64 hex>'");
  app.add_option("--config", config_path, "every account of the store and the [policy] master key");
  app.add_option("--detect-strength", strength, "score positions selected below this strength (default 0.5)")
      ->check(CLI::Range(0.001, 1.0));
  app.add_option("--alpha", alpha, "name an account only below this corrected p-value (default 1e-3)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  defend::VerifyOptions opt;
  opt.account = account;
  opt.detect_strength = strength;
  opt.alpha = alpha;
  if (!keys_file.empty()) {
    auto k = defend::read_keys_file(keys_file);
    if (!k.ok()) return std::fprintf(stderr, "verify: %s\n", k.status().to_string().c_str()), 2;
    opt.keys = std::move(k).value();
  }
  std::vector<std::string> accounts;
  if (!account.empty()) accounts.push_back(account);
  if (!accounts_file.empty()) {
    auto a = defend::read_account_list(accounts_file);
    if (!a.ok()) return std::fprintf(stderr, "verify: %s\n", a.status().to_string().c_str()), 2;
    accounts.insert(accounts.end(), a->begin(), a->end());
  }
  if (!log_file.empty()) {
    auto a = defend::accounts_from_exchange_log(log_file);
    if (!a.ok()) return std::fprintf(stderr, "verify: %s\n", a.status().to_string().c_str()), 2;
    accounts.insert(accounts.end(), a->begin(), a->end());
  }
  std::string config_secret;
  if (!config_path.empty() && !from_config(config_path, &config_secret, &accounts, "verify")) return 2;
  if (!accounts.empty()) {
    auto secret = master_file.empty() && !config_secret.empty() ? Result<std::string>(config_secret)
                                                                : defend::load_master_secret(master_file);
    if (!secret.ok()) return std::fprintf(stderr, "verify: %s\n", secret.status().to_string().c_str()), 2;
    std::sort(accounts.begin(), accounts.end());
    accounts.erase(std::unique(accounts.begin(), accounts.end()), accounts.end());
    for (const auto& a : accounts) opt.keys.push_back({a, defend::derive_account_key(*secret, a)});
  }
  if (opt.keys.empty()) {
    std::fprintf(stderr, "verify: no keys: give --account, --accounts, --exchange-log, --config or --keys\n");
    return 2;
  }
  const auto& table = defend::SynonymTable::builtin();
  for (const auto& f : files) {
    std::stringstream ss;
    if (f == "-") {
      ss << std::cin.rdbuf();
    } else {
      std::ifstream in(f, std::ios::binary);
      if (!in) return std::fprintf(stderr, "verify: cannot read %s\n", f.c_str()), 2;
      ss << in.rdbuf();
    }
    const auto r = defend::verify_text(table, ss.str(), opt);
    if (format == "json") {
      boost::json::object o{{"file", f},
                            {"positions", r.positions},
                            {"score", r.score},
                            {"p_value", r.p_value},
                            {"account", r.account.empty() ? boost::json::value(nullptr) : boost::json::value(r.account)},
                            {"account_p_value", r.account_p_value}};
      std::cout << boost::json::serialize(o) << "\n";
    } else {
      std::printf("%s\n  H0: not written under the tested key (each distinct scored position green w.p. 1/k)\n", f.c_str());
      std::printf("  positions %d  green %d  score(z) %.2f  p-value %.3g%s\n", r.positions, r.green, r.score,
                  r.p_value, account.empty() ? " (best of all keys, Bonferroni-corrected)" : "");
      std::printf("  keys tested %zu  most likely account %s  corrected p-value %.3g\n", opt.keys.size(),
                  r.account.empty() ? "none" : r.account.c_str(), r.account_p_value);
    }
  }
  return 0;
}

}  // namespace

Command dg_command_verify() { return {"verify", run_verify, "test texts for an account watermark"}; }

}  // namespace dg::cli
