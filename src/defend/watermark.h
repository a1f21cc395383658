// Keyed, per-account lexical watermark applied to response text after
// generation, and its detector (scheme v2).
//
// How it works. The text is read left to right as whitespace-separated runs.
// An *eligible position* is a form of the synonym table (synonyms.h: a word,
// a two-word phrase such as "for example", or a contraction pair such as
// "do not"/"don't", "it is"/"it's") outside every protected span: fenced or
// indented code, inline code, JSON ({...}), blockquotes, "double", “curly” or
// 'single' quotations, and any run with digits, URLs, e-mail addresses, paths,
// markup or non-ASCII letters (the apostrophe inside a contraction, ' or ’, is
// not a quotation mark). Lowercase, or Capitalised at a sentence start
// (mid-sentence capitals are names; "I" always). Contractions obey rules that
// keep every swap grammatical and meaning-preserving, and that give the same
// decision whichever form is present (so the detector finds exactly the
// positions the embedder used): see unit_allowed() in watermark.cc and
// docs/countermeasures.md. Quote, inline-code and brace state ends at a blank
// line (outside fences). At an eligible position with context c (the previous
// run, lowercased, trimmed of punctuation; after an edited position, the last
// word of the form written) and group G of k forms, the key gives
//     (u, g) = SipHash-2-4(key, c ‖ 0x1f ‖ G)  →  u uniform in [0,1), g in [0,k)
// The position is *selected* when u < strength; a selected form is replaced by
// member g of G ("green"), keeping its capitalisation (and the text's
// apostrophe style). Unselected positions are left alone, so `strength` is
// the share of eligible positions forced green (the share actually changed is
// strength·(1 − 1/k) on average).
//
// Null hypothesis of the detector: the text was written without this key.
// Then, for every distinct (context, group) pair, whether the form present is
// the key's green member is an independent Bernoulli(1/k) draw (the green
// member is a keyed pseudo-random function of the context, independent of the
// text). Repeated (context, group) pairs are scored once. The detector scores
// the selected positions (u < detect_strength; selection depends only on the
// key and context, so H0 is unchanged) and takes the exact Poisson-binomial
// upper tail of the green count (normal approximation above 3000 positions).
//
// Streaming: Watermarker::feed() emits everything except the trailing
// unfinished run and, when that run may start a two-word form or is a
// contraction, the (at most three) complete runs after it that the rules look
// at; finish() flushes. Any chunking of a text gives the same output as one
// feed().
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

// Per-account key: HMAC-SHA256(master, "distillguard/watermark/v2/account:" + account).
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
  size_t held_back() const { return buf_.size() - start_; }

 protected:
  // Returns the group member to write (entry.member keeps the word).
  virtual uint32_t on_candidate(std::string_view context, const SynonymTable::Entry& entry) = 0;
  const SynonymTable& table_;

 private:
  static constexpr size_t kNeedMore = static_cast<size_t>(-1);
  void drain(std::string& out, bool final);
  void on_space(char c);
  // Processes the run buf_[i, j) (and, for a two-word unit, the next run),
  // whose bytes' character classes (watermark.cc) OR to `classes`;
  // returns the offset after what was consumed, or kNeedMore when the rules
  // need lookahead runs that have not arrived yet (nothing is consumed then).
  size_t process_run(size_t i, size_t j, uint8_t classes, bool final, std::string& out);
  bool unit_allowed(const SynonymTable::GroupInfo& gi, bool trailing_punct, std::string_view next1,
                    std::string_view next2, bool have_next1) const;

  static constexpr size_t kCompactAt = 512;
  std::string buf_;  // held-back text from start_ on (what precedes start_ was emitted)
  size_t start_ = 0;
  std::string prev_;         // context: the previous run, lowercased and trimmed
  std::string lower_;        // scratch
  std::string scratch_key_;  // scratch: two-word lookup key
  bool at_line_start_ = true;
  int line_indent_ = 0;
  bool line_protected_ = false;
  bool in_fence_ = false;
  bool inline_code_ = false;
  bool in_quote_ = false;
  int curly_quote_ = 0;
  int brace_depth_ = 0;
  bool sentence_start_ = true;
  bool curly_apostrophe_ = false;  // the text writes contractions with ’ (U+2019), not '
  int need_ = 0;                   // run ends still to arrive before drain() can progress
  int lookahead_missing_ = 0;      // set by process_run() when it returns kNeedMore
  bool last_was_space_ = true;     // last byte fed was whitespace (or nothing yet)
};

// The watermark decision at one position, shared by embedder and detector:
// h = SipHash-2-4(first 16 bytes of the account key, context ‖ 0x1f ‖ group as
// 4 little-endian bytes); u = (h >> 32) / 2^32 and green = (h mod 2^32) mod k.
// SipHash-2-4 is a pseudo-random function keyed with 128 bits, so without the
// key (u, green) are unpredictable and, for distinct messages, independent;
// the account key is an HMAC-SHA256 output used for nothing else.
struct PositionHash {
  double u = 0;        // selection draw in [0,1)
  uint32_t green = 0;  // green member in [0,k)
};
PositionHash position_hash(const WatermarkKey& key, std::string_view context, uint32_t group,
                           uint32_t k);
// SipHash-2-4 (Aumasson & Bernstein), 64-bit output.
uint64_t siphash24(const uint8_t key[16], std::string_view msg);

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
  int positions = 0;     // selected distinct positions scored
  int green = 0;         // of which green
  double expected = 0;   // E[green] under H0
  double z = 0;          // (green - expected) / sd
  double p_value = 1.0;  // P(X >= green | H0), one-sided
};

// Scores positions against one key. detect_strength in (0,1]: only positions
// with u < detect_strength are scored (1 = all eligible positions).
WatermarkScore score_positions(const std::vector<Position>& positions, const WatermarkKey& key,
                               double detect_strength);

// P(X >= x) for X a sum of independent Bernoulli(p_i). Exact for up to 3000
// terms, normal approximation with continuity correction beyond.
double poisson_binomial_upper_tail(const std::vector<double>& p, int x);

}  // namespace dg::defend
