#include "store/account_store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <thread>

#include "common/hash.h"
#include "store/memory/memory_account_store.h"
#include "store/sqlite/sqlite_account_store.h"

namespace dg {
namespace {

// Removes this process's scratch directory when the tests end.
class ScratchCleanup : public ::testing::Environment {
 public:
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(
        std::filesystem::temp_directory_path() / ("dg_store_test_" + std::to_string(::getpid())),
        ec);
  }
};
const auto* const kCleanup = ::testing::AddGlobalTestEnvironment(new ScratchCleanup);

std::string temp_db(const char* name) {
  auto dir =
      std::filesystem::temp_directory_path() / ("dg_store_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto p = dir / name;
  std::filesystem::remove(p);
  std::filesystem::remove(p.string() + "-wal");
  std::filesystem::remove(p.string() + "-shm");
  return p.string();
}

// Every behaviour below must hold for every backend.
void exercise(AccountStore& s) {
  ASSERT_TRUE(s.create_account("alice", "new").ok());
  EXPECT_EQ(s.create_account("alice", "new").status().code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(s.create_account("bad name", "new").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.create_key("nobody").status().code(), StatusCode::kNotFound);

  auto k = s.create_key("alice");
  ASSERT_TRUE(k.ok()) << k.status().to_string();
  EXPECT_EQ(k->secret.rfind("dg-", 0), 0u);
  EXPECT_EQ(k->secret.size(), 46u);
  EXPECT_EQ(k->key.key_id.rfind("key_", 0), 0u);

  uint64_t gen = s.generation();
  auto info = s.authenticate(k->secret);
  ASSERT_TRUE(info.ok()) << info.status().to_string();
  EXPECT_EQ(info->account, "alice");
  EXPECT_EQ(info->key_id, k->key.key_id);
  EXPECT_EQ(info->tier, "new");
  EXPECT_GT(info->created, 0);

  EXPECT_EQ(s.authenticate("dg-nope").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(s.authenticate(k->secret + "x").status().code(), StatusCode::kNotFound);

  EXPECT_EQ(s.generation(), gen);  // reads change nothing
  ASSERT_TRUE(s.set_tier("alice", "verified").ok());
  EXPECT_GT(s.generation(), gen);  // every write may change an answer
  gen = s.generation();
  EXPECT_EQ(s.authenticate(k->secret)->tier, "verified");

  ASSERT_TRUE(s.set_disabled("alice", true).ok());
  EXPECT_EQ(s.authenticate(k->secret).status().code(), StatusCode::kPermissionDenied);
  ASSERT_TRUE(s.set_disabled("alice", false).ok());
  EXPECT_TRUE(s.authenticate(k->secret).ok());
  EXPECT_EQ(s.set_disabled("nobody", true).code(), StatusCode::kNotFound);

  EXPECT_GT(s.generation(), gen);
  gen = s.generation();
  ASSERT_TRUE(s.revoke_key(k->key.key_id).ok());
  EXPECT_GT(s.generation(), gen);
  EXPECT_EQ(s.authenticate(k->secret).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(s.revoke_key("key_nothere").code(), StatusCode::kNotFound);

  auto k2 = s.create_key_with_secret("alice", "dg-test-secret-0001");
  ASSERT_TRUE(k2.ok());
  EXPECT_EQ(s.authenticate("dg-test-secret-0001")->account, "alice");
  EXPECT_EQ(s.create_key_with_secret("alice", "short").status().code(),
            StatusCode::kInvalidArgument);

  ASSERT_TRUE(s.create_account("bob", "standard").ok());
  auto accounts = s.list_accounts();
  ASSERT_TRUE(accounts.ok());
  EXPECT_EQ(accounts->size(), 2u);
  auto keys = s.list_keys(std::string_view("alice"));
  ASSERT_TRUE(keys.ok());
  EXPECT_EQ(keys->size(), 2u);
  EXPECT_EQ(s.list_keys(std::string_view("bob"))->size(), 0u);
  EXPECT_EQ(s.list_keys(std::nullopt)->size(), 2u);
}

TEST(AccountStore, MemoryBackend) {
  ManualClock clock(1'700'000'000LL * kNsPerSec);
  auto s = make_memory_account_store(clock);
  exercise(*s);
}

TEST(AccountStore, SqliteBackend) {
  ManualClock clock(1'700'000'000LL * kNsPerSec);
  SqliteAccountStoreOptions o;
  o.path = temp_db("backend.db");
  auto s = open_sqlite_account_store(o, clock);
  ASSERT_TRUE(s.ok()) << s.status().to_string();
  exercise(**s);
}

TEST(KeyHashing, SecretsAreRandomAndNeverStored) {
  std::string a = generate_key_secret(), b = generate_key_secret();
  EXPECT_NE(a, b);
  EXPECT_EQ(hash_key_secret(a), sha256_hex(a));
  EXPECT_EQ(hash_key_secret(a).size(), 64u);

  ManualClock clock(1'700'000'000LL * kNsPerSec);
  SqliteAccountStoreOptions o;
  o.path = temp_db("hashing.db");
  std::string secret;
  {
    auto s = open_sqlite_account_store(o, clock);
    ASSERT_TRUE(s.ok());
    ASSERT_TRUE((*s)->create_account("carol", "new").ok());
    auto k = (*s)->create_key("carol");
    ASSERT_TRUE(k.ok());
    secret = k->secret;
  }
  // Scan every text value in the database: the secret is nowhere, its hash is.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(o.path.c_str(), &db), SQLITE_OK);
  bool found_secret = false, found_hash = false;
  for (const char* sql :
       {"SELECT key_id, account, secret_sha256 FROM api_keys",
        "SELECT kind, name, '' FROM account_changes", "SELECT name, tier, '' FROM accounts"}) {
    sqlite3_stmt* st = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(db, sql, -1, &st, nullptr), SQLITE_OK);
    while (sqlite3_step(st) == SQLITE_ROW) {
      for (int i = 0; i < 3; ++i) {
        std::string v(reinterpret_cast<const char*>(sqlite3_column_text(st, i)));
        if (v.find(secret.substr(3)) != std::string::npos) found_secret = true;
        if (v == hash_key_secret(secret)) found_hash = true;
      }
    }
    sqlite3_finalize(st);
  }
  sqlite3_close(db);
  EXPECT_FALSE(found_secret);
  EXPECT_TRUE(found_hash);
  // And the lookup works by hash from a fresh process-like open.
  auto s = open_sqlite_account_store(o, clock);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ((*s)->authenticate(secret)->account, "carol");
}

bool eventually(const std::function<bool()>& cond) {
  for (int i = 0; i < 500; ++i) {  // bounded: 5 s
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

// A second store on the same file stands in for the CLI in another process.
TEST(AccountStore, SeesChangesFromAnotherConnection) {
  ManualClock clock(1'700'000'000LL * kNsPerSec);
  SqliteAccountStoreOptions server_opts;
  server_opts.path = temp_db("shared.db");
  server_opts.poll_interval = 20 * kNsPerMs;
  auto server = open_sqlite_account_store(server_opts, clock);
  ASSERT_TRUE(server.ok());
  SqliteAccountStoreOptions cli_opts = server_opts;
  cli_opts.poll_interval = 0;
  auto cli = open_sqlite_account_store(cli_opts, clock);
  ASSERT_TRUE(cli.ok());

  ASSERT_TRUE((*cli)->create_account("dave", "new").ok());
  auto k = (*cli)->create_key("dave");
  ASSERT_TRUE(k.ok());
  // A key created elsewhere works on the very next request (cache miss -> database).
  EXPECT_TRUE((*server)->authenticate(k->secret).ok());
  EXPECT_TRUE((*server)->authenticate(k->secret).ok());  // now from the cache

  const uint64_t gen = (*server)->generation();
  ASSERT_TRUE((*cli)->set_disabled("dave", true).ok());
  EXPECT_TRUE(eventually([&] {
    return (*server)->authenticate(k->secret).status().code() == StatusCode::kPermissionDenied;
  }));
  // The watcher's invalidation is visible to callers' caches too.
  EXPECT_GT((*server)->generation(), gen);
  ASSERT_TRUE((*cli)->set_disabled("dave", false).ok());
  EXPECT_TRUE(eventually([&] { return (*server)->authenticate(k->secret).ok(); }));
  ASSERT_TRUE((*cli)->set_tier("dave", "enterprise").ok());
  EXPECT_TRUE(eventually([&] {
    auto r = (*server)->authenticate(k->secret);
    return r.ok() && r->tier == "enterprise";
  }));
  ASSERT_TRUE((*cli)->revoke_key(k->key.key_id).ok());
  EXPECT_TRUE(eventually(
      [&] { return (*server)->authenticate(k->secret).status().code() == StatusCode::kNotFound; }));
}

TEST(AccountStore, UnknownKeysAreCachedNegativelyForAWhile) {
  ManualClock clock(1'700'000'000LL * kNsPerSec);
  SqliteAccountStoreOptions o;
  o.path = temp_db("negative.db");
  o.poll_interval = 0;  // no watcher: only the negative TTL brings the key back
  auto server = open_sqlite_account_store(o, clock);
  auto cli = open_sqlite_account_store(o, clock);
  ASSERT_TRUE(server.ok() && cli.ok());
  ASSERT_TRUE((*cli)->create_account("erin", "new").ok());
  const std::string secret = "dg-some-long-test-secret";
  EXPECT_EQ((*server)->authenticate(secret).status().code(), StatusCode::kNotFound);
  ASSERT_TRUE((*cli)->create_key_with_secret("erin", secret).ok());
  EXPECT_EQ((*server)->authenticate(secret).status().code(), StatusCode::kNotFound);
  clock.advance(o.negative_ttl + 1);
  EXPECT_TRUE((*server)->authenticate(secret).ok());
}

}  // namespace
}  // namespace dg
