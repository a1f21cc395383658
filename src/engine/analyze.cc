#include "engine/analyze.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <isa-l/igzip_lib.h>
#include <simdjson.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "common/hash.h"
#include "config/config.h"

namespace dg::engine {

namespace {

constexpr size_t kTextBuffer = 4u << 20;   // decompressed text (grows for longer lines)
constexpr size_t kInputBuffer = 1u << 20;  // compressed input

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
    if (r->fd_ < 0)
      return not_found(fmt::format("cannot read '{}': {}", path, std::strerror(errno)));
    r->own_fd_ = true;
    struct stat st {};
    if (::fstat(r->fd_, &st) != 0)
      return not_found(fmt::format("cannot read '{}': {}", path, std::strerror(errno)));
    if (S_ISDIR(st.st_mode))
      return invalid_argument(fmt::format("cannot read '{}': is a directory", path));
    r->size_ = static_cast<uint64_t>(st.st_size);
    ::posix_fadvise(r->fd_, 0, 0, POSIX_FADV_SEQUENTIAL);
  }
  r->cap_ = kTextBuffer;
  r->buf_.reset(new char[r->cap_ + kLinePadding]);
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
    std::unique_ptr<char[]> bigger(new char[cap_ * 2 + kLinePadding]);
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
          if (error_.empty() && !gz.member_end)
            error_ = "unexpected end of gzip stream (truncated file)";
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

namespace sj = simdjson::dom;

// simdjson's nesting limit, below Boost.JSON's 32 (ExchangeRecordParser's):
// a deeper line goes to ExchangeRecordParser, which decides.
constexpr size_t kMaxDepth = 30;

// The last field named `key` (Boost.JSON keeps the last of duplicate keys).
bool find_last(sj::object o, std::string_view key, sj::element& out) {
  bool found = false;
  for (sj::key_value_pair kv : o) {
    if (kv.key == key) {
      out = kv.value;
      found = true;
    }
  }
  return found;
}

bool is_number(sj::element v) {
  auto t = v.type();
  return t == sj::element_type::INT64 || t == sj::element_type::UINT64 ||
         t == sj::element_type::DOUBLE;
}

double number_value(sj::element v) {
  switch (v.type()) {
    case sj::element_type::INT64:
      return static_cast<double>(v.get_int64().value_unsafe());
    case sj::element_type::UINT64:
      return static_cast<double>(v.get_uint64().value_unsafe());
    default:
      return v.get_double().value_unsafe();
  }
}

// features.cc's content_text() over a simdjson element.
std::string_view content_text(sj::element v, std::string& buf) {
  if (v.type() == sj::element_type::STRING) return v.get_string().value_unsafe();
  if (v.type() != sj::element_type::ARRAY) return {};
  buf.clear();
  const sj::array parts = v.get_array().value_unsafe();
  for (sj::element part : parts) {
    if (part.type() == sj::element_type::OBJECT) {
      sj::element t;
      if (find_last(part.get_object().value_unsafe(), "text", t) &&
          t.type() == sj::element_type::STRING) {
        if (!buf.empty()) buf += '\n';
        buf += t.get_string().value_unsafe();
      }
    } else if (part.type() == sj::element_type::STRING) {
      buf += part.get_string().value_unsafe();
    }
  }
  return buf;
}

// features.cc's read_facts() over a simdjson object: one pass over the
// fields, the last of each name counting.
void read_facts(sj::object q, RequestFacts& out) {
  out.clear();
  sj::element messages, prompt, logprobs;
  bool has_messages = false, has_prompt = false, has_logprobs = false, tools = false,
       functions = false;
  for (sj::key_value_pair kv : q) {
    const std::string_view k = kv.key;
    const sj::element v = kv.value;
    if (k == "messages") {
      messages = v;
      has_messages = true;
    } else if (k == "prompt") {
      prompt = v;
      has_prompt = true;
    } else if (k == "temperature") {
      out.temperature = is_number(v) ? number_value(v) : 1.0;
    } else if (k == "n") {
      out.n = is_number(v) ? number_value(v) : 1;
    } else if (k == "best_of") {
      out.best_of = is_number(v) ? number_value(v) : 1;
    } else if (k == "top_logprobs") {
      out.top_logprobs = is_number(v) ? number_value(v) : 0;
    } else if (k == "logprobs") {
      logprobs = v;
      has_logprobs = true;
    } else if (k == "tools" || k == "functions") {
      (k == "tools" ? tools : functions) =
          v.type() == sj::element_type::ARRAY && v.get_array().value_unsafe().size() > 0;
    } else if (k == "model") {
      out.model_is_string = v.type() == sj::element_type::STRING;
      out.model = out.model_is_string ? v.get_string().value_unsafe() : std::string_view{};
    }
  }
  out.has_tools = tools || functions;
  if (has_logprobs) {
    const auto t = logprobs.type();
    out.logprobs = (t == sj::element_type::BOOL && logprobs.get_bool().value_unsafe()) ||
                   ((t == sj::element_type::INT64 || t == sj::element_type::UINT64) &&
                    number_value(logprobs) > 0);
  }
  if (has_messages && messages.type() == sj::element_type::ARRAY) {
    const sj::array list = messages.get_array().value_unsafe();
    for (sj::element msg : list) {
      if (msg.type() != sj::element_type::OBJECT) continue;
      sj::element role, content;
      bool has_role = false, has_content = false;
      const sj::object fields = msg.get_object().value_unsafe();
      for (sj::key_value_pair kv : fields) {
        if (kv.key == "role") {
          role = kv.value;
          has_role = true;
        } else if (kv.key == "content") {
          content = kv.value;
          has_content = true;
        }
      }
      if (!has_role || role.type() != sj::element_type::STRING || !has_content) continue;
      const std::string_view rs = role.get_string().value_unsafe();
      if (rs == "user") {
        ++out.user_turns;
        out.prompt = content_text(content, out.prompt_buf);
      } else if ((rs == "system" || rs == "developer") && out.system.empty()) {
        out.system = content_text(content, out.system_buf);
      }
    }
  } else if (has_prompt) {
    if (prompt.type() == sj::element_type::STRING) {
      out.prompt = prompt.get_string().value_unsafe();
    } else if (prompt.type() == sj::element_type::ARRAY) {
      sj::array a = prompt.get_array().value_unsafe();
      if (a.size() > 0 && a.at(0).value_unsafe().type() == sj::element_type::STRING)
        out.prompt = a.at(0).value_unsafe().get_string().value_unsafe();
    }
    out.user_turns = 1;
  }
}

}  // namespace

