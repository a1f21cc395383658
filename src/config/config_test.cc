#include "config/config.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

namespace dg {
namespace {

std::string error_of(std::string_view text) {
  auto r = parse_config(text, "cfg.toml");
  EXPECT_FALSE(r.ok()) << "expected an error for:\n" << text;
  return r.ok() ? "" : r.status().message();
}

TEST(Config, EmptyFileGivesDefaults) {
  auto r = parse_config("", "cfg.toml");
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  Config d = default_config();
  EXPECT_EQ(r->server.listen, d.server.listen);
  EXPECT_EQ(r->upstreams.size(), 1u);
  EXPECT_EQ(r->upstreams[0].url, "http://127.0.0.1:8000");
  EXPECT_EQ(r->tiers.size(), 4u);
  EXPECT_EQ(r->storage.sqlite_path, "./distillguard.db");
  EXPECT_EQ(r->stages.mode("auth"), StageMode::kEnforce);
  EXPECT_EQ(r->stages.mode("limit"), StageMode::kEnforce);
  EXPECT_EQ(r->stages.mode("watermark"), StageMode::kOff);
}

TEST(Config, DefaultsAreConsistent) {
  Config d = default_config();
  ASSERT_NE(d.tier(d.limits.default_tier), nullptr);
  for (const char* t : {"new", "standard", "verified", "enterprise"}) {
    const TierConfig* tier = d.tier(t);
    ASSERT_NE(tier, nullptr) << t;
    EXPECT_GT(tier->requests_per_minute, 0);
    EXPECT_GT(tier->tokens_per_minute, 0);
  }
  EXPECT_LT(d.tier("new")->ramp.start_fraction, 1.0);
  EXPECT_LT(d.tier("new")->requests_per_minute, d.tier("standard")->requests_per_minute);
}

TEST(Config, ReadsEverySection) {
  auto r = parse_config(R"(
[server]
listen = "0.0.0.0:0"
max_body_bytes = 1000
io_threads = 2
admin_token = "t"

[[upstream]]
name = "a"
url = "https://api.example.com/v1"
models = ["m1", "m2"]
connect_timeout_ms = 10
first_byte_timeout_ms = 20
idle_timeout_ms = 30
pool_size = 4
tls_verify = false
ca_file = "/x.pem"

[[upstream]]
name = "b"
url = "http://10.0.0.1:9000"

[tiers.small]
requests_per_minute = 6
tokens_per_minute = 600
burst = 2.5
ramp = { start_fraction = 0.1, full_after_days = 7, requires_clean_history = false }

[limits]
default_tier = "small"
max_tracked_keys = 5000
default_completion_tokens = 100

[storage]
sqlite_path = "/tmp/x.db"
redis_url = "redis://127.0.0.1:6379"

[audit]
sqlite_path = "/tmp/audit.db"
jsonl_path = "/tmp/audit.jsonl"
max_backlog = 10
keep_content = false

[stages]
order = ["auth", "limit", "forward"]
[stages.limit]
mode = "shadow"
)",
                        "cfg.toml");
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  const Config& c = r.value();
  EXPECT_EQ(c.server.listen, "0.0.0.0:0");
  EXPECT_EQ(c.server.max_body_bytes, 1000);
  EXPECT_EQ(c.server.io_threads, 2);
  EXPECT_EQ(c.server.admin_token, "t");
  ASSERT_EQ(c.upstreams.size(), 2u);
  EXPECT_EQ(c.upstreams[0].models, (std::vector<std::string>{"m1", "m2"}));
  EXPECT_EQ(c.upstreams[0].first_byte_timeout_ms, 20);
  EXPECT_FALSE(c.upstreams[0].tls_verify);
  EXPECT_EQ(c.upstreams[1].models, (std::vector<std::string>{"*"}));
  ASSERT_EQ(c.tiers.size(), 1u);
  const TierConfig* t = c.tier("small");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->requests_per_minute, 6);
  EXPECT_DOUBLE_EQ(t->burst_seconds, 2.5);
  EXPECT_DOUBLE_EQ(t->ramp.start_fraction, 0.1);
  EXPECT_FALSE(t->ramp.requires_clean_history);
  EXPECT_EQ(c.limits.default_tier, "small");
  EXPECT_EQ(c.audit.effective_sqlite_path(c.storage), "/tmp/audit.db");
  EXPECT_FALSE(c.audit.keep_content);
  EXPECT_EQ(c.stages.mode("limit"), StageMode::kShadow);
  EXPECT_EQ(c.stages.mode("auth"), StageMode::kEnforce);
}

TEST(Config, UnknownKeyNamesKeyAndLine) {
  std::string e = error_of("[tiers.new]\nrequests_per_minute = 5\nrpmm = 3\n");
  EXPECT_NE(e.find("cfg.toml:3: unknown key 'tiers.new.rpmm'"), std::string::npos) << e;
}

TEST(Config, UpstreamKeyComesFromTheEnvironment) {
  ::setenv("DG_TEST_UPSTREAM_KEY", "sk-upstream", 1);
  auto r = parse_config("[[upstream]]\nurl = \"https://api.example\"\napi_key_env = \"DG_TEST_UPSTREAM_KEY\"\n",
                        "cfg.toml");
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->upstreams[0].api_key, "sk-upstream");
  ::unsetenv("DG_TEST_UPSTREAM_KEY");
  std::string e = error_of("[[upstream]]\nurl = \"https://api.example\"\napi_key_env = \"DG_TEST_UPSTREAM_KEY\"\n");
  EXPECT_NE(e.find("cfg.toml:3"), std::string::npos) << e;
  EXPECT_NE(e.find("DG_TEST_UPSTREAM_KEY"), std::string::npos) << e;
}

