// In-memory AccountStore for tests: same semantics as the SQLite store, no
// persistence. Thread-safe (a shared_mutex; reads share it).
#pragma once

#include <memory>

#include "store/account_store.h"

namespace dg {

std::unique_ptr<AccountStore> make_memory_account_store(Clock& clock);

}  // namespace dg
