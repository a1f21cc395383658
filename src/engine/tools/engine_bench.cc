// Engine speed and memory benchmark (figures in docs/detection.md).
//   engine_bench TRACE.jsonl[.gz]   CPU time per record of each stage of analyze, one core:
//                                   read (gunzip + lines), parse, features, engine
//   engine_bench --compare TRACE    analyze's RecordReader against ExchangeRecordParser +
//                                   extract_features on every line: same account, features, errors
//   engine_bench --roundtrip TRACE  every record parsed, written and parsed again loses
//                                   nothing, and the analyze options drop only generated text
//   engine_bench --accounts N       memory per tracked account (N synthetic accounts)
//
// Stages are timed in separate passes over the lines held in memory (the
// full parser; full parser + features; analyze's RecordReader, which reads
// and extracts features in one go; RecordReader + engine), so each stage's
// cost is the difference of two passes: the figures stay attributable when
// one stage changes. CPU time (CLOCK_PROCESS_CPUTIME_ID), not wall time: the
// machine is shared.
#include <sys/resource.h>

#include <boost/json.hpp>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <string>
#include <vector>

#include "engine/analyze.h"
#include "engine/engine.h"
#include "engine/features.h"

using namespace dg;
namespace json = boost::json;

namespace {

double cpu_now() {
  timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}
long peak_rss_kb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss;
}

// The options `analyze` parses with.
const ExchangeParseOptions kAnalyzeOptions{.keep_response_text = false, .keep_extra = false};

int accounts_mode(long n) {
  long rss0 = peak_rss_kb();
  engine::Engine e;
  ExchangeRecord r;
  r.endpoint = "/v1/chat/completions";
  r.request = json::object{
      {"model", "m"},
      {"messages", json::array{json::object{{"role", "user"}, {"content", "hello there"}}}}};
  for (long i = 0; i < n; ++i) {
    r.ts = 1'769'947'200LL * kNsPerSec + i * kNsPerMs;
    r.account = "acct_" + std::to_string(i);
    r.ip = "10." + std::to_string(i % 250) + ".0.1";
    e.observe(r);
  }
  long rss1 = peak_rss_kb();
  std::printf(
      "%ld accounts: engine reports %.0f bytes/account; peak RSS grew %.0f bytes/account (%ld MiB "
      "total)\n",
      n, static_cast<double>(e.memory_bytes()) / n, (rss1 - rss0) * 1024.0 / n, rss1 / 1024);
  return 0;
}

// Drops what ExchangeParseOptions{keep_response_text = false} drops, from a DOM.
void drop_generated_text(json::object& rec) {
  auto* resp = rec.if_contains("response");
  if (!resp || !resp->is_object()) return;
  auto* choices = resp->get_object().if_contains("choices");
  if (!choices || !choices->is_array()) return;
  for (auto& c : choices->get_array()) {
    if (!c.is_object()) continue;
    auto& co = c.get_object();
    co.erase("text");
    co.erase("logprobs");
    for (const char* k : {"message", "delta"}) {
      if (auto* m = co.if_contains(k); m && m->is_object()) {
        for (const char* t : {"content", "reasoning_content", "reasoning"})
          m->get_object().erase(t);
      }
    }
  }
}

// Known fields as written by to_json_line(): a number that was written as a
// plain decimal compares by value.
bool same(const json::value& a, const json::value& b) {
  if (a.is_number() && b.is_number()) return a.to_number<double>() == b.to_number<double>();
  if (a.kind() != b.kind()) return false;
  if (a.is_object()) {
    const auto& x = a.get_object();
    const auto& y = b.get_object();
    if (x.size() != y.size()) return false;
    for (const auto& kv : x) {
      auto* v = y.if_contains(kv.key());
      if (!v || !same(kv.value(), *v)) return false;
    }
    return true;
  }
  if (a.is_array()) {
    const auto& x = a.get_array();
    const auto& y = b.get_array();
    if (x.size() != y.size()) return false;
    for (size_t i = 0; i < x.size(); ++i)
      if (!same(x[i], y[i])) return false;
    return true;
  }
  return a == b;
}

