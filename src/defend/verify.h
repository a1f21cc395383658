// `distillguard verify` as a library: tests texts for account watermarks.
//
// Keys. Each account's key is derive_account_key(master_secret, account); the
// accounts to try come from the caller (a list file, an exchange log, the audit
// database) and/or explicit keys (a provider may hand over "account hexkey").
//
// Statistic. For one key: the exact one-sided test of watermark.h (H0: the text
// was not written under this key → each distinct scored position is green with
// probability 1/k, independently). Attribution: every key is tested; the
// smallest p-value times the number of keys (Bonferroni, which equals Holm's
// first step) is `account_p_value`; the account is named only when that is
// below `alpha`.
//
// Harvest-aware scoring (`verify --received`). A student model learns the
// watermark's preference only at (context, group) pairs it saw often enough
// (docs/countermeasures.md, "Proof"); the positions it never learned dilute
// the test. The provider has what it sent to the suspect account (exchange
// records, an evidence bundle), so it can score only the positions whose pair
// occurs at least `min_count` times there. The selection must not depend on
// the key at the scored pairs, or H0 no longer holds: the received text was
// watermarked, and an edit at a position changes the next position's context
// (the context after an eligible position is the last word of the form
// written). So a context that is the last word of some table form is counted
// over its *context class*: all last words of forms linked to it through a
// group (union of the group's members' last words, transitively). An edit
// swaps members within a group, so it moves an occurrence between contexts of
// one class and never changes a class count: the counts are those of the text
// before any watermark, whatever keys marked it, and the selection is a
// function of the original received content, the suspect text's pair
// identities (never the form it wrote there) and the selection draw u. H0 is
// then unchanged: each selected pair is green with probability 1/k,
// independently, and the same exact test applies to fewer positions.
//
// Thread-safety: pure functions; ReceivedPairs is immutable once filled.
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "defend/watermark.h"
#include "distillguard/status.h"

namespace dg::defend {

struct KeyedAccount {
  std::string account;
  WatermarkKey key{};
};

// (context class, group) occurrence counts of received texts (see above).
class ReceivedPairs {
 public:
  explicit ReceivedPairs(const SynonymTable& table);
  // Adds one received response (scanned as its own text).
  void add_text(std::string_view text);
  // Occurrences of (c', group) over every c' in the context class of `context`.
  int count(std::string_view context, uint32_t group) const;
  int texts() const { return texts_; }
  int64_t occurrences() const { return occurrences_; }

 private:
  std::string key(std::string_view context, uint32_t group) const;
  const SynonymTable& table_;
  std::unordered_map<std::string, std::string>
      class_of_;  // last word of a form -> its class's name
  std::unordered_map<std::string, int> counts_;
  int texts_ = 0;
  int64_t occurrences_ = 0;
};

// The positions whose pair `received` counts at least `min_count` times (in
// their order). Reads only context and group, never `member`.
std::vector<Position> select_received(const std::vector<Position>& positions,
                                      const ReceivedPairs& received, int min_count);

struct VerifyOptions {
  std::vector<KeyedAccount> keys;  // every account to test
  std::string account;             // "" = report the best key; else score this one
  double detect_strength = 0.5;    // positions scored: u < detect_strength
  double alpha = 1e-3;             // attribution threshold on the corrected p-value
  const ReceivedPairs* received =
      nullptr;  // harvest-aware: score only pairs received >= min_count times
  int min_count = 20;
};

struct VerifyResult {
  int positions = 0;
  int green = 0;
  double score = 0;              // z-score of the green count
  double p_value = 1.0;          // for --account, or the corrected best-key p-value
  std::string account;           // attributed account, "" = none
  std::string best_account;      // best key even if not significant
  double account_p_value = 1.0;  // Bonferroni-corrected best-key p-value
};

VerifyResult verify_positions(const std::vector<Position>& positions, const VerifyOptions& options);
VerifyResult verify_text(const SynonymTable& table, std::string_view text,
                         const VerifyOptions& options);

}  // namespace dg::defend

namespace dg::defend {

// The master secret: the contents of `path` (trailing newline dropped), or, if
// path is empty, the environment variable DG_WATERMARK_MASTER_KEY. Errors:
// kNotFound (unreadable file), kInvalidArgument (empty secret).
Result<std::string> load_master_secret(const std::string& path);
// Account ids, one per line ('#' comments, blank lines ignored).
Result<std::vector<std::string>> read_account_list(const std::string& path);
// Distinct "account" fields of an exchange log (JSONL, spec/exchange-log.md),
// in first-seen order. Lines that do not parse are skipped.
Result<std::vector<std::string>> accounts_from_exchange_log(const std::string& path);
// Explicit keys: lines "account<space>64-hex-digit key".
Result<std::vector<KeyedAccount>> read_keys_file(const std::string& path);
// The responses in a --received file. JSONL when the first non-blank line is
// a JSON object with a "response" or "line" member, then one response per
// line: an exchange record (spec/exchange-log.md; the text of every
// response.choices[] message.content, content or text) or a record wrapped as
// an evidence bundle's entries.jsonl line ({"line": "<record>"}), or
// {"response": "<text>"}; blank lines are skipped, any other line is an
// error (kInvalidArgument naming it). Otherwise the whole file is one plain
// text. Errors: kNotFound (unreadable file).
Result<std::vector<std::string>> read_received_file(const std::string& path);
// The generated text of one exchange record's response (empty if none).
std::string record_response_text(const boost::json::object& record);

}  // namespace dg::defend
