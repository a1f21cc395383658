// distillguard verify: tests texts for the per-account watermark (see
// src/defend/verify.h for the statistic and docs/countermeasures.md).
#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include "cli/command_support.h"
#include "cli/commands.h"
#include "defend/keyring.h"
#include "defend/verify.h"

namespace dg::cli {
namespace {

// --config: the master secret from its [policy] section and every account of
// the store. Returns false after printing an error.
bool from_config(const std::string& path, std::string* secret, std::vector<std::string>* accounts,
                 const char* cmd) {
  auto k = defend::load_keyring(path);
  if (!k.ok()) return std::fprintf(stderr, "%s: %s\n", cmd, k.status().to_string().c_str()), false;
  if (secret->empty()) *secret = k->master_secret;
  accounts->insert(accounts->end(), k->accounts.begin(), k->accounts.end());
  return true;
}

int run_verify(int argc, char** argv) {
  CLI::App app{"Test texts for a distillguard account watermark"};
  std::vector<std::string> files;
  std::string account, format = "text", master_file, accounts_file, log_file, keys_file,
                       config_path;
  double strength = 0.5, alpha = 1e-3;
  app.add_option("files", files, "text files to test ('-' = stdin)")->required();
  app.add_option("--account", account,
                 "score this account's key (attribution still tests every key)");
  app.add_option("--format", format, "text|json")->check(CLI::IsMember({"text", "json"}));
  app.add_option("--master-key-file", master_file,
                 "master secret (default: $DG_WATERMARK_MASTER_KEY)");
  app.add_option("--accounts", accounts_file, "account ids, one per line");
  app.add_option("--exchange-log", log_file, "take account ids from an exchange log (JSONL)");
  app.add_option("--keys", keys_file, "explicit keys: lines 'account <64 hex>'");
  app.add_option("--config", config_path, "every account of the store and the [policy] master key");
  app.add_option("--detect-strength", strength,
                 "score positions selected below this strength (default 0.5)")
      ->check(CLI::Range(0.001, 1.0));
  app.add_option("--alpha", alpha,
                 "name an account only below this corrected p-value (default 1e-3)");
  std::vector<std::string> received_files;
  int min_count = 20;
  app.add_option("--received", received_files,
                 "harvest-aware: what was sent to the suspect account (exchange records or an "
                 "evidence bundle's "
                 "entries.jsonl as JSONL, or plain text); repeatable; score only pairs it holds >= "
                 "--min-count times")
      ->allow_extra_args(false);
  auto* min_count_opt =
      app.add_option("--min-count", min_count, "with --received: occurrences needed (default 20)")
          ->check(CLI::PositiveNumber);
  if (auto rc = parse_args(app, argc, argv)) return *rc;
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
  if (!config_path.empty() && !from_config(config_path, &config_secret, &accounts, "verify"))
    return 2;
  if (!accounts.empty()) {
    auto secret = master_file.empty() && !config_secret.empty()
                      ? Result<std::string>(config_secret)
                      : defend::load_master_secret(master_file);
    if (!secret.ok())
      return std::fprintf(stderr, "verify: %s\n", secret.status().to_string().c_str()), 2;
    std::sort(accounts.begin(), accounts.end());
    accounts.erase(std::unique(accounts.begin(), accounts.end()), accounts.end());
    for (const auto& a : accounts) opt.keys.push_back({a, defend::derive_account_key(*secret, a)});
  }
  if (min_count_opt->count() > 0 && received_files.empty()) {
    std::fprintf(stderr, "verify: --min-count needs --received\n");
    return 2;
  }
  const auto& table = defend::SynonymTable::builtin();
  defend::ReceivedPairs received(table);
  for (const auto& f : received_files) {
    auto texts = defend::read_received_file(f);
    if (!texts.ok())
      return std::fprintf(stderr, "verify: %s\n", texts.status().to_string().c_str()), 2;
    for (const auto& t : *texts) received.add_text(t);
  }
  if (!received_files.empty()) {
    opt.received = &received;
    opt.min_count = min_count;
  }
  if (opt.keys.empty()) {
    std::fprintf(
        stderr,
        "verify: no keys: give --account, --accounts, --exchange-log, --config or --keys\n");
    return 2;
  }
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
                            {"account", r.account.empty() ? boost::json::value(nullptr)
                                                          : boost::json::value(r.account)},
                            {"account_p_value", r.account_p_value}};
      std::cout << boost::json::serialize(o) << "\n";
    } else {
      std::printf(
          "%s\n  H0: not written under the tested key (each distinct scored position green w.p. "
          "1/k)\n",
          f.c_str());
      if (opt.received != nullptr) {
        std::printf(
            "  scored: only pairs received >= %d times (%d received texts, %lld pair "
            "occurrences)\n",
            opt.min_count, received.texts(), static_cast<long long>(received.occurrences()));
      }
      std::printf("  positions %d  green %d  score(z) %.2f  p-value %.3g%s\n", r.positions, r.green,
                  r.score, r.p_value,
                  account.empty() ? " (best of all keys, Bonferroni-corrected)" : "");
      std::printf("  keys tested %zu  most likely account %s  corrected p-value %.3g\n",
                  opt.keys.size(), r.account.empty() ? "none" : r.account.c_str(),
                  r.account_p_value);
    }
  }
  return 0;
}

}  // namespace

Command dg_command_verify() {
  return {"verify", run_verify, "test texts for an account watermark"};
}

}  // namespace dg::cli