TEST(Config, UnknownSectionNamesLine) {
  std::string e = error_of("\n\n[nonsense]\nx = 1\n");
  EXPECT_NE(e.find("cfg.toml:3: unknown key 'nonsense'"), std::string::npos) << e;
}

TEST(Config, WrongTypeNamesKeyAndLine) {
  std::string e = error_of("[server]\nlisten = \"127.0.0.1:1\"\nmax_body_bytes = \"big\"\n");
  EXPECT_NE(e.find("cfg.toml:3: server.max_body_bytes must be a positive integer"),
            std::string::npos)
      << e;
  e = error_of("[server]\nmax_body_bytes = -4\n");
  EXPECT_NE(e.find("cfg.toml:2: server.max_body_bytes must be a positive integer"),
            std::string::npos)
      << e;
}

TEST(Config, ValidatesValues) {
  EXPECT_NE(error_of("[server]\nlisten = \"nohost\"\n").find("cfg.toml:2: server.listen"),
            std::string::npos);
  EXPECT_NE(error_of("[[upstream]]\nurl = \"ftp://x\"\n").find("cfg.toml:2: upstream[0].url"),
            std::string::npos);
  EXPECT_NE(error_of("[[upstream]]\nname = \"x\"\n").find("needs a url"), std::string::npos);
  EXPECT_NE(error_of("[tiers.a]\nburst = 0\n[limits]\ndefault_tier = \"a\"\n")
                .find("cfg.toml:2: tiers.a.burst must be a number in"),
            std::string::npos);
  EXPECT_NE(error_of("[tiers.a]\nramp = { start_fraction = 2.0 }\n[limits]\ndefault_tier = \"a\"\n")
                .find("tiers.a.ramp.start_fraction"),
            std::string::npos);
  EXPECT_NE(error_of("[limits]\ndefault_tier = \"gold\"\n")
                .find("cfg.toml:2: limits.default_tier names an unknown tier 'gold'"),
            std::string::npos);
  EXPECT_NE(error_of("[stages.auth]\nmode = \"loud\"\n").find("cfg.toml:2: stages.auth.mode"),
            std::string::npos);
  EXPECT_NE(error_of("[stages]\norder = [\"auth\", \"auth\"]\n").find("twice"), std::string::npos);
  EXPECT_NE(error_of("[storage]\nredis_url = \"http://x\"\n").find("storage.redis_url"),
            std::string::npos);
}

TEST(Config, SyntaxErrorNamesLine) {
  std::string e = error_of("[server]\nlisten = \n");
  EXPECT_EQ(e.rfind("cfg.toml:2: ", 0), 0u) << e;
}

TEST(Config, ReportsEveryError) {
  std::string e = error_of("[server]\nio_threads = 0\nfoo = 1\n");
  EXPECT_NE(e.find("cfg.toml:2: server.io_threads"), std::string::npos) << e;
  EXPECT_NE(e.find("cfg.toml:3: unknown key 'server.foo'"), std::string::npos) << e;
}

TEST(Config, MissingFileIsNotFound) {
  auto r = load_config_file("/nonexistent/distillguard.toml");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
}

TEST(Config, ExampleFileParses) {
  const char* src = std::getenv("DG_SOURCE_DIR");
  ASSERT_NE(src, nullptr);
  auto r = load_config_file(std::string(src) + "/config/distillguard.example.toml");
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_GE(r->tiers.size(), 4u);
  EXPECT_EQ(r->stages.mode("auth"), StageMode::kEnforce);
}

TEST(ConfigSection, ReadsOwnSectionWithUnknownKeys) {
  // Another part's section, read through Config::raw. "engine" must be in
  // kKnownSections for parse_config to accept it; here we parse raw TOML.
  Config c;
  c.source_name = "x.toml";
  c.raw = toml::parse("[mine]\nthreshold = 0.7\nname = \"n\"\nflag = true\nlist = [\"a\"]\n"
                      "n = 3\ntypo = 1\n");
  ConfigSection s(c, "mine");
  EXPECT_TRUE(s.present());
  EXPECT_DOUBLE_EQ(s.get_double("threshold", 0.5, 0, 1), 0.7);
  EXPECT_EQ(s.get_string("name", ""), "n");
  EXPECT_TRUE(s.get_bool("flag", false));
  EXPECT_EQ(s.get_string_list("list", {}), std::vector<std::string>{"a"});
  EXPECT_EQ(s.get_int("n", 0, 0, 2), 0);  // out of range: default, error recorded
  EXPECT_EQ(s.get_int("absent", 42), 42);
  Status st = s.finish();
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("x.toml:6: mine.n must be an integer in [0, 2]"), std::string::npos)
      << st.message();
  EXPECT_NE(st.message().find("x.toml:7: unknown key 'mine.typo'"), std::string::npos)
      << st.message();
}

TEST(ConfigSection, AbsentSectionGivesDefaults) {
  Config c = default_config();
  ConfigSection s(c, "engine");
  EXPECT_FALSE(s.present());
  EXPECT_EQ(s.get_int("x", 7), 7);
  EXPECT_TRUE(s.finish().ok());
}

}  // namespace
}  // namespace dg
