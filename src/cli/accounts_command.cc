// distillguard accounts create NAME [--tier T] | list | disable NAME | enable NAME |
//                       set-tier NAME TIER   [--config FILE | --db PATH]
// Works on the same SQLite store as a running server; the server sees changes
// within its poll interval (~200 ms).
#include <CLI/CLI.hpp>
#include <cstdio>

#include "cli/commands.h"
#include "config/locate.h"
#include "distillguard/clock.h"
#include "store/sqlite/sqlite_account_store.h"

namespace dg::cli {
namespace {

int fail(const Status& st) {
  std::fprintf(stderr, "distillguard accounts: %s\n", st.message().c_str());
  return st.code() == StatusCode::kInvalidArgument ? 2 : 1;
}

int run_accounts(int argc, char** argv) {
  CLI::App app("Manage accounts (the store the server uses)", "distillguard accounts");
  app.require_subcommand(1);
  app.fallthrough();  // --config/--db may follow the subcommand
  std::string config_file, db_path, name, tier;
  app.add_option("--config", config_file, "config file (finds storage.sqlite_path)");
  app.add_option("--db", db_path, "SQLite store path (overrides the config)");
  auto* create = app.add_subcommand("create", "create an account");
  create->add_option("name", name, "account name")->required();
  create->add_option("--tier", tier, "tier (default: limits.default_tier)");
  auto* list = app.add_subcommand("list", "list accounts");
  auto* disable = app.add_subcommand("disable", "disable an account (its keys get 403)");
  disable->add_option("name", name)->required();
  auto* enable = app.add_subcommand("enable", "enable a disabled account");
  enable->add_option("name", name)->required();
  auto* set_tier = app.add_subcommand("set-tier", "move an account to another tier");
  set_tier->add_option("name", name)->required();
  set_tier->add_option("tier", tier)->required();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }

  auto loc = locate_store(config_file, db_path);
  if (!loc.ok()) return fail(loc.status());
  auto check_tier = [&](const std::string& t) -> Status {
    if (loc->config.tier(t)) return {};
    if (!loc->config_given) {
      std::fprintf(stderr, "note: tier '%s' is not in the default tiers; pass --config to check it\n",
                   t.c_str());
      return {};
    }
    return invalid_argument("unknown tier '" + t + "' (not in " + config_file + ")");
  };
  SqliteAccountStoreOptions o;
  o.path = loc->accounts_db;
  o.poll_interval = 0;
  auto store = open_sqlite_account_store(o, SystemClock::instance());
  if (!store.ok()) return fail(store.status());
  AccountStore& s = **store;

  if (create->parsed()) {
    if (tier.empty()) tier = loc->config.limits.default_tier;
    if (Status st = check_tier(tier); !st.ok()) return fail(st);
    auto a = s.create_account(name, tier);
    if (!a.ok()) return fail(a.status());
    std::printf("created account %s (tier %s)\n", a->name.c_str(), a->tier.c_str());
  } else if (list->parsed()) {
    auto accounts = s.list_accounts();
    if (!accounts.ok()) return fail(accounts.status());
    std::printf("%-24s %-12s %-25s %s\n", "NAME", "TIER", "CREATED", "STATUS");
    for (const Account& a : accounts.value()) {
      std::printf("%-24s %-12s %-25s %s\n", a.name.c_str(), a.tier.c_str(),
                  format_rfc3339(a.created).c_str(), a.disabled ? "disabled" : "active");
    }
  } else if (disable->parsed() || enable->parsed()) {
    const bool off = disable->parsed();
    if (Status st = s.set_disabled(name, off); !st.ok()) return fail(st);
    std::printf("%s account %s\n", off ? "disabled" : "enabled", name.c_str());
  } else if (set_tier->parsed()) {
    if (Status st = check_tier(tier); !st.ok()) return fail(st);
    if (Status st = s.set_tier(name, tier); !st.ok()) return fail(st);
    std::printf("account %s is now tier %s\n", name.c_str(), tier.c_str());
  }
  return 0;
}

}  // namespace

Command dg_command_accounts() {
  return {"accounts", run_accounts, "create, list, disable/enable accounts, change their tier"};
}

}  // namespace dg::cli
