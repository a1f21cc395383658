// Test and benchmark support for the assess stage: a synthetic day of
// traffic (a bulk harvester, a hydra ring of 30 new accounts sharing a
// wrapper, 40 ordinary users), in time order, and the request context the
// gateway would build for a record. Header-only; not part of the library.
#pragma once

#include <algorithm>
#include <boost/json.hpp>
#include <string>
#include <vector>

#include "distillguard/exchange_record.h"
#include "distillguard/random.h"
#include "distillguard/stage.h"

namespace dg::assess_testing {

namespace json = boost::json;
inline constexpr TimeNs kT0 = 1'769'947'200LL * kNsPerSec;

inline const std::vector<std::string> kPrompts = {
    "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in "
    "May. How many clips did she sell?",
    "Write a python function to find the shared elements from the given two lists.",
    "If all bloops are razzies and all razzies are lazzies, are all bloops definitely lazzies?",
    "Compose an engaging travel blog post about a recent trip to Hawaii.",
    "Translate the following sentence into French: The weather is lovely today.",
    "Who was the first president of the United States?",
    "Explain how photosynthesis converts light energy into chemical energy in plant cells.",
    "hey, how are you doing today? I had a rough day at work",
    "Extract all the names and dates from this text and return them as JSON: Alice met Bob on 3 "
    "May.",
    "Write a short poem about autumn leaves falling in the park.",
};

inline ExchangeRecord rec(const std::string& account, TimeNs ts, const std::string& prompt,
                          const std::string& ip, const std::string& ua, TimeNs created,
                          bool multi_turn, const std::string& system) {
  ExchangeRecord r;
  r.ts = ts;
  r.account = account;
  r.endpoint = "/v1/chat/completions";
  r.ip = ip;
  r.user_agent = ua;
  if (created) r.account_created = created;
  json::array msgs;
  if (!system.empty()) msgs.push_back(json::object{{"role", "system"}, {"content", system}});
  if (multi_turn) {
    msgs.push_back(json::object{{"role", "user"}, {"content", "earlier"}});
    msgs.push_back(json::object{{"role", "assistant"}, {"content", "answer"}});
  }
  msgs.push_back(json::object{{"role", "user"}, {"content", prompt}});
  r.request = json::object{{"model", "teacher-1"}, {"messages", msgs}, {"temperature", 0.7}};
  r.response =
      json::object{{"usage", json::object{{"prompt_tokens", 50}, {"completion_tokens", 300}}}};
  return r;
}

// A bulk harvester, a hydra ring and ordinary users, in time order.
inline std::vector<ExchangeRecord> traffic() {
  std::vector<ExchangeRecord> v;
  Rng rng(11);
  for (int i = 0; i < 600; ++i)
    v.push_back(rec("bulk", kT0 + i * 20 * kNsPerSec,
                    kPrompts[i % kPrompts.size()] + " #" + std::to_string(i), "203.0.113.9",
                    "python-requests/2.31", 0, false, ""));
  for (int a = 0; a < 30; ++a)
    for (int i = 0; i < 15; ++i)
      v.push_back(
          rec("ring_" + std::to_string(a), kT0 + (a * 15 + i) * 23 * kNsPerSec,
              "Please answer the following thoroughly and accurately.\n\n" +
                  kPrompts[rng.below(kPrompts.size())] + " #" + std::to_string(a * 100 + i),
              "198.18." + std::to_string(rng.below(200)) + "." + std::to_string(rng.below(200)),
              "ua-" + std::to_string(rng.below(5)), kT0 - 86400 * kNsPerSec + a * 60 * kNsPerSec,
              false, ""));
  for (int h = 0; h < 40; ++h)
    for (int i = 0; i < 12; ++i)
      v.push_back(rec("user_" + std::to_string(h), kT0 + (h * 12 + i) * 37 * kNsPerSec,
                      kPrompts[rng.below(kPrompts.size())], "192.0.2." + std::to_string(h),
                      "browser", kT0 - (100 + h) * 86400 * kNsPerSec, rng.bernoulli(0.5),
                      rng.bernoulli(0.5) ? "You are a helpful assistant." : ""));
  std::stable_sort(v.begin(), v.end(), [](const auto& a, const auto& b) { return a.ts < b.ts; });
  return v;
}

inline ExchangeContext ctx_of(const ExchangeRecord& r) {
  ExchangeContext c;
  c.arrived = r.ts;
  c.endpoint = r.endpoint;
  c.client_ip = r.ip;
  c.user_agent = r.user_agent;
  c.headers_fp = r.headers_fp;
  c.request = r.request;
  c.account.account = r.account;
  c.account.created = r.account_created.value_or(0);
  c.prompt_tokens = 50;
  c.completion_tokens = 300;
  return c;
}

}  // namespace dg::assess_testing
