// distillguard probe: asks a suspect model's OpenAI-compatible API prompts of
// the canary kinds, reports any canary signature it returns (with the chance
// of that by accident) and runs the watermark test on its answers.
// The target is reached with the gateway's own upstream client (src/http):
// http:// or https:// (OpenSSL: SNI, certificate and host name verified
// against the system store or --ca-file; --insecure skips verification, for
// self-signed test targets only).
#include <CLI/CLI.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <cstdio>
#include <fstream>
#include <iostream>

#include "cli/commands.h"
#include "defend/keyring.h"
#include "defend/canary.h"
#include "defend/probe.h"
#include "http/upstream.h"

namespace dg::cli {
namespace {

// --config: the master secret from its [policy] section and every account of
// the store. Returns false after printing an error.
bool from_config(const std::string& path, std::string* secret, std::vector<std::string>* accounts, const char* cmd) {
  auto k = defend::load_keyring(path);
  if (!k.ok()) return std::fprintf(stderr, "%s: %s\n", cmd, k.status().to_string().c_str()), false;
  if (secret->empty()) *secret = k->master_secret;
  accounts->insert(accounts->end(), k->accounts.begin(), k->accounts.end());
  return true;
}
namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
constexpr auto kNothrow = net::as_tuple(net::use_awaitable);
constexpr auto kAnswerTimeout = std::chrono::seconds(120);

// One chat completion on a fresh connection; the answer's content.
net::awaitable<Result<std::string>> ask_once(dg::http::UpstreamPool& pool, const std::string& key, std::string body) {
  const dg::http::UpstreamTarget& t = pool.set().targets()[0];
  auto conn = co_await pool.connect(0);
  if (!conn.ok()) co_return conn.status();
  dg::http::UpstreamConn& c = **conn;
  http::request<http::string_body> req{http::verb::post, t.base_path + "/chat/completions", 11};
  req.set(http::field::host, t.host_header);
  req.set(http::field::content_type, "application/json");
  if (!key.empty()) req.set(http::field::authorization, "Bearer " + key);
  req.body() = std::move(body);
  req.prepare_payload();
  http::response<http::string_body> res;
  c.tcp().expires_after(kAnswerTimeout);
  beast::error_code ec;
  if (c.tls()) {
    std::tie(ec, std::ignore) = co_await http::async_write(c.ssl(), req, kNothrow);
    if (!ec) std::tie(ec, std::ignore) = co_await http::async_read(c.ssl(), c.buffer(), res, kNothrow);
  } else {
    std::tie(ec, std::ignore) = co_await http::async_write(c.tcp(), req, kNothrow);
    if (!ec) std::tie(ec, std::ignore) = co_await http::async_read(c.tcp(), c.buffer(), res, kNothrow);
  }
  c.close();
  if (ec) co_return unavailable(t.host + ":" + t.port + ": " + ec.message());
  if (res.result_int() != 200) co_return unavailable("HTTP " + std::to_string(res.result_int()) + ": " + res.body());
  boost::system::error_code jec;
  json::value v = json::parse(res.body(), jec);
  const json::value* content = nullptr;
  if (!jec && v.is_object()) {
    if (const auto* ch = v.as_object().if_contains("choices"); ch && ch->is_array() && !ch->as_array().empty()) {
      const json::value& first = ch->as_array()[0];
      if (first.is_object()) {
        if (const auto* m = first.as_object().if_contains("message"); m && m->is_object())
          content = m->as_object().if_contains("content");
      }
    }
  }
  if (!content) co_return unavailable("not a chat completion: " + res.body().substr(0, 200));
  co_return content->is_string() ? std::string(content->as_string().c_str()) : std::string();
}

// Blocking wrapper: runs one ask_once on `ioc` to completion.
Result<std::string> ask(net::io_context& ioc, dg::http::UpstreamPool& pool, const std::string& key,
                        const std::string& model, const std::string& prompt, int max_tokens) {
  json::object body{{"model", model},
                    {"max_tokens", max_tokens},
                    {"messages", json::array{json::object{{"role", "user"}, {"content", prompt}}}}};
  Result<std::string> out = internal_error("probe: request did not run");
  net::co_spawn(
      ioc, [&]() -> net::awaitable<void> { out = co_await ask_once(pool, key, json::serialize(body)); },
      [&](std::exception_ptr e) {
        if (!e) return;
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& x) {
          out = unavailable(std::string("request failed: ") + x.what());
        }
      });
  ioc.restart();
  ioc.run();
  return out;
}

int run_probe(int argc, char** argv) {
  CLI::App app{"Probe a suspect model for canaries and watermarks"};
  std::string target, key, model = "default", master_file, accounts_file, registry, out_file, format = "text",
      config_path, ca_file;
  bool insecure = false;
  size_t per_kind = 10;
  int max_tokens = 400;
  app.add_option("--target", target,
                 "base URL of the suspect API, http[s]://host[:port][/prefix] (prefix default /v1), "
                 "e.g. https://api.example.com/v1")
      ->required();
  app.add_option("--ca-file", ca_file, "PEM bundle to verify the target's certificate (default: system store)");
  app.add_flag("--insecure", insecure, "https without certificate verification (self-signed test targets only)");
  app.add_option("--key", key, "API key for the suspect API");
  app.add_option("--model", model, "model name to ask for");
  app.add_option("--master-key-file", master_file, "master secret (default: $DG_WATERMARK_MASTER_KEY)");
  app.add_option("--accounts", accounts_file, "accounts whose signatures/keys to test (one per line)");
  app.add_option("--registry", registry, "canary registry (SQLite) to take signatures from");
  app.add_option("--config", config_path, "every account of the store and the [policy] master key");
  app.add_option("--per-kind", per_kind, "prompts per canary kind (default 10, max 20)");
  app.add_option("--max-tokens", max_tokens, "max_tokens per answer");
  app.add_option("--answers-out", out_file, "write the answers (JSONL) here");
  app.add_option("--format", format, "text|json")->check(CLI::IsMember({"text", "json"}));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  auto tgt = dg::http::UpstreamTarget::from_url(target);
  if (!tgt.ok()) return std::fprintf(stderr, "probe: --target: %s\n", tgt.status().message().c_str()), 2;
  tgt->name = "suspect";
  tgt->tls_verify = !insecure;
  tgt->ca_file = ca_file;
  tgt->connect_timeout = std::chrono::seconds(10);
  if (!tgt->tls && (insecure || !ca_file.empty())) {
    return std::fprintf(stderr, "probe: --insecure and --ca-file need an https:// target\n"), 2;
  }
  auto set = dg::http::UpstreamSet::create({*tgt});
  if (!set.ok()) return std::fprintf(stderr, "probe: %s\n", set.status().message().c_str()), 2;
  net::io_context ioc;
  dg::http::UpstreamPool pool(ioc, *set);

  std::vector<defend::ProbeSignature> sigs;
  defend::VerifyOptions vopt;
  std::vector<std::string> accounts;
  if (!accounts_file.empty()) {
    auto a = defend::read_account_list(accounts_file);
    if (!a.ok()) return std::fprintf(stderr, "probe: %s\n", a.status().to_string().c_str()), 2;
    accounts = *a;
  }
  if (!registry.empty()) {
    auto reg = defend::CanaryRegistry::open(registry);
    if (!reg.ok()) return std::fprintf(stderr, "probe: %s\n", reg.status().to_string().c_str()), 2;
    auto rows = (*reg)->list("");
    if (!rows.ok()) return std::fprintf(stderr, "probe: %s\n", rows.status().to_string().c_str()), 2;
    for (const auto& r : *rows) {
      sigs.push_back({r.account, r.kind, r.signature});
      accounts.push_back(r.account);
    }
  }
  std::string config_secret;
  if (!config_path.empty() && !from_config(config_path, &config_secret, &accounts, "probe")) return 2;
  std::sort(accounts.begin(), accounts.end());
  accounts.erase(std::unique(accounts.begin(), accounts.end()), accounts.end());
  if (!accounts.empty()) {
    auto secret = master_file.empty() && !config_secret.empty() ? Result<std::string>(config_secret)
                                                                : defend::load_master_secret(master_file);
    if (secret.ok()) {
      for (const auto& a : accounts) {
        vopt.keys.push_back({a, defend::derive_account_key(*secret, a)});
        if (registry.empty()) {
          for (const auto& k : defend::canary_kinds()) sigs.push_back({a, k, defend::canary_signature(*secret, a, k)});
        }
      }
    } else if (registry.empty()) {
      return std::fprintf(stderr, "probe: %s\n", secret.status().to_string().c_str()), 2;
    }
  }
  if (sigs.empty() && vopt.keys.empty()) {
    return std::fprintf(stderr, "probe: nothing to look for: give --accounts (+ master key) or --registry\n"), 2;
  }

  std::vector<std::string> answers, prompts;
  for (const auto& kind : defend::canary_kinds()) {
    for (const auto& p : defend::probe_prompts(kind, per_kind)) {
      auto a = ask(ioc, pool, key, model, p, max_tokens);
      if (!a.ok()) return std::fprintf(stderr, "probe: %s\n", a.status().to_string().c_str()), 1;
      prompts.push_back(p);
      answers.push_back(std::move(a).value());
    }
  }
  if (!out_file.empty()) {
    std::ofstream out(out_file);
    for (size_t i = 0; i < answers.size(); ++i) {
      out << json::serialize(json::object{{"prompt", prompts[i]}, {"answer", answers[i]}}) << "\n";
    }
  }
  const defend::ProbeReport r = defend::analyze_probe(answers, sigs, vopt);
  if (format == "json") {
    json::array hits;
    for (const auto& h : r.hits) {
      hits.push_back(json::object{{"account", h.sig.account}, {"kind", h.sig.kind}, {"signature", h.sig.signature},
                                  {"answers", h.answers_with_hit}});
    }
    json::object o{{"answers", r.answers},
                   {"signatures", r.signatures},
                   {"hits", hits},
                   {"chance_bound", r.chance},
                   {"watermark", json::object{{"positions", r.watermark.positions},
                                              {"score", r.watermark.score},
                                              {"account", r.watermark.account.empty() ? json::value(nullptr) : json::value(r.watermark.account)},
                                              {"account_p_value", r.watermark.account_p_value}}}};
    std::cout << json::serialize(o) << "\n";
  } else {
    std::printf("probe %s: %zu answers, %zu signatures searched\n", target.c_str(), r.answers, r.signatures);
    if (r.hits.empty()) std::printf("  canaries: no signature found\n");
    for (const auto& h : r.hits) {
      std::printf("  canary HIT: \"%s\" (account %s, kind %s) in %zu answer(s); chance of any such hit by accident <= %.3g\n",
                  h.sig.signature.c_str(), h.sig.account.c_str(), h.sig.kind.c_str(), h.answers_with_hit, r.chance);
    }
    std::printf("  watermark: positions %d, score %.2f, best account %s, corrected p-value %.3g (%zu keys)\n",
                r.watermark.positions, r.watermark.score,
                r.watermark.account.empty() ? "none" : r.watermark.account.c_str(), r.watermark.account_p_value,
                vopt.keys.size());
  }
  return 0;
}

}  // namespace

Command dg_command_probe() { return {"probe", run_probe, "probe a suspect model for canaries and watermarks"}; }

}  // namespace dg::cli
