// Accounts and API keys: one interface, two backends (SQLite — the default,
// shared with the CLI — and memory, for tests).
//
// Keys. A secret is "dg-" followed by 43 base64url characters (32 random bytes
// from OpenSSL's CSPRNG). Only SHA-256(secret) is stored, never the secret: a
// plain, unsalted fast hash is enough because the secret is itself 256 bits of
// uniform randomness, so neither dictionary nor brute-force attacks apply
// (salting and slow KDFs exist for low-entropy passwords), and an unsalted hash
// lets the hot path find a key with one lookup by hash. The secret is shown
// once, at creation. A key_id ("key_" + 11 hex chars) names a key everywhere
// else (CLI, exchange records, logs).
//
// Hot path. authenticate() is called for every request. Backends serve it
// from an in-memory cache (see the backend headers) and must stay correct
// while another process (the CLI) edits the same store: a new key works on the
// next request, a revoked key or a disabled account stops working within ~1 s.
// generation() lets a caller keep authenticate() answers of its own (the auth
// stage's per-thread cache) without weakening that: it changes whenever an
// answer may have changed.
//
// Thread-safety: every method is thread-safe.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "distillguard/clock.h"
#include "distillguard/stage.h"
#include "distillguard/status.h"

namespace dg {

struct Account {
  std::string name;  // the account id used everywhere (records, limits)
  std::string tier;
  TimeNs created = 0;
  bool disabled = false;
};

struct ApiKey {
  std::string key_id;
  std::string account;
  TimeNs created = 0;
  bool revoked = false;
};

// Returned once by create_key(); the secret is not stored anywhere.
struct NewKey {
  ApiKey key;
  std::string secret;
};

class AccountStore {
 public:
  virtual ~AccountStore() = default;

  // Hot path. kNotFound: unknown or revoked key (-> 401 invalid_api_key).
  // kPermissionDenied: the key's account is disabled (-> 403 account_disabled).
  // kUnavailable: the store could not be read (-> fail closed, 503).
  virtual Result<AccountInfo> authenticate(std::string_view secret) = 0;
  // Grows whenever an authenticate() answer may have changed: a key created or
  // revoked, an account created, disabled or re-tiered, by this process or by
  // another one editing the same store (then at the latest when the backend
  // notices, i.e. within the interval above). An answer obtained after reading
  // generation() == g stays valid for as long as generation() == g.
  virtual uint64_t generation() const = 0;

  // Management (CLI, admin API). Names: 1-64 chars of [A-Za-z0-9._@-].
  // kAlreadyExists, kInvalidArgument (bad name), kNotFound (unknown account).
  virtual Result<Account> create_account(std::string_view name, std::string_view tier) = 0;
  virtual Result<Account> get_account(std::string_view name) = 0;
  virtual Result<std::vector<Account>> list_accounts() = 0;
  virtual Status set_disabled(std::string_view name, bool disabled) = 0;
  virtual Status set_tier(std::string_view name, std::string_view tier) = 0;

  // A new key with a fresh random secret.
  virtual Result<NewKey> create_key(std::string_view account) = 0;
  // For tests and imports: a key with the given secret (must be >= 16 chars).
  virtual Result<NewKey> create_key_with_secret(std::string_view account,
                                                std::string_view secret) = 0;
  // All keys, or the keys of one account.
  virtual Result<std::vector<ApiKey>> list_keys(std::optional<std::string_view> account) = 0;
  virtual Status revoke_key(std::string_view key_id) = 0;
};

// "dg-" + base64url(32 random bytes).
std::string generate_key_secret();
// "key_" + 11 random hex chars (15 characters: fits std::string's inline buffer).
std::string generate_key_id();
// Hex SHA-256 of the secret: the only form in which a key is stored.
std::string hash_key_secret(std::string_view secret);
// Ok if `name` is a valid account name.
Status validate_account_name(std::string_view name);

}  // namespace dg
