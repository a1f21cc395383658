#include "store/sqlite/sqlite_account_store.h"


#include <atomic>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <shared_mutex>
#include <thread>
#include <unordered_map>

#include "common/hash.h"
#include "store/sqlite/sqlite_db.h"

namespace dg {

namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS accounts(
  name TEXT PRIMARY KEY,
  tier TEXT NOT NULL,
  created_ns INTEGER NOT NULL,
  disabled INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS api_keys(
  key_id TEXT PRIMARY KEY,
  account TEXT NOT NULL REFERENCES accounts(name),
  secret_sha256 TEXT NOT NULL UNIQUE,
  created_ns INTEGER NOT NULL,
  revoked INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS api_keys_account ON api_keys(account);
-- Every management write appends here in the same transaction; running
-- servers poll it to invalidate exactly the cache entries that changed.
CREATE TABLE IF NOT EXISTS account_changes(
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  kind TEXT NOT NULL,   -- 'account' (name) or 'key' (secret_sha256)
  name TEXT NOT NULL);
)sql";

constexpr size_t kShards = 64;

struct ShaHash {
  size_t operator()(const Sha256& h) const {
    size_t v;
    std::memcpy(&v, h.data(), sizeof v);
    return v;
  }
};

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return hash64(s); }
};

struct KeyEntry {
  bool valid = false;        // false: unknown or revoked
  TimeNs negative_until = 0; // for !valid: when to ask the database again
  std::string account;
  std::string key_id;
};

struct AccountEntry {
  std::string tier;
  TimeNs created = 0;
  bool disabled = false;
};

struct alignas(64) KeyShard {
  std::shared_mutex mu;
  std::unordered_map<Sha256, KeyEntry, ShaHash> map;
};

struct alignas(64) AccountShard {
  std::shared_mutex mu;
  std::unordered_map<std::string, AccountEntry, StringHash, std::equal_to<>> map;
};

bool unhex32(std::string_view hex, Sha256* out) {
  if (hex.size() != 64) return false;
  auto nib = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  for (size_t i = 0; i < 32; ++i) {
    int a = nib(hex[2 * i]), b = nib(hex[2 * i + 1]);
    if (a < 0 || b < 0) return false;
    (*out)[i] = static_cast<uint8_t>(a * 16 + b);
  }
  return true;
}

class SqliteAccountStore final : public AccountStore {
 public:
  SqliteAccountStore(const SqliteAccountStoreOptions& o, Clock& clock,
                     std::unique_ptr<SqliteDb> db)
      : options_(o), clock_(clock), db_(std::move(db)),
        key_shards_(new KeyShard[kShards]), account_shards_(new AccountShard[kShards]) {}

  ~SqliteAccountStore() override {
    {
      std::lock_guard<std::mutex> l(stop_mu_);
      stop_ = true;
    }
    stop_cv_.notify_all();
    if (watcher_.joinable()) watcher_.join();
  }

  Status init() {
    DG_RETURN_IF_ERROR(db_->exec(kSchema));
    DG_ASSIGN_OR_RETURN(SqliteStmt s, SqliteStmt::prepare(*db_, "SELECT IFNULL(MAX(seq),0) FROM account_changes"));
    DG_ASSIGN_OR_RETURN(bool row, s.step());
    if (row) last_change_ = s.col_int(0);
    if (options_.poll_interval > 0) watcher_ = std::thread([this] { watch(); });
    return {};
  }

