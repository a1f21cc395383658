#include "defend/keyring.h"

#include "config/config.h"
#include "defend/policy.h"
#include "distillguard/clock.h"
#include "store/sqlite/sqlite_account_store.h"

namespace dg::defend {

Result<Keyring> load_keyring(const std::string& config_path) {
  DG_ASSIGN_OR_RETURN(Config cfg, load_config_file(config_path));
  DG_ASSIGN_OR_RETURN(PolicyConfig policy, PolicyConfig::from_config(cfg));
  SqliteAccountStoreOptions o;
  o.path = cfg.storage.sqlite_path;
  o.poll_interval = 0;
  DG_ASSIGN_OR_RETURN(auto store, open_sqlite_account_store(o, SystemClock::instance()));
  DG_ASSIGN_OR_RETURN(auto list, store->list_accounts());
  Keyring k;
  k.master_secret = policy.master_secret;
  for (const auto& a : list) k.accounts.push_back(a.name);
  return k;
}

}  // namespace dg::defend
