#include "engine/analyze.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <isa-l/igzip_lib.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fmt/format.h>
#include <memory>

#include "config/config.h"

namespace dg::engine {

namespace {

constexpr size_t kTextBuffer = 4u << 20;    // decompressed text (grows for longer lines)
constexpr size_t kInputBuffer = 1u << 20;   // compressed input

}  // namespace

// gzip decompression with ISA-L's inflate (about twice zlib's speed, which is
// most of the cost of reading a .jsonl.gz). Checks each member's CRC and
// length, reads concatenated members, and stops at trailing bytes that are not
// gzip (as gzip(1) does).
struct LineReader::Inflater {
  std::unique_ptr<unsigned char[]> in{new unsigned char[kInputBuffer]};
  const unsigned char* next_in = nullptr;
  size_t avail_in = 0;
  bool member_end = false;  // the current gzip member is complete
  inflate_state s;
  Inflater() {
    isal_inflate_init(&s);
    s.crc_flag = ISAL_GZIP;
  }
  bool init() { return true; }
  bool restart() {
    isal_inflate_reset(&s);
    s.crc_flag = ISAL_GZIP;
    member_end = false;
    return true;
  }
  // Inflates into [out, out + n); returns bytes written, or sets `error`.
  size_t run(char* out, size_t n, std::string& error) {
    s.next_in = const_cast<uint8_t*>(next_in);
    s.avail_in = static_cast<uint32_t>(avail_in);
    s.next_out = reinterpret_cast<uint8_t*>(out);
    s.avail_out = static_cast<uint32_t>(n);
    int ret = isal_inflate(&s);
    size_t wrote = n - s.avail_out;
    next_in = s.next_in;
    avail_in = s.avail_in;
    if (ret != ISAL_DECOMP_OK) error = fmt::format("gzip: corrupt data (ISA-L error {})", ret);
    if (s.block_state == ISAL_BLOCK_FINISH) member_end = true;
    return wrote;
  }
};

Result<std::unique_ptr<LineReader>> LineReader::open(const std::string& path) {
  auto r = std::unique_ptr<LineReader>(new LineReader());
  r->name_ = path == "-" ? "<stdin>" : path;
  if (path == "-") {
    r->fd_ = STDIN_FILENO;
  } else {
    r->fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (r->fd_ < 0) return not_found(fmt::format("cannot read '{}': {}", path, std::strerror(errno)));
    r->own_fd_ = true;
    struct stat st {};
    if (::fstat(r->fd_, &st) != 0)
      return not_found(fmt::format("cannot read '{}': {}", path, std::strerror(errno)));
    if (S_ISDIR(st.st_mode)) return invalid_argument(fmt::format("cannot read '{}': is a directory", path));
    r->size_ = static_cast<uint64_t>(st.st_size);
    ::posix_fadvise(r->fd_, 0, 0, POSIX_FADV_SEQUENTIAL);
  }
  r->cap_ = kTextBuffer;
  r->buf_.reset(new char[r->cap_]);
  // Sniff the gzip magic: the first bytes go to the inflater's input, or
  // stay as text.
  unsigned char head[2];
  size_t got = 0;
  while (got < 2) {
    size_t n = r->read_raw(reinterpret_cast<char*>(head) + got, 2 - got);
    if (n == 0) break;
    got += n;
  }
  if (!r->error_.empty())
    return invalid_argument(fmt::format("cannot read '{}': {}", r->name_, r->error_));
  if (got == 2 && head[0] == 0x1f && head[1] == 0x8b) {
    auto gz = std::make_unique<Inflater>();
    if (!gz->init()) return internal_error("cannot start gzip decompression");
    std::memcpy(gz->in.get(), head, 2);
    gz->next_in = gz->in.get();
    gz->avail_in = 2;
    r->gz_ = std::move(gz);
  } else {
    std::memcpy(r->buf_.get(), head, got);
    r->end_ = got;
  }
  return r;
}

LineReader::~LineReader() {
  if (own_fd_) ::close(fd_);
}

size_t LineReader::read_raw(char* dst, size_t n) {
  for (;;) {
    ssize_t k = ::read(fd_, dst, n);
    if (k >= 0) {
      consumed_ += static_cast<uint64_t>(k);
      return static_cast<size_t>(k);
    }
    if (errno == EINTR) continue;
    error_ = std::strerror(errno);
    return 0;
  }
}

bool LineReader::fill() {
  if (eof_) return false;
  // Keep the unread tail at the front; grow when one line fills the buffer.
  if (begin_ > 0) {
    std::memmove(buf_.get(), buf_.get() + begin_, end_ - begin_);
    scan_ -= begin_;
    end_ -= begin_;
    begin_ = 0;
  }
  if (end_ == cap_) {
    std::unique_ptr<char[]> bigger(new char[cap_ * 2]);
    std::memcpy(bigger.get(), buf_.get(), end_);
    buf_ = std::move(bigger);
    cap_ *= 2;
  }
  const size_t before = end_;
  if (!gz_) {
    end_ += read_raw(buf_.get() + end_, cap_ - end_);
  } else {
    Inflater& gz = *gz_;
    while (end_ < cap_ && error_.empty()) {
      if (gz.avail_in == 0) {
        size_t n = read_raw(reinterpret_cast<char*>(gz.in.get()), kInputBuffer);
        if (n == 0) {
          if (error_.empty() && !gz.member_end) error_ = "unexpected end of gzip stream (truncated file)";
          break;
        }
        gz.next_in = gz.in.get();
        gz.avail_in = n;
      }
      if (gz.member_end) {
        if (gz.next_in[0] != 0x1f) break;  // not another member: trailing bytes are ignored
        if (!gz.restart()) error_ = "cannot restart gzip decompression";
        continue;
      }
      end_ += gz.run(buf_.get() + end_, cap_ - end_, error_);
    }
    if (end_ < cap_) eof_ = true;  // stopped before filling: end of input or an error
  }
  if (end_ == before) {
    eof_ = true;
    return false;
  }
  return true;
}

bool LineReader::next(std::string_view& line) {
  for (;;) {
    if (const void* nl = std::memchr(buf_.get() + scan_, '\n', end_ - scan_)) {
      const char* p = static_cast<const char*>(nl);
      line = std::string_view(buf_.get() + begin_, static_cast<size_t>(p - (buf_.get() + begin_)));
      begin_ = scan_ = static_cast<size_t>(p - buf_.get()) + 1;
      ++line_no_;
      return true;
    }
    scan_ = end_;
    if (!fill()) {
      if (begin_ < end_) {  // a last line without '\n'
        line = std::string_view(buf_.get() + begin_, end_ - begin_);
        begin_ = scan_ = end_;
        ++line_no_;
        return true;
      }
      return false;
    }
  }
}

namespace {

struct Source {
  std::unique_ptr<LineReader> reader;
  ExchangeRecord next;  // valid when has_next; parsed in place (string capacity reused)
  bool has_next = false;
};

void reject(AnalyzeInput& in, const std::string& file, uint64_t line, std::string error) {
  ++in.rejected;
  if (in.rejected_lines.size() < kMaxRejectedListed) in.rejected_lines.push_back({file, line, std::move(error)});
}

// Advances a source to its next valid record (counting malformed lines).
void advance(Source& s, ExchangeRecordParser& parser, AnalyzeInput& in) {
  s.has_next = false;
  std::string_view line;
  while (s.reader->next(line)) {
    size_t b = line.find_first_not_of(" \t\r");
    if (b == std::string_view::npos) continue;  // blank line
    Status st = parser.parse(line, s.next);
    if (!st.ok()) {
      reject(in, s.reader->name(), s.reader->line_no(), st.message());
      continue;
    }
    s.has_next = true;
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
    sources.push_back({std::move(reader), {}, false});
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
  // The engine reads neither generated text nor unknown fields.
  ExchangeRecordParser parser(ExchangeParseOptions{.keep_response_text = false, .keep_extra = false});
  for (auto& s : sources) advance(s, parser, res.input);
  bool progress = opt.progress && total_bytes > (64u << 20);
  auto last_draw = t0;
  for (;;) {
    Source* best = nullptr;
    for (auto& s : sources)
      if (s.has_next && (!best || s.next.ts < best->next.ts)) best = &s;
    if (!best) break;
    const ExchangeRecord& r = best->next;
    if (res.input.records == 0) res.input.from = r.ts;
    res.input.from = std::min(res.input.from, r.ts);
    res.input.to = std::max(res.input.to, r.ts);
    ++res.input.records;
    engine.observe(r);
    advance(*best, parser, res.input);
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