  // ------------------------------------------------------------- hot path
  Result<AccountInfo> authenticate(std::string_view secret) override {
    const Sha256 h = sha256(secret);
    KeyShard& ks = key_shards_[h[1] % kShards];
    AccountInfo info;
    bool hit = false;
    {
      std::shared_lock lock(ks.mu);
      auto it = ks.map.find(h);
      if (it != ks.map.end()) {
        if (it->second.valid) {
          info.account = it->second.account;
          info.key_id = it->second.key_id;
          hit = true;
        } else if (it->second.negative_until > clock_.now()) {
          return not_found("invalid API key");
        }
      }
    }
    if (!hit) {
      DG_RETURN_IF_ERROR(load_key(h, &info));
    }
    AccountShard& as = account_shards_[hash64(info.account) % kShards];
    {
      std::shared_lock lock(as.mu);
      auto it = as.map.find(std::string_view(info.account));
      if (it != as.map.end()) return finish(info, it->second);
    }
    AccountEntry e;
    DG_RETURN_IF_ERROR(load_account(info.account, &e));
    return finish(info, e);
  }

  uint64_t generation() const override { return generation_.load(std::memory_order_acquire); }

  // ------------------------------------------------------------- management
  Result<Account> create_account(std::string_view name, std::string_view tier) override {
    DG_RETURN_IF_ERROR(validate_account_name(name));
    if (tier.empty()) return invalid_argument("tier must not be empty");
    Account a{std::string(name), std::string(tier), clock_.now(), false};
    std::lock_guard<std::mutex> l(db_mu_);
    Status st = in_transaction([&]() -> Status {
      DG_ASSIGN_OR_RETURN(SqliteStmt s, SqliteStmt::prepare(*db_,
          "INSERT INTO accounts(name, tier, created_ns, disabled) VALUES(?,?,?,0)"));
      Status r = s.bind(1, a.name).bind(2, a.tier).bind(3, int64_t{a.created}).run();
      if (r.code() == StatusCode::kAlreadyExists) {
        return already_exists("account '" + a.name + "' already exists");
      }
      DG_RETURN_IF_ERROR(r);
      return log_change("account", a.name);
    });
    DG_RETURN_IF_ERROR(st);
    invalidate_account(a.name);
    return a;
  }

  Result<Account> get_account(std::string_view name) override {
    std::lock_guard<std::mutex> l(db_mu_);
    DG_ASSIGN_OR_RETURN(SqliteStmt s, SqliteStmt::prepare(*db_,
        "SELECT name, tier, created_ns, disabled FROM accounts WHERE name=?"));
    s.bind(1, name);
    DG_ASSIGN_OR_RETURN(bool row, s.step());
    if (!row) return not_found("no account '" + std::string(name) + "'");
    return Account{s.col_text(0), s.col_text(1), s.col_int(2), s.col_int(3) != 0};
  }

  Result<std::vector<Account>> list_accounts() override {
    std::lock_guard<std::mutex> l(db_mu_);
    DG_ASSIGN_OR_RETURN(SqliteStmt s, SqliteStmt::prepare(*db_,
        "SELECT name, tier, created_ns, disabled FROM accounts ORDER BY name"));
    std::vector<Account> out;
    while (true) {
      DG_ASSIGN_OR_RETURN(bool row, s.step());
      if (!row) break;
      out.push_back(Account{s.col_text(0), s.col_text(1), s.col_int(2), s.col_int(3) != 0});
    }
    return out;
  }

  Status set_disabled(std::string_view name, bool disabled) override {
    return update_account(name, "UPDATE accounts SET disabled=? WHERE name=?",
                          [&](SqliteStmt& s) { s.bind(1, int64_t{disabled ? 1 : 0}); });
  }

  Status set_tier(std::string_view name, std::string_view tier) override {
    if (tier.empty()) return invalid_argument("tier must not be empty");
    return update_account(name, "UPDATE accounts SET tier=? WHERE name=?",
                          [&](SqliteStmt& s) { s.bind(1, tier); });
  }

  Result<NewKey> create_key(std::string_view account) override {
    return create_key_with_secret(account, generate_key_secret());
  }

