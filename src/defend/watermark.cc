#include "defend/watermark.h"

#include <cmath>
#include <cstring>

namespace dg::defend {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_upper(char c) { return c >= 'A' && c <= 'Z'; }
char to_lower(char c) { return is_upper(c) ? static_cast<char>(c - 'A' + 'a') : c; }
bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

// Runs containing any of these are never edited: code, markup, paths, e-mail,
// URLs, numbers, identifiers, quotations.
bool is_special(char c) {
  switch (c) {
    case '`': case '"': case '\'': case '{': case '}': case '[': case ']': case '<': case '>':
    case '@': case '/': case '\\': case '_': case '=': case '#': case '$': case '%': case '&':
    case '|': case '~': case '^': case '+':
      return true;
    default:
      return is_digit(c) || static_cast<unsigned char>(c) >= 0x80;
  }
}

}  // namespace

WatermarkKey derive_account_key(std::string_view master_secret, std::string_view account) {
  std::string msg = "distillguard/watermark/v1/account:";
  msg.append(account);
  return hmac_sha256(master_secret, msg);
}

PositionHash position_hash(const WatermarkKey& key, std::string_view context, uint32_t group, uint32_t k,
                           std::string& scratch) {
  scratch.assign(reinterpret_cast<const char*>(key.data()), key.size());
  scratch.append(context);
  scratch.push_back('\x1f');
  char g[4];
  std::memcpy(g, &group, 4);
  scratch.append(g, 4);
  const Sha256 h = sha256(scratch);
  uint64_t a = 0, b = 0;
  for (int i = 0; i < 8; ++i) a = (a << 8) | h[i];
  for (int i = 8; i < 16; ++i) b = (b << 8) | h[i];
  return {static_cast<double>(a >> 11) * 0x1.0p-53, static_cast<uint32_t>(b % k)};
}

void WordScanner::feed(std::string_view in, std::string& out) {
  buf_.append(in);
  size_t i = 0;
  const size_t n = buf_.size();
  while (i < n) {
    const char c = buf_[i];
    if (is_space(c)) {
      on_space(c);
      out.push_back(c);
      ++i;
      continue;
    }
    size_t j = i;
    while (j < n && !is_space(buf_[j])) ++j;
    if (j == n) break;  // unfinished run: hold back until a boundary arrives
    process_run(std::string_view(buf_).substr(i, j - i), out);
    i = j;
  }
  buf_.erase(0, i);
}

void WordScanner::finish(std::string& out) {
  if (!buf_.empty()) {
    std::string tail;
    tail.swap(buf_);
    process_run(tail, out);
  }
}

void WordScanner::reset() {
  buf_.clear();
  prev_.clear();
  at_line_start_ = true;
  line_indent_ = 0;
  line_protected_ = false;
  in_fence_ = false;
  inline_code_ = false;
  in_quote_ = false;
  curly_quote_ = 0;
  brace_depth_ = 0;
  sentence_start_ = true;
}

void WordScanner::on_space(char c) {
  if (c == '\n') {
    if (at_line_start_ && !in_fence_) {
      // A blank line ends a paragraph: an unbalanced quote, backtick or brace
      // in one paragraph must not silence the rest of the text.
      inline_code_ = false;
      in_quote_ = false;
      curly_quote_ = 0;
      brace_depth_ = 0;
    }
    at_line_start_ = true;
    line_indent_ = 0;
    line_protected_ = false;
    sentence_start_ = true;
  } else if (at_line_start_ && c != '\r') {
    line_indent_ += c == '\t' ? 4 : 1;
  }
}

