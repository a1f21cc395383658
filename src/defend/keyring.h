// Where `verify` and `probe` get the watermark keys to test: the master secret
// from the config's [policy] section (watermark_master_key_file, or the
// environment) and the account ids from the store the gateway uses. Each
// account's key is derived from the two (see watermark.h).
#pragma once

#include <string>
#include <vector>

#include "distillguard/status.h"

namespace dg::defend {

struct Keyring {
  std::string master_secret;          // "" when the config names none
  std::vector<std::string> accounts;  // every account in the store
};

// Reads `config_path`, its [policy] section and the SQLite account store it
// names. Errors (unreadable config, bad [policy], unopenable store) are
// returned with the file or key named.
Result<Keyring> load_keyring(const std::string& config_path);

}  // namespace dg::defend