  Result<NewKey> create_key_with_secret(std::string_view account,
                                        std::string_view secret) override {
    if (secret.size() < 16) return invalid_argument("a key secret needs at least 16 characters");
    const std::string h = hash_key_secret(secret);
    ApiKey k{"", std::string(account), clock_.now(), false};
    std::lock_guard<std::mutex> l(db_mu_);
    Status st = in_transaction([&]() -> Status {
      DG_ASSIGN_OR_RETURN(SqliteStmt q, SqliteStmt::prepare(*db_,
          "SELECT 1 FROM accounts WHERE name=?"));
      q.bind(1, account);
      DG_ASSIGN_OR_RETURN(bool exists, q.step());
      if (!exists) return not_found("no account '" + std::string(account) + "'");
      DG_ASSIGN_OR_RETURN(SqliteStmt dup, SqliteStmt::prepare(*db_,
          "SELECT 1 FROM api_keys WHERE secret_sha256=?"));
      dup.bind(1, h);
      DG_ASSIGN_OR_RETURN(bool taken, dup.step());
      if (taken) return already_exists("a key with this secret already exists");
      DG_ASSIGN_OR_RETURN(SqliteStmt s, SqliteStmt::prepare(*db_,
          "INSERT INTO api_keys(key_id, account, secret_sha256, created_ns, revoked) "
          "VALUES(?,?,?,?,0)"));
      for (int attempt = 0;; ++attempt) {  // key_id collisions are rare; retry a few times
        k.key_id = generate_key_id();
        Status r = s.bind(1, k.key_id).bind(2, k.account).bind(3, h)
                       .bind(4, int64_t{k.created}).run();
        if (r.ok()) break;
        if (r.code() != StatusCode::kAlreadyExists || attempt >= 8) return r;
      }
      return log_change("key", h);
    });
    DG_RETURN_IF_ERROR(st);
    invalidate_key(h);
    return NewKey{k, std::string(secret)};
  }

  Result<std::vector<ApiKey>> list_keys(std::optional<std::string_view> account) override {
    std::lock_guard<std::mutex> l(db_mu_);
    DG_ASSIGN_OR_RETURN(SqliteStmt s, SqliteStmt::prepare(*db_,
        account ? "SELECT key_id, account, created_ns, revoked FROM api_keys WHERE account=? "
                  "ORDER BY created_ns, key_id"
                : "SELECT key_id, account, created_ns, revoked FROM api_keys "
                  "ORDER BY created_ns, key_id"));
    if (account) s.bind(1, *account);
    std::vector<ApiKey> out;
    while (true) {
      DG_ASSIGN_OR_RETURN(bool row, s.step());
      if (!row) break;
      out.push_back(ApiKey{s.col_text(0), s.col_text(1), s.col_int(2), s.col_int(3) != 0});
    }
    return out;
  }

  Status revoke_key(std::string_view key_id) override {
    std::string h;
    std::lock_guard<std::mutex> l(db_mu_);
    Status st = in_transaction([&]() -> Status {
      DG_ASSIGN_OR_RETURN(SqliteStmt q, SqliteStmt::prepare(*db_,
          "SELECT secret_sha256 FROM api_keys WHERE key_id=?"));
      q.bind(1, key_id);
      DG_ASSIGN_OR_RETURN(bool row, q.step());
      if (!row) return not_found("no key '" + std::string(key_id) + "'");
      h = q.col_text(0);
      DG_ASSIGN_OR_RETURN(SqliteStmt u, SqliteStmt::prepare(*db_,
          "UPDATE api_keys SET revoked=1 WHERE key_id=?"));
      DG_RETURN_IF_ERROR(u.bind(1, key_id).run());
      return log_change("key", h);
    });
    DG_RETURN_IF_ERROR(st);
    invalidate_key(h);
    return {};
  }

 private:
  Result<AccountInfo> finish(AccountInfo& info, const AccountEntry& e) {
    if (e.disabled) {
      return Status(StatusCode::kPermissionDenied,
                    "account '" + info.account + "' is disabled");
    }
    info.tier = e.tier;
    info.created = e.created;
    return std::move(info);
  }

