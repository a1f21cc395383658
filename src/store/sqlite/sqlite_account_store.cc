#include "store/sqlite/sqlite_account_store.h"
namespace dg {
Result<std::unique_ptr<AccountStore>> open_sqlite_account_store(const SqliteAccountStoreOptions&, Clock&) { return internal_error("todo"); }
}  // namespace dg
