#include "defend/verify.h"

#include <algorithm>
#include <functional>
#include <map>

namespace dg::defend {
namespace {

// Counts (context class, group) occurrences: every eligible position, repeats
// included; the form written there is ignored.
class PairCounter : public WordScanner {
 public:
  PairCounter(const SynonymTable& table, std::function<void(std::string_view, uint32_t)> on_pair)
      : WordScanner(table), on_pair_(std::move(on_pair)) {}
  void add_text(std::string_view text) {
    reset();
    feed(text, sink_);
    finish(sink_);
    sink_.clear();
  }

 protected:
  uint32_t on_candidate(std::string_view context, const SynonymTable::Entry& entry) override {
    on_pair_(context, entry.group);
    return entry.member;
  }

 private:
  std::function<void(std::string_view, uint32_t)> on_pair_;
  std::string sink_;
};

std::string_view last_word(std::string_view form) {
  const size_t sp = form.rfind(' ');
  return sp == std::string_view::npos ? form : form.substr(sp + 1);
}

}  // namespace

ReceivedPairs::ReceivedPairs(const SynonymTable& table) : table_(table) {
  // Union-find over the last words of each group's members; a class is named
  // by its smallest word.
  std::map<std::string, std::string> parent;
  std::function<std::string(const std::string&)> root = [&](const std::string& w) {
    auto it = parent.find(w);
    if (it == parent.end() || it->second == w) return w;
    it->second = root(it->second);
    return it->second;
  };
  for (size_t g = 0; g < table.group_count(); ++g) {
    const auto& members = table.group(static_cast<uint32_t>(g));
    const std::string first(last_word(members[0]));
    parent.emplace(first, first);
    for (const auto& m : members) {
      const std::string w(last_word(m));
      parent.emplace(w, w);
      std::string a = root(first), b = root(w);
      if (a != b) parent[std::max(a, b)] = std::min(a, b);
    }
  }
  for (const auto& [w, unused] : parent) class_of_.emplace(w, root(w));
}

std::string ReceivedPairs::key(std::string_view context, uint32_t group) const {
  auto it = class_of_.find(std::string(context));
  std::string k = it == class_of_.end() ? std::string(context) : it->second;
  k.push_back('\x1f');
  k.append(std::to_string(group));
  return k;
}

void ReceivedPairs::add_text(std::string_view text) {
  PairCounter counter(table_, [this](std::string_view context, uint32_t group) {
    ++counts_[key(context, group)];
    ++occurrences_;
  });
  counter.add_text(text);
  ++texts_;
}

int ReceivedPairs::count(std::string_view context, uint32_t group) const {
  auto it = counts_.find(key(context, group));
  return it == counts_.end() ? 0 : it->second;
}

std::vector<Position> select_received(const std::vector<Position>& positions,
                                      const ReceivedPairs& received, int min_count) {
  std::vector<Position> out;
  for (const Position& p : positions) {
    if (received.count(p.context, p.group) >= min_count) out.push_back(p);
  }
  return out;
}

VerifyResult verify_positions(const std::vector<Position>& all_positions,
                              const VerifyOptions& options) {
  std::vector<Position> selected;
  if (options.received != nullptr)
    selected = select_received(all_positions, *options.received, options.min_count);
  const std::vector<Position>& positions = options.received != nullptr ? selected : all_positions;
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

VerifyResult verify_text(const SynonymTable& table, std::string_view text,
                         const VerifyOptions& options) {
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
      return invalid_argument(
          "no master key: pass --master-key-file or set DG_WATERMARK_MASTER_KEY");
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
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t'))
      line.pop_back();
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

std::string record_response_text(const boost::json::object& rec) {
  std::string out;
  const auto* r = rec.if_contains("response");
  if (r == nullptr || !r->is_object()) return out;
  const auto* ch = r->as_object().if_contains("choices");
  if (ch == nullptr || !ch->is_array()) return out;
  for (const auto& c : ch->as_array()) {
    if (!c.is_object()) continue;
    const auto& o = c.as_object();
    const boost::json::value* t = nullptr;
    if (const auto* m = o.if_contains("message"); m != nullptr && m->is_object()) {
      t = m->as_object().if_contains("content");
    } else {
      t = o.if_contains("content");
      if (t == nullptr || !t->is_string()) t = o.if_contains("text");
    }
    if (t == nullptr || !t->is_string()) continue;
    if (!out.empty()) out += "\n\n";
    out += t->as_string().c_str();
  }
  return out;
}

Result<std::vector<std::string>> read_received_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return not_found("cannot read received file " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string data = ss.str();
  // JSONL if the first non-blank line is an object with "response" or "line".
  const size_t s = data.find_first_not_of(" \t\r\n");
  bool jsonl = false;
  if (s != std::string::npos && data[s] == '{') {
    boost::system::error_code ec;
    auto v = boost::json::parse(std::string_view(data).substr(s, data.find('\n', s) - s), ec);
    jsonl = !ec && v.is_object() &&
            (v.as_object().contains("response") || v.as_object().contains("line"));
  }
  if (!jsonl) return std::vector<std::string>{data};
  std::vector<std::string> out;
  std::istringstream lines(data);
  std::string line;
  int n = 0;
  while (std::getline(lines, line)) {
    ++n;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    auto bad = [&](std::string_view why) {
      return invalid_argument(path + ":" + std::to_string(n) + ": " + std::string(why));
    };
    boost::system::error_code ec;
    auto v = boost::json::parse(line, ec);
    if (ec || !v.is_object()) return bad("not a JSON object");
    const boost::json::object* rec = &v.as_object();
    boost::json::value inner;
    if (const auto* l = rec->if_contains("line");
        l != nullptr) {  // an evidence bundle's entries.jsonl
      if (!l->is_string()) return bad("'line' is not a string");
      inner = boost::json::parse(l->as_string(), ec);
      if (ec || !inner.is_object()) return bad("'line' is not a JSON object");
      rec = &inner.as_object();
    }
    const auto* resp = rec->if_contains("response");
    if (resp == nullptr) return bad("no 'response'");
    out.push_back(resp->is_string() ? std::string(resp->as_string().c_str())
                                    : record_response_text(*rec));
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
      return invalid_argument(path + ":" + std::to_string(n) +
                              ": expected 'account <64 hex digits>'");
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
