// distillbench scenarios: what a simulated API customer base looks like.
//
// A scenario is a TOML file (see docs/distillbench.md for every key): a period,
// a start time, and populations. A population is a set of accounts that share
// infrastructure (address blocks, user agents, creation times) and label
// (a legitimate persona or a campaign); its traffic is one or more streams, each
// an independent arrival process per account with its own prompts, templates,
// system prompts and request parameters (a reseller account runs a genuine
// stream and an extraction stream at once).
//
// Parsing is strict: an unknown key, a value of the wrong type or out of range
// is an error naming the key's path and its line ("file:12: population[2]
// .stream[0].temprature: unknown key"). Scenario objects are plain values.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "distillguard/clock.h"
#include "distillguard/status.h"

namespace dg::distillbench {

// Where a stream's prompts come from: a pool (a file <prompts_dir>/<pool>.jsonl),
// optionally only its records whose source equals `source` and/or whose category
// starts with `category`.
struct PromptSource {
  std::string pool;
  std::string source;
  std::string category;
  double weight = 1.0;
};

struct StreamSpec {
  // Arrival process (per account).
  double requests_per_day = 10;  // mean per account, before the shape
  double rate_sigma = 0;         // lognormal spread of the rate across accounts
  double start_day = 0;          // active window within the period, in days
  double end_day = -1;           // -1: end of the period
  std::string timing = "poisson";  // poisson | regular
  double jitter = 0.1;             // regular: +- fraction of the interval
  std::vector<double> hourly;      // 24 weights, local time (empty: flat)
  std::vector<double> weekly;      // 7 weights, Monday first (empty: flat)
  std::vector<double> utc_offsets = {0};  // hours; one is picked per account
  double multi_turn = 0;           // probability that a session has follow-up turns
  double turns_mean = 3;           // mean turns of a multi-turn session (>= 2)
  std::vector<double> think_seconds = {15, 120};  // between turns of a session
  // Prompts.
  std::vector<PromptSource> prompts;
  std::string order = "random";    // random | sequential | split (accounts share one pass)
  bool once = false;               // stop after one pass over the prompts (sequential/split)
  std::vector<std::string> templates;  // paraphrases with {prompt} {answer} {lang}
  double template_prob = 1.0;
  std::vector<std::string> languages;  // values of {lang}
  std::string context_pool;            // long contexts: answers/texts prepended from this pool
  std::vector<int> context_items = {0, 0};
  // System prompt: literal strings, or "pool:<name>" entries drawn from a pool.
  std::vector<std::string> system_prompts;
  std::string system_mode = "per_account";  // fixed | per_account | per_request
  double system_prob = 1.0;
  // Request parameters; each list is sampled (per request, or per account when
  // params_per_account).
  std::vector<std::string> models = {"teacher-1"};
  std::vector<double> temperature = {1.0};
  std::vector<double> top_p;  // empty: not sent
  std::vector<int> n = {1};
  std::vector<int> max_tokens;  // empty or 0: not sent
  double logprobs_prob = 0;
  std::vector<int> top_logprobs = {0};  // 0: not sent
  double stream_prob = 0;
  bool params_per_account = false;
  double completions_endpoint_prob = 0;  // share sent to /v1/completions
  // Responses.
  double response_tokens = 0;   // median completion tokens; 0: from the prompt's answer/category
  double response_sigma = 0.5;  // lognormal spread of completion length
  double response_scale = 1.0;  // e.g. 2.5 for "explain every step"
  bool response_from_prompt = false;  // completion about as long as the prompt (translation)
};

struct PopulationSpec {
  std::string name;
  bool attack = false;   // kind = "campaign"
  std::string persona;   // labels' persona (default: name)
  int accounts = 1;
  std::vector<double> created_days = {-365, -1};  // uniform, days relative to start
  double created_burst_hours = 0;  // > 0: all created within this window from created_days[0]
  std::vector<int> keys_per_account = {1, 1};
  std::vector<std::string> ip_blocks;  // IPv4 CIDR blocks
  std::string ip_mode = "per_account";  // per_account | rotating
  std::vector<int> ips_per_account = {1, 2};
  // Share of accounts (per_account mode) whose address changes at every new
  // session (mobile carriers, CGNAT, VPN users): legitimate address churn.
  double session_ip_share = 0;
  std::vector<std::string> user_agents;
  std::string ua_mode = "per_account";  // per_account | rotate
  int headers_fp_variants = 1;
  // Reaction to the scenario's new model: share of accounts that move to it,
  // how long after its release, and the share of their traffic that moves.
  double pivot_share = 0;
  std::vector<double> pivot_delay_hours = {1, 24};
  double pivot_traffic = 1.0;
  std::vector<StreamSpec> streams;
};

struct Scenario {
  std::string name;
  std::string description;
  TimeNs start = 0;
  double days = 7;
  uint64_t seed = 1;
  std::string prompts_dir;  // resolved to an absolute-or-cwd-relative path
  std::string new_model;    // empty: no release in the period
  double new_model_day = 0;
  // Keep response text (the prompt's real recorded answer, cut to the simulated
  // length) in every record whose prompt has one, for all populations alike, so
  // that its presence says nothing about the label. Off: usage and finish only.
  bool response_content = false;
  std::vector<PopulationSpec> populations;
};

// Parses a scenario file. Relative prompts_dir is resolved against the file's
// directory.
Result<Scenario> load_scenario(const std::string& path);
// Parses scenario text; `origin` names it in errors and anchors prompts_dir.
Result<Scenario> parse_scenario(std::string_view text, const std::string& origin);

}  // namespace dg::distillbench
