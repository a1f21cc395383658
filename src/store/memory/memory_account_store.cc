#include "store/memory/memory_account_store.h"
namespace dg {
std::unique_ptr<AccountStore> make_memory_account_store(Clock&) { return nullptr; }
}  // namespace dg
