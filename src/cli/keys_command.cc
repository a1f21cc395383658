// distillguard keys create --account NAME | list [--account NAME] | revoke KEY_ID
//                   [--config FILE | --db PATH]
// The secret is printed once, at creation; only its SHA-256 is stored.
#include <CLI/CLI.hpp>
#include <cstdio>

#include "cli/command_support.h"
#include "cli/commands.h"
#include "distillguard/clock.h"

namespace dg::cli {
namespace {

int run_keys(int argc, char** argv) {
  CLI::App app("Manage API keys (the store the server uses)", "distillguard keys");
  app.require_subcommand(1);
  app.fallthrough();  // --config/--db may follow the subcommand
  std::string config_file, db_path, account, key_id;
  app.add_option("--config", config_file, "config file (finds storage.sqlite_path)");
  app.add_option("--db", db_path, "SQLite store path (overrides the config)");
  auto* create = app.add_subcommand("create", "create a key; prints the secret once");
  create->add_option("--account", account, "the key's account")->required();
  auto* list = app.add_subcommand("list", "list keys (never their secrets)");
  list->add_option("--account", account, "only this account's keys");
  auto* revoke = app.add_subcommand("revoke", "revoke a key (401 from then on)");
  revoke->add_option("key_id", key_id)->required();
  if (auto rc = parse_args(app, argc, argv)) return *rc;
  auto loc = locate_store(config_file, db_path);
  if (!loc.ok()) return fail("keys", loc.status());
  auto store = open_cli_account_store(*loc);
  if (!store.ok()) return fail("keys", store.status());
  AccountStore& s = **store;

  if (create->parsed()) {
    auto k = s.create_key(account);
    if (!k.ok()) return fail("keys", k.status());
    std::printf("key_id: %s\nsecret: %s\n", k->key.key_id.c_str(), k->secret.c_str());
    std::fprintf(stderr, "Store the secret now: it is shown only once (only its hash is kept).\n");
  } else if (list->parsed()) {
    std::optional<std::string_view> filter;
    if (!account.empty()) filter = account;
    auto keys = s.list_keys(filter);
    if (!keys.ok()) return fail("keys", keys.status());
    std::printf("%-16s %-24s %-25s %s\n", "KEY_ID", "ACCOUNT", "CREATED", "STATUS");
    for (const ApiKey& k : keys.value()) {
      std::printf("%-16s %-24s %-25s %s\n", k.key_id.c_str(), k.account.c_str(),
                  format_rfc3339(k.created).c_str(), k.revoked ? "revoked" : "active");
    }
  } else if (revoke->parsed()) {
    if (Status st = s.revoke_key(key_id); !st.ok()) return fail("keys", st);
    std::printf("revoked key %s\n", key_id.c_str());
  }
  return 0;
}

}  // namespace

Command dg_command_keys() { return {"keys", run_keys, "create, list and revoke API keys"}; }

}  // namespace dg::cli
