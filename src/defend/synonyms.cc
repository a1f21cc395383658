#include "defend/synonyms.h"

#include <fmt/format.h>

#include <cstdlib>

namespace dg::defend {

extern const char* const kBuiltinSynonymsTsv;  // generated from data/synonyms/synonyms.tsv

namespace {

enum class Shape { kBad, kWord, kTwoWords, kApostrophe };

bool is_lower(char c) { return c >= 'a' && c <= 'z'; }

Shape shape_of(std::string_view w) {
  if (w.empty() || !is_lower(w.front()) || !is_lower(w.back())) return Shape::kBad;
  int spaces = 0, apostrophes = 0;
  for (char c : w) {
    if (c == ' ') {
      ++spaces;
    } else if (c == '\'') {
      ++apostrophes;
    } else if (!is_lower(c)) {
      return Shape::kBad;
    }
  }
  if (spaces + apostrophes > 1) return Shape::kBad;
  if (w.find(" '") != std::string_view::npos || w.find("' ") != std::string_view::npos) return Shape::kBad;
  return spaces == 1 ? Shape::kTwoWords : apostrophes == 1 ? Shape::kApostrophe : Shape::kWord;
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

}  // namespace

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
    int words = 0, twos = 0, apos = 0;
    while (true) {
      size_t tab = line.find('\t');
      std::string_view w = line.substr(0, tab);
      if (w.empty()) return invalid_argument(fmt::format("synonyms line {}: empty word", line_no));
      switch (shape_of(w)) {
        case Shape::kBad:
          return invalid_argument(fmt::format(
              "synonyms line {}: '{}' is not lowercase ASCII letters, two words or one contraction", line_no, w));
        case Shape::kWord: ++words; break;
        case Shape::kTwoWords: ++twos; break;
        case Shape::kApostrophe: ++apos; break;
      }
      members.emplace_back(w);
      if (tab == std::string_view::npos) break;
      line = line.substr(tab + 1);
    }
    if (members.size() < 2) return invalid_argument(fmt::format("synonyms line {}: a group needs two words", line_no));
    GroupInfo gi;
    if (apos > 0) {
      // A contraction: exactly one contracted form and one full form.
      if (apos != 1 || members.size() != 2) {
        return invalid_argument(fmt::format("synonyms line {}: a contraction group is one full and one contracted form", line_no));
      }
      const std::string& c = members[0].find('\'') != std::string::npos ? members[0] : members[1];
      const std::string& full = &c == &members[0] ? members[1] : members[0];
      gi.kind = ends_with(c, "n't") ? GroupKind::kNegation : GroupKind::kSubject;
      if (gi.kind == GroupKind::kSubject && twos != 1) {
        return invalid_argument(fmt::format("synonyms line {}: '{}' needs a two-word full form", line_no, c));
      }
      gi.first = full.substr(0, full.find(' '));
      gi.has_s = ends_with(c, "'s");
      gi.has_ve = ends_with(c, "'ve");
      gi.aux_contracts = gi.kind == GroupKind::kNegation && twos == 1 &&
                         (gi.first == "is" || gi.first == "are" || gi.first == "am" || gi.first == "will");
    } else if (twos > 0) {
      if (words > 0) return invalid_argument(fmt::format("synonyms line {}: mixes words and two-word phrases", line_no));
      gi.kind = GroupKind::kPhrase;
    }
    const auto g = static_cast<uint32_t>(t.groups_.size());
    for (uint32_t i = 0; i < members.size(); ++i) {
      auto [it, fresh] = t.index_.emplace(members[i], Entry{g, i});
      if (!fresh && it->second.group != kNoGroup) {
        return invalid_argument(fmt::format("synonyms line {}: '{}' is already in another group", line_no, members[i]));
      }
      if (!fresh) return invalid_argument(fmt::format("synonyms: '{}' both starts a phrase and is a member", members[i]));
      ++t.members_;
      if (const size_t sp = members[i].find(' '); sp != std::string::npos) {
        auto [fw, added] = t.index_.emplace(members[i].substr(0, sp), Entry{kNoGroup, 0, true});
        if (!added && fw->second.group != kNoGroup) {
          return invalid_argument(fmt::format("synonyms: '{}' both starts a phrase and is a member", fw->first));
        }
        fw->second.starts_unit = true;
      }
    }
    t.groups_.push_back(std::move(members));
    t.info_.push_back(std::move(gi));
  }
  for (const auto& [key, e] : t.index_) {
    if (key.size() < 32) t.shape_mask_[(key.front() - 'a') * 26 + (key.back() - 'a')] |= 1u << key.size();
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

const SynonymTable::Entry* SynonymTable::lookup(std::string_view lower) const {
  auto it = index_.find(lower);
  return it == index_.end() ? nullptr : &it->second;
}

const SynonymTable::Entry* SynonymTable::find(std::string_view lower) const {
  const Entry* e = lookup(lower);
  return e == nullptr || e->group == kNoGroup ? nullptr : e;
}

}  // namespace dg::defend
