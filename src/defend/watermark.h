// Keyed, per-account lexical watermark applied to response text after
// generation, and its detector.
//
// How it works. The text is read left to right as whitespace-separated runs.
// A run is an *eligible position* when its letters form one word of the
// synonym table (lowercase, or Capitalised at a sentence start) and it lies
// outside every protected span: fenced or indented code, inline code, JSON
// ({...}), blockquotes, "double", “curly” or 'single' quotations, and any run
// with digits, URLs, e-mail addresses, paths, markup or non-ASCII letters.
// Quote, inline-code and brace state ends at a blank line (outside fences). At an
// eligible position with context c (the previous run, lowercased, trimmed of
// punctuation) and synonym group G of k words, the key gives
//     (u, g) = SHA-256(key ‖ c ‖ 0x1f ‖ G)  →  u uniform in [0,1), g in [0,k)
// The position is *selected* when u < strength; a selected word is replaced by
// member g of G ("green"), keeping its capitalisation. Unselected positions are
// left alone, so `strength` is the share of eligible positions forced green
// (the share actually changed is strength·(1 − 1/k) on average).
//
// Null hypothesis of the detector: the text was written without this key.
// Then, for every distinct (context, group) pair, whether the word present is
// the key's green member is an independent Bernoulli(1/k) draw (the green
// member is a keyed pseudo-random function of the context, independent of the
// text). Repeated (context, group) pairs are scored once. The detector scores
// the selected positions (u < detect_strength; selection depends only on the
// key and context, so H0 is unchanged) and takes the exact Poisson-binomial
// upper tail of the green count (normal approximation above 3000 positions).
//
// Streaming: Watermarker::feed() emits everything except the trailing
// unfinished run (the only lookahead a word boundary needs); finish() flushes
// it. Any chunking of a text gives the same output as one feed().
//
// Thread-safety: Watermarker and PositionExtractor are per-response objects,
// not thread-safe; the SynonymTable they reference must outlive them.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "common/hash.h"
#include "defend/synonyms.h"

namespace dg::defend {

using WatermarkKey = Sha256;

// Per-account key: HMAC-SHA256(master, "distillguard/watermark/v1/account:" + account).
WatermarkKey derive_account_key(std::string_view master_secret, std::string_view account);

// Scans text as described above and calls on_candidate() for each eligible
// position. Subclasses decide what to emit there.
class WordScanner {
 public:
  explicit WordScanner(const SynonymTable& table) : table_(table) {}
  virtual ~WordScanner() = default;

  // Appends to `out` the (possibly edited) text up to the last complete run.
  void feed(std::string_view in, std::string& out);
  // Flushes the held-back tail. The scanner can be fed again afterwards (the
  // state carries on as if the texts were one).
  void finish(std::string& out);
  // Forgets everything (held-back text included): the next feed() starts a new document.
  void reset();
  // Bytes currently held back.
  size_t held_back() const { return buf_.size(); }

 protected:
  // Returns the group member to write (entry.member keeps the word).
  virtual uint32_t on_candidate(std::string_view context, const SynonymTable::Entry& entry) = 0;
  const SynonymTable& table_;

 private:
  void on_space(char c);
  void process_run(std::string_view tok, std::string& out);

  std::string buf_;
  std::string prev_;   // context: the previous run, lowercased and trimmed
  std::string lower_;  // scratch
  bool at_line_start_ = true;
  int line_indent_ = 0;
  bool line_protected_ = false;
  bool in_fence_ = false;
  bool inline_code_ = false;
  bool in_quote_ = false;
  int curly_quote_ = 0;
  int brace_depth_ = 0;
  bool sentence_start_ = true;
};

// The watermark decision at one position, shared by embedder and detector.
struct PositionHash {
  double u = 0;        // selection draw in [0,1)
  uint32_t green = 0;  // green member in [0,k)
};
PositionHash position_hash(const WatermarkKey& key, std::string_view context, uint32_t group, uint32_t k,
                           std::string& scratch);

class Watermarker : public WordScanner {
 public:
  // strength in [0,1]: share of eligible positions forced to their green member.
  Watermarker(const SynonymTable& table, const WatermarkKey& key, double strength)
      : WordScanner(table), key_(key), strength_(strength) {}
  int eligible() const { return eligible_; }
  int changed() const { return changed_; }

 protected:
  uint32_t on_candidate(std::string_view context, const SynonymTable::Entry& entry) override;

 private:
  WatermarkKey key_;
  double strength_;
  int eligible_ = 0;
  int changed_ = 0;
  std::string scratch_;
};

struct WatermarkStats {
  int eligible = 0;
  int changed = 0;
};
// One-shot form of Watermarker (same output as any chunking of a stream).
std::string watermark_text(const SynonymTable& table, const WatermarkKey& key, double strength,
                           std::string_view text, WatermarkStats* stats = nullptr);

// A scored position: distinct (context, group), with the word found there.
struct Position {
  std::string context;
  uint32_t group = 0;
  uint32_t member = 0;
  uint32_t k = 0;
};

// Collects the distinct positions of one or more texts (feed them in turn and
// call finish() after each; dedupe spans all of them).
class PositionExtractor : public WordScanner {
 public:
  explicit PositionExtractor(const SynonymTable& table) : WordScanner(table) {}
  // Adds a whole text as its own document (scanner state is reset; dedupe is not).
  void add_text(std::string_view text);
  const std::vector<Position>& positions() const { return positions_; }

 protected:
  uint32_t on_candidate(std::string_view context, const SynonymTable::Entry& entry) override;

 private:
  std::vector<Position> positions_;
  std::unordered_set<std::string> seen_;
  std::string sink_;
};

struct WatermarkScore {
  int positions = 0;      // selected distinct positions scored
  int green = 0;          // of which green
  double expected = 0;    // E[green] under H0
  double z = 0;           // (green - expected) / sd
  double p_value = 1.0;   // P(X >= green | H0), one-sided
};

// Scores positions against one key. detect_strength in (0,1]: only positions
// with u < detect_strength are scored (1 = all eligible positions).
WatermarkScore score_positions(const std::vector<Position>& positions, const WatermarkKey& key,
                               double detect_strength);

// P(X >= x) for X a sum of independent Bernoulli(p_i). Exact for up to 3000
// terms, normal approximation with continuity correction beyond.
double poisson_binomial_upper_tail(const std::vector<double>& p, int x);

}  // namespace dg::defend
