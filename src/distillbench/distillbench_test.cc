#include <gtest/gtest.h>
#include <zlib.h>

#include <boost/json.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "distillbench/prompt_pool.h"
#include "distillbench/scenario.h"
#include "distillbench/scorer.h"
#include "distillbench/simulator.h"
#include "distillguard/exchange_record.h"

namespace dg::distillbench {
namespace {

std::string source_dir() {
  const char* s = std::getenv("DG_SOURCE_DIR");
  return s ? s : ".";
}

std::string tmp_path(const std::string& name) {
  auto dir = std::filesystem::path(testing::TempDir()) / "distillbench_test";
  std::filesystem::create_directories(dir);
  return (dir / name).string();
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string read_gz(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  std::string out;
  char buf[65536];
  int n;
  while ((n = gzread(f, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  gzclose(f);
  return out;
}

std::vector<std::string> lines_of(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  std::string l;
  while (std::getline(in, l))
    if (!l.empty()) out.push_back(l);
  return out;
}

// A small scenario touching every mechanism: multi-turn threads, templates
// with {answer} and {lang}, context, system prompts from a pool, split order,
// rotating addresses, a new model and a campaign that pivots to it.
constexpr const char* kScenario = R"(
name = "unit"
start = "2026-02-02T00:00:00Z"
days = 2
seed = 5
new_model = "teacher-2"
new_model_day = 1.0
response_content = true

[[population]]
name = "chat"
kind = "persona"
accounts = 30
ip_blocks = ["73.0.0.0/10"]
session_ip_share = 0.5
user_agents = ["OpenAI/Python 1.51.0", "OpenAI/JS 4.67.3"]
  [[population.stream]]
  requests_per_day = 20
  rate_sigma = 0.5
  hourly = [1,1,1,1,1,1,1,1,5,5,5,5,5,5,5,5,5,1,1,1,1,1,1,1]
  multi_turn = 0.6
  prompts = [{pool = "threads"}, {pool = "chat", weight = 2.0}]
  system_prompts = ["pool:system"]
  system_prob = 0.5
  stream_prob = 0.5

[[population]]
name = "translator"
kind = "persona"
accounts = 1
ip_blocks = ["34.64.0.0/10"]
user_agents = ["Go-http-client/2.0"]
  [[population.stream]]
  requests_per_day = 300
  timing = "regular"
  templates = ["Translate into {lang}:\n{prompt}"]
  languages = ["French", "German"]
  prompts = [{pool = "support"}]
  system_prompts = ["You are a translator."]
  system_mode = "fixed"

[[population]]
name = "hydra_c"
kind = "campaign"
persona = "chat"
accounts = 40
created_days = [0.2, 0.2]
created_burst_hours = 4
ip_blocks = ["73.0.0.0/10", "98.192.0.0/10"]
ip_mode = "rotating"
user_agents = ["OpenAI/Python 1.51.0", "OpenAI/JS 4.67.3"]
ua_mode = "rotate"
pivot_share = 1.0
pivot_delay_hours = [1, 2]
  [[population.stream]]
  requests_per_day = 30
  order = "split"
  templates = ["Explain every step of your reasoning.\n\n{prompt}", "Write out the reasoning behind this completed answer.\nQ: {prompt}\nA: {answer}"]
  prompts = [{pool = "math"}]
  logprobs_prob = 1.0
  top_logprobs = [20]
  n = [1, 2]
  max_tokens = [300]
  completions_endpoint_prob = 0.2

[[population]]
name = "coder"
kind = "persona"
accounts = 3
ip_blocks = ["52.0.0.0/11"]
user_agents = ["axios/1.7.7"]
  [[population.stream]]
  requests_per_day = 80
  prompts = [{pool = "code"}]
  context_pool = "code"
  context_items = [1, 2]
)";

Scenario unit_scenario() {
  auto sc = parse_scenario(kScenario, tmp_path("unit.toml"));
  EXPECT_TRUE(sc.ok()) << sc.status().message();
  sc->prompts_dir = source_dir() + "/data/prompts";
  return *sc;
}

struct SimRun {
  std::string trace, labels;
  SimulateStats stats;
};

SimRun run_unit(const std::string& tag, std::optional<uint64_t> seed, const std::string& ext = ".jsonl") {
  SimulateOptions opt;
  opt.trace_path = tmp_path(tag + ext);
  opt.labels_path = tmp_path(tag + ".labels.jsonl");
  opt.seed = seed;
  auto st = simulate(unit_scenario(), opt);
  EXPECT_TRUE(st.ok()) << st.status().message();
  SimRun r;
  r.trace = ext == ".jsonl.gz" ? read_gz(opt.trace_path) : read_file(opt.trace_path);
  r.labels = read_file(opt.labels_path);
  r.stats = st.ok() ? *st : SimulateStats{};
  return r;
}

TEST(Simulate, SameSeedSameBytesOtherSeedOtherBytes) {
  SimRun a = run_unit("a", std::nullopt), b = run_unit("b", std::nullopt), c = run_unit("c", 6);
  ASSERT_GT(a.stats.records, 500u);
  EXPECT_EQ(a.trace, b.trace);
  EXPECT_EQ(a.labels, b.labels);
  EXPECT_NE(a.trace, c.trace);
  EXPECT_NE(a.labels, c.labels);
}

TEST(Simulate, GzipOutputHoldsTheSameBytes) {
  SimRun plain = run_unit("p", 9), gz = run_unit("g", 9, ".jsonl.gz");
  EXPECT_EQ(plain.trace, gz.trace);
  EXPECT_EQ(gz.stats.bytes, gz.trace.size());
}

TEST(Simulate, EveryLineIsAValidRecordInTimeOrder) {
  SimRun r = run_unit("v", 3);
  TimeNs prev = 0;
  size_t n = 0, with_logprobs = 0, completions = 0, multi = 0;
  for (const auto& line : lines_of(r.trace)) {
    auto rec = parse_exchange_record(line);
    ASSERT_TRUE(rec.ok()) << rec.status().message() << "\n" << line;
    EXPECT_GE(rec->ts, prev);
    prev = rec->ts;
    EXPECT_TRUE(rec->response.has_value());
    EXPECT_TRUE(rec->response->at("usage").as_object().contains("completion_tokens"));
    EXPECT_TRUE(rec->response->at("choices").as_array()[0].as_object().contains("finish_reason"));
    EXPECT_TRUE(rec->request.contains("model"));
    if (rec->endpoint == "/v1/completions") {
      ++completions;
      EXPECT_TRUE(rec->request.at("prompt").is_string());
    } else {
      EXPECT_TRUE(rec->request.at("messages").is_array());
      multi += rec->request.at("messages").as_array().size() > 2;
    }
    with_logprobs += rec->request.contains("logprobs");
    EXPECT_FALSE(rec->account.empty());
    EXPECT_TRUE(rec->account_created.has_value());
    EXPECT_LE(*rec->account_created, rec->ts);
    // The writer's field order is the spec's: re-serialising gives the same keys in the same order.
    boost::json::object mine = boost::json::parse(line).as_object();
    boost::json::object theirs = boost::json::parse(to_json_line(*rec)).as_object();
    std::vector<std::string> k1, k2;
    for (auto& kv : mine) k1.emplace_back(kv.key());
    for (auto& kv : theirs) k2.emplace_back(kv.key());
    EXPECT_EQ(k1, k2);
    ++n;
  }
  EXPECT_EQ(n, r.stats.records);
  EXPECT_GT(with_logprobs, 0u);
  EXPECT_GT(completions, 0u);
  EXPECT_GT(multi, 0u);
}

TEST(Simulate, LabelsCoverEveryAccountExactlyOnce) {
  SimRun r = run_unit("l", 4);
  std::set<std::string> in_trace;
  for (const auto& line : lines_of(r.trace)) in_trace.insert(std::string(boost::json::parse(line).at("account").as_string()));
  auto labels = parse_labels(r.labels, "labels");
  ASSERT_TRUE(labels.ok()) << labels.status().message();
  std::set<std::string> labelled;
  size_t attack = 0;
  for (const auto& l : *labels) {
    EXPECT_TRUE(labelled.insert(l.account).second) << l.account;
    EXPECT_EQ(l.account.rfind("acct_", 0), 0u);
    attack += l.attack;
    if (l.attack) {
      EXPECT_EQ(l.campaign, "hydra_c");
      EXPECT_EQ(l.persona, "chat");  // a campaign can pose as a persona
    }
  }
  EXPECT_EQ(labelled, in_trace);
  EXPECT_EQ(attack, r.stats.attack_accounts);
  EXPECT_GT(attack, 30u);
}

TEST(Simulate, CampaignPivotsToTheNewModelAfterItsRelease) {
  SimRun r = run_unit("m", 8);
  auto labels = parse_labels(r.labels, "labels");
  ASSERT_TRUE(labels.ok());
  std::set<std::string> attackers;
  for (const auto& l : *labels)
    if (l.attack) attackers.insert(l.account);
  TimeNs release = parse_rfc3339("2026-02-03T00:00:00Z").value();
  size_t new_by_attack = 0;
  for (const auto& line : lines_of(r.trace)) {
    auto rec = parse_exchange_record(line);
    ASSERT_TRUE(rec.ok());
    bool is_new = rec->request.at("model").as_string() == "teacher-2";
    if (rec->ts < release) {
      EXPECT_FALSE(is_new) << line;
    }
    if (attackers.count(rec->account) && rec->ts >= release + 2 * 3600 * kNsPerSec) {
      EXPECT_TRUE(is_new) << line;
    }
    new_by_attack += is_new && attackers.count(rec->account);
  }
  EXPECT_GT(new_by_attack, 0u);
}

TEST(Simulate, HydraAccountsSplitOneDatasetAndRotateAddresses) {
  SimRun r = run_unit("h", 2);
  auto labels = parse_labels(r.labels, "labels");
  ASSERT_TRUE(labels.ok());
  std::set<std::string> attackers;
  for (const auto& l : *labels)
    if (l.attack) attackers.insert(l.account);
  std::map<std::string, std::set<std::string>> ips;
  for (const auto& line : lines_of(r.trace)) {
    auto rec = parse_exchange_record(line);
    ASSERT_TRUE(rec.ok());
    if (attackers.count(rec->account)) ips[rec->account].insert(rec->ip);
  }
  size_t multi_ip = 0;
  for (auto& [a, s] : ips) multi_ip += s.size() > 1;
  EXPECT_GT(multi_ip, ips.size() / 2);
}

TEST(Simulate, ArrivalsFollowTheDailyShape) {
  // The "chat" population weighs hours 8-16 (UTC) five times the others: 45 of
  // 60 weight units, so about 75% of its sessions start then.
  SimRun r = run_unit("shape", 12);
  auto labels = parse_labels(r.labels, "labels");
  ASSERT_TRUE(labels.ok());
  std::map<std::string, std::string> persona;
  for (const auto& l : *labels) persona[l.account] = l.attack ? l.campaign : l.persona;
  size_t day = 0, all = 0;
  for (const auto& line : lines_of(r.trace)) {
    auto rec = parse_exchange_record(line);
    ASSERT_TRUE(rec.ok());
    if (persona[rec->account] != "chat") continue;
    int hour = static_cast<int>((rec->ts / kNsPerSec) % 86400 / 3600);
    day += hour >= 8 && hour < 17;
    ++all;
  }
  ASSERT_GT(all, 500u);
  double share = static_cast<double>(day) / static_cast<double>(all);
  EXPECT_GT(share, 0.65);
  EXPECT_LT(share, 0.85);
}

TEST(Simulate, UnknownPoolIsAnErrorNamingIt) {
  Scenario sc = unit_scenario();
  sc.populations[0].streams[0].prompts[0].pool = "no_such_pool";
  SimulateOptions opt;
  opt.trace_path = tmp_path("x.jsonl");
  opt.labels_path = tmp_path("x.labels.jsonl");
  auto st = simulate(sc, opt);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.status().message().find("no_such_pool"), std::string::npos);
}

// --- scenario validation -------------------------------------------------

std::string with_replaced(const std::string& from, const std::string& to) {
  std::string s = kScenario;
  size_t p = s.find(from);
  EXPECT_NE(p, std::string::npos) << from;
  return s.replace(p, from.size(), to);
}

void expect_rejected(const std::string& text, const std::string& key, int line) {
  auto sc = parse_scenario(text, "bad.toml");
  ASSERT_FALSE(sc.ok()) << "accepted; want an error about " << key;
  const std::string& m = sc.status().message();
  EXPECT_NE(m.find(key), std::string::npos) << m;
  if (line > 0) {
    EXPECT_NE(m.find("bad.toml:" + std::to_string(line) + ":"), std::string::npos) << m;
  }
}

int line_of(const std::string& text, const std::string& needle) {
  size_t p = text.find(needle);
  return 1 + static_cast<int>(std::count(text.begin(), text.begin() + static_cast<long>(p), '\n'));
}

TEST(Scenario, ParsesTheUnitScenario) {
  auto sc = parse_scenario(kScenario, "/x/y/unit.toml");
  ASSERT_TRUE(sc.ok()) << sc.status().message();
  EXPECT_EQ(sc->populations.size(), 4u);
  EXPECT_TRUE(sc->populations[2].attack);
  EXPECT_EQ(sc->populations[2].persona, "chat");
  EXPECT_EQ(sc->populations[0].streams[0].prompts[1].weight, 2.0);
  EXPECT_EQ(sc->new_model, "teacher-2");
}

TEST(Scenario, RejectsUnknownKeysNamingKeyAndLine) {
  std::string t = with_replaced("  rate_sigma = 0.5\n", "  rate_sigma = 0.5\n  temprature = [0.5]\n");
  expect_rejected(t, "population[0].stream[0].temprature: unknown key", line_of(t, "temprature"));
  t = with_replaced("days = 2\n", "days = 2\nseeed = 3\n");
  expect_rejected(t, "seeed: unknown key", line_of(t, "seeed"));
  t = with_replaced("ip_mode = \"rotating\"\n", "ip_mode = \"rotating\"\nip_pool = \"x\"\n");
  expect_rejected(t, "population[2].ip_pool: unknown key", line_of(t, "ip_pool"));
  t = with_replaced("{pool = \"code\"}", "{pool = \"code\", wieght = 2}");
  expect_rejected(t, "population[3].stream[0].prompts[0].wieght: unknown key", 0);
}

TEST(Scenario, RejectsBadTypesAndValuesNamingTheKey) {
  std::string t = with_replaced("accounts = 30", "accounts = \"thirty\"");
  expect_rejected(t, "population[0].accounts: must be an integer", line_of(t, "\"thirty\""));
  t = with_replaced("requests_per_day = 20", "requests_per_day = -1");
  expect_rejected(t, "population[0].stream[0].requests_per_day: must be in", line_of(t, "= -1"));
  t = with_replaced("order = \"split\"", "order = \"shuffled\"");
  expect_rejected(t, "population[2].stream[0].order: must be one of", line_of(t, "shuffled"));
  t = with_replaced("hourly = [1,1,1,1,1,1,1,1,5,5,5,5,5,5,5,5,5,1,1,1,1,1,1,1]", "hourly = [1,2,3]");
  expect_rejected(t, "population[0].stream[0].hourly: must have 24 values", 0);
  t = with_replaced("ip_blocks = [\"34.64.0.0/10\"]", "ip_blocks = [\"34.64.0.0\"]");
  expect_rejected(t, "population[1].ip_blocks: '34.64.0.0' is not an IPv4 CIDR block", line_of(t, "\"34.64.0.0\""));
  t = with_replaced("kind = \"campaign\"", "kind = \"attack\"");
  expect_rejected(t, "population[2].kind", 0);
  t = with_replaced("start = \"2026-02-02T00:00:00Z\"", "start = \"yesterday\"");
  expect_rejected(t, "start: not an RFC 3339 time", 0);
  t = with_replaced("templates = [\"Translate into {lang}:\\n{prompt}\"]", "templates = [\"Translate: {lang}\"]");
  expect_rejected(t, "population[1].stream[0].templates: every template must contain {prompt}", 0);
  expect_rejected("name = \"x\"\nstart = \"2026-02-02T00:00:00Z\"\ndays = 1\n", "population: missing required key", 0);
  expect_rejected("name = \"x\"\nstart = [\n", "bad.toml:", 0);  // TOML syntax error, with its line
}

TEST(Scenario, RejectsMissingRequiredKeys) {
  std::string t = with_replaced("accounts = 3\n", "");
  expect_rejected(t, "population[3].accounts: missing required key", 0);
  t = with_replaced("  prompts = [{pool = \"support\"}]\n", "");
  expect_rejected(t, "population[1].stream[0].prompts: missing required key", 0);
}

// --- prompt pools ----------------------------------------------------------

TEST(PromptPool, EscapesForJsonAndCutsUtf8Safely) {
  std::string out;
  json_escape_append("a\"b\\c\nd\x01", &out);
  EXPECT_EQ(out, "a\\\"b\\\\c\\nd\\u0001");
  EXPECT_EQ(utf8_prefix("h\xc3\xa9llo", 2), "h");
  EXPECT_EQ(utf8_prefix("h\xc3\xa9llo", 3), "h\xc3\xa9");
  auto p = parse_prompt_pool("{\"text\":\"hi\",\"source\":\"s\",\"category\":\"chat\",\"thread\":[\"a\",\"b\"]}\n\n", "p", "p.jsonl");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ((*p)->entries.size(), 1u);
  EXPECT_EQ((*p)->entries[0].thread_esc.size(), 2u);
  auto bad = parse_prompt_pool("{\"text\":\"hi\"}\n{\"source\":\"s\"}\n", "p", "p.jsonl");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("p.jsonl:2"), std::string::npos);
}

TEST(PromptPool, ShippedPoolsLoad) {
  PromptLibrary lib(source_dir() + "/data/prompts");
  for (const char* name : {"chat", "threads", "code", "math", "support", "tasks", "graded", "system", "multilingual"}) {
    auto p = lib.pool(name);
    ASSERT_TRUE(p.ok()) << p.status().message();
    EXPECT_GT((*p)->entries.size(), 50u) << name;
  }
}

// --- scorer ----------------------------------------------------------------

constexpr const char* kLabels = R"({"account":"a1","label":"attack","campaign":"bulk","persona":"dev"}
{"account":"a2","label":"attack","campaign":"hydra","persona":"chat"}
{"account":"a3","label":"attack","campaign":"hydra","persona":"chat"}
{"account":"a4","label":"attack","campaign":"hydra","persona":"chat"}
{"account":"l1","label":"legit","campaign":null,"persona":"chat"}
{"account":"l2","label":"legit","campaign":null,"persona":"chat"}
{"account":"l3","label":"legit","campaign":null,"persona":"bench"}
{"account":"l4","label":"legit","campaign":null,"persona":"bench"}
)";

std::string acct(const std::string& name, const std::string& verdict, int exchanges, const std::string& flag_ts = "",
                 int flag_ex = 0) {
  std::string ff = flag_ts.empty() ? "null"
                                   : "{\"ts\":\"" + flag_ts + "\",\"exchange\":" + std::to_string(flag_ex) + "}";
  return "{\"account\":\"" + name + "\",\"verdict\":\"" + verdict + "\",\"risk\":0.5,\"cluster\":null,\"exchanges\":" +
         std::to_string(exchanges) + ",\"first_flagged\":" + ff + ",\"reasons\":[]}";
}

std::string report(const std::vector<std::string>& accounts) {
  std::string s = "{\"input\":{},\"accounts\":[";
  for (size_t i = 0; i < accounts.size(); ++i) s += (i ? "," : "") + accounts[i];
  return s + "],\"clusters\":[]}";
}

// a1: 10 exchanges, flagged at its 4th (3 leaked). hydra: a2 flagged at its 2nd
// (1 leaked of 5), a3 flagged at its 6th (5 leaked of 6), a4 never (all 4 leaked).
// l1 attack (false positive), l2 suspicious, l3 ok, l4 suspicious.
std::vector<std::string> hand_accounts() {
  return {acct("a1", "attack", 10, "2026-02-01T00:00:04.000Z", 4),
          acct("a2", "attack", 5, "2026-02-01T00:01:02.000Z", 2),
          acct("a3", "attack", 6, "2026-02-01T00:00:56.000Z", 6),
          acct("a4", "suspicious", 4),
          acct("l1", "attack", 7, "2026-02-01T00:00:10.000Z", 3),
          acct("l2", "suspicious", 3),
          acct("l3", "ok", 2),
          acct("l4", "suspicious", 1)};
}

const GroupScore* group(const ScoreResult& r, const std::string& name) {
  for (const auto& g : r.groups)
    if (g.name == name) return &g;
  return nullptr;
}

TEST(Score, ArithmeticFromTheReport) {
  auto labels = parse_labels(kLabels, "labels");
  ASSERT_TRUE(labels.ok()) << labels.status().message();
  auto r = score_report(*labels, report(hand_accounts()), "");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->attack_accounts, 4u);
  EXPECT_EQ(r->legit_accounts, 4u);
  EXPECT_EQ(r->true_positives, 3u);
  EXPECT_EQ(r->false_positives, 1u);
  EXPECT_DOUBLE_EQ(r->precision, 0.75);
  EXPECT_DOUBLE_EQ(r->recall, 0.75);
  EXPECT_DOUBLE_EQ(r->fpr, 0.25);
  EXPECT_DOUBLE_EQ(r->fpr_suspicious, 0.5);
  EXPECT_EQ(r->campaigns, 2u);
  EXPECT_EQ(r->campaigns_detected, 2u);
  const GroupScore* hydra = group(*r, "hydra");
  ASSERT_TRUE(hydra);
  EXPECT_TRUE(hydra->campaign);
  EXPECT_EQ(hydra->accounts, 3u);
  EXPECT_EQ(hydra->flagged, 2u);
  EXPECT_EQ(hydra->suspicious, 1u);
  EXPECT_DOUBLE_EQ(hydra->rate, 2.0 / 3.0);
  EXPECT_EQ(hydra->exchanges, 15u);
  EXPECT_EQ(hydra->leaked, 1u + 5u + 4u);
  EXPECT_DOUBLE_EQ(hydra->leaked_share, 10.0 / 15.0);
  EXPECT_DOUBLE_EQ(*hydra->until_median, 4.0);      // of {2, 6}
  EXPECT_DOUBLE_EQ(*hydra->until_p90, 2 + 0.9 * 4);  // linear between ranks
  EXPECT_FALSE(hydra->until_first_detection.has_value());
  const GroupScore* bulk = group(*r, "bulk");
  ASSERT_TRUE(bulk);
  EXPECT_EQ(bulk->leaked, 3u);
  EXPECT_DOUBLE_EQ(*bulk->until_median, 4.0);
  EXPECT_EQ(r->leaked, 13u);
  EXPECT_EQ(r->campaign_exchanges, 25u);
  const GroupScore* chat = group(*r, "chat");
  ASSERT_TRUE(chat);
  EXPECT_FALSE(chat->campaign);
  EXPECT_DOUBLE_EQ(chat->rate, 0.5);
  EXPECT_DOUBLE_EQ(chat->suspicious_rate, 0.5);
  const GroupScore* bench = group(*r, "bench");
  ASSERT_TRUE(bench);
  EXPECT_DOUBLE_EQ(bench->rate, 0.0);
  EXPECT_DOUBLE_EQ(bench->suspicious_rate, 0.5);
  std::string table = format_score_table(*r);
  EXPECT_NE(table.find("hydra"), std::string::npos);
  auto js = score_to_json(*r);
  EXPECT_EQ(js.at("overall").at("leaked_exchanges").as_uint64(), 13u);
}

TEST(Score, LeakedExchangesFromTheTraceUseTimestamps) {
  auto labels = parse_labels(kLabels, "labels");
  ASSERT_TRUE(labels.ok());
  // Hydra's exchanges, one every 10 s from 00:00:00, interleaved a2,a3,a4,...;
  // a2 is flagged at 00:01:02 and a3 at 00:00:56 (the report's exchange
  // numbers are ignored in favour of timestamps when the trace is given).
  std::string trace;
  auto line = [](const std::string& a, int sec) {
    char ts[64];
    std::snprintf(ts, sizeof ts, "2026-02-01T00:%02d:%02d.000Z", sec / 60, sec % 60);
    return "{\"ts\":\"" + std::string(ts) + "\",\"account\":\"" + a +
           "\",\"endpoint\":\"/v1/chat/completions\",\"request\":{\"model\":\"m\",\"messages\":[]}}\n";
  };
  for (int i = 0; i < 10; ++i) trace += line("a1", i);  // flagged at 4 s: 4 before it
  for (int i = 0; i < 12; ++i) trace += line(i % 3 == 0 ? "a2" : i % 3 == 1 ? "a3" : "a4", i * 10);
  for (int i = 0; i < 7; ++i) trace += line("l1", i);
  trace += line("l2", 1) + line("l3", 2) + line("l4", 3);
  std::string path = tmp_path("score_trace.jsonl");
  std::ofstream(path) << trace;
  auto r = score_report(*labels, report(hand_accounts()), path);
  ASSERT_TRUE(r.ok()) << r.status().message();
  const GroupScore* hydra = group(*r, "hydra");
  // a2 at 0,30,60,90 -> 3 before 62 s; a3 at 10,40,70,100 -> 2 before 56 s; a4 never flagged -> 4.
  EXPECT_EQ(hydra->exchanges, 12u);
  EXPECT_EQ(hydra->leaked, 3u + 2u + 4u);
  // Campaign's first flag at 56 s: exchanges of any hydra account before it: 0..50 s -> 6.
  ASSERT_TRUE(hydra->until_first_detection.has_value());
  EXPECT_EQ(*hydra->until_first_detection, 6u);
  EXPECT_EQ(group(*r, "bulk")->leaked, 4u);
  EXPECT_EQ(group(*r, "bulk")->exchanges, 10u);
  EXPECT_TRUE(r->used_trace);
}

TEST(Score, ReportMustNameEveryLabelledAccountOnce) {
  auto labels = parse_labels(kLabels, "labels");
  ASSERT_TRUE(labels.ok());
  auto accounts = hand_accounts();
  accounts.erase(accounts.begin() + 2);  // a3
  auto r = score_report(*labels, report(accounts), "");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("omits account 'a3'"), std::string::npos) << r.status().message();
  accounts = hand_accounts();
  accounts.push_back(acct("zz9", "ok", 1));
  r = score_report(*labels, report(accounts), "");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("'zz9' which is not in the labels"), std::string::npos);
  accounts = hand_accounts();
  accounts.push_back(acct("l3", "ok", 1));
  r = score_report(*labels, report(accounts), "");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("'l3' twice"), std::string::npos);
  accounts = hand_accounts();
  accounts[0] = acct("a1", "attack", 10);  // attack without first_flagged
  r = score_report(*labels, report(accounts), "");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("'a1'"), std::string::npos);
}