int roundtrip_mode(const char* path) {
  auto reader = engine::LineReader::open(path);
  if (!reader.ok()) {
    std::fprintf(stderr, "%s\n", reader.status().to_string().c_str());
    return 2;
  }
  ExchangeRecordParser full, lean(kAnalyzeOptions);
  ExchangeRecord r, l;
  std::string_view line;
  uint64_t n = 0, bad = 0, rejected = 0;
  auto mismatch = [&](const char* what) {
    if (++bad <= 5)
      std::fprintf(stderr, "%s:%llu: %s\n", path,
                   static_cast<unsigned long long>((*reader)->line_no()), what);
  };
  while ((*reader)->next(line)) {
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    boost::system::error_code ec;
    json::value dom = json::parse(line, ec);
    Status st = full.parse(line, r);
    if (ec || !dom.is_object()) {  // not JSON: both must refuse
      if (st.ok()) mismatch("accepted a line that is not a JSON object");
      ++rejected;
      continue;
    }
    if (!st.ok()) {
      ++rejected;
      continue;
    }
    ++n;
    if (!same(json::parse(to_json_line(r)), dom))
      mismatch("record written back differs from the line");
    if (!lean.parse(line, l).ok()) {
      mismatch("analyze options refuse a valid line");
      continue;
    }
    json::object want = dom.get_object();
    drop_generated_text(want);
    for (auto it = want.begin(); it != want.end();) {  // unknown fields are not kept either
      static constexpr std::string_view kKnown[] = {
          "ts",         "account",         "key_id",   "ip",      "user_agent",
          "headers_fp", "account_created", "endpoint", "request", "response",
          "status",     "latency_ms",      "action"};
      bool known = false;
      for (auto k : kKnown) known = known || it->key() == k;
      it = known ? std::next(it) : want.erase(it);
    }
    if (!same(json::parse(to_json_line(l)), want))
      mismatch("analyze options drop more than generated text");
  }
  if (!(*reader)->error().empty())
    std::fprintf(stderr, "%s: read error: %s\n", path, (*reader)->error().c_str());
  std::printf("%llu records round-tripped, %llu rejected lines, %llu mismatches\n",
              static_cast<unsigned long long>(n), static_cast<unsigned long long>(rejected),
              static_cast<unsigned long long>(bad));
  return bad == 0 && n > 0 ? 0 : 1;
}

// Every line read both ways: RecordReader must give what the full parser and
// extract_features give (account, features, error text).
int compare_mode(const char* path) {
  auto reader = engine::LineReader::open(path);
  if (!reader.ok()) {
    std::fprintf(stderr, "%s\n", reader.status().to_string().c_str());
    return 2;
  }
  const auto& clf = engine::CapabilityClassifier::builtin();
  engine::RecordReader records(clf);
  ExchangeRecordParser parser(kAnalyzeOptions);
  ExchangeRecord r;
  std::string scratch, account;
  engine::RecordFeatures f;
  uint64_t n = 0, full = 0, rejected = 0, bad = 0;
  std::string_view line;
  while ((*reader)->next(line)) {
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    ++n;
    Status a = records.read(line, account, f);
    full += records.last_was_full_parse();
    Status b = parser.parse(line, r);
    bool same = a.ok() == b.ok() && a.to_string() == b.to_string();
    if (same && a.ok()) {
      const engine::RecordFeatures g = engine::extract_features(r, clf, scratch);
      same = account == r.account && f.ts == g.ts && f.capability == g.capability &&
             f.temp0 == g.temp0 && f.multi_sample == g.multi_sample && f.logprobs == g.logprobs &&
             f.has_system == g.has_system && f.app_system == g.app_system &&
             f.multi_turn == g.multi_turn && f.has_tools == g.has_tools && f.cot == g.cot &&
             f.rubric == g.rubric && f.benchmark == g.benchmark &&
             f.prompt_tokens == g.prompt_tokens && f.completion_tokens == g.completion_tokens &&
             f.prompt_hash == g.prompt_hash && f.system_hash == g.system_hash &&
             f.model_hash == g.model_hash && f.tmpl.prefix == g.tmpl.prefix &&
             f.tmpl.suffix == g.tmpl.suffix && f.tmpl.whole == g.tmpl.whole &&
             f.tmpl.tokens == g.tmpl.tokens && f.ip_hash == g.ip_hash && f.ip_block == g.ip_block &&
             f.fingerprint == g.fingerprint && f.account_created == g.account_created;
    }
    rejected += !b.ok();
    if (!same && ++bad <= 10)
      std::fprintf(stderr, "%s:%llu: differs\n", path,
                   static_cast<unsigned long long>((*reader)->line_no()));
  }
  std::printf("%llu lines: %llu through the full parser, %llu rejected, %llu differences\n",
              static_cast<unsigned long long>(n), static_cast<unsigned long long>(full),
              static_cast<unsigned long long>(rejected), static_cast<unsigned long long>(bad));
  return bad == 0 && n > 0 ? 0 : 1;
}

