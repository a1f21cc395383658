#include "replay/corpus.h"

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "common/hash.h"

namespace dg::replay {

const char* match_kind_name(MatchKind kind) {
  switch (kind) {
    case MatchKind::kExact: return "exact";
    case MatchKind::kNearest: return "nearest";
    case MatchKind::kFallback: return "fallback";
  }
  return "fallback";
}

std::string_view trim(std::string_view t) {
  const char* ws = " \t\r\n\f\v";
  const size_t b = t.find_first_not_of(ws);
  if (b == std::string_view::npos) return {};
  const size_t e = t.find_last_not_of(ws);
  return t.substr(b, e - b + 1);
}

std::string normalize_prompt(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  bool space = false;
  for (unsigned char c : trim(text)) {
    if (std::isspace(c)) {
      space = true;
      continue;
    }
    if (space && !out.empty()) out.push_back(' ');
    space = false;
    out.push_back(static_cast<char>(std::tolower(c)));
  }
  return out;
}

std::vector<std::string> word_tokens(std::string_view text) {
  std::vector<std::string> out;
  std::string cur;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c >= 0x80) {
      cur.push_back(static_cast<char>(std::tolower(c)));
    } else if (!cur.empty()) {
      out.push_back(std::move(cur));
      cur.clear();
    }
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

Result<Corpus> Corpus::create(std::vector<Record> records) {
  if (records.empty()) return invalid_argument("replay corpus is empty");
  Corpus c;
  c.records_ = std::move(records);
  c.build();
  return c;
}

Result<Corpus> Corpus::load_dir(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return not_found("replay data directory not found: " + dir);
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (e.path().extension() == ".jsonl") files.push_back(e.path());
  }
  if (ec) return unavailable("cannot list " + dir + ": " + ec.message());
  std::sort(files.begin(), files.end());
  std::vector<Record> records;
  for (const auto& f : files) {
    std::ifstream in(f);
    if (!in) return unavailable("cannot read " + f.string());
    std::string line;
    size_t lineno = 0;
    while (std::getline(in, line)) {
      ++lineno;
      if (trim(line).empty()) continue;
      boost::system::error_code jec;
      boost::json::value v = boost::json::parse(line, jec);
      const auto where = f.string() + ":" + std::to_string(lineno);
      if (jec || !v.is_object()) return invalid_argument(where + ": not a JSON object");
      const auto& o = v.get_object();
      auto str = [&](const char* k) -> std::string {
        const auto* p = o.if_contains(k);
        return p && p->is_string() ? std::string(p->get_string()) : std::string();
      };
      Record r{str("prompt"), str("response"), str("model"), str("source"), str("category")};
      if (r.prompt.empty() || r.response.empty())
        return invalid_argument(where + ": needs string fields \"prompt\" and \"response\"");
      records.push_back(std::move(r));
    }
  }
  if (records.empty()) return invalid_argument("no records in " + dir + "/*.jsonl");
  return create(std::move(records));
}

void Corpus::build() {
  const size_t n = records_.size();
  group_of_.resize(n);
  std::vector<std::unordered_map<std::string, uint32_t>> tf(n);
  std::unordered_map<std::string, uint32_t> df;
  for (size_t i = 0; i < n; ++i) {
    const std::string key(trim(records_[i].prompt));
    auto [it, inserted] = exact_.try_emplace(key, i);
    if (inserted) {
      group_of_[i] = groups_.size();
      groups_.push_back({i});
    } else {
      group_of_[i] = group_of_[it->second];
      groups_[group_of_[i]].push_back(i);
    }
    normalized_.try_emplace(normalize_prompt(records_[i].prompt), i);
    for (auto& w : word_tokens(records_[i].prompt)) ++tf[i][w];
    for (const auto& [w, _] : tf[i]) ++df[w];
  }
  for (const auto& [w, d] : df) {
    idf_[w] = static_cast<float>(std::log(1.0 + static_cast<double>(n) / d));
  }
  for (size_t i = 0; i < n; ++i) {
    double norm = 0;
    for (const auto& [w, f] : tf[i]) {
      const double x = (1.0 + std::log(static_cast<double>(f))) * idf_[w];
      norm += x * x;
    }
    norm = std::sqrt(norm);
    if (norm == 0) continue;
    for (const auto& [w, f] : tf[i]) {
      const double x = (1.0 + std::log(static_cast<double>(f))) * idf_[w];
      postings_[w].push_back({static_cast<uint32_t>(i), static_cast<float>(x / norm)});
    }
  }
}

Match Corpus::lookup(std::string_view prompt) const {
  const std::string key(trim(prompt));
  if (auto it = exact_.find(key); it != exact_.end())
    return {&records_[it->second], it->second, MatchKind::kExact, 1.0};
  if (auto it = normalized_.find(normalize_prompt(prompt)); it != normalized_.end())
    return {&records_[it->second], it->second, MatchKind::kExact, 1.0};

  std::unordered_map<std::string, uint32_t> tf;
  for (auto& w : word_tokens(prompt)) {
    if (idf_.count(w)) ++tf[w];
  }
  double qnorm = 0;
  std::vector<std::pair<const std::vector<Posting>*, double>> terms;
  for (const auto& [w, f] : tf) {
    const double x = (1.0 + std::log(static_cast<double>(f))) * idf_.at(w);
    qnorm += x * x;
    terms.emplace_back(&postings_.at(w), x);
  }
  if (qnorm > 0) {
    qnorm = std::sqrt(qnorm);
    std::vector<double> score(records_.size(), 0.0);
    for (const auto& [plist, x] : terms) {
      for (const auto& p : *plist) score[p.doc] += x * p.weight;
    }
    size_t best = 0;
    for (size_t i = 1; i < score.size(); ++i) {
      if (score[i] > score[best]) best = i;
    }
    if (score[best] > 0) return {&records_[best], best, MatchKind::kNearest, score[best] / qnorm};
  }
  const size_t i = hash64(key) % records_.size();
  return {&records_[i], i, MatchKind::kFallback, 0.0};
}

const std::vector<size_t>& Corpus::same_prompt(size_t index) const {
  return groups_[group_of_[index]];
}

}  // namespace dg::replay
