// The synonym table the watermark chooses among: disjoint groups of
// interchangeable forms (data/synonyms/synonyms.tsv, built reproducibly from
// WordNet by data/synonyms/build_synonyms.py and compiled into the binary, so
// nothing is read from disk at run time).
//
// Members are of three shapes:
//   word          lowercase ASCII letters            ("often", "frequently")
//   word word     two such words, one space          ("do not", "for example")
//   word'word     one apostrophe between letters     ("don't", "it's", "can't")
// A group's kind follows from its members (see GroupKind); watermark.cc applies
// the per-kind rules that keep a swap meaning-preserving (e.g. "it's" is only
// expanded where it cannot mean "it has").
//
// Thread-safety: immutable after construction; share freely.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "distillguard/status.h"

namespace dg::defend {

enum class GroupKind : uint8_t {
  kWord,      // single words
  kPhrase,    // two-word phrases, no apostrophe ("for example" / "for instance")
  kNegation,  // "do not" / "don't", "cannot" / "can't"
  kSubject,   // "it is" / "it's", "you are" / "you're", "i am" / "i'm"
};

class SynonymTable {
 public:
  static constexpr uint32_t kNoGroup = 0xffffffffu;
  struct Entry {
    uint32_t group = 0;        // index into groups(); kNoGroup: the word only starts a two-word form
    uint32_t member = 0;       // position of the form in its group
    bool starts_unit = false;  // the word is the first word of some two-word member
  };
  struct GroupInfo {
    GroupKind kind = GroupKind::kWord;
    bool has_s = false;          // kSubject with an 's member (is/has ambiguity)
    bool has_ve = false;         // kSubject with a 've member (auxiliary "have" only)
    bool aux_contracts = false;  // kNegation whose auxiliary also contracts with a subject (is/are/am/will)
    std::string first;           // kSubject/kNegation: first word of the two-word member ("it", "do")
  };

  // Parses the TSV form: one group per line, members tab-separated (shapes
  // above); '#' lines are comments. Errors name the line (a form in two
  // groups, a group of one, a malformed form, a contraction group whose forms
  // are not one two-word and one apostrophe form).
  static Result<SynonymTable> parse(std::string_view tsv);
  // The table shipped with distillguard (parsed once, on first use).
  static const SynonymTable& builtin();

  // `lower` must already be lowercase (apostrophe as ASCII '). Null if the
  // form is in no group. Two-word forms are looked up as "first second".
  const Entry* find(std::string_view lower) const;
  // One hash lookup for the scanner: the entry of a member or of a word that
  // only starts a two-word form (group == kNoGroup); null if neither.
  const Entry* lookup(std::string_view lower) const;
  // A cheap pre-filter for lookup(): false when no form starts with letter
  // `first`, ends with `last` (both lowercase) and has `len` bytes.
  bool may_contain(char first, char last, size_t len) const {
    if (first < 'a' || first > 'z' || last < 'a' || last > 'z' || len >= 32) return false;
    return (shape_mask_[(first - 'a') * 26 + (last - 'a')] >> len) & 1u;
  }
  // True if `lower` is the first word of some two-word member.
  bool starts_unit(std::string_view lower) const {
    const Entry* e = lookup(lower);
    return e != nullptr && e->starts_unit;
  }
  const std::vector<std::string>& group(uint32_t g) const { return groups_[g]; }
  const GroupInfo& info(uint32_t g) const { return info_[g]; }
  size_t group_count() const { return groups_.size(); }
  size_t word_count() const { return members_; }

 private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::vector<std::vector<std::string>> groups_;
  std::vector<GroupInfo> info_;
  std::unordered_map<std::string, Entry, Hash, std::equal_to<>> index_;
  size_t members_ = 0;
  std::array<uint32_t, 26 * 26> shape_mask_{};  // (first, last letter) -> bit per length
};

}  // namespace dg::defend
