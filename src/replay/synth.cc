#include "replay/synth.h"

#include <algorithm>
#include <cctype>
#include <cmath>

#include "common/hash.h"
#include "distillguard/random.h"
#include "replay/corpus.h"

namespace dg::replay {
namespace {

constexpr size_t kMaxWordPiece = 6;

bool is_word_byte(unsigned char c) { return std::isalnum(c) || c >= 0x80; }

// Uniform in [0, 1) from a hash.
double unit(uint64_t h) { return static_cast<double>(h >> 11) * 0x1.0p-53; }

constexpr std::string_view kAlternatives[] = {
    " the", " a", " and", " of", " to", " in", " is", " that", " it", " for", " this",
    " with", " as", " on", " be", " can", " you", " are", ",", ".", "\n", " or", " an",
    " by", " your", " we", " not", " which", " will", " one", " also", " more"};

}  // namespace

std::vector<std::string_view> tokenize(std::string_view text) {
  std::vector<std::string_view> out;
  size_t i = 0;
  const size_t n = text.size();
  auto uc = [&](size_t j) { return static_cast<unsigned char>(text[j]); };
  while (i < n) {
    const size_t start = i;
    if (uc(i) == ' ' && i + 1 < n && is_word_byte(uc(i + 1))) ++i;  // " word"
    if (is_word_byte(uc(i))) {
      size_t letters = 0;
      while (i < n && is_word_byte(uc(i))) {
        // Cut long words, but never inside a UTF-8 sequence.
        if (letters >= kMaxWordPiece && (uc(i) & 0xC0) != 0x80) break;
        ++i;
        ++letters;
      }
    } else if (std::isspace(uc(i))) {
      while (i < n && std::isspace(uc(i)) && !(uc(i) == ' ' && i + 1 < n && is_word_byte(uc(i + 1)) && i > start))
        ++i;
    } else {
      ++i;
    }
    out.push_back(text.substr(start, i - start));
  }
  return out;
}

size_t count_tokens(std::string_view text) { return tokenize(text).size(); }

double token_logprob(std::string_view prev, std::string_view token) {
  const double u = unit(hash64(token, hash64(prev, 0x5eed)));
  return -(1e-4 + 2.5 * u * u);
}

std::vector<std::pair<std::string, double>> top_logprobs(std::string_view prev,
                                                         std::string_view token, size_t k) {
  std::vector<std::pair<std::string, double>> out;
  if (k == 0) return out;
  const double lp = token_logprob(prev, token);
  out.emplace_back(std::string(token), lp);
  double rest = 1.0 - std::exp(lp);
  uint64_t h = hash64(token, hash64(prev, 0xa17));
  constexpr size_t kNumAlt = sizeof(kAlternatives) / sizeof(kAlternatives[0]);
  size_t pick = h % kNumAlt;
  for (size_t j = 1; j < k && out.size() < k; ++j) {
    // Each alternative takes 35-65% of the mass the previous ones left.
    h = splitmix64(h);
    const double share = 0.35 + 0.3 * unit(h);
    const double p = rest * share;
    rest -= p;
    std::string_view alt = kAlternatives[pick];
    pick = (pick + 1 + h % 3) % kNumAlt;
    if (alt == token) continue;
    if (p <= 0) break;
    out.emplace_back(std::string(alt), std::log(p));
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  return out;
}

namespace {
boost::json::array bytes_of(std::string_view t) {
  boost::json::array a;
  for (unsigned char c : t) a.push_back(static_cast<int64_t>(c));
  return a;
}
}  // namespace

boost::json::array chat_logprobs(const std::vector<std::string_view>& tokens, size_t begin,
                                 size_t end, size_t top) {
  boost::json::array content;
  for (size_t i = begin; i < end && i < tokens.size(); ++i) {
    const std::string_view prev = i ? tokens[i - 1] : std::string_view();
    boost::json::array alts;
    for (auto& [t, lp] : top_logprobs(prev, tokens[i], top)) {
      alts.push_back({{"token", t}, {"logprob", lp}, {"bytes", bytes_of(t)}});
    }
    content.push_back({{"token", tokens[i]},
                       {"logprob", token_logprob(prev, tokens[i])},
                       {"bytes", bytes_of(tokens[i])},
                       {"top_logprobs", std::move(alts)}});
  }
  return content;
}

boost::json::object completion_logprobs(const std::vector<std::string_view>& tokens,
                                        size_t begin, size_t end, size_t top, size_t offset) {
  boost::json::array toks, lps, tops, offsets;
  for (size_t i = begin; i < end && i < tokens.size(); ++i) {
    const std::string_view prev = i ? tokens[i - 1] : std::string_view();
    toks.push_back(boost::json::string(tokens[i]));
    lps.push_back(token_logprob(prev, tokens[i]));
    boost::json::object alts;
    for (auto& [t, lp] : top_logprobs(prev, tokens[i], top)) alts[t] = lp;
    tops.push_back(std::move(alts));
    offsets.push_back(static_cast<int64_t>(offset));
    offset += tokens[i].size();
  }
  return {{"tokens", std::move(toks)},
          {"token_logprobs", std::move(lps)},
          {"top_logprobs", std::move(tops)},
          {"text_offset", std::move(offsets)}};
}

std::string reasoning_trace(std::string_view prompt, std::string_view answer) {
  std::string p(trim(prompt));
  if (p.size() > 160) p = p.substr(0, 157) + "...";
  for (auto& c : p) {
    if (c == '\n') c = ' ';
  }
  std::string out = "The user asks: \"" + p + "\". Let me work out what a good answer needs.";
  // One point per paragraph of the answer: its first sentence, shortened.
  size_t points = 0;
  size_t pos = 0;
  while (pos < answer.size() && points < 4) {
    size_t nl = answer.find("\n\n", pos);
    std::string_view para = trim(answer.substr(pos, nl == std::string_view::npos ? answer.npos : nl - pos));
    pos = nl == std::string_view::npos ? answer.size() : nl + 2;
    if (para.empty()) continue;
    size_t stop = para.find_first_of(".:?!\n");
    std::string_view first = para.substr(0, std::min<size_t>(stop == para.npos ? para.size() : stop, 100));
    out += points == 0 ? "\n\nPoints to cover:" : "";
    out += "\n- ";
    out += first;
    ++points;
  }
  out += "\n\nThat covers it; I will write the answer now, keeping it clear and direct.";
  return out;
}

}  // namespace dg::replay
