#include "cli/command_support.h"

#include <cstdio>

#include "distillguard/clock.h"
#include "store/sqlite/sqlite_account_store.h"

namespace dg::cli {

std::optional<int> parse_args(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  return std::nullopt;
}

int fail(const char* command, const Status& st) {
  std::fprintf(stderr, "distillguard %s: %s\n", command, st.message().c_str());
  return st.code() == StatusCode::kInvalidArgument ? 2 : 1;
}

Result<std::unique_ptr<AccountStore>> open_cli_account_store(const StoreLocation& loc) {
  SqliteAccountStoreOptions o;
  o.path = loc.accounts_db;
  o.poll_interval = 0;
  return open_sqlite_account_store(o, SystemClock::instance());
}

}  // namespace dg::cli
