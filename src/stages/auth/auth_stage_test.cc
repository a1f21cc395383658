#include "stages/auth/auth_stage.h"

#include <gtest/gtest.h>

#include "store/memory/memory_account_store.h"

namespace dg {
namespace {

struct Fixture {
  ManualClock clock{1'700'000'000LL * kNsPerSec};
  std::unique_ptr<AccountStore> store = make_memory_account_store(clock);
  std::string secret;
  Fixture() {
    EXPECT_TRUE(store->create_account("acme", "standard").ok());
    secret = store->create_key("acme")->secret;
  }
};

TEST(AuthStage, AcceptsAValidKey) {
  Fixture f;
  auto stage = make_auth_stage(*f.store, StageMode::kEnforce);
  ASSERT_TRUE(stage.ok());
  EXPECT_EQ((*stage)->name(), "auth");
  ExchangeContext ctx;
  ctx.bearer_token = f.secret;
  EXPECT_EQ((*stage)->on_request(ctx), FilterStatus::kContinue);
  EXPECT_EQ(ctx.account.account, "acme");
  EXPECT_EQ(ctx.account.tier, "standard");
  EXPECT_EQ(ctx.local_reply(), nullptr);
}

TEST(AuthStage, MissingOrUnknownKeyIs401) {
  Fixture f;
  auto stage = make_auth_stage(*f.store, StageMode::kEnforce);
  for (const char* token : {"", "dg-wrongwrongwrongwrong"}) {
    ExchangeContext ctx;
    ctx.bearer_token = token;
    EXPECT_EQ((*stage)->on_request(ctx), FilterStatus::kStop);
    ASSERT_NE(ctx.local_reply(), nullptr);
    EXPECT_EQ(ctx.local_reply()->status, 401);
    EXPECT_EQ(ctx.local_reply()->code, "invalid_api_key");
    EXPECT_EQ(ctx.local_reply()->type, "invalid_request_error");
    // The full secret never appears in the message.
    if (*token) {
      EXPECT_EQ(ctx.local_reply()->message.find(token), std::string::npos);
    }
  }
}

TEST(AuthStage, RevokedKeyIs401DisabledAccountIs403) {
  Fixture f;
  auto stage = make_auth_stage(*f.store, StageMode::kEnforce);
  ASSERT_TRUE(f.store->set_disabled("acme", true).ok());
  ExchangeContext ctx;
  ctx.bearer_token = f.secret;
  EXPECT_EQ((*stage)->on_request(ctx), FilterStatus::kStop);
  EXPECT_EQ(ctx.local_reply()->status, 403);
  EXPECT_EQ(ctx.local_reply()->code, "account_disabled");
  ASSERT_TRUE(f.store->set_disabled("acme", false).ok());
  auto keys = f.store->list_keys(std::string_view("acme"));
  ASSERT_TRUE(f.store->revoke_key(keys->at(0).key_id).ok());
  ExchangeContext ctx2;
  ctx2.bearer_token = f.secret;
  EXPECT_EQ((*stage)->on_request(ctx2), FilterStatus::kStop);
  EXPECT_EQ(ctx2.local_reply()->status, 401);
}

// Counts the store's authenticate() calls, to see the stage's cache at work.
class CountingStore final : public AccountStore {
 public:
  explicit CountingStore(AccountStore& s) : s_(s) {}
  int calls = 0;
  Result<AccountInfo> authenticate(std::string_view secret) override {
    ++calls;
    return s_.authenticate(secret);
  }
  uint64_t generation() const override { return s_.generation(); }
  Result<Account> create_account(std::string_view n, std::string_view t) override {
    return s_.create_account(n, t);
  }
  Result<Account> get_account(std::string_view n) override { return s_.get_account(n); }
  Result<std::vector<Account>> list_accounts() override { return s_.list_accounts(); }
  Status set_disabled(std::string_view n, bool d) override { return s_.set_disabled(n, d); }
  Status set_tier(std::string_view n, std::string_view t) override { return s_.set_tier(n, t); }
  Result<NewKey> create_key(std::string_view a) override { return s_.create_key(a); }
  Result<NewKey> create_key_with_secret(std::string_view a, std::string_view s) override {
    return s_.create_key_with_secret(a, s);
  }
  Result<std::vector<ApiKey>> list_keys(std::optional<std::string_view> a) override {
    return s_.list_keys(a);
  }
  Status revoke_key(std::string_view id) override { return s_.revoke_key(id); }

