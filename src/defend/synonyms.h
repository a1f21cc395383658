// The synonym table the watermark chooses among: disjoint groups of words that
// can replace each other without changing meaning (data/synonyms/synonyms.tsv,
// built reproducibly from WordNet by data/synonyms/build_synonyms.py and
// compiled into the binary, so nothing is read from disk at run time).
//
// Thread-safety: immutable after construction; share freely.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "distillguard/status.h"

namespace dg::defend {

class SynonymTable {
 public:
  struct Entry {
    uint32_t group = 0;  // index into groups()
    uint32_t member = 0; // position of the word in its group
  };

  // Parses the TSV form: one group per line, members tab-separated, lowercase
  // ASCII letters; '#' lines are comments. Errors name the line (a word in two
  // groups, a group of one, a non-letter word).
  static Result<SynonymTable> parse(std::string_view tsv);
  // The table shipped with distillguard (parsed once, on first use).
  static const SynonymTable& builtin();

  // `lower` must already be lowercase. Null if the word is in no group.
  const Entry* find(std::string_view lower) const;
  const std::vector<std::string>& group(uint32_t g) const { return groups_[g]; }
  size_t group_count() const { return groups_.size(); }
  size_t word_count() const { return index_.size(); }

 private:
  std::vector<std::vector<std::string>> groups_;
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, Entry, Hash, std::equal_to<>> index_;
};

}  // namespace dg::defend
