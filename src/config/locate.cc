#include "config/locate.h"

namespace dg {

Result<StoreLocation> locate_store(const std::string& config_file, const std::string& db_path) {
  StoreLocation loc;
  if (!config_file.empty()) {
    DG_ASSIGN_OR_RETURN(loc.config, load_config_file(config_file));
    loc.config_given = true;
  } else {
    loc.config = default_config();
  }
  loc.accounts_db = loc.config.storage.sqlite_path;
  loc.audit_db = loc.config.audit.effective_sqlite_path(loc.config.storage);
  if (!db_path.empty()) {
    loc.accounts_db = db_path;
    // One file unless the config puts the audit log elsewhere.
    if (loc.config.audit.sqlite_path.empty()) loc.audit_db = db_path;
  }
  return loc;
}

}  // namespace dg
