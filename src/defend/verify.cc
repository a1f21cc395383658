#include "defend/verify.h"

#include <algorithm>

namespace dg::defend {

VerifyResult verify_positions(const std::vector<Position>& positions, const VerifyOptions& options) {
  VerifyResult r;
  double best_p = 2.0;
  WatermarkScore best;
  WatermarkScore named;
  bool have_named = false;
  for (const KeyedAccount& ka : options.keys) {
    WatermarkScore s = score_positions(positions, ka.key, options.detect_strength);
    if (s.p_value < best_p) {
      best_p = s.p_value;
      best = s;
      r.best_account = ka.account;
    }
    if (!options.account.empty() && ka.account == options.account) {
      named = s;
      have_named = true;
    }
  }
  const double m = static_cast<double>(options.keys.size());
  r.account_p_value = options.keys.empty() ? 1.0 : std::min(1.0, best_p * m);
  if (r.account_p_value < options.alpha) r.account = r.best_account;
  const WatermarkScore& shown = have_named ? named : best;
  r.positions = shown.positions;
  r.green = shown.green;
  r.score = shown.z;
  r.p_value = have_named ? named.p_value : r.account_p_value;
  if (!have_named && options.keys.empty()) r.positions = 0;
  return r;
}

VerifyResult verify_text(const SynonymTable& table, std::string_view text, const VerifyOptions& options) {
  PositionExtractor ex(table);
  ex.add_text(text);
  return verify_positions(ex.positions(), options);
}

}  // namespace dg::defend
