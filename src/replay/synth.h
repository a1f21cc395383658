// Text synthesis helpers of the replay upstream: its tokenizer (the unit of
// `usage`, `max_tokens`, streaming chunks and log-probabilities), deterministic
// log-probabilities, and reasoning traces for reasoning-model names.
//
// Token estimate, documented in README: the text is cut into pieces that
// concatenate back to it exactly: a word (a run of letters, digits or non-ASCII
// bytes) with the single space before it, cut every 6 bytes at a character
// boundary; one token per other punctuation byte; one per other whitespace run.
// On English prose this lands within about 20% of GPT BPE counts (about 1.3 tokens
// per word). All functions are pure and thread-safe.
#pragma once

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace dg::replay {

std::vector<std::string_view> tokenize(std::string_view text);
size_t count_tokens(std::string_view text);

// A plausible log-probability for `token` after `prev`: the same inputs always give
// the same value, in [-2.5, 0).
double token_logprob(std::string_view prev, std::string_view token);
// Up to `k` alternatives (token, logprob) sorted by descending logprob, `token` itself
// among them, their probabilities summing to at most 1. Deterministic.
std::vector<std::pair<std::string, double>> top_logprobs(std::string_view prev,
                                                         std::string_view token, size_t k);

// Chat format: {"content":[{"token","logprob","bytes","top_logprobs":[...]}, ...]} entries
// for tokens[begin, end), `top` alternatives each (0..20).
boost::json::array chat_logprobs(const std::vector<std::string_view>& tokens, size_t begin,
                                 size_t end, size_t top);
// Completions format: {"tokens","token_logprobs","top_logprobs","text_offset"} for
// tokens[begin, end); `offset` is the text offset of tokens[begin].
boost::json::object completion_logprobs(const std::vector<std::string_view>& tokens,
                                        size_t begin, size_t end, size_t top, size_t offset);

// A short deterministic "thinking" trace for `prompt` whose answer is `answer`.
std::string reasoning_trace(std::string_view prompt, std::string_view answer);

}  // namespace dg::replay
