#include "distillbench/simulator.h"

#include <zlib.h>

#include <algorithm>
#include <deque>
#include <future>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <limits>
#include <map>
#include <set>
#include <queue>
#include <string_view>
#include <vector>

#include "common/hash.h"
#include "distillbench/prompt_pool.h"
#include "distillguard/random.h"

namespace dg::distillbench {
namespace {

constexpr double kSecPerDay = 86400.0;

// Compresses one block as raw deflate ending on a byte boundary (Z_SYNC_FLUSH),
// so that blocks compressed independently concatenate into one deflate stream
// (the pigz technique). Returns the compressed bytes and the block's CRC-32.
struct GzBlock {
  std::string data;
  uLong crc = 0;
  size_t in_len = 0;
  bool ok = true;
};

GzBlock deflate_block(std::string in) {
  GzBlock out;
  out.in_len = in.size();
  out.crc = crc32(0L, reinterpret_cast<const Bytef*>(in.data()), static_cast<uInt>(in.size()));
  z_stream zs{};
  if (deflateInit2(&zs, 1, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    out.ok = false;
    return out;
  }
  out.data.resize(deflateBound(&zs, static_cast<uLong>(in.size())) + 64);
  zs.next_in = reinterpret_cast<Bytef*>(in.data());
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data.data());
  zs.avail_out = static_cast<uInt>(out.data.size());
  int rc = deflate(&zs, Z_SYNC_FLUSH);
  out.ok = rc == Z_OK && zs.avail_in == 0;
  out.data.resize(out.data.size() - zs.avail_out);
  deflateEnd(&zs);
  return out;
}

// A plain or gzip output file with a large write buffer. gzip output is one
// ordinary gzip member (level 1) whose 1 MiB blocks are deflated in parallel
// (std::async, at most kMaxInFlight at once) and written in order; the bytes
// depend only on the input, so output stays deterministic.
class OutFile {
 public:
  OutFile() = default;
  OutFile(const OutFile&) = delete;
  OutFile& operator=(const OutFile&) = delete;
  ~OutFile() { (void)close(); }

  Status open(const std::string& path) {
    path_ = path;
    gz_mode_ = path.size() > 3 && path.compare(path.size() - 3, 3, ".gz") == 0;
    f_ = std::fopen(path.c_str(), "wb");
    if (!f_) return invalid_argument("cannot write '" + path + "'");
    if (gz_mode_) {
      static const unsigned char kHeader[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3};
      if (std::fwrite(kHeader, 1, sizeof kHeader, f_) != sizeof kHeader) return write_error();
      crc_ = crc32(0L, Z_NULL, 0);
    }
    buf_.reserve(kFlushAt + 65536);
    return Status();
  }
  std::string& buf() { return buf_; }
  Status maybe_flush() { return buf_.size() >= kFlushAt ? flush() : Status(); }
  Status flush() {
    if (buf_.empty()) return Status();
    bytes_ += buf_.size();
    if (gz_mode_) {
      while (in_flight_.size() >= kMaxInFlight) DG_RETURN_IF_ERROR(write_oldest());
      in_flight_.push_back(std::async(std::launch::async, deflate_block, std::move(buf_)));
      buf_ = std::string();
      buf_.reserve(kFlushAt + 65536);
      return Status();
    }
    bool ok = std::fwrite(buf_.data(), 1, buf_.size(), f_) == buf_.size();
    buf_.clear();
    return ok ? Status() : write_error();
  }
  Status close() {
    if (!f_) return Status();
    Status s = flush();
    while (!in_flight_.empty()) {
      Status w = write_oldest();
      if (s.ok()) s = w;
    }
    if (gz_mode_ && s.ok()) {
      // An empty final fixed-Huffman block, then CRC-32 and length (little-endian).
      unsigned char tail[10] = {0x03, 0x00};
      uint32_t crc = static_cast<uint32_t>(crc_), len = static_cast<uint32_t>(bytes_ & 0xFFFFFFFFu);
      for (int i = 0; i < 4; ++i) tail[2 + i] = static_cast<unsigned char>(crc >> (8 * i));
      for (int i = 0; i < 4; ++i) tail[6 + i] = static_cast<unsigned char>(len >> (8 * i));
      if (std::fwrite(tail, 1, sizeof tail, f_) != sizeof tail) s = write_error();
    }
    if (std::fclose(f_) != 0 && s.ok()) s = internal_error("close failed on '" + path_ + "'");
    f_ = nullptr;
    return s;
  }
  uint64_t bytes() const { return bytes_; }

 private:
  Status write_error() const { return internal_error("write failed on '" + path_ + "'"); }
  Status write_oldest() {
    GzBlock b = in_flight_.front().get();
    in_flight_.pop_front();
    if (!b.ok) return internal_error("deflate failed for '" + path_ + "'");
    crc_ = crc32_combine(crc_, b.crc, static_cast<z_off_t>(b.in_len));
    if (std::fwrite(b.data.data(), 1, b.data.size(), f_) != b.data.size()) return write_error();
    return Status();
  }

