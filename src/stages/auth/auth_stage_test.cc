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
