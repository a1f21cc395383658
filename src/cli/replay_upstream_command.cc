// `distillguard replay-upstream`: an OpenAI-compatible server that answers from
// recorded real model responses (src/replay). A stand-in for a real model server
// wherever none can run: the demo, the tests and the benchmark's mock upstream.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <optional>

#include "cli/command_support.h"
#include "cli/commands.h"
#include "replay/corpus.h"
#include "replay/responder.h"
#include "replay/server.h"

namespace dg::cli {
namespace {

// data/teacher next to the binary's source tree, or relative to the working dir.
std::string default_data_dir() {
  namespace fs = std::filesystem;
  std::error_code ec;
  for (fs::path p = fs::read_symlink("/proc/self/exe", ec).parent_path(); !ec && !p.empty();
       p = p.parent_path()) {
    if (fs::is_directory(p / "data" / "teacher")) return (p / "data" / "teacher").string();
    if (p == p.root_path()) break;
  }
  return "data/teacher";
}

int run_replay_upstream(int argc, char** argv) {
  CLI::App app{
      "OpenAI-compatible replay upstream: answers /v1/chat/completions, /v1/completions and\n"
      "/v1/models from recorded REAL model responses (data/teacher): the recorded answer for a\n"
      "known prompt (exact match on the last user message), the nearest recorded answer\n"
      "otherwise (TF-IDF cosine). It is a stand-in for a real model server where none can run\n"
      "(demo, tests, benchmarks); it does not generate text.",
      "distillguard replay-upstream"};
  app.footer(
      "Streams SSE chat.completion.chunk events paced by --ttft-ms and --tokens-per-second;\n"
      "honours n, max_tokens (finish_reason \"length\"), stream_options.include_usage and\n"
      "logprobs/top_logprobs (synthesized, deterministic). usage counts tokens with the replay\n"
      "tokenizer (a word with its leading space, cut every 6 bytes; one per punctuation mark:\n"
      "~1.3 per English word). Headers x-replay-match (exact|nearest|fallback|fixed) and\n"
      "x-replay-source name the record that answered. GET /healthz answers \"ok\".");
  std::string listen = "127.0.0.1:8000";
  std::string data = default_data_dir();
  replay::ReplayOptions opts;
  std::vector<std::string> models;
  int threads = 1;
  app.add_option("--listen", listen, "HOST:PORT to listen on; port 0 picks a free port")
      ->capture_default_str();
  app.add_option("--data", data, "directory of *.jsonl records {prompt, response, model, source}")
      ->capture_default_str();
  app.add_option("--tokens-per-second", opts.tokens_per_second,
                 "generation speed; 0 = as fast as possible")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--ttft-ms", opts.ttft_ms, "time to first token, milliseconds")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--chunk-tokens", opts.chunk_tokens, "tokens per streamed chunk")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_flag("--fixed", opts.fixed,
               "answer every request instantly with one fixed short completion (benchmark mock)");
  app.add_option("--model", models,
                 "served model name (repeatable; default teacher-1, teacher-reasoning). Names "
                 "containing 'reasoning' return reasoning_content; names ending in '-think' "
                 "return <think>...</think> inline");
  app.add_flag("--strict-models", opts.strict_models, "404 model_not_found for unlisted models");
  app.add_option("--threads", threads, "server threads")->check(CLI::PositiveNumber)->capture_default_str();
  if (auto rc = parse_args(app, argc, argv)) return *rc;
  if (!models.empty()) opts.models = models;

  std::optional<replay::Corpus> corpus;
  if (!opts.fixed) {
    auto c = replay::Corpus::load_dir(data);
    if (!c.ok()) {
      std::fprintf(stderr, "replay-upstream: %s\n", c.status().to_string().c_str());
      return 2;
    }
    corpus.emplace(std::move(c).value());
  }
  replay::Responder responder(corpus ? &*corpus : nullptr, opts, SystemClock::instance());
  replay::ServerConfig cfg;
  cfg.listen = listen;
  cfg.threads = threads;
  cfg.handle_signals = true;
  auto server = replay::Server::create(cfg, responder);
  if (!server.ok()) {
    std::fprintf(stderr, "replay-upstream: %s\n", server.status().to_string().c_str());
    return 1;
  }
  std::fprintf(stderr, "replay-upstream: %s, %zu records, models:",
               opts.fixed ? "fixed response" : data.c_str(), corpus ? corpus->size() : 0);
  for (const auto& m : opts.models) std::fprintf(stderr, " %s", m.c_str());
  std::fprintf(stderr, "\n");
  std::printf("listening on %s\n", (*server)->address().c_str());
  std::fflush(stdout);
  (*server)->run();
  return 0;
}

}  // namespace

Command dg_command_replay_upstream() {
  return {"replay-upstream", run_replay_upstream,
          "OpenAI-compatible stand-in model server answering from recorded real responses"};
}

}  // namespace dg::cli
