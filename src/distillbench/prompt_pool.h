// Prompt pools for distillbench: real prompts (and, where recorded, real
// answers and later turns of real conversations), one JSONL file per pool:
//   {"text": str, "source": str, "category": str, "answer"?: str, "answer_chars"?: int,
//    "thread"?: [str, ...]}
// `answer_chars` is the real answer's length before it was cut for storage.
// `thread` holds the turns after `text`: assistant, user, assistant, ...
// Texts are stored pre-escaped for JSON so that writing a record copies bytes.
// A PromptLibrary loads pools lazily from one directory; not thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "distillguard/status.h"

namespace dg::distillbench {

// Appends `s` JSON-escaped (no surrounding quotes) to `out`. Control
// characters become \n, \t, ... or \u00XX; other bytes are copied (the input is
// UTF-8).
void json_escape_append(std::string_view s, std::string* out);
// Truncates UTF-8 `s` to at most `max_bytes` without splitting a character.
std::string_view utf8_prefix(std::string_view s, size_t max_bytes);

struct PromptEntry {
  std::string text_esc;
  std::string answer;      // raw (empty: none)
  std::string answer_esc;  // escaped
  std::vector<std::string> thread_esc;
  // The answer (or, lacking one, the text) cut to kShortChars, escaped: used for
  // prior assistant turns and pasted context, which real clients resend whole
  // but which we keep short to bound trace size.
  std::string short_esc;
  uint32_t short_chars = 0;
  uint32_t text_chars = 0;
  uint32_t answer_chars = 0;       // of the stored (cut) answer
  uint32_t answer_full_chars = 0;  // of the real answer (answer_chars field, else stored)
  uint16_t source_id = 0;
  std::string category;
};

inline constexpr size_t kShortChars = 600;

struct PromptPool {
  std::string name;
  std::vector<std::string> sources;  // indexed by PromptEntry::source_id
  std::vector<PromptEntry> entries;
};

class PromptLibrary {
 public:
  explicit PromptLibrary(std::string dir) : dir_(std::move(dir)) {}
  // Loads <dir>/<name>.jsonl on first use. Errors name the file and line.
  Result<const PromptPool*> pool(const std::string& name);
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
  std::map<std::string, std::unique_ptr<PromptPool>> pools_;
};

// Parses pool text (for tests and the loader); `origin` names it in errors.
Result<std::unique_ptr<PromptPool>> parse_prompt_pool(std::string_view text, const std::string& name,
                                                      const std::string& origin);

}  // namespace dg::distillbench
