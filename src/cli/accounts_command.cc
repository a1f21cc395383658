// distillguard accounts create NAME [--tier T] | list | disable NAME | enable NAME |
//                       set-tier NAME TIER   [--config FILE | --db PATH]
// Works on the same SQLite store as a running server; the server sees changes
// within its poll interval (~200 ms).
#include <CLI/CLI.hpp>
#include <cstdio>

#include "cli/command_support.h"
#include "cli/commands.h"
#include "distillguard/clock.h"

namespace dg::cli {
namespace {

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
  if (auto rc = parse_args(app, argc, argv)) return *rc;

  auto loc = locate_store(config_file, db_path);
  if (!loc.ok()) return fail("accounts", loc.status());
  auto check_tier = [&](const std::string& t) -> Status {
    if (loc->config.tier(t)) return {};
    if (!loc->config_given) {
      std::fprintf(stderr, "note: tier '%s' is not in the default tiers; pass --config to check it\n",
                   t.c_str());
      return {};
    }
    return invalid_argument("unknown tier '" + t + "' (not in " + config_file + ")");
  };
  auto store = open_cli_account_store(*loc);
  if (!store.ok()) return fail("accounts", store.status());
  AccountStore& s = **store;

  if (create->parsed()) {
    if (tier.empty()) tier = loc->config.limits.default_tier;
    if (Status st = check_tier(tier); !st.ok()) return fail("accounts", st);
    auto a = s.create_account(name, tier);
    if (!a.ok()) return fail("accounts", a.status());
    std::printf("created account %s (tier %s)\n", a->name.c_str(), a->tier.c_str());
  } else if (list->parsed()) {
    auto accounts = s.list_accounts();
    if (!accounts.ok()) return fail("accounts", accounts.status());
    std::printf("%-24s %-12s %-25s %s\n", "NAME", "TIER", "CREATED", "STATUS");
    for (const Account& a : accounts.value()) {
      std::printf("%-24s %-12s %-25s %s\n", a.name.c_str(), a.tier.c_str(),
                  format_rfc3339(a.created).c_str(), a.disabled ? "disabled" : "active");
    }
  } else if (disable->parsed() || enable->parsed()) {
    const bool off = disable->parsed();
    if (Status st = s.set_disabled(name, off); !st.ok()) return fail("accounts", st);
    std::printf("%s account %s\n", off ? "disabled" : "enabled", name.c_str());
  } else if (set_tier->parsed()) {
    if (Status st = check_tier(tier); !st.ok()) return fail("accounts", st);
    if (Status st = s.set_tier(name, tier); !st.ok()) return fail("accounts", st);
    std::printf("account %s is now tier %s\n", name.c_str(), tier.c_str());
  }
  return 0;
}

}  // namespace

Command dg_command_accounts() {
  return {"accounts", run_accounts, "create, list, disable/enable accounts, change their tier"};
}

}  // namespace dg::cli
