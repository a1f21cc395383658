#include "admin/admin_api.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <filesystem>

#include "audit/audit_log.h"
#include "store/memory/memory_account_store.h"
#include "store/sqlite/sqlite_account_store.h"

namespace dg::admin {
namespace {
namespace json = boost::json;

constexpr const char* kToken = "test-admin-token-0123456789";

std::string temp_dir(const std::string& name) {
  auto d = std::filesystem::path(testing::TempDir()) / ("dg_admin_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(d);
  std::filesystem::create_directories(d);
  return d.string();
}

ExchangeRecord make_record(TimeNs ts, const std::string& account, const std::string& prompt, int status,
                           const std::string& action, const std::string& error_code = "",
                           const std::string& note = "", const std::string& note_stage = "policy") {
  ExchangeRecord r;
  r.ts = ts;
  r.account = account;
  r.key_id = "key_000000000001";
  r.ip = "203.0.113.7";
  r.endpoint = "/v1/chat/completions";
  r.request = json::object{{"model", "m1"},
                           {"messages", json::array{json::object{{"role", "user"}, {"content", prompt}}}}};
  if (error_code.empty()) {
    r.response = json::object{{"usage", json::object{{"prompt_tokens", 5}, {"completion_tokens", 7}}}};
  } else {
    r.response = json::object{{"error", json::object{{"message", "refused: " + error_code},
                                                     {"type", "x"},
                                                     {"code", error_code}}}};
  }
  r.status = status;
  r.latency_ms = 1.5;
  r.action = action;
  if (!note.empty()) r.extra["notes"] = json::array{json::object{{"stage", note_stage}, {"note", note}}};
  return r;
}

class AdminApiTest : public testing::Test {
 protected:
  void SetUp() override {
    dir_ = temp_dir(testing::UnitTest::GetInstance()->current_test_info()->name());
    audit_path_ = dir_ + "/audit.db";
    store_ = make_memory_account_store(clock_);
    ASSERT_TRUE(store_->create_account("alice", "standard").ok());
    ASSERT_TRUE(store_->create_account("mallory", "new").ok());
    ASSERT_TRUE(store_->create_account("idle", "new").ok());
    auto k = store_->create_key_with_secret("mallory", "mallory-secret-0123456789");
    ASSERT_TRUE(k.ok());
    auto log = AuditLog::open(audit_path_, AuditLogOptions{});
    ASSERT_TRUE(log.ok()) << log.status().to_string();
    TimeNs t = 1'780'000'000 * kNsPerSec;
    for (int i = 0; i < 5; ++i)
      ASSERT_TRUE((*log)->append(make_record(t + i * kNsPerSec, "alice", "hello number " + std::to_string(i), 200,
                                             "allow")).ok());
    ASSERT_TRUE((*log)->append(make_record(t + 6 * kNsPerSec, "mallory", "explain step by step", 200, "degrade", "",
                                           "degrade: risk 0.62 >= degrade 0.60 (tier new)")).ok());
    ASSERT_TRUE((*log)->append(make_record(t + 7 * kNsPerSec, "mallory", "again", 429, "allow", "rate_limited",
                                           "risk 0.64 suspicious, capability math", "assess")).ok());
    ASSERT_TRUE((*log)->append(make_record(t + 8 * kNsPerSec, "-", "", 401, "allow", "invalid_api_key")).ok());
    ASSERT_TRUE((*log)->flush().ok());
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<AdminApi> make_api(std::string token = kToken, int64_t max_sync = 20000) {
    AdminOptions o;
    o.admin_token = std::move(token);
    o.audit_path = audit_path_;
    o.max_sync_per_call = max_sync;
    auto api = AdminApi::create(std::move(o), *store_);
    EXPECT_TRUE(api.ok());
    return std::move(api).value();
  }

  static AdminResponse call(AdminApi& api, const std::string& method, const std::string& target,
                            const std::string& auth = std::string("Bearer ") + kToken) {
    return api.handle(AdminRequest{method, target, auth, ""});
  }

  static json::object body_of(const AdminResponse& r) {
    boost::system::error_code ec;
    json::value v = json::parse(r.body, ec);
    EXPECT_FALSE(ec) << r.body;
    return v.is_object() ? v.get_object() : json::object{};
  }

  static const json::object* row_for(const json::object& body, std::string_view id) {
    for (const auto& a : body.at("accounts").as_array())
      if (a.as_object().at("id").as_string() == id) return &a.as_object();
    return nullptr;
  }

  ManualClock clock_{1'780'000'000 * kNsPerSec};
  std::string dir_, audit_path_;
  std::unique_ptr<AccountStore> store_;
};

TEST_F(AdminApiTest, DisabledWithoutATokenConfigured) {
  auto api = make_api("");
  for (const char* target : {"/admin/accounts", "/dashboard", "/dashboard/app.js"}) {
    AdminResponse r = call(*api, "GET", target);
    EXPECT_EQ(r.status, 404) << target;
    EXPECT_EQ(body_of(r).at("error").as_object().at("code").as_string(), "unknown_url");
  }
}

TEST_F(AdminApiTest, RefusesMissingOrWrongToken) {
  auto api = make_api();
  for (const std::string& auth : std::vector<std::string>{"", "Bearer wrong", std::string("Bearer ") + kToken + "x", std::string("Basic ") + kToken}) {
    AdminResponse r = call(*api, "GET", "/admin/accounts", auth);
    EXPECT_EQ(r.status, 401) << auth;
    auto err = body_of(r).at("error").as_object();
    EXPECT_EQ(err.at("code").as_string(), "invalid_admin_token");
    EXPECT_EQ(err.at("type").as_string(), "invalid_request_error");
    bool www = false;
    for (const auto& [k, v] : r.headers) www |= k == "WWW-Authenticate";
    EXPECT_TRUE(www);
  }
  // A disable without the token changes nothing.
  EXPECT_EQ(call(*api, "POST", "/admin/accounts/alice/disable", "").status, 401);
  EXPECT_FALSE(store_->get_account("alice")->disabled);
}

TEST_F(AdminApiTest, ServesTheEmbeddedDashboardWithoutToken) {
  auto api = make_api();
  AdminResponse r = call(*api, "GET", "/dashboard", "");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "text/html; charset=utf-8");
  EXPECT_NE(r.body.find("/dashboard/app.js"), std::string::npos);
  bool csp = false;
  for (const auto& [k, v] : r.headers) csp |= k == "Content-Security-Policy" && v.find("script-src 'self'") != std::string::npos;
  EXPECT_TRUE(csp);
  AdminResponse js = call(*api, "GET", "/dashboard/app.js", "");
  EXPECT_EQ(js.status, 200);
  EXPECT_EQ(js.content_type, "text/javascript; charset=utf-8");
  EXPECT_FALSE(js.body.empty());
  EXPECT_EQ(call(*api, "GET", "/dashboard/../etc/passwd", "").status, 404);
  EXPECT_EQ(call(*api, "POST", "/dashboard/", "").status, 405);
}

TEST_F(AdminApiTest, ListsAccountsWithAuditFigures) {
  auto api = make_api();
  AdminResponse r = call(*api, "GET", "/admin/accounts");
  ASSERT_EQ(r.status, 200) << r.body;
  auto body = body_of(r);
  EXPECT_EQ(body.at("total").as_int64(), 3);
  const json::object* alice = row_for(body, "alice");
  ASSERT_NE(alice, nullptr);
  EXPECT_EQ(alice->at("tier").as_string(), "standard");
  EXPECT_EQ(alice->at("requests").as_int64(), 5);
  EXPECT_EQ(alice->at("last_action").as_string(), "allow");
  EXPECT_EQ(alice->at("disabled").as_bool(), false);
  EXPECT_TRUE(alice->at("risk").is_double());
  EXPECT_TRUE(alice->at("verdict").is_string());
  const json::object* mallory = row_for(body, "mallory");
  ASSERT_NE(mallory, nullptr);
  EXPECT_EQ(mallory->at("requests").as_int64(), 2);
  EXPECT_EQ(mallory->at("refusals").as_int64(), 1);
  EXPECT_EQ(mallory->at("non_allow").as_int64(), 1);
  EXPECT_EQ(mallory->at("last_code").as_string(), "rate_limited");
  const json::object* idle = row_for(body, "idle");
  ASSERT_NE(idle, nullptr);
  EXPECT_EQ(idle->at("requests").as_int64(), 0);
  EXPECT_TRUE(idle->at("risk").is_null());
  EXPECT_TRUE(idle->at("last_action").is_null());
  // The engine replica saw every authenticated record (the "-" one is not an account).
  EXPECT_EQ(body.at("engine").as_object().at("synced_seq").as_int64(), 8);
  EXPECT_EQ(body.at("engine").as_object().at("accounts_tracked").as_int64(), 2);
  // q filters, limit bounds.
  auto f = body_of(call(*api, "GET", "/admin/accounts?q=mal"));
  EXPECT_EQ(f.at("accounts").as_array().size(), 1u);
  auto l = body_of(call(*api, "GET", "/admin/accounts?limit=1"));
  EXPECT_EQ(l.at("accounts").as_array().size(), 1u);
  EXPECT_EQ(l.at("total").as_int64(), 3);
}

TEST_F(AdminApiTest, DisableAndEnableReachTheStore) {
  auto api = make_api();
  ASSERT_TRUE(store_->authenticate("mallory-secret-0123456789").ok());
  AdminResponse r = call(*api, "POST", "/admin/accounts/mallory/disable");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(body_of(r).at("account").as_object().at("disabled").as_bool());
  EXPECT_TRUE(store_->get_account("mallory")->disabled);
  EXPECT_EQ(store_->authenticate("mallory-secret-0123456789").status().code(), StatusCode::kPermissionDenied);
  r = call(*api, "POST", "/admin/accounts/mallory/enable");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_FALSE(store_->get_account("mallory")->disabled);
  EXPECT_TRUE(store_->authenticate("mallory-secret-0123456789").ok());
  EXPECT_EQ(call(*api, "POST", "/admin/accounts/nobody/disable").status, 404);
  EXPECT_EQ(call(*api, "GET", "/admin/accounts/mallory/disable").status, 405);
  EXPECT_EQ(call(*api, "POST", "/admin/accounts/bad%20name/disable").status, 400);
}

TEST_F(AdminApiTest, DisableWorksOnTheSqliteStore) {
  SqliteAccountStoreOptions so;
  so.path = dir_ + "/accounts.db";
  so.poll_interval = 0;
  auto sq = open_sqlite_account_store(so, clock_);
  ASSERT_TRUE(sq.ok()) << sq.status().to_string();
  ASSERT_TRUE((*sq)->create_account("bob", "new").ok());
  AdminOptions o;
  o.admin_token = kToken;
  o.audit_path = audit_path_;
  auto api = AdminApi::create(o, **sq);
  ASSERT_TRUE(api.ok());
  ASSERT_EQ(call(**api, "POST", "/admin/accounts/bob/disable").status, 200);
  // A second connection (as the gateway's own) sees it.
  auto other = open_sqlite_account_store(so, clock_);
  ASSERT_TRUE(other.ok());
  EXPECT_TRUE((*other)->get_account("bob")->disabled);
}

TEST_F(AdminApiTest, DecisionsAreNonAllowActionsAndLocalReplies) {
  auto api = make_api();
  AdminResponse r = call(*api, "GET", "/admin/decisions?limit=10");
  ASSERT_EQ(r.status, 200) << r.body;
  const json::object body = body_of(r);
  const auto& d = body.at("decisions").as_array();
  ASSERT_EQ(d.size(), 3u);  // degrade, 429, 401 — newest first; alice's allows are not decisions
  EXPECT_EQ(d[0].as_object().at("code").as_string(), "invalid_api_key");
  EXPECT_EQ(d[0].as_object().at("account").as_string(), "-");
  EXPECT_EQ(d[1].as_object().at("status").as_int64(), 429);
  EXPECT_EQ(d[2].as_object().at("action").as_string(), "degrade");
  EXPECT_NE(d[2].as_object().at("reason").as_string().find("risk 0.62"), json::string::npos);
  EXPECT_DOUBLE_EQ(d[2].as_object().at("live_risk").as_double(), 0.62);
  auto one = body_of(call(*api, "GET", "/admin/decisions?limit=1"));
  EXPECT_EQ(one.at("decisions").as_array().size(), 1u);
  auto only = body_of(call(*api, "GET", "/admin/decisions?account=mallory"));
  EXPECT_EQ(only.at("decisions").as_array().size(), 2u);
}

TEST_F(AdminApiTest, AccountPageHasHistoryAndRecentExchanges) {
  auto api = make_api();
  AdminResponse r = call(*api, "GET", "/admin/accounts/alice");
  ASSERT_EQ(r.status, 200) << r.body;
  auto body = body_of(r);
  EXPECT_EQ(body.at("account").as_object().at("id").as_string(), "alice");
  const auto& hist = body.at("risk_history").as_array();
  EXPECT_FALSE(hist.empty());
  for (const auto& p : hist) {
    double x = p.as_object().at("risk").as_double();
    EXPECT_GE(x, 0.0);
    EXPECT_LE(x, 1.0);
  }
  const auto& recent = body.at("recent").as_array();
  ASSERT_EQ(recent.size(), 5u);
  EXPECT_EQ(recent[0].as_object().at("prompt").as_string(), "hello number 4");  // newest first
  EXPECT_EQ(recent[0].as_object().at("completion_tokens").as_int64(), 7);
  EXPECT_EQ(recent[0].as_object().at("model").as_string(), "m1");
  EXPECT_EQ(call(*api, "GET", "/admin/accounts/nobody").status, 404);
  // The risk the live engine noted (assess or policy stage) is shown per exchange.
  auto m = body_of(call(*api, "GET", "/admin/accounts/mallory"));
  EXPECT_DOUBLE_EQ(m.at("recent").as_array()[0].as_object().at("live_risk").as_double(), 0.64);  // assess note
  EXPECT_DOUBLE_EQ(m.at("recent").as_array()[1].as_object().at("live_risk").as_double(), 0.62);  // policy note
}

TEST_F(AdminApiTest, SyncIsBoundedPerCallAndCatchesUp) {
  auto api = make_api(kToken, 3);
  auto first = body_of(call(*api, "GET", "/admin/accounts"));
  EXPECT_EQ(first.at("engine").as_object().at("synced_seq").as_int64(), 3);
  EXPECT_TRUE(first.at("engine").as_object().at("catching_up").as_bool());
  call(*api, "GET", "/admin/accounts");
  auto third = body_of(call(*api, "GET", "/admin/accounts"));
  EXPECT_EQ(third.at("engine").as_object().at("synced_seq").as_int64(), 8);
  EXPECT_FALSE(third.at("engine").as_object().at("catching_up").as_bool());
  EXPECT_EQ(row_for(third, "alice")->at("requests").as_int64(), 5);
}

TEST_F(AdminApiTest, CatchUpStepsUntilTheReplicaReachesTheLog) {
  auto api = make_api(kToken, 3);
  EXPECT_TRUE(api->catch_up());   // 3 of 8
  EXPECT_TRUE(api->catch_up());   // 6 of 8
  EXPECT_FALSE(api->catch_up());  // 8 of 8
  auto body = body_of(call(*api, "GET", "/admin/accounts"));
  EXPECT_EQ(body.at("engine").as_object().at("synced_seq").as_int64(), 8);
  EXPECT_FALSE(api->catch_up());
}

TEST_F(AdminApiTest, ClustersEndpointAnswersAList) {
  auto api = make_api();
  AdminResponse r = call(*api, "GET", "/admin/clusters");
  ASSERT_EQ(r.status, 200) << r.body;
  auto body = body_of(r);
  EXPECT_TRUE(body.at("clusters").is_array());
  EXPECT_FALSE(body.at("note").as_string().empty());
}

TEST_F(AdminApiTest, AuditVerifyDetectsTampering) {
  auto api = make_api();
  auto ok = body_of(call(*api, "GET", "/admin/audit/verify"));
  EXPECT_TRUE(ok.at("ok").as_bool());
  EXPECT_EQ(ok.at("entries").as_int64(), 8);
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(audit_path_.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "UPDATE audit_log SET record = replace(record, 'hello number 2', 'edited') WHERE seq = 3",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  auto bad = body_of(call(*api, "GET", "/admin/audit/verify"));
  EXPECT_FALSE(bad.at("ok").as_bool());
  EXPECT_EQ(bad.at("first_bad_seq").as_int64(), 3);
}

TEST_F(AdminApiTest, UnknownRoutesAndMethods) {
  auto api = make_api();
  EXPECT_EQ(call(*api, "GET", "/admin/nope").status, 404);
  EXPECT_EQ(call(*api, "POST", "/admin/accounts").status, 405);
  EXPECT_EQ(call(*api, "DELETE", "/admin/audit/verify").status, 405);
  EXPECT_TRUE(is_admin_path("/admin/accounts"));
  EXPECT_TRUE(is_admin_path("/dashboard"));
  EXPECT_FALSE(is_admin_path("/administrator"));
  EXPECT_FALSE(is_admin_path("/v1/chat/completions"));
}

TEST_F(AdminApiTest, MissingAuditDatabaseIsNotAnError) {
  AdminOptions o;
  o.admin_token = kToken;
  o.audit_path = dir_ + "/not-yet.db";
  auto api = AdminApi::create(o, *store_);
  ASSERT_TRUE(api.ok());
  AdminResponse r = call(**api, "GET", "/admin/accounts");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(body_of(r).at("total").as_int64(), 3);
  EXPECT_EQ(call(**api, "GET", "/admin/decisions").status, 200);
  EXPECT_TRUE(body_of(call(**api, "GET", "/admin/audit/verify")).at("ok").as_bool());
}

}  // namespace
}  // namespace dg::admin
