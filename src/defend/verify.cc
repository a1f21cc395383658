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

#include <boost/json.hpp>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <unordered_set>

namespace dg::defend {

Result<std::string> load_master_secret(const std::string& path) {
  std::string secret;
  if (path.empty()) {
    const char* env = std::getenv("DG_WATERMARK_MASTER_KEY");
    if (env == nullptr || *env == '\0') {
      return invalid_argument("no master key: pass --master-key-file or set DG_WATERMARK_MASTER_KEY");
    }
    secret = env;
  } else {
    std::ifstream in(path, std::ios::binary);
    if (!in) return not_found("cannot read master key file " + path);
    std::stringstream ss;
    ss << in.rdbuf();
    secret = ss.str();
  }
  while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r')) secret.pop_back();
  if (secret.empty()) return invalid_argument("master key is empty");
  return secret;
}

Result<std::vector<std::string>> read_account_list(const std::string& path) {
  std::ifstream in(path);
  if (!in) return not_found("cannot read account list " + path);
  std::vector<std::string> out;
  std::string line;
  while (std::getline(in, line)) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) line.pop_back();
    size_t s = line.find_first_not_of(" \t");
    if (s == std::string::npos || line[s] == '#') continue;
    out.push_back(line.substr(s));
  }
  return out;
}

Result<std::vector<std::string>> accounts_from_exchange_log(const std::string& path) {
  std::ifstream in(path);
  if (!in) return not_found("cannot read exchange log " + path);
  std::vector<std::string> out;
  std::unordered_set<std::string> seen;
  std::string line;
  while (std::getline(in, line)) {
    boost::system::error_code ec;
    auto v = boost::json::parse(line, ec);
    if (ec || !v.is_object()) continue;
    const auto* a = v.as_object().if_contains("account");
    if (a == nullptr || !a->is_string()) continue;
    std::string acct(a->as_string().c_str());
    if (seen.insert(acct).second) out.push_back(std::move(acct));
  }
  return out;
}

Result<std::vector<KeyedAccount>> read_keys_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return not_found("cannot read keys file " + path);
  std::vector<KeyedAccount> out;
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    std::istringstream ls(line);
    std::string acct, hex;
    if (!(ls >> acct) || acct[0] == '#') continue;
    if (!(ls >> hex) || hex.size() != 64) {
      return invalid_argument(path + ":" + std::to_string(n) + ": expected 'account <64 hex digits>'");
    }
    KeyedAccount ka{acct, {}};
    for (size_t i = 0; i < 32; ++i) {
      unsigned v = 0;
      if (std::sscanf(hex.c_str() + 2 * i, "%2x", &v) != 1) {
        return invalid_argument(path + ":" + std::to_string(n) + ": bad hex key");
      }
      ka.key[i] = static_cast<uint8_t>(v);
    }
    out.push_back(std::move(ka));
  }
  return out;
}

}  // namespace dg::defend