  static constexpr size_t kFlushAt = 1 << 20;
  static constexpr size_t kMaxInFlight = 4;
  std::string path_;
  bool gz_mode_ = false;
  FILE* f_ = nullptr;
  std::string buf_;
  uint64_t bytes_ = 0;
  uLong crc_ = 0;
  std::deque<std::future<GzBlock>> in_flight_;
};

void append_int(std::string* out, int64_t v) {
  char b[24];
  auto r = std::to_chars(b, b + sizeof b, v);
  out->append(b, r.ptr);
}
void append_double(std::string* out, double v) {
  char b[32];
  auto r = std::to_chars(b, b + sizeof b, v);
  std::string_view s(b, r.ptr - b);
  out->append(s);
  // JSON numbers: to_chars never prints "inf"/"nan" here (inputs are validated).
}

// "2026-02-01T12:00:00.123Z" with the date/time part cached per second.
class TsFormatter {
 public:
  void append(std::string* out, int64_t ms) {
    int64_t sec = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
    if (sec != cached_sec_) {
      cached_sec_ = sec;
      std::time_t tt = static_cast<std::time_t>(sec);
      std::tm tm{};
      gmtime_r(&tt, &tm);
      std::snprintf(prefix_, sizeof prefix_, "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900,
                    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    }
    out->append(prefix_, 19);
    int frac = static_cast<int>(ms - sec * 1000);
    char f[6] = {'.', static_cast<char>('0' + frac / 100), static_cast<char>('0' + frac / 10 % 10),
                 static_cast<char>('0' + frac % 10), 'Z', 0};
    out->append(f, 5);
  }

 private:
  int64_t cached_sec_ = std::numeric_limits<int64_t>::min();
  char prefix_[40] = {};
};

std::string hex(uint64_t v, int digits) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s(static_cast<size_t>(digits), '0');
  for (int i = digits - 1; i >= 0; --i, v >>= 4) s[static_cast<size_t>(i)] = kHex[v & 15];
  return s;
}

struct CidrBlock {
  uint32_t base = 0;
  uint32_t size = 1;
};

Result<CidrBlock> parse_cidr(const std::string& s) {
  unsigned a, b, c, d, len = 32;
  char tail = 0;
  int got = std::sscanf(s.c_str(), "%u.%u.%u.%u/%u%c", &a, &b, &c, &d, &len, &tail);
  if (got < 4 || got > 5 || a > 255 || b > 255 || c > 255 || d > 255 || len > 32 || len < 8)
    return invalid_argument("bad IPv4 CIDR block '" + s + "' (want a.b.c.d/8..32)");
  CidrBlock blk;
  uint32_t ip = (a << 24) | (b << 16) | (c << 8) | d;
  uint32_t mask = len == 32 ? 0xFFFFFFFFu : ~((1u << (32 - len)) - 1);
  blk.base = ip & mask;
  blk.size = len == 32 ? 1 : (1u << (32 - len));
  return blk;
}

void append_ip(std::string* out, uint32_t ip) {
  append_int(out, ip >> 24);
  out->push_back('.');
  append_int(out, (ip >> 16) & 255);
  out->push_back('.');
  append_int(out, (ip >> 8) & 255);
  out->push_back('.');
  append_int(out, ip & 255);
}

// A template split into literal (pre-escaped) pieces and slots.
struct Template {
  enum Slot { kLiteral, kPrompt, kAnswer, kLang };
  std::vector<std::pair<Slot, std::string>> parts;
  bool needs_answer = false;
};

Template compile_template(const std::string& t) {
  Template out;
  size_t pos = 0;
  std::string lit;
  while (pos < t.size()) {
    size_t open = t.find('{', pos);
    if (open == std::string::npos) {
      lit.append(t, pos, std::string::npos);
      break;
    }
    lit.append(t, pos, open - pos);
    size_t close = t.find('}', open);
    std::string_view name = close == std::string::npos ? "" : std::string_view(t).substr(open + 1, close - open - 1);
    Template::Slot slot = Template::kLiteral;
    if (name == "prompt") slot = Template::kPrompt;
    else if (name == "answer") slot = Template::kAnswer;
    else if (name == "lang") slot = Template::kLang;
    if (slot == Template::kLiteral) {
      lit.push_back('{');
      pos = open + 1;
      continue;
    }
    if (!lit.empty()) {
      std::string esc;
      json_escape_append(lit, &esc);
      out.parts.emplace_back(Template::kLiteral, std::move(esc));
      lit.clear();
    }
    out.parts.emplace_back(slot, std::string());
    out.needs_answer = out.needs_answer || slot == Template::kAnswer;
    pos = close + 1;
  }
  if (!lit.empty()) {
    std::string esc;
    json_escape_append(lit, &esc);
    out.parts.emplace_back(Template::kLiteral, std::move(esc));
  }
  return out;
}

struct Source {
  const PromptPool* pool = nullptr;
  std::vector<uint32_t> entries;  // indices into pool->entries
};

struct CompiledStream {
  const StreamSpec* spec = nullptr;
  std::vector<Source> sources;
  std::vector<double> source_cum;  // cumulative weights
  std::vector<const PromptEntry*> combined;  // sequential / split order
  std::vector<Template> templates;
  std::vector<std::string> languages_esc;
  std::vector<std::string> system_esc;  // escaped system prompts
  std::vector<uint32_t> system_chars;
  const PromptPool* context = nullptr;
  double hour_factor[24];
  double week_factor[7];
  double max_factor = 1;
  double start_s = 0, end_s = 0;
  size_t fixed_system = 0;
};

struct Account {
  std::string name;
  std::string created_str;
  int64_t created_ms = 0;
  std::vector<uint32_t> ips;
  std::vector<std::string> keys;
  uint32_t ua = 0;
  std::string headers_fp;
  int64_t pivot_ms = std::numeric_limits<int64_t>::max();
  bool session_ip = false;  // a new address at every session (ips[0] is the current one)
  uint32_t population = 0;
  uint64_t exchanges = 0;
};

struct Actor {
  uint32_t account = 0;
  uint32_t stream = 0;  // index into compiled streams
  Rng rng;
  double t = 0;         // seconds since scenario start of the next exchange
  double rate = 0;      // sessions per second at shape factor 1
  double utc_offset_s = 0;
  double end_s = 0;
  uint64_t seq_pos = 0;
  uint64_t seq_step = 1;
  bool done = false;
  // Per-account parameters.
  size_t system_idx = 0;
  bool has_system = true;
  int p_temp = -1, p_top_p = -1, p_n = -1, p_max = -1, p_topl = -1, p_model = -1;
  // Current session.
  int turns_left = 0;
  const PromptEntry* thread_entry = nullptr;
  size_t thread_pos = 0;
  std::vector<std::string> history;  // escaped: user, assistant, user, ...
  std::vector<uint32_t> history_chars;
  std::string pending_assistant;  // escaped answer to the last user turn
  uint32_t pending_chars = 0;
  bool session_has_system = false;
};

uint64_t mix(uint64_t a, uint64_t b) {
  uint64_t x = a ^ (b + 0x9e3779b97f4a7c15ULL + (a << 6) + (a >> 2));
  return splitmix64(x);
}

template <typename T>
const T& pick(const std::vector<T>& v, Rng& rng) {
  return v[rng.below(v.size())];
}

// Category medians of completion tokens when a prompt has no recorded answer.
double category_median_tokens(const std::string& cat) {
  if (cat.rfind("support", 0) == 0) return 120;
  if (cat == "classification") return 20;
  if (cat == "translation") return 60;
  if (cat == "code") return 380;
  if (cat == "math") return 220;
  if (cat == "writing") return 450;
  return 320;
}

class Simulator {
 public:
  Simulator(const Scenario& sc, const SimulateOptions& opt) : sc_(sc), opt_(opt) {}