TEST(Score, LabelsAreValidated) {
  EXPECT_FALSE(parse_labels("{\"account\":\"x\",\"label\":\"bad\",\"campaign\":null,\"persona\":\"p\"}\n", "l").ok());
  auto dup = parse_labels(
      "{\"account\":\"x\",\"label\":\"legit\",\"campaign\":null,\"persona\":\"p\"}\n"
      "{\"account\":\"x\",\"label\":\"legit\",\"campaign\":null,\"persona\":\"p\"}\n",
      "l");
  ASSERT_FALSE(dup.ok());
  EXPECT_NE(dup.status().message().find("l:2"), std::string::npos);
  EXPECT_FALSE(parse_labels("{\"account\":\"x\",\"label\":\"attack\",\"campaign\":null,\"persona\":\"p\"}\n", "l").ok());
}

TEST(Quantile, InterpolatesBetweenRanks) {
  EXPECT_FALSE(quantile({}, 0.5).has_value());
  EXPECT_DOUBLE_EQ(*quantile({7}, 0.9), 7);
  EXPECT_DOUBLE_EQ(*quantile({4, 1, 3, 2}, 0.5), 2.5);
  EXPECT_DOUBLE_EQ(*quantile({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, 0.9), 10);
}

}  // namespace
}  // namespace dg::distillbench
