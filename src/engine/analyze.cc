#include "engine/analyze.h"

#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fmt/format.h>
#include <memory>

#include "config/config.h"

namespace dg::engine {

namespace {

// Reads lines from a plain or gzip file (zlib reads both transparently).
class LineReader {
 public:
  static Result<std::unique_ptr<LineReader>> open(const std::string& path) {
    auto r = std::unique_ptr<LineReader>(new LineReader());
    r->name_ = path == "-" ? "<stdin>" : path;
    if (path == "-") {
      r->gz_ = gzdopen(dup(STDIN_FILENO), "rb");
    } else {
      struct stat st {};
      if (::stat(path.c_str(), &st) != 0)
        return not_found(fmt::format("cannot read '{}': {}", path, std::strerror(errno)));
      if (S_ISDIR(st.st_mode)) return invalid_argument(fmt::format("cannot read '{}': is a directory", path));
      r->size_ = static_cast<uint64_t>(st.st_size);
      r->gz_ = gzopen(path.c_str(), "rb");
    }
    if (!r->gz_) return not_found(fmt::format("cannot read '{}': {}", path, std::strerror(errno)));
    gzbuffer(r->gz_, 1 << 18);
    return r;
  }
  ~LineReader() {
    if (gz_) gzclose(gz_);
  }
  // Next line (without '\n'); false at end. A read error sets error().
  bool next(std::string_view& line) {
    for (;;) {
      size_t nl = buf_.find('\n', pos_);
      if (nl != std::string::npos) {
        line = std::string_view(buf_).substr(pos_, nl - pos_);
        pos_ = nl + 1;
        ++line_no_;
        return true;
      }
      if (eof_) {
        if (pos_ < buf_.size()) {
          line = std::string_view(buf_).substr(pos_);
          pos_ = buf_.size();
          ++line_no_;
          return true;
        }
        return false;
      }
      buf_.erase(0, pos_);
      pos_ = 0;
      size_t old = buf_.size();
      buf_.resize(old + (1 << 18));
      int n = gzread(gz_, buf_.data() + old, 1 << 18);
      if (n < 0) {
        int errnum = 0;
        error_ = gzerror(gz_, &errnum);
        n = 0;
        eof_ = true;
      }
      buf_.resize(old + static_cast<size_t>(n));
      if (n == 0) eof_ = true;
    }
  }
  uint64_t line_no() const { return line_no_; }
  const std::string& name() const { return name_; }
  const std::string& error() const { return error_; }
  uint64_t size() const { return size_; }
  uint64_t offset() const { return gz_ ? static_cast<uint64_t>(std::max<z_off_t>(0, gzoffset(gz_))) : 0; }