  // Caller holds db_mu_.
  template <typename F>
  Status in_transaction(F&& body) {
    DG_RETURN_IF_ERROR(db_->exec("BEGIN IMMEDIATE"));
    Status st = body();
    if (!st.ok()) {
      (void)db_->exec("ROLLBACK");
      return st;
    }
    st = db_->exec("COMMIT");
    if (!st.ok()) (void)db_->exec("ROLLBACK");
    return st;
  }

  Status log_change(std::string_view kind, std::string_view name) {
    DG_ASSIGN_OR_RETURN(SqliteStmt s, SqliteStmt::prepare(*db_,
        "INSERT INTO account_changes(kind, name) VALUES(?,?)"));
    return s.bind(1, kind).bind(2, name).run();
  }

  template <typename F>
  Status update_account(std::string_view name, const char* sql, F&& bind_first) {
    {
      std::lock_guard<std::mutex> l(db_mu_);
      Status st = in_transaction([&]() -> Status {
        DG_ASSIGN_OR_RETURN(SqliteStmt s, SqliteStmt::prepare(*db_, sql));
        bind_first(s);
        s.bind(2, name);
        DG_RETURN_IF_ERROR(s.run());
        if (sqlite3_changes(db_->handle()) == 0) {
          return not_found("no account '" + std::string(name) + "'");
        }
        return log_change("account", name);
      });
      DG_RETURN_IF_ERROR(st);
    }
    invalidate_account(name);
    return {};
  }

  // A cache miss: read the key from the database and cache the answer.
  Status load_key(const Sha256& h, AccountInfo* info) {
    KeyEntry e;
    const uint64_t gen = generation_.load(std::memory_order_acquire);
    {
      std::lock_guard<std::mutex> l(db_mu_);
      if (!key_stmt_) {
        auto s = SqliteStmt::prepare(*db_,
            "SELECT key_id, account, revoked FROM api_keys WHERE secret_sha256=?");
        if (!s.ok()) return unavailable("account store: " + s.status().message());
        key_stmt_ = std::make_unique<SqliteStmt>(std::move(s).value());
      }
      key_stmt_->bind(1, to_hex(h.data(), h.size()));
      auto row = key_stmt_->step();
      if (!row.ok()) {
        key_stmt_->reset();
        return unavailable("account store: " + row.status().message());
      }
      if (row.value() && key_stmt_->col_int(2) == 0) {
        e.valid = true;
        e.key_id = key_stmt_->col_text(0);
        e.account = key_stmt_->col_text(1);
      } else {
        // Unknown: ask again after negative_ttl. Revoked: until a change says otherwise.
        e.negative_until = row.value() ? INT64_MAX : clock_.now() + options_.negative_ttl;
      }
      key_stmt_->reset();
    }
    KeyShard& ks = key_shards_[h[1] % kShards];
    {
      std::unique_lock lock(ks.mu);
      // An invalidation since the read may have made it stale: answer, don't cache.
      if (generation_.load(std::memory_order_acquire) == gen) {
        if (ks.map.size() >= options_.max_cached_keys / kShards + 1) ks.map.clear();
        ks.map[h] = e;
      }
    }
    if (!e.valid) return not_found("invalid API key");
    info->account = e.account;
    info->key_id = e.key_id;
    return {};
  }

  Status load_account(const std::string& name, AccountEntry* out) {
    const uint64_t gen = generation_.load(std::memory_order_acquire);
    {
      std::lock_guard<std::mutex> l(db_mu_);
      if (!account_stmt_) {
        auto s = SqliteStmt::prepare(*db_,
            "SELECT tier, created_ns, disabled FROM accounts WHERE name=?");
        if (!s.ok()) return unavailable("account store: " + s.status().message());
        account_stmt_ = std::make_unique<SqliteStmt>(std::move(s).value());
      }
      account_stmt_->bind(1, name);
      auto row = account_stmt_->step();
      if (!row.ok()) {
        account_stmt_->reset();
        return unavailable("account store: " + row.status().message());
      }
      if (!row.value()) {
        account_stmt_->reset();
        return not_found("invalid API key");  // key of a deleted account
      }
      out->tier = account_stmt_->col_text(0);
      out->created = account_stmt_->col_int(1);
      out->disabled = account_stmt_->col_int(2) != 0;
      account_stmt_->reset();
    }
    AccountShard& as = account_shards_[hash64(name) % kShards];
    std::unique_lock lock(as.mu);
    if (generation_.load(std::memory_order_acquire) != gen) return {};
    if (as.map.size() >= options_.max_cached_keys / kShards + 1) as.map.clear();
    as.map[name] = *out;
    return {};
  }

