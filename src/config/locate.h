// How the CLI finds the store the server uses: --db PATH wins, else the
// config file's storage.sqlite_path (--config FILE), else the embedded
// defaults' (./distillguard.db).
#pragma once

#include <optional>
#include <string>

#include "config/config.h"

namespace dg {

struct StoreLocation {
  Config config;                // the config read (defaults if none given)
  bool config_given = false;    // --config was given (tiers can be validated)
  std::string accounts_db;      // accounts and keys
  std::string audit_db;         // the audit log
};

// Errors: those of load_config_file().
Result<StoreLocation> locate_store(const std::string& config_file, const std::string& db_path);

}  // namespace dg