int speed_mode(const char* path) {
  // Stage 0: read (gunzip + line splitting), as analyze reads.
  double t0 = cpu_now();
  uint64_t bytes = 0, lines = 0;
  {
    auto reader = engine::LineReader::open(path);
    if (!reader.ok()) {
      std::fprintf(stderr, "%s\n", reader.status().to_string().c_str());
      return 2;
    }
    std::string_view line;
    while ((*reader)->next(line)) {
      bytes += line.size() + 1;
      ++lines;
    }
  }
  double read_s = cpu_now() - t0;

  // Keep the lines in memory for the other passes (untimed).
  std::string text;
  std::vector<std::pair<size_t, size_t>> spans;
  text.reserve(bytes);
  spans.reserve(lines);
  {
    auto reader = engine::LineReader::open(path);
    std::string_view line;
    while ((*reader)->next(line)) {
      spans.emplace_back(text.size(), line.size());
      text.append(line);
    }
    text.append(engine::kLinePadding, ' ');  // RecordReader reads past the last line
  }
  auto line_at = [&](size_t i) {
    return std::string_view(text).substr(spans[i].first, spans[i].second);
  };

  const auto& clf =
      engine::CapabilityClassifier::builtin();  // training is start-up, not per record
  ExchangeRecordParser parser(kAnalyzeOptions);
  ExchangeRecord r;
  std::string scratch;
  uint64_t sink = 0;

  // Pass 1: parse.
  t0 = cpu_now();
  size_t n = 0;
  for (size_t i = 0; i < spans.size(); ++i) n += parser.parse(line_at(i), r).ok();
  double parse_s = cpu_now() - t0;

  // Pass 2: parse + features.
  t0 = cpu_now();
  for (size_t i = 0; i < spans.size(); ++i) {
    if (!parser.parse(line_at(i), r).ok()) continue;
    sink += engine::extract_features(r, clf, scratch).prompt_hash;
  }
  double features_s = cpu_now() - t0;

  // Pass 3: analyze's reader (parse + features from the line, no JSON tree).
  engine::RecordReader records(clf);
  std::string account;
  engine::RecordFeatures f;
  t0 = cpu_now();
  for (size_t i = 0; i < spans.size(); ++i) {
    if (!records.read(line_at(i), account, f).ok()) continue;
    sink += f.prompt_hash;
  }
  double reader_s = cpu_now() - t0;

  // Pass 4: reader + engine (what analyze does per record).
  engine::Engine e;
  t0 = cpu_now();
  for (size_t i = 0; i < spans.size(); ++i) {
    if (!records.read(line_at(i), account, f).ok()) continue;
    sink += e.observe(account, f).account;
  }
  double engine_s = cpu_now() - t0;

  const double us = 1e6 / static_cast<double>(n);
  std::printf(
      "%zu records (%zu lines, %.0f bytes/line), %zu accounts; CPU time per record, one core:\n", n,
      lines, static_cast<double>(bytes) / static_cast<double>(lines), e.account_count());
  std::printf("  read (gunzip + lines)  %6.2f us\n", read_s * us);
  std::printf("  parse (full parser)    %6.2f us\n", parse_s * us);
  std::printf("  features               %6.2f us\n", (features_s - parse_s) * us);
  std::printf("  parse + features: full parser %.2f us, analyze's RecordReader %.2f us\n",
              features_s * us, reader_s * us);
  std::printf("  engine                 %6.2f us\n", (engine_s - reader_s) * us);
  std::printf("engine path (reader + engine):          %.0f records/s per core (%.2f us/record)\n",
              static_cast<double>(n) / engine_s, engine_s * us);
  std::printf("with reading (as analyze):              %.0f records/s per core (%.2f us/record)\n",
              static_cast<double>(n) / (engine_s + read_s), (engine_s + read_s) * us);
  std::printf("peak RSS %ld MiB (lines held in memory)%s\n", peak_rss_kb() / 1024,
              sink == 1 ? " " : "");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(
        stderr, "usage: engine_bench TRACE | --roundtrip TRACE | --compare TRACE | --accounts N\n");
    return 2;
  }
  if (!std::strcmp(argv[1], "--accounts")) {
    (void)engine::CapabilityClassifier::builtin();
    return accounts_mode(argc > 2 ? std::atol(argv[2]) : 100000);
  }
  if (!std::strcmp(argv[1], "--roundtrip")) {
    if (argc < 3) return 2;
    return roundtrip_mode(argv[2]);
  }
  if (!std::strcmp(argv[1], "--compare")) {
    if (argc < 3) return 2;
    return compare_mode(argv[2]);
  }
  return speed_mode(argv[1]);
}