  Result<SimulateStats> run();

 private:
  Status compile();
  Status make_accounts();
  double shape(const CompiledStream& cs, double t, double utc_offset_s) const;
  void schedule_first(Actor& a);
  void schedule_next(Actor& a);
  double next_arrival(Actor& a, double from);
  const PromptEntry* draw_prompt(Actor& a, const CompiledStream& cs);
  void build_user_message(Actor& a, const CompiledStream& cs, const PromptEntry& e, std::string* out,
                          uint32_t* chars);
  void emit(Actor& a);

  const Scenario& sc_;
  const SimulateOptions& opt_;
  uint64_t seed_ = 0;
  std::unique_ptr<PromptLibrary> lib_;
  const PromptPool* fallback_answers_ = nullptr;
  // Real answer lengths (characters) by category, over every loaded pool: the
  // completion length of a prompt without a recorded answer is drawn from these.
  std::map<std::string, std::vector<uint32_t>> real_lengths_;
  std::vector<uint32_t> all_lengths_;
  std::set<const PromptPool*> seen_pools_;
  double real_length_tokens(const std::string& category, Rng& rng) const;
  uint32_t random_address(uint32_t population, Rng& rng) const;
  std::vector<CompiledStream> streams_;       // flattened over populations
  std::vector<size_t> pop_stream_begin_;
  std::vector<std::vector<CidrBlock>> pop_blocks_;
  std::vector<std::vector<uint64_t>> pop_block_cum_;
  std::vector<Account> accounts_;
  std::vector<Actor> actors_;
  std::vector<std::string> ua_esc_;            // all user agents, escaped
  std::vector<uint32_t> pop_ua_begin_;
  OutFile trace_;
  TsFormatter ts_fmt_;
  int64_t start_ms_ = 0;
  double period_s_ = 0;
  std::string user_buf_;
  SimulateStats stats_;
};

Status Simulator::compile() {
  std::string dir = opt_.prompts_dir.empty() ? sc_.prompts_dir : opt_.prompts_dir;
  if (dir.empty()) dir = default_prompts_dir();
  lib_ = std::make_unique<PromptLibrary>(dir);
  if (auto g = lib_->pool("graded"); g.ok()) fallback_answers_ = *g;
  for (size_t p = 0; p < sc_.populations.size(); ++p) {
    const PopulationSpec& pop = sc_.populations[p];
    pop_stream_begin_.push_back(streams_.size());
    std::vector<CidrBlock> blocks;
    std::vector<uint64_t> cum;
    uint64_t total = 0;
    for (const auto& b : pop.ip_blocks) {
      auto blk = parse_cidr(b);
      if (!blk.ok()) return invalid_argument("population '" + pop.name + "': " + blk.status().message());
      blocks.push_back(*blk);
      total += blk->size;
      cum.push_back(total);
    }
    pop_blocks_.push_back(std::move(blocks));
    pop_block_cum_.push_back(std::move(cum));
    pop_ua_begin_.push_back(static_cast<uint32_t>(ua_esc_.size()));
    for (const auto& ua : pop.user_agents) {
      std::string esc;
      json_escape_append(ua, &esc);
      ua_esc_.push_back(std::move(esc));
    }
    for (const auto& spec : pop.streams) {
      CompiledStream cs;
      cs.spec = &spec;
      double total_w = 0;
      for (const auto& src : spec.prompts) {
        DG_ASSIGN_OR_RETURN(const PromptPool* pool, lib_->pool(src.pool));
        Source s;
        s.pool = pool;
        for (uint32_t i = 0; i < pool->entries.size(); ++i) {
          const auto& e = pool->entries[i];
          if (!src.source.empty() && pool->sources[e.source_id] != src.source) continue;
          if (!src.category.empty() && e.category.rfind(src.category, 0) != 0) continue;
          s.entries.push_back(i);
        }
        if (s.entries.empty())
          return invalid_argument("population '" + pop.name + "': no prompts in pool '" + src.pool +
                                  "' match source '" + src.source + "' category '" + src.category + "'");
        for (uint32_t i : s.entries) cs.combined.push_back(&pool->entries[i]);
        total_w += src.weight;
        cs.source_cum.push_back(total_w);
        cs.sources.push_back(std::move(s));
      }
      if (total_w <= 0) return invalid_argument("population '" + pop.name + "': prompt weights sum to 0");
      for (const auto& t : spec.templates) cs.templates.push_back(compile_template(t));
      for (const auto& l : spec.languages) {
        std::string esc;
        json_escape_append(l, &esc);
        cs.languages_esc.push_back(std::move(esc));
      }
      for (const auto& sp : spec.system_prompts) {
        if (sp.rfind("pool:", 0) == 0) {
          DG_ASSIGN_OR_RETURN(const PromptPool* pool, lib_->pool(sp.substr(5)));
          for (const auto& e : pool->entries) {
            cs.system_esc.push_back(e.text_esc);
            cs.system_chars.push_back(e.text_chars);
          }
        } else {
          std::string esc;
          json_escape_append(sp, &esc);
          cs.system_esc.push_back(std::move(esc));
          cs.system_chars.push_back(static_cast<uint32_t>(sp.size()));
        }
      }
      if (!spec.context_pool.empty()) {
        DG_ASSIGN_OR_RETURN(cs.context, lib_->pool(spec.context_pool));
      }
      double hs = 0, ws = 0, hmax = 0, wmax = 0;
      for (int h = 0; h < 24; ++h) {
        cs.hour_factor[h] = spec.hourly.empty() ? 1.0 : spec.hourly[static_cast<size_t>(h)];
        hs += cs.hour_factor[h];
      }
      for (int d = 0; d < 7; ++d) {
        cs.week_factor[d] = spec.weekly.empty() ? 1.0 : spec.weekly[static_cast<size_t>(d)];
        ws += cs.week_factor[d];
      }
      if (hs <= 0 || ws <= 0) return invalid_argument("population '" + pop.name + "': hourly/weekly weights are all 0");
      for (int h = 0; h < 24; ++h) hmax = std::max(hmax, cs.hour_factor[h] /= hs / 24);
      for (int d = 0; d < 7; ++d) wmax = std::max(wmax, cs.week_factor[d] /= ws / 7);
      cs.max_factor = hmax * wmax;
      cs.start_s = spec.start_day * kSecPerDay;
      cs.end_s = spec.end_day < 0 ? period_s_ : std::min(period_s_, spec.end_day * kSecPerDay);
      for (const auto& src : cs.sources) {
        if (seen_pools_.insert(src.pool).second) {
          for (const auto& e : src.pool->entries) {
            if (e.answer_full_chars == 0) continue;
            real_lengths_[e.category].push_back(e.answer_full_chars);
            all_lengths_.push_back(e.answer_full_chars);
          }
        }
      }
      Rng r(mix(seed_, 0x5157 + streams_.size()));
      cs.fixed_system = cs.system_esc.empty() ? 0 : r.below(cs.system_esc.size());
      streams_.push_back(std::move(cs));
    }
  }
  return Status();
}

uint32_t Simulator::random_address(uint32_t population, Rng& rng) const {
  const auto& cum = pop_block_cum_[population];
  uint64_t x = rng.below(cum.back());
  size_t b = static_cast<size_t>(std::upper_bound(cum.begin(), cum.end(), x) - cum.begin());
  return pop_blocks_[population][b].base + static_cast<uint32_t>(x - (b ? cum[b - 1] : 0));
}

double Simulator::real_length_tokens(const std::string& category, Rng& rng) const {
  auto it = real_lengths_.find(category);
  const std::vector<uint32_t>& v = it != real_lengths_.end() && it->second.size() >= 5 ? it->second : all_lengths_;
  if (v.empty()) return category_median_tokens(category);
  return v[rng.below(v.size())] / 4.0 + 8;
}

Status Simulator::make_accounts() {
  for (uint32_t p = 0; p < sc_.populations.size(); ++p) {
    const PopulationSpec& pop = sc_.populations[p];
    Rng prng(mix(seed_, hash64(pop.name)));
    double burst_start = prng.uniform(pop.created_days[0], pop.created_days[1]);
    for (int i = 0; i < pop.accounts; ++i) {
      Account acc;
      Rng rng(mix(mix(seed_, hash64(pop.name)), static_cast<uint64_t>(i)));
      acc.population = p;
      acc.name = "acct_" + hex(rng.next(), 12);
      double created_day = pop.created_burst_hours > 0
                               ? burst_start + rng.uniform() * pop.created_burst_hours / 24.0
                               : rng.uniform(pop.created_days[0], pop.created_days[1]);
      acc.created_ms = start_ms_ + static_cast<int64_t>(created_day * kSecPerDay * 1000.0);
      acc.created_str.clear();
      TsFormatter f;
      f.append(&acc.created_str, acc.created_ms);
      int nkeys = pop.keys_per_account[0] +
                  static_cast<int>(rng.below(static_cast<uint64_t>(pop.keys_per_account[1] - pop.keys_per_account[0] + 1)));
      for (int k = 0; k < nkeys; ++k) acc.keys.push_back("key_" + hex(rng.next(), 10));
      const auto& blocks = pop_blocks_[p];
      const auto& cum = pop_block_cum_[p];
      int nips = pop.ips_per_account[0] +
                 static_cast<int>(rng.below(static_cast<uint64_t>(std::max(0, pop.ips_per_account[1] - pop.ips_per_account[0]) + 1)));
      for (int k = 0; k < nips; ++k) {
        uint64_t x = rng.below(cum.back());
        size_t b = static_cast<size_t>(std::upper_bound(cum.begin(), cum.end(), x) - cum.begin());
        uint64_t off = x - (b ? cum[b - 1] : 0);
        acc.ips.push_back(blocks[b].base + static_cast<uint32_t>(off));
      }
      acc.session_ip = rng.bernoulli(pop.session_ip_share);
      if (acc.session_ip) acc.ips.resize(1);
      acc.ua = pop_ua_begin_[p] + static_cast<uint32_t>(rng.below(pop.user_agents.size()));
      uint64_t variant = rng.below(static_cast<uint64_t>(pop.headers_fp_variants));
      acc.headers_fp = hex(hash64(pop.user_agents[acc.ua - pop_ua_begin_[p]], variant), 16);
      if (!sc_.new_model.empty() && rng.bernoulli(pop.pivot_share)) {
        double delay_h = rng.uniform(pop.pivot_delay_hours[0], pop.pivot_delay_hours[1]);
        acc.pivot_ms = start_ms_ + static_cast<int64_t>((sc_.new_model_day * kSecPerDay + delay_h * 3600) * 1000);
      }
      uint32_t acc_idx = static_cast<uint32_t>(accounts_.size());
      accounts_.push_back(std::move(acc));
      for (size_t s = 0; s < pop.streams.size(); ++s) {
        const StreamSpec& spec = pop.streams[s];
        Actor a;
        a.account = acc_idx;
        a.stream = static_cast<uint32_t>(pop_stream_begin_[p] + s);
        a.rng = Rng(mix(mix(seed_, acc_idx), 0xACE0 + s));
        const CompiledStream& cs = streams_[a.stream];
        double spread = spec.rate_sigma > 0
                            ? std::exp(spec.rate_sigma * a.rng.normal() - spec.rate_sigma * spec.rate_sigma / 2)
                            : 1.0;
        double per_session = 1.0 + spec.multi_turn * (spec.turns_mean - 1.0);
        a.rate = spec.requests_per_day * spread / per_session / kSecPerDay;
        a.utc_offset_s = pick(spec.utc_offsets, a.rng) * 3600.0;
        a.end_s = cs.end_s;
        if (spec.order == "split") {
          a.seq_pos = static_cast<uint64_t>(i);
          a.seq_step = static_cast<uint64_t>(pop.accounts);
        }
        a.system_idx = cs.system_esc.empty() ? 0
                       : spec.system_mode == "fixed" ? cs.fixed_system
                                                     : a.rng.below(cs.system_esc.size());
        a.has_system = !cs.system_esc.empty() && a.rng.bernoulli(spec.system_prob);
        if (spec.params_per_account) {
          a.p_temp = static_cast<int>(a.rng.below(spec.temperature.size()));
          if (!spec.top_p.empty()) a.p_top_p = static_cast<int>(a.rng.below(spec.top_p.size()));
          a.p_n = static_cast<int>(a.rng.below(spec.n.size()));
          if (!spec.max_tokens.empty()) a.p_max = static_cast<int>(a.rng.below(spec.max_tokens.size()));
          a.p_topl = static_cast<int>(a.rng.below(spec.top_logprobs.size()));
          a.p_model = static_cast<int>(a.rng.below(spec.models.size()));
        }
        actors_.push_back(std::move(a));
      }
    }
  }
  return Status();
}

double Simulator::shape(const CompiledStream& cs, double t, double utc_offset_s) const {
  double local = static_cast<double>(start_ms_) / 1000.0 + t + utc_offset_s;
  int64_t secs = static_cast<int64_t>(std::floor(local));
  int64_t days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
  int hour = static_cast<int>((secs - days * 86400) / 3600);
  int dow = static_cast<int>(((days + 3) % 7 + 7) % 7);  // 1970-01-01 was a Thursday; Monday = 0
  return cs.hour_factor[hour] * cs.week_factor[dow];
}

// The next session start after `from` (thinning against the daily/weekly shape),
// or +inf when the stream's window is over.
double Simulator::next_arrival(Actor& a, double from) {
  const CompiledStream& cs = streams_[a.stream];
  const StreamSpec& spec = *cs.spec;
  if (a.rate <= 0) return std::numeric_limits<double>::infinity();
  double t = from;
  for (int guard = 0; guard < 1'000'000; ++guard) {
    if (spec.timing == "regular") {
      double interval = 1.0 / a.rate;
      t += interval * (1.0 + spec.jitter * (2 * a.rng.uniform() - 1));
    } else {
      t += a.rng.exponential(1.0 / (a.rate * cs.max_factor));
    }
    if (t >= a.end_s) return std::numeric_limits<double>::infinity();
    double f = shape(cs, t, a.utc_offset_s);
    if (a.rng.uniform() * cs.max_factor < f) return t;  // thinning against the shape
  }
  return std::numeric_limits<double>::infinity();
}

void Simulator::schedule_first(Actor& a) {
  const CompiledStream& cs = streams_[a.stream];
  double created_s = static_cast<double>(accounts_[a.account].created_ms - start_ms_) / 1000.0;
  double from = std::max({0.0, cs.start_s, created_s});
  // Regular processes start at a random phase.
  if (cs.spec->timing == "regular" && a.rate > 0) from += a.rng.uniform() / a.rate;
  a.t = next_arrival(a, from);
  a.done = !std::isfinite(a.t);
}

void Simulator::schedule_next(Actor& a) {
  const StreamSpec& spec = *streams_[a.stream].spec;
  if (a.done) return;
  if (a.turns_left > 0) {
    a.t += a.rng.uniform(spec.think_seconds[0], spec.think_seconds[1]);
    if (a.t < a.end_s) return;
    a.turns_left = 0;
  }
  a.t = next_arrival(a, a.t);
  a.done = !std::isfinite(a.t);
}

const PromptEntry* Simulator::draw_prompt(Actor& a, const CompiledStream& cs) {
  const StreamSpec& spec = *cs.spec;
  if (spec.order != "random") {
    if (spec.once && a.seq_pos >= cs.combined.size()) return nullptr;
    const PromptEntry* e = cs.combined[a.seq_pos % cs.combined.size()];
    a.seq_pos += a.seq_step;
    return e;
  }
  double x = a.rng.uniform() * cs.source_cum.back();
  size_t s = static_cast<size_t>(std::upper_bound(cs.source_cum.begin(), cs.source_cum.end(), x) -
                                 cs.source_cum.begin());
  if (s >= cs.sources.size()) s = cs.sources.size() - 1;
  const Source& src = cs.sources[s];
  return &src.pool->entries[src.entries[a.rng.below(src.entries.size())]];
}

void Simulator::build_user_message(Actor& a, const CompiledStream& cs, const PromptEntry& e,
                                   std::string* out, uint32_t* chars) {
  const StreamSpec& spec = *cs.spec;
  out->clear();
  *chars = 0;
  if (cs.context && spec.context_items[1] > 0) {
    int k = spec.context_items[0] +
            static_cast<int>(a.rng.below(static_cast<uint64_t>(spec.context_items[1] - spec.context_items[0] + 1)));
    for (int i = 0; i < k; ++i) {
      const PromptEntry& c = pick(cs.context->entries, a.rng);
      out->append("```\\n");
      out->append(c.short_esc);
      out->append("\\n```\\n\\n");
      *chars += c.short_chars + 10;
    }
  }
  const Template* tpl = nullptr;
  if (!cs.templates.empty() && a.rng.bernoulli(spec.template_prob)) {
    tpl = &pick(cs.templates, a.rng);
    if (tpl->needs_answer && e.answer_esc.empty()) tpl = nullptr;
  }
  if (!tpl) {
    out->append(e.text_esc);
    *chars += e.text_chars;
    return;
  }
  const std::string* lang = cs.languages_esc.empty() ? nullptr : &pick(cs.languages_esc, a.rng);
  for (const auto& [slot, lit] : tpl->parts) {
    switch (slot) {
      case Template::kLiteral: out->append(lit); *chars += static_cast<uint32_t>(lit.size()); break;
      case Template::kPrompt: out->append(e.text_esc); *chars += e.text_chars; break;
      case Template::kAnswer: out->append(e.answer_esc); *chars += e.answer_chars; break;
      case Template::kLang:
        if (lang) { out->append(*lang); *chars += static_cast<uint32_t>(lang->size()); }
        break;
    }
  }
}

void Simulator::emit(Actor& a) {
  const CompiledStream& cs = streams_[a.stream];
  const StreamSpec& spec = *cs.spec;
  Account& acc = accounts_[a.account];
  Rng& rng = a.rng;

  // Which turn of which session.
  bool new_session = a.turns_left == 0;
  if (new_session) {
    a.history.clear();
    a.history_chars.clear();
    a.thread_entry = nullptr;
    a.thread_pos = 0;
    a.pending_assistant.clear();
    a.turns_left = rng.bernoulli(spec.multi_turn)
                       ? 2 + static_cast<int>(rng.exponential(std::max(0.01, spec.turns_mean - 2.0)))
                       : 1;
    a.session_has_system = a.has_system;
    if (acc.session_ip) acc.ips[0] = random_address(acc.population, rng);
    if (spec.system_mode == "per_request" && !cs.system_esc.empty()) {
      a.system_idx = rng.below(cs.system_esc.size());
      a.session_has_system = rng.bernoulli(spec.system_prob);
    }
  }
  const PromptEntry* entry = nullptr;
  bool from_thread = false;
  if (a.thread_entry && a.thread_pos + 1 < a.thread_entry->thread_esc.size()) {
    // Next turn of a real conversation: the recorded assistant answer, then the user's next turn.
    a.history.push_back(a.thread_entry->thread_esc[a.thread_pos]);
    a.history_chars.push_back(static_cast<uint32_t>(a.history.back().size()));
    a.history.push_back(a.thread_entry->thread_esc[a.thread_pos + 1]);
    a.history_chars.push_back(static_cast<uint32_t>(a.history.back().size()));
    a.thread_pos += 2;
    entry = a.thread_entry;
    from_thread = true;
  } else {
    entry = draw_prompt(a, cs);
    if (!entry) {  // one pass done
      a.done = true;
      a.turns_left = 0;
      return;
    }
    if (!a.history.empty()) {
      // A follow-up in the same session: the previous answer, then the new question.
      a.history.push_back(std::move(a.pending_assistant));
      a.history_chars.push_back(a.pending_chars);
      a.pending_assistant.clear();
    }
    uint32_t chars = 0;
    build_user_message(a, cs, *entry, &user_buf_, &chars);
    a.history.push_back(user_buf_);
    a.history_chars.push_back(chars);
    if (a.turns_left > 1 && !entry->thread_esc.empty()) {
      a.thread_entry = entry;
      a.thread_pos = 0;
    }
  }
  // Keep the last 7 messages (user first).
  while (a.history.size() > 7) {
    a.history.erase(a.history.begin(), a.history.begin() + 2);
    a.history_chars.erase(a.history_chars.begin(), a.history_chars.begin() + 2);
  }

  int64_t ts_ms = start_ms_ + static_cast<int64_t>(a.t * 1000.0);
  bool completions = rng.bernoulli(spec.completions_endpoint_prob);
  auto idx = [&](int fixed, size_t n) { return fixed >= 0 ? static_cast<size_t>(fixed) : rng.below(n); };
  const std::string* model = &spec.models[idx(a.p_model, spec.models.size())];
  if (ts_ms >= acc.pivot_ms && rng.bernoulli(sc_.populations[acc.population].pivot_traffic)) model = &sc_.new_model;
  double temperature = spec.temperature[idx(a.p_temp, spec.temperature.size())];
  int n = spec.n[idx(a.p_n, spec.n.size())];
  int max_tokens = spec.max_tokens.empty() ? 0 : spec.max_tokens[idx(a.p_max, spec.max_tokens.size())];
  bool logprobs = rng.bernoulli(spec.logprobs_prob);
  int top_logprobs = logprobs ? spec.top_logprobs[idx(a.p_topl, spec.top_logprobs.size())] : 0;
  bool stream = rng.bernoulli(spec.stream_prob);

  std::string& o = trace_.buf();
  o.append("{\"ts\":\"");
  ts_fmt_.append(&o, ts_ms);
  o.append("\",\"account\":\"");
  o.append(acc.name);
  o.append("\",\"key_id\":\"");
  o.append(acc.keys[acc.keys.size() == 1 ? 0 : rng.below(acc.keys.size())]);
  o.append("\",\"ip\":\"");
  const PopulationSpec& pop = sc_.populations[acc.population];
  if (pop.ip_mode == "rotating") {
    append_ip(&o, random_address(acc.population, rng));
  } else {
    append_ip(&o, acc.ips[acc.ips.size() == 1 ? 0 : rng.below(acc.ips.size())]);
  }
  o.append("\",\"user_agent\":\"");
  uint32_t ua = acc.ua;
  if (pop.ua_mode == "rotate") ua = pop_ua_begin_[acc.population] + static_cast<uint32_t>(rng.below(pop.user_agents.size()));
  o.append(ua_esc_[ua]);
  o.append("\",\"headers_fp\":\"");
  if (ua == acc.ua) o.append(acc.headers_fp);
  else o.append(hex(hash64(pop.user_agents[ua - pop_ua_begin_[acc.population]]), 16));
  o.append("\",\"account_created\":\"");
  o.append(acc.created_str);
  o.append(completions ? "\",\"endpoint\":\"/v1/completions\",\"request\":{\"model\":\""
                       : "\",\"endpoint\":\"/v1/chat/completions\",\"request\":{\"model\":\"");
  o.append(*model);
  uint32_t prompt_chars = 0;
  if (completions) {
    o.append("\",\"prompt\":\"");
    if (a.session_has_system) {
      o.append(cs.system_esc[a.system_idx]);
      o.append("\\n\\n");
      prompt_chars += cs.system_chars[a.system_idx] + 2;
    }
    o.append(a.history.back());
    prompt_chars += a.history_chars.back();
    o.append("\"");
  } else {
    o.append("\",\"messages\":[");
    bool first = true;
    if (a.session_has_system) {
      o.append("{\"role\":\"system\",\"content\":\"");
      o.append(cs.system_esc[a.system_idx]);
      o.append("\"}");
      prompt_chars += cs.system_chars[a.system_idx] + 16;
      first = false;
    }
    for (size_t i = 0; i < a.history.size(); ++i) {
      if (!first) o.push_back(',');
      first = false;
      o.append(i % 2 == 0 ? "{\"role\":\"user\",\"content\":\"" : "{\"role\":\"assistant\",\"content\":\"");
      o.append(a.history[i]);
      o.append("\"}");
      prompt_chars += a.history_chars[i] + 16;
    }
    o.append("]");
  }
  o.append(",\"temperature\":");
  append_double(&o, temperature);
  if (!spec.top_p.empty()) {
    o.append(",\"top_p\":");
    append_double(&o, spec.top_p[idx(a.p_top_p, spec.top_p.size())]);
  }
  if (n != 1) {
    o.append(",\"n\":");
    append_int(&o, n);
  }
  if (max_tokens > 0) {
    o.append(",\"max_tokens\":");
    append_int(&o, max_tokens);
  }
  if (logprobs) {
    if (completions) {
      o.append(",\"logprobs\":");
      append_int(&o, std::max(1, top_logprobs));
    } else {
      o.append(",\"logprobs\":true");
      if (top_logprobs > 0) {
        o.append(",\"top_logprobs\":");
        append_int(&o, top_logprobs);
      }
    }
  }
  if (stream) o.append(",\"stream\":true");
  o.append("}");

  // Response summary: usage and finish reasons (and the real answer text when kept).
  int64_t prompt_tokens = 4 + prompt_chars / 4;
  int64_t completion_total = 0;
  double median = spec.response_from_prompt    ? entry->text_chars / 4.0 + 4
                  : spec.response_tokens > 0     ? spec.response_tokens
                  : entry->answer_full_chars > 0 ? entry->answer_full_chars / 4.0 + 8
                                                 : real_length_tokens(entry->category, rng);
  median *= spec.response_scale;
  o.append(",\"response\":{\"choices\":[");
  for (int c = 0; c < n; ++c) {
    int64_t tokens = std::max<int64_t>(1, static_cast<int64_t>(median * std::exp(spec.response_sigma * rng.normal())));
    bool cut = max_tokens > 0 && tokens >= max_tokens;
    if (cut) tokens = max_tokens;
    completion_total += tokens;
    if (c) o.push_back(',');
    o.append("{\"index\":");
    append_int(&o, c);
    o.append(cut ? ",\"finish_reason\":\"length\"" : ",\"finish_reason\":\"stop\"");
    if (sc_.response_content && !entry->answer.empty() && !from_thread) {
      o.append(",\"message\":{\"role\":\"assistant\",\"content\":\"");
      json_escape_append(utf8_prefix(entry->answer, static_cast<size_t>(tokens) * 4), &o);
      o.append("\"}");
    }
    o.append("}");
  }
  o.append("],\"usage\":{\"prompt_tokens\":");
  append_int(&o, prompt_tokens);
  o.append(",\"completion_tokens\":");
  append_int(&o, completion_total);
  o.append(",\"total_tokens\":");
  append_int(&o, prompt_tokens + completion_total);
  o.append("}},\"status\":200,\"latency_ms\":");
  double per_token = rng.uniform(12, 30);
  append_int(&o, static_cast<int64_t>(120 + prompt_tokens * 0.05 + completion_total / n * per_token));
  o.append("}\n");

  // Remember what the assistant said, for a follow-up turn that is not a recorded thread.
  if (a.turns_left > 1 && !a.thread_entry) {
    const PromptEntry* src = !entry->answer.empty() ? entry
                             : fallback_answers_ ? &pick(fallback_answers_->entries, rng) : nullptr;
    a.pending_assistant.clear();
    a.pending_chars = 0;
    if (src) {
      a.pending_assistant = src->short_esc;
      a.pending_chars = src->short_chars;
    }
  }
  if (a.thread_entry && a.thread_pos + 1 >= a.thread_entry->thread_esc.size()) a.turns_left = 1;
  a.turns_left--;
  acc.exchanges++;
  stats_.records++;
  if (pop.attack) stats_.attack_records++;
}

Result<SimulateStats> Simulator::run() {
  seed_ = opt_.seed ? *opt_.seed : sc_.seed;
  start_ms_ = sc_.start / kNsPerMs;
  period_s_ = sc_.days * kSecPerDay;
  DG_RETURN_IF_ERROR(compile());
  DG_RETURN_IF_ERROR(make_accounts());
  DG_RETURN_IF_ERROR(trace_.open(opt_.trace_path));

  using Item = std::pair<int64_t, uint32_t>;  // (ts in ms, actor)
  std::vector<Item> heap_store;
  heap_store.reserve(actors_.size());
  for (uint32_t i = 0; i < actors_.size(); ++i) {
    schedule_first(actors_[i]);
    if (!actors_[i].done) heap_store.emplace_back(static_cast<int64_t>(actors_[i].t * 1000.0), i);
  }
  std::priority_queue<Item, std::vector<Item>, std::greater<Item>> heap(std::greater<Item>(), std::move(heap_store));
  while (!heap.empty()) {
    uint32_t i = heap.top().second;
    heap.pop();
    Actor& a = actors_[i];
    emit(a);
    DG_RETURN_IF_ERROR(trace_.maybe_flush());
    schedule_next(a);
    if (!a.done) heap.emplace(static_cast<int64_t>(a.t * 1000.0), i);
  }
  DG_RETURN_IF_ERROR(trace_.close());
  stats_.bytes = trace_.bytes();

  OutFile labels;
  DG_RETURN_IF_ERROR(labels.open(opt_.labels_path));
  for (const Account& acc : accounts_) {
    if (acc.exchanges == 0) continue;
    const PopulationSpec& pop = sc_.populations[acc.population];
    std::string& o = labels.buf();
    o.append("{\"account\":\"");
    o.append(acc.name);
    o.append(pop.attack ? "\",\"label\":\"attack\",\"campaign\":\"" : "\",\"label\":\"legit\",\"campaign\":null");
    if (pop.attack) {
      json_escape_append(pop.name, &o);
      o.push_back('"');
    }
    o.append(",\"persona\":\"");
    json_escape_append(pop.persona, &o);
    o.append("\"}\n");
    stats_.accounts++;
    if (pop.attack) stats_.attack_accounts++;
  }
  DG_RETURN_IF_ERROR(labels.close());
  return stats_;
}

}  // namespace

std::string default_prompts_dir() {
  if (const char* e = std::getenv("DG_PROMPTS_DIR"); e && *e) return e;
  std::error_code ec;
  if (std::filesystem::is_directory("data/prompts", ec)) return "data/prompts";
  if (const char* s = std::getenv("DG_SOURCE_DIR"); s && *s) return std::string(s) + "/data/prompts";
  return "data/prompts";
}

Result<SimulateStats> simulate(const Scenario& scenario, const SimulateOptions& options) {
  Simulator sim(scenario, options);
  return sim.run();
}

}  // namespace dg::distillbench