struct RecordReader::Impl {
  explicit Impl(const CapabilityClassifier& c) : clf(c) {
    if (json.allocate(1u << 16, kMaxDepth) != simdjson::SUCCESS) std::abort();  // out of memory
  }
  const CapabilityClassifier& clf;
  sj::parser json;
  // The engine reads neither generated text nor unknown fields.
  ExchangeRecordParser full{ExchangeParseOptions{.keep_response_text = false, .keep_extra = false}};
  ExchangeRecord rec;
  RequestFacts facts;
  std::string scratch;

  // The fast path: false when the line is left to ExchangeRecordParser (any
  // error, or anything it would reject).
  bool read(std::string_view line, std::string& account, RecordFeatures& f);
};

bool RecordReader::Impl::read(std::string_view line, std::string& account, RecordFeatures& f) {
  // A line that is not an object (or starts with a byte-order mark) is
  // ExchangeRecordParser's to word.
  const size_t b = line.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos || line[b] != '{') return false;
  sj::element root;
  if (json.parse(line.data(), line.size(), false).get(root) != simdjson::SUCCESS) return false;
  sj::object top;
  if (root.get_object().get(top) != simdjson::SUCCESS) return false;
  // ExchangeRecordParser's rules for the top-level fields: the last of a
  // name counts, null is "absent" (but for `request`).
  bool has_ts = false, has_account = false, has_endpoint = false, has_request = false,
       has_response = false;
  std::string_view ts_text, acct, ip, ua, hfp, created_text;
  sj::object request, response;
  RecordView view;
  auto string_or_null = [](sj::element v, std::string_view& out, bool& present) {
    if (v.type() == sj::element_type::STRING) {
      out = v.get_string().value_unsafe();
      present = true;
      return true;
    }
    if (v.type() == sj::element_type::NULL_VALUE) {
      out = {};
      present = false;
      return true;
    }
    return false;
  };
  for (sj::key_value_pair kv : top) {
    const std::string_view k = kv.key;
    const sj::element v = kv.value;
    std::string_view unused;
    bool present = false;
    bool ok = true;
    if (k == "ts") {
      // Each time is checked where it stands, as ExchangeRecordParser does.
      ok = string_or_null(v, ts_text, has_ts);
      if (ok && has_ts) {
        auto t = parse_rfc3339(ts_text);
        ok = t.ok();
        if (ok) view.ts = *t;
      }
    } else if (k == "account")
      ok = string_or_null(v, acct, has_account);
    else if (k == "endpoint")
      ok = string_or_null(v, unused, has_endpoint);
    else if (k == "ip")
      ok = string_or_null(v, ip, present);
    else if (k == "user_agent")
      ok = string_or_null(v, ua, present);
    else if (k == "headers_fp")
      ok = string_or_null(v, hfp, present);
    else if (k == "key_id" || k == "action")
      ok = string_or_null(v, unused, present);
    else if (k == "account_created") {
      ok = string_or_null(v, created_text, present);
      view.account_created = 0;
      if (ok && !created_text.empty()) {
        auto c = parse_rfc3339(created_text);
        ok = c.ok();
        if (ok) view.account_created = *c;
      }
    } else if (k == "request") {
      ok = v.get_object().get(request) == simdjson::SUCCESS;
      has_request = ok;
    } else if (k == "response") {
      if (v.type() == sj::element_type::NULL_VALUE)
        has_response = false;
      else
        ok = has_response = v.get_object().get(response) == simdjson::SUCCESS;
    } else if (k == "status") {
      const auto t = v.type();
      ok = t == sj::element_type::NULL_VALUE ||
           (t == sj::element_type::INT64 && v.get_int64().value_unsafe() >= INT32_MIN &&
            v.get_int64().value_unsafe() <= INT32_MAX);
    } else if (k == "latency_ms") {
      ok = v.type() == sj::element_type::NULL_VALUE || is_number(v);
    }
    if (!ok) return false;
  }
  if (!has_ts || !has_account || acct.empty() || !has_endpoint || !has_request) return false;
  if (has_response) {
    sj::element usage;
    if (find_last(response, "usage", usage) && usage.type() == sj::element_type::OBJECT) {
      sj::object u = usage.get_object().value_unsafe();
      sj::element n;
      view.prompt_tokens = find_last(u, "prompt_tokens", n) && is_number(n)
                               ? static_cast<int64_t>(number_value(n))
                               : -1;
      view.completion_tokens = find_last(u, "completion_tokens", n) && is_number(n)
                                   ? static_cast<int64_t>(number_value(n))
                                   : 0;
    }
  }
  view.ip = ip;
  view.user_agent = ua;
  view.headers_fp = hfp;
  read_facts(request, facts);
  account.assign(acct);
  f = extract_features(facts, view, clf, scratch);
  return true;
}

