#include "store/memory/memory_account_store.h"

#include <atomic>
#include <map>
#include <mutex>
#include <shared_mutex>

namespace dg {

namespace {

class MemoryAccountStore final : public AccountStore {
 public:
  explicit MemoryAccountStore(Clock& clock) : clock_(clock) {}

  Result<AccountInfo> authenticate(std::string_view secret) override {
    std::string h = hash_key_secret(secret);
    std::shared_lock lock(mu_);
    auto k = by_hash_.find(h);
    if (k == by_hash_.end() || keys_.at(k->second).revoked) {
      return not_found("invalid API key");
    }
    const ApiKey& key = keys_.at(k->second);
    const Account& a = accounts_.at(key.account);
    if (a.disabled) return Status(StatusCode::kPermissionDenied, "account disabled");
    return AccountInfo{a.name, key.key_id, a.tier, a.created};
  }

  uint64_t generation() const override { return generation_.load(std::memory_order_acquire); }

  Result<Account> create_account(std::string_view name, std::string_view tier) override {
    DG_RETURN_IF_ERROR(validate_account_name(name));
    if (tier.empty()) return invalid_argument("tier must not be empty");
    std::unique_lock lock(mu_);
    changed();
    if (accounts_.count(std::string(name))) {
      return already_exists("account '" + std::string(name) + "' already exists");
    }
    Account a{std::string(name), std::string(tier), clock_.now(), false};
    accounts_[a.name] = a;
    return a;
  }

  Result<Account> get_account(std::string_view name) override {
    std::shared_lock lock(mu_);
    auto it = accounts_.find(std::string(name));
    if (it == accounts_.end()) return not_found("no account '" + std::string(name) + "'");
    return it->second;
  }

  Result<std::vector<Account>> list_accounts() override {
    std::shared_lock lock(mu_);
    std::vector<Account> out;
    for (auto& [n, a] : accounts_) out.push_back(a);
    return out;
  }

  Status set_disabled(std::string_view name, bool disabled) override {
    std::unique_lock lock(mu_);
    changed();
    auto it = accounts_.find(std::string(name));
    if (it == accounts_.end()) return not_found("no account '" + std::string(name) + "'");
    it->second.disabled = disabled;
    return {};
  }

  Status set_tier(std::string_view name, std::string_view tier) override {
    if (tier.empty()) return invalid_argument("tier must not be empty");
    std::unique_lock lock(mu_);
    changed();
    auto it = accounts_.find(std::string(name));
    if (it == accounts_.end()) return not_found("no account '" + std::string(name) + "'");
    it->second.tier = std::string(tier);
    return {};
  }

  Result<NewKey> create_key(std::string_view account) override {
    return create_key_with_secret(account, generate_key_secret());
  }

  Result<NewKey> create_key_with_secret(std::string_view account,
                                        std::string_view secret) override {
    if (secret.size() < 16) return invalid_argument("a key secret needs at least 16 characters");
    std::string h = hash_key_secret(secret);
    std::unique_lock lock(mu_);
    changed();
    if (!accounts_.count(std::string(account))) {
      return not_found("no account '" + std::string(account) + "'");
    }
    if (by_hash_.count(h)) return already_exists("key already exists");
    ApiKey k{generate_key_id(), std::string(account), clock_.now(), false};
    keys_[k.key_id] = k;
    by_hash_[h] = k.key_id;
    return NewKey{k, std::string(secret)};
  }

  Result<std::vector<ApiKey>> list_keys(std::optional<std::string_view> account) override {
    std::shared_lock lock(mu_);
    std::vector<ApiKey> out;
    for (auto& [id, k] : keys_) {
      if (!account || k.account == *account) out.push_back(k);
    }
    return out;
  }

  Status revoke_key(std::string_view key_id) override {
    std::unique_lock lock(mu_);
    changed();
    auto it = keys_.find(std::string(key_id));
    if (it == keys_.end()) return not_found("no key '" + std::string(key_id) + "'");
    it->second.revoked = true;
    return {};
  }

 private:
  // Called by every write, under the lock: answers read before it may be stale.
  void changed() { generation_.fetch_add(1, std::memory_order_acq_rel); }

  Clock& clock_;
  std::atomic<uint64_t> generation_{0};
  std::shared_mutex mu_;
  std::map<std::string, Account> accounts_;
  std::map<std::string, ApiKey> keys_;
  std::map<std::string, std::string> by_hash_;  // secret hash -> key_id; the secret is not kept
};

}  // namespace

std::unique_ptr<AccountStore> make_memory_account_store(Clock& clock) {
  return std::make_unique<MemoryAccountStore>(clock);
}

}  // namespace dg
