#include "distillbench/prompt_pool.h"

#include <boost/json.hpp>
#include <fstream>
#include <sstream>

namespace dg::distillbench {
namespace json = boost::json;

void json_escape_append(std::string_view s, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  size_t run = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out->append(s.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"': out->append("\\\""); break;
      case '\\': out->append("\\\\"); break;
      case '\n': out->append("\\n"); break;
      case '\r': out->append("\\r"); break;
      case '\t': out->append("\\t"); break;
      case '\b': out->append("\\b"); break;
      case '\f': out->append("\\f"); break;
      default: {
        char u[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 15]};
        out->append(u, 6);
      }
    }
  }
  out->append(s.data() + run, s.size() - run);
}

std::string_view utf8_prefix(std::string_view s, size_t max_bytes) {
  if (s.size() <= max_bytes) return s;
  size_t n = max_bytes;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return s.substr(0, n);
}

namespace {
uint32_t count_chars(std::string_view s) {
  uint32_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}
}  // namespace

Result<std::unique_ptr<PromptPool>> parse_prompt_pool(std::string_view text, const std::string& name,
                                                      const std::string& origin) {
  auto pool = std::make_unique<PromptPool>();
  pool->name = name;
  std::map<std::string, uint16_t> source_ids;
  size_t line_no = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    auto where = [&] { return origin + ":" + std::to_string(line_no) + ": "; };
    boost::system::error_code ec;
    json::value v = json::parse(line, ec);
    if (ec || !v.is_object()) return invalid_argument(where() + "not a JSON object");
    const json::object& o = v.as_object();
    auto str = [&](const char* key, bool required, std::string* out) -> Status {
      auto it = o.find(key);
      if (it == o.end() || it->value().is_null()) {
        return required ? invalid_argument(where() + "missing '" + key + "'") : Status();
      }
      if (!it->value().is_string()) return invalid_argument(where() + "'" + key + "' must be a string");
      *out = std::string(it->value().as_string());
      return Status();
    };
    PromptEntry e;
    std::string text_raw, source;
    DG_RETURN_IF_ERROR(str("text", true, &text_raw));
    DG_RETURN_IF_ERROR(str("source", false, &source));
    DG_RETURN_IF_ERROR(str("category", false, &e.category));
    DG_RETURN_IF_ERROR(str("answer", false, &e.answer));
    if (auto it = o.find("thread"); it != o.end()) {
      if (!it->value().is_array()) return invalid_argument(where() + "'thread' must be an array of strings");
      for (const auto& t : it->value().as_array()) {
        if (!t.is_string()) return invalid_argument(where() + "'thread' must be an array of strings");
        std::string esc;
        json_escape_append(t.as_string(), &esc);
        e.thread_esc.push_back(std::move(esc));
      }
    }
    json_escape_append(text_raw, &e.text_esc);
    json_escape_append(e.answer, &e.answer_esc);
    e.text_chars = count_chars(text_raw);
    std::string_view short_src = utf8_prefix(e.answer.empty() ? text_raw : e.answer, kShortChars);
    json_escape_append(short_src, &e.short_esc);
    e.short_chars = count_chars(short_src);
    e.answer_chars = count_chars(e.answer);
    e.answer_full_chars = e.answer_chars;
    if (auto it = o.find("answer_chars"); it != o.end()) {
      if (!it->value().is_number() || it->value().to_number<double>() < 0)
        return invalid_argument(where() + "'answer_chars' must be a non-negative number");
      e.answer_full_chars = static_cast<uint32_t>(it->value().to_number<double>());
    }
    auto [it, fresh] = source_ids.emplace(source, static_cast<uint16_t>(pool->sources.size()));
    if (fresh) pool->sources.push_back(source);
    e.source_id = it->second;
    pool->entries.push_back(std::move(e));
  }
  if (pool->entries.empty()) return invalid_argument(origin + ": prompt pool is empty");
  return pool;
}

Result<const PromptPool*> PromptLibrary::pool(const std::string& name) {
  if (auto it = pools_.find(name); it != pools_.end()) return static_cast<const PromptPool*>(it->second.get());
  if (name.empty() || name.find('/') != std::string::npos || name.find("..") != std::string::npos)
    return invalid_argument("bad prompt pool name '" + name + "'");
  std::string path = dir_ + "/" + name + ".jsonl";
  std::ifstream in(path, std::ios::binary);
  if (!in) return not_found("prompt pool '" + name + "' not found: cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  DG_ASSIGN_OR_RETURN(auto p, parse_prompt_pool(ss.str(), name, path));
  const PromptPool* raw = p.get();
  pools_.emplace(name, std::move(p));
  return raw;
}

}  // namespace dg::distillbench