RecordReader::RecordReader(const CapabilityClassifier& clf) : impl_(std::make_unique<Impl>(clf)) {}
RecordReader::~RecordReader() = default;

Status RecordReader::read(std::string_view line, std::string& account, RecordFeatures& features) {
  full_parse_ = !impl_->read(line, account, features);
  if (!full_parse_) return Status();
  DG_RETURN_IF_ERROR(impl_->full.parse(line, impl_->rec));
  account = impl_->rec.account;
  features = extract_features(impl_->rec, impl_->clf, impl_->scratch);
  return Status();
}

namespace {

struct Source {
  std::unique_ptr<LineReader> reader;
  // The next record (valid when has_next): its account and features.
  std::string account;
  RecordFeatures next;
  bool has_next = false;
};

void reject(AnalyzeInput& in, const std::string& file, uint64_t line, std::string error) {
  ++in.rejected;
  if (in.rejected_lines.size() < kMaxRejectedListed)
    in.rejected_lines.push_back({file, line, std::move(error)});
}

// Advances a source to its next valid record (counting malformed lines).
void advance(Source& s, RecordReader& records, AnalyzeInput& in) {
  s.has_next = false;
  std::string_view line;
  while (s.reader->next(line)) {
    size_t b = line.find_first_not_of(" \t\r");
    if (b == std::string_view::npos) continue;  // blank line
    Status st = records.read(line, s.account, s.next);
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
    sources.push_back({std::move(reader), {}, {}, false});
  }
  auto t0 = std::chrono::steady_clock::now();
  AnalyzeResult res;
  Engine engine(opt.engine);
  FILE* tap_file = nullptr;
  if (const char* p = std::getenv("DG_ENGINE_DUMP_SIGNALS")) {  // development aid (weight fitting)
    tap_file = std::fopen(p, "w");
    if (tap_file) {
      engine.set_signal_tap(
          [](void* ctx, std::string_view name, bool cluster, uint32_t n, uint32_t size,
             const SignalValues& v) {
            FILE* f = static_cast<FILE*>(ctx);
            std::fprintf(f, "%.*s\t%d\t%u\t%u", static_cast<int>(name.size()), name.data(),
                         cluster ? 1 : 0, n, size);
            for (double x : v) std::fprintf(f, "\t%.4f", x);
            std::fputc('\n', f);
          },
          tap_file);
    }
  }
  RecordReader records;
  for (auto& s : sources) advance(s, records, res.input);
  bool progress = opt.progress && total_bytes > (64u << 20);
  auto last_draw = t0;
  for (;;) {
    Source* best = nullptr;
    for (auto& s : sources)
      if (s.has_next && (!best || s.next.ts < best->next.ts)) best = &s;
    if (!best) break;
    const TimeNs ts = best->next.ts;
    if (res.input.records == 0) res.input.from = ts;
    res.input.from = std::min(res.input.from, ts);
    res.input.to = std::max(res.input.to, ts);
    ++res.input.records;
    engine.observe(best->account, best->next);
    advance(*best, records, res.input);
    if (progress && (res.input.records & 0x3fff) == 0) {
      auto now = std::chrono::steady_clock::now();
      if (now - last_draw > std::chrono::milliseconds(200)) {
        last_draw = now;
        uint64_t done = 0;
        for (auto& s : sources) done += s.reader->offset();
        double f = total_bytes ? std::min(1.0, static_cast<double>(done) / total_bytes) : 0;
        int w = static_cast<int>(f * 40);
        std::fprintf(stderr, "\ranalyze [%s%s] %3.0f%%  %llu records, %zu accounts",
                     std::string(w, '#').c_str(), std::string(40 - w, ' ').c_str(), f * 100,
                     static_cast<unsigned long long>(res.input.records), engine.account_count());
      }
    }
  }
  if (progress) std::fprintf(stderr, "\r%*s\r", 100, "");
  for (auto& s : sources) {
    if (!s.reader->error().empty())
      reject(res.input, s.reader->name(), s.reader->line_no() + 1,
             "read error: " + s.reader->error());
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
  c.link_slots_log2 =
      static_cast<uint32_t>(s.get_int("link_index_slots_log2", c.link_slots_log2, 10, 28));
  for (const char* k : {"capability_rpm", "cluster_rpm", "queue_capacity"})
    s.accept(k);  // read by the assess stage
  if (c.thresholds.suspicious > c.thresholds.attack)
    s.fail("suspicious_threshold", "must not exceed attack_threshold");
  DG_RETURN_IF_ERROR(s.finish());
  return c;
}

}  // namespace dg::engine
