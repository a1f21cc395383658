// What every subcommand does the same way: parse its flags, report a failed
// Status, open the account store the server uses.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <optional>
#include <string>

#include "config/locate.h"
#include "distillguard/status.h"
#include "store/account_store.h"

namespace dg::cli {

// Parses argv into `app`. Returns nullopt to go on, or the exit status to
// return at once: 0 after --help, 2 after a usage error (CLI11 prints it).
std::optional<int> parse_args(CLI::App& app, int argc, char** argv);

// Prints "distillguard <command>: <message>" on stderr and returns the exit
// status for `st`: 2 for bad arguments, 1 for anything else.
int fail(const char* command, const Status& st);

// The store at `loc.accounts_db`, opened for one-off CLI use (no polling).
Result<std::unique_ptr<AccountStore>> open_cli_account_store(const StoreLocation& loc);

}  // namespace dg::cli