void WordScanner::process_run(std::string_view tok, std::string& out) {
  if (at_line_start_) {
    at_line_start_ = false;
    if (starts_with(tok, "```") || starts_with(tok, "~~~")) {
      in_fence_ = !in_fence_;
      line_protected_ = true;
    } else if (in_fence_ || line_indent_ >= 4 || tok[0] == '>') {
      line_protected_ = true;
    }
  }
  bool eligible = !(in_fence_ || line_protected_ || inline_code_ || in_quote_ || curly_quote_ > 0 ||
                    brace_depth_ > 0);
  if (!in_fence_ && !line_protected_) {
    for (size_t i = 0; i < tok.size(); ++i) {
      const char c = tok[i];
      if (is_special(c)) eligible = false;
      if (c == '`') {
        inline_code_ = !inline_code_;
      } else if (inline_code_) {
        continue;
      } else if (c == '{') {
        ++brace_depth_;
      } else if (c == '}') {
        if (brace_depth_ > 0) --brace_depth_;
      } else if (c == '"' && brace_depth_ == 0) {
        in_quote_ = !in_quote_;
      } else if (c == '\xe2' && i + 2 < tok.size() && tok[i + 1] == '\x80') {
        if (tok[i + 2] == '\x9c') ++curly_quote_;                          // “
        if (tok[i + 2] == '\x9d' && curly_quote_ > 0) --curly_quote_;      // ”
      }
    }
  }

  // The word: letters between leading and trailing punctuation.
  size_t a = 0, b = tok.size();
  while (a < b && !is_alpha(tok[a])) ++a;
  while (b > a && !is_alpha(tok[b - 1])) --b;
  const std::string_view core = tok.substr(a, b - a);
  bool has_alnum = false;
  for (char c : tok) has_alnum = has_alnum || is_alpha(c) || is_digit(c);

  const SynonymTable::Entry* entry = nullptr;
  bool capitalised = false;
  if (eligible && !core.empty()) {
    bool ok = true;
    for (size_t i = 0; i < core.size() && ok; ++i) {
      const char c = core[i];
      if (!is_alpha(c)) ok = false;
      else if (is_upper(c) && (i > 0 || !sentence_start_)) ok = false;  // proper nouns, acronyms
    }
    if (ok) {
      capitalised = is_upper(core[0]);
      lower_.clear();
      for (char c : core) lower_.push_back(to_lower(c));
      entry = table_.find(lower_);
    }
  }

  if (entry != nullptr) {
    const uint32_t pick = on_candidate(prev_, *entry);
    out.append(tok.substr(0, a));
    const std::string& word = table_.group(entry->group)[pick];
    const size_t start = out.size();
    out.append(word);
    if (capitalised) out[start] = static_cast<char>(out[start] - 'a' + 'A');
    out.append(tok.substr(b));
    // The context for the next position is the word as written.
    prev_ = word;
  } else {
    out.append(tok);
    // Context: the run lowercased, trimmed of punctuation on both ends.
    size_t s = 0, e = tok.size();
    while (s < e && !(is_alpha(tok[s]) || is_digit(tok[s]))) ++s;
    while (e > s && !(is_alpha(tok[e - 1]) || is_digit(tok[e - 1]))) --e;
    prev_.clear();
    for (size_t i = s; i < e; ++i) prev_.push_back(to_lower(tok[i]));
  }
  if (has_alnum) {
    size_t e = tok.size();
    while (e > 0 && (tok[e - 1] == ')' || tok[e - 1] == '*' || tok[e - 1] == '"' || tok[e - 1] == '\'' ||
                     tok[e - 1] == ']' || tok[e - 1] == '_')) {
      --e;
    }
    sentence_start_ = e > 0 && (tok[e - 1] == '.' || tok[e - 1] == '!' || tok[e - 1] == '?');
  }
}

uint32_t Watermarker::on_candidate(std::string_view context, const SynonymTable::Entry& entry) {
  ++eligible_;
  const auto k = static_cast<uint32_t>(table_.group(entry.group).size());
  const PositionHash h = position_hash(key_, context, entry.group, k, scratch_);
  if (h.u >= strength_) return entry.member;
  if (h.green != entry.member) ++changed_;
  return h.green;
}

std::string watermark_text(const SynonymTable& table, const WatermarkKey& key, double strength,
                           std::string_view text, WatermarkStats* stats) {
  Watermarker w(table, key, strength);
  std::string out;
  out.reserve(text.size() + 16);
  w.feed(text, out);
  w.finish(out);
  if (stats != nullptr) *stats = {w.eligible(), w.changed()};
  return out;
}

void PositionExtractor::add_text(std::string_view text) {
  reset();
  feed(text, sink_);
  finish(sink_);
  sink_.clear();
}

uint32_t PositionExtractor::on_candidate(std::string_view context, const SynonymTable::Entry& entry) {
  std::string key(context);
  key.push_back('\x1f');
  key.append(std::to_string(entry.group));
  if (seen_.insert(std::move(key)).second) {
    positions_.push_back({std::string(context), entry.group, entry.member,
                          static_cast<uint32_t>(table_.group(entry.group).size())});
  }
  return entry.member;
}

double poisson_binomial_upper_tail(const std::vector<double>& p, int x) {
  const int n = static_cast<int>(p.size());
  if (x <= 0) return 1.0;
  if (x > n) return 0.0;
  if (n > 3000) {
    double mean = 0, var = 0;
    for (double q : p) {
      mean += q;
      var += q * (1 - q);
    }
    if (var <= 0) return x <= mean ? 1.0 : 0.0;
    const double z = (x - 0.5 - mean) / std::sqrt(var);
    return 0.5 * std::erfc(z / std::sqrt(2.0));
  }
  // dist[j] = P(X = j) after the terms so far.
  std::vector<double> dist(n + 1, 0.0);
  dist[0] = 1.0;
  for (int i = 0; i < n; ++i) {
    for (int j = i + 1; j >= 1; --j) dist[j] = dist[j] * (1 - p[i]) + dist[j - 1] * p[i];
    dist[0] *= 1 - p[i];
  }
  double tail = 0;
  for (int j = n; j >= x; --j) tail += dist[j];
  return std::min(1.0, tail);
}

WatermarkScore score_positions(const std::vector<Position>& positions, const WatermarkKey& key,
                               double detect_strength) {
  WatermarkScore s;
  std::vector<double> probs;
  probs.reserve(positions.size());
  std::string scratch;
  double var = 0;
  for (const Position& pos : positions) {
    const PositionHash h = position_hash(key, pos.context, pos.group, pos.k, scratch);
    if (h.u >= detect_strength) continue;
    const double q = 1.0 / pos.k;
    probs.push_back(q);
    s.expected += q;
    var += q * (1 - q);
    if (h.green == pos.member) ++s.green;
  }
  s.positions = static_cast<int>(probs.size());
  s.z = var > 0 ? (s.green - s.expected) / std::sqrt(var) : 0.0;
  s.p_value = poisson_binomial_upper_tail(probs, s.green);
  return s;
}

}  // namespace dg::defend