 private:
  LineReader() = default;
  gzFile gz_ = nullptr;
  std::string name_;
  std::string buf_;
  size_t pos_ = 0;
  bool eof_ = false;
  uint64_t line_no_ = 0;
  uint64_t size_ = 0;
  std::string error_;
};

struct Source {
  std::unique_ptr<LineReader> reader;
  std::optional<ExchangeRecord> next;
};

void reject(AnalyzeInput& in, const std::string& file, uint64_t line, std::string error) {
  ++in.rejected;
  if (in.rejected_lines.size() < kMaxRejectedListed) in.rejected_lines.push_back({file, line, std::move(error)});
}

// Advances a source to its next valid record (counting malformed lines).
void advance(Source& s, AnalyzeInput& in) {
  s.next.reset();
  std::string_view line;
  while (s.reader->next(line)) {
    size_t b = line.find_first_not_of(" \t\r");
    if (b == std::string_view::npos) continue;  // blank line
    auto r = parse_exchange_record(line);
    if (!r.ok()) {
      reject(in, s.reader->name(), s.reader->line_no(), r.status().message());
      continue;
    }
    s.next = std::move(r).value();
    return;
  }
}

}  // namespace

Result<AnalyzeResult> run_analyze(const AnalyzeOptions& opt) {
  if (opt.inputs.empty()) return invalid_argument("no --input given");
  std::vector<Source> sources;
  uint64_t total_bytes = 0;
  for (const auto& path : opt.inputs) {
    DG_ASSIGN_OR_RETURN(auto reader, LineReader::open(path));
    total_bytes += reader->size();
    sources.push_back({std::move(reader), std::nullopt});
  }
  auto t0 = std::chrono::steady_clock::now();
  AnalyzeResult res;
  Engine engine(opt.engine);
  FILE* tap_file = nullptr;
  if (const char* p = std::getenv("DG_ENGINE_DUMP_SIGNALS")) {  // development aid (weight fitting)
    tap_file = std::fopen(p, "w");
    if (tap_file) {
      engine.set_signal_tap(
          [](void* ctx, std::string_view name, bool cluster, uint32_t n, uint32_t size, const SignalValues& v) {
            FILE* f = static_cast<FILE*>(ctx);
            std::fprintf(f, "%.*s\t%d\t%u\t%u", static_cast<int>(name.size()), name.data(), cluster ? 1 : 0, n, size);
            for (double x : v) std::fprintf(f, "\t%.4f", x);
            std::fputc('\n', f);
          },
          tap_file);
    }
  }
  for (auto& s : sources) advance(s, res.input);
  bool progress = opt.progress && total_bytes > (64u << 20);
  auto last_draw = t0;
  for (;;) {
    Source* best = nullptr;
    for (auto& s : sources)
      if (s.next && (!best || s.next->ts < best->next->ts)) best = &s;
    if (!best) break;
    const ExchangeRecord& r = *best->next;
    if (res.input.records == 0) res.input.from = r.ts;
    res.input.from = std::min(res.input.from, r.ts);
    res.input.to = std::max(res.input.to, r.ts);
    ++res.input.records;
    engine.observe(r);
    advance(*best, res.input);
    if (progress && (res.input.records & 0x3fff) == 0) {
      auto now = std::chrono::steady_clock::now();
      if (now - last_draw > std::chrono::milliseconds(200)) {
        last_draw = now;
        uint64_t done = 0;
        for (auto& s : sources) done += s.reader->offset();
        double f = total_bytes ? std::min(1.0, static_cast<double>(done) / total_bytes) : 0;
        int w = static_cast<int>(f * 40);
        std::fprintf(stderr, "\ranalyze [%s%s] %3.0f%%  %llu records, %zu accounts", std::string(w, '#').c_str(),
                     std::string(40 - w, ' ').c_str(), f * 100, static_cast<unsigned long long>(res.input.records),
                     engine.account_count());
      }
    }
  }
  if (progress) std::fprintf(stderr, "\r%*s\r", 100, "");
  for (auto& s : sources) {
    if (!s.reader->error().empty())
      reject(res.input, s.reader->name(), s.reader->line_no() + 1, "read error: " + s.reader->error());
  }
  if (tap_file) std::fclose(tap_file);
  res.accounts = engine.account_count();
  res.report = engine.report();
  if (const char* dbg = std::getenv("DG_ENGINE_DUMP_EDGES")) {  // development aid
    if (FILE* f = std::fopen(dbg, "w")) {
      for (const auto& e : res.report.edges)
        std::fprintf(f, "%s\t%s\t%d\n", res.report.accounts[e.a].account.c_str(),
                     res.report.accounts[e.b].account.c_str(), e.kinds);
      std::fclose(f);
    }
  }
  res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return res;
}

Result<EngineConfig> engine_config_from(const Config& config) {
  EngineConfig c;
  ConfigSection s(config, "engine");
  c.thresholds.suspicious = s.get_double("suspicious_threshold", c.thresholds.suspicious, 0.0, 1.0);
  c.thresholds.attack = s.get_double("attack_threshold", c.thresholds.attack, 0.0, 1.0);
  c.clustering = s.get_bool("clustering", c.clustering);
  c.link_threshold = s.get_double("link_threshold", c.link_threshold, 0.0, 10.0);
  c.link_slots_log2 = static_cast<uint32_t>(s.get_int("link_index_slots_log2", c.link_slots_log2, 10, 28));
  for (const char* k : {"capability_rpm", "cluster_rpm", "queue_capacity"}) s.accept(k);  // read by the assess stage
  if (c.thresholds.suspicious > c.thresholds.attack)
    s.fail("suspicious_threshold", "must not exceed attack_threshold");
  DG_RETURN_IF_ERROR(s.finish());
  return c;
}

}  // namespace dg::engine
