// distillguard probe: asks a suspect model's OpenAI-compatible API prompts of
// the canary kinds, reports any canary signature it returns (with the chance
// of that by accident) and runs the watermark test on its answers.
// Plain http:// targets only (put a TLS-terminating proxy in front otherwise).
#include <CLI/CLI.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <boost/url/parse.hpp>
#include <cstdio>
#include <fstream>
#include <iostream>

#include "cli/commands.h"
#include "defend/keyring.h"
#include "defend/canary.h"
#include "defend/probe.h"

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
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using tcp = boost::asio::ip::tcp;

Result<std::string> ask(const std::string& host, const std::string& port, const std::string& path,
                        const std::string& key, const std::string& model, const std::string& prompt, int max_tokens) {
  try {
    boost::asio::io_context ioc;
    tcp::resolver resolver(ioc);
    beast::tcp_stream stream(ioc);
    stream.expires_after(std::chrono::seconds(120));
    stream.connect(resolver.resolve(host, port));
    json::object body{{"model", model},
                      {"max_tokens", max_tokens},
                      {"messages", json::array{json::object{{"role", "user"}, {"content", prompt}}}}};
    http::request<http::string_body> req{http::verb::post, path, 11};
    req.set(http::field::host, host);
    req.set(http::field::content_type, "application/json");
    if (!key.empty()) req.set(http::field::authorization, "Bearer " + key);
    req.body() = json::serialize(body);
    req.prepare_payload();
    http::write(stream, req);
    beast::flat_buffer buf;
    http::response<http::string_body> res;
    http::read(stream, buf, res);
    beast::error_code ec;
    stream.socket().shutdown(tcp::socket::shutdown_both, ec);
    if (res.result_int() != 200) return unavailable("HTTP " + std::to_string(res.result_int()) + ": " + res.body());
    auto v = json::parse(res.body());
    const auto& msg = v.at("choices").as_array().at(0).at("message").as_object();
    if (const auto* c = msg.if_contains("content"); c && c->is_string()) return std::string(c->as_string().c_str());
    return std::string();
  } catch (const std::exception& e) {
    return unavailable(std::string("request failed: ") + e.what());
  }
}

int run_probe(int argc, char** argv) {
  CLI::App app{"Probe a suspect model for canaries and watermarks"};
  std::string target, key, model = "default", master_file, accounts_file, registry, out_file, format = "text",
      config_path;
  size_t per_kind = 10;
  int max_tokens = 400;
  app.add_option("--target", target, "base URL of the suspect API, e.g. http://127.0.0.1:9000")->required();
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
  auto url = boost::urls::parse_uri(target);
  if (!url || url->scheme() != "http") return std::fprintf(stderr, "probe: --target must be an http:// URL\n"), 2;
  const std::string host(url->host());
  const std::string port = url->has_port() ? std::string(url->port()) : "80";
  std::string base(url->path());
  while (!base.empty() && base.back() == '/') base.pop_back();
  const std::string path = base.size() >= 3 && base.substr(base.size() - 3) == "/v1" ? base + "/chat/completions"
                                                                                     : base + "/v1/chat/completions";

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
      auto a = ask(host, port, path, key, model, p, max_tokens);
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
