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
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "defend/watermark.h"
#include "distillguard/status.h"

namespace dg::defend {

struct KeyedAccount {
  std::string account;
  WatermarkKey key{};
};

struct VerifyOptions {
  std::vector<KeyedAccount> keys;   // every account to test
  std::string account;              // "" = report the best key; else score this one
  double detect_strength = 0.5;     // positions scored: u < detect_strength
  double alpha = 1e-3;              // attribution threshold on the corrected p-value
};

struct VerifyResult {
  int positions = 0;
  int green = 0;
  double score = 0;          // z-score of the green count
  double p_value = 1.0;      // for --account, or the corrected best-key p-value
  std::string account;       // attributed account, "" = none
  std::string best_account;  // best key even if not significant
  double account_p_value = 1.0;  // Bonferroni-corrected best-key p-value
};

VerifyResult verify_positions(const std::vector<Position>& positions, const VerifyOptions& options);
VerifyResult verify_text(const SynonymTable& table, std::string_view text, const VerifyOptions& options);

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

}  // namespace dg::defend