 private:
  AccountStore& s_;
};

FilterStatus run(Stage& stage, const std::string& secret, ExchangeContext& ctx) {
  ctx.bearer_token = secret;
  return stage.on_request(ctx);
}

TEST(AuthStage, AcceptedKeysAreCachedUntilTheStoreChanges) {
  Fixture f;
  CountingStore counting(*f.store);
  auto stage = make_auth_stage(counting, StageMode::kEnforce);
  for (int i = 0; i < 3; ++i) {
    ExchangeContext ctx;
    EXPECT_EQ(run(**stage, f.secret, ctx), FilterStatus::kContinue);
    EXPECT_EQ(ctx.account.account, "acme");
    EXPECT_EQ(ctx.account.tier, "standard");
  }
  EXPECT_EQ(counting.calls, 1);
  // Refusals are never cached.
  for (int i = 0; i < 2; ++i) {
    ExchangeContext ctx;
    EXPECT_EQ(run(**stage, "dg-wrongwrongwrongwrong", ctx), FilterStatus::kStop);
  }
  EXPECT_EQ(counting.calls, 3);
  // Any change asks the store again, and the answer follows it.
  ASSERT_TRUE(f.store->set_tier("acme", "verified").ok());
  ExchangeContext ctx;
  EXPECT_EQ(run(**stage, f.secret, ctx), FilterStatus::kContinue);
  EXPECT_EQ(ctx.account.tier, "verified");
  EXPECT_EQ(counting.calls, 4);
}

TEST(AuthStage, ACachedKeyStopsWhenDisabledOrRevoked) {
  Fixture f;
  auto stage = make_auth_stage(*f.store, StageMode::kEnforce);
  ExchangeContext ok1;
  ASSERT_EQ(run(**stage, f.secret, ok1), FilterStatus::kContinue);
  ASSERT_TRUE(f.store->set_disabled("acme", true).ok());
  ExchangeContext disabled;
  EXPECT_EQ(run(**stage, f.secret, disabled), FilterStatus::kStop);
  EXPECT_EQ(disabled.local_reply()->status, 403);
  ASSERT_TRUE(f.store->set_disabled("acme", false).ok());
  ExchangeContext ok2;
  ASSERT_EQ(run(**stage, f.secret, ok2), FilterStatus::kContinue);
  ASSERT_TRUE(f.store->revoke_key(f.store->list_keys(std::string_view("acme"))->at(0).key_id).ok());
  ExchangeContext revoked;
  EXPECT_EQ(run(**stage, f.secret, revoked), FilterStatus::kStop);
  EXPECT_EQ(revoked.local_reply()->status, 401);
}

TEST(AuthStage, StagesOnOtherStoresDoNotShareAnswers) {
  Fixture a, b;  // the same secret is valid in a only
  auto sa = make_auth_stage(*a.store, StageMode::kEnforce);
  auto sb = make_auth_stage(*b.store, StageMode::kEnforce);
  ExchangeContext in_a, in_b;
  EXPECT_EQ(run(**sa, a.secret, in_a), FilterStatus::kContinue);
  EXPECT_EQ(run(**sb, a.secret, in_b), FilterStatus::kStop);
  EXPECT_EQ(in_b.local_reply()->status, 401);
}

TEST(AuthStage, ShadowModeRecordsButLetsThrough) {
  Fixture f;
  auto stage = make_auth_stage(*f.store, StageMode::kShadow);
  ExchangeContext ctx;
  ctx.bearer_token = "dg-wrongwrongwrongwrong";
  EXPECT_EQ((*stage)->on_request(ctx), FilterStatus::kContinue);
  EXPECT_EQ(ctx.local_reply(), nullptr);
  ASSERT_EQ(ctx.notes.size(), 1u);
  EXPECT_EQ(ctx.notes[0].first, "auth");
  EXPECT_TRUE(ctx.account.account.empty());
}

}  // namespace
}  // namespace dg
