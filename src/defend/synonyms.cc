#include "defend/synonyms.h"

#include <fmt/format.h>

#include <cstdlib>

namespace dg::defend {

extern const char* const kBuiltinSynonymsTsv;  // generated from data/synonyms/synonyms.tsv

Result<SynonymTable> SynonymTable::parse(std::string_view tsv) {
  SynonymTable t;
  size_t line_no = 0;
  while (!tsv.empty()) {
    size_t nl = tsv.find('\n');
    std::string_view line = tsv.substr(0, nl);
    tsv = nl == std::string_view::npos ? std::string_view() : tsv.substr(nl + 1);
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> members;
    while (true) {
      size_t tab = line.find('\t');
      std::string_view w = line.substr(0, tab);
      if (w.empty()) return invalid_argument(fmt::format("synonyms line {}: empty word", line_no));
      for (char c : w) {
        if (c < 'a' || c > 'z') {
          return invalid_argument(fmt::format("synonyms line {}: '{}' is not lowercase ASCII letters", line_no, w));
        }
      }
      members.emplace_back(w);
      if (tab == std::string_view::npos) break;
      line = line.substr(tab + 1);
    }
    if (members.size() < 2) return invalid_argument(fmt::format("synonyms line {}: a group needs two words", line_no));
    const auto g = static_cast<uint32_t>(t.groups_.size());
    for (uint32_t i = 0; i < members.size(); ++i) {
      if (!t.index_.emplace(members[i], Entry{g, i}).second) {
        return invalid_argument(fmt::format("synonyms line {}: '{}' is already in another group", line_no, members[i]));
      }
    }
    t.groups_.push_back(std::move(members));
  }
  return t;
}

const SynonymTable& SynonymTable::builtin() {
  static const SynonymTable table = [] {
    auto r = parse(kBuiltinSynonymsTsv);
    if (!r.ok()) {
      // The shipped table is checked by a unit test; a broken build is a bug.
      fmt::print(stderr, "built-in synonym table: {}\n", r.status().to_string());
      std::abort();
    }
    return std::move(r).value();
  }();
  return table;
}

const SynonymTable::Entry* SynonymTable::find(std::string_view lower) const {
  auto it = index_.find(lower);
  return it == index_.end() ? nullptr : &it->second;
}

}  // namespace dg::defend
