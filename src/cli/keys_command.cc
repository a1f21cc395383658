// distillguard keys create --account NAME | list [--account NAME] | revoke KEY_ID
//                   [--config FILE | --db PATH]
// The secret is printed once, at creation; only its SHA-256 is stored.
#include <CLI/CLI.hpp>
#include <cstdio>

#include "cli/commands.h"
#include "config/locate.h"
#include "distillguard/clock.h"
#include "store/sqlite/sqlite_account_store.h"

namespace dg::cli {
namespace {

int fail(const Status& st) {
  std::fprintf(stderr, "distillguard keys: %s\n", st.message().c_str());
  return st.code() == StatusCode::kInvalidArgument ? 2 : 1;
}

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
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  auto loc = locate_store(config_file, db_path);
  if (!loc.ok()) return fail(loc.status());
  SqliteAccountStoreOptions o;
  o.path = loc->accounts_db;
  o.poll_interval = 0;
  auto store = open_sqlite_account_store(o, SystemClock::instance());
  if (!store.ok()) return fail(store.status());
  AccountStore& s = **store;

  if (create->parsed()) {
    auto k = s.create_key(account);
    if (!k.ok()) return fail(k.status());
    std::printf("key_id: %s\nsecret: %s\n", k->key.key_id.c_str(), k->secret.c_str());
    std::fprintf(stderr, "Store the secret now: it is shown only once (only its hash is kept).\n");
  } else if (list->parsed()) {
    std::optional<std::string_view> filter;
    if (!account.empty()) filter = account;
    auto keys = s.list_keys(filter);
    if (!keys.ok()) return fail(keys.status());
    std::printf("%-16s %-24s %-25s %s\n", "KEY_ID", "ACCOUNT", "CREATED", "STATUS");
    for (const ApiKey& k : keys.value()) {
      std::printf("%-16s %-24s %-25s %s\n", k.key_id.c_str(), k.account.c_str(),
                  format_rfc3339(k.created).c_str(), k.revoked ? "revoked" : "active");
    }
  } else if (revoke->parsed()) {
    if (Status st = s.revoke_key(key_id); !st.ok()) return fail(st);
    std::printf("revoked key %s\n", key_id.c_str());
  }
  return 0;
}

}  // namespace

Command dg_command_keys() { return {"keys", run_keys, "create, list and revoke API keys"}; }

}  // namespace dg::cli