  void invalidate_key(std::string_view hex) {
    Sha256 h;
    if (!unhex32(hex, &h)) return;
    KeyShard& ks = key_shards_[h[1] % kShards];
    std::unique_lock lock(ks.mu);
    generation_.fetch_add(1, std::memory_order_acq_rel);
    ks.map.erase(h);
  }

  void invalidate_account(std::string_view name) {
    AccountShard& as = account_shards_[hash64(name) % kShards];
    std::unique_lock lock(as.mu);
    generation_.fetch_add(1, std::memory_order_acq_rel);
    auto it = as.map.find(name);
    if (it != as.map.end()) as.map.erase(it);
  }

  // Polls the change log written by any process (the CLI) and drops exactly
  // the cache entries that changed; the next request reloads them.
  void watch() {
    std::unique_lock<std::mutex> sl(stop_mu_);
    while (!stop_) {
      stop_cv_.wait_for(sl, std::chrono::nanoseconds(options_.poll_interval));
      if (stop_) break;
      sl.unlock();
      poll_changes();
      sl.lock();
    }
  }

  void poll_changes() {
    std::vector<std::pair<std::string, std::string>> changes;
    {
      std::lock_guard<std::mutex> l(db_mu_);
      if (!changes_stmt_) {
        auto s = SqliteStmt::prepare(*db_,
            "SELECT seq, kind, name FROM account_changes WHERE seq > ? ORDER BY seq");
        if (!s.ok()) {
          std::fprintf(stderr, "distillguard: account store watcher: %s\n",
                       s.status().message().c_str());
          return;
        }
        changes_stmt_ = std::make_unique<SqliteStmt>(std::move(s).value());
      }
      changes_stmt_->bind(1, last_change_);
      while (true) {
        auto row = changes_stmt_->step();
        if (!row.ok()) {
          // Transient (e.g. busy): the next poll picks it up.
          break;
        }
        if (!row.value()) break;
        last_change_ = changes_stmt_->col_int(0);
        changes.emplace_back(changes_stmt_->col_text(1), changes_stmt_->col_text(2));
      }
      changes_stmt_->reset();
    }
    for (auto& [kind, name] : changes) {
      if (kind == "key") {
        invalidate_key(name);
      } else {
        invalidate_account(name);
      }
    }
  }

  SqliteAccountStoreOptions options_;
  Clock& clock_;
  std::mutex db_mu_;  // guards db_ and the statements
  std::unique_ptr<SqliteDb> db_;
  std::unique_ptr<SqliteStmt> key_stmt_, account_stmt_, changes_stmt_;
  int64_t last_change_ = 0;
  std::atomic<uint64_t> generation_{0};  // bumped by every invalidation
  std::unique_ptr<KeyShard[]> key_shards_;
  std::unique_ptr<AccountShard[]> account_shards_;
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stop_ = false;
  std::thread watcher_;
};

}  // namespace

Result<std::unique_ptr<AccountStore>> open_sqlite_account_store(
    const SqliteAccountStoreOptions& options, Clock& clock) {
  DG_ASSIGN_OR_RETURN(auto db, SqliteDb::open(options.path, /*create=*/true));
  auto store = std::make_unique<SqliteAccountStore>(options, clock, std::move(db));
  Status st = store->init();
  if (!st.ok()) return internal_error("account store '" + options.path + "': " + st.message());
  return std::unique_ptr<AccountStore>(std::move(store));
}

}  // namespace dg
