// What the engine reads from one exchange record, extracted once per record:
// request parameters, conversation shape, the prompt's capability area,
// template keys and cues, and the client's infrastructure keys.
// Thread-safe (uses the shared immutable classifier); allocation-free after
// the caller's scratch string has grown.
#pragma once

#include <cstdint>
#include <string>

#include "distillguard/exchange_record.h"
#include "engine/classifier.h"
#include "engine/text.h"

namespace dg::engine {

// A system prompt this long or longer carries an application's own
// instructions; shorter ones ("You are a helpful assistant.") are SDK and
// front-end defaults that say nothing about the application.
inline constexpr size_t kAppSystemBytes = 60;

struct RecordFeatures {
  TimeNs ts = 0;
  Capability capability = Capability::kOther;
  bool temp0 = false;         // temperature == 0
  bool multi_sample = false;  // n > 1
  bool logprobs = false;      // logprobs / top_logprobs asked
  bool has_system = false;
  bool app_system = false;  // a system prompt of >= kAppSystemBytes (an application's own
                            // instructions, not a one-line default)
  bool multi_turn = false;  // more than one user turn in the request
  bool has_tools = false;
  bool cot = false;                // chain-of-thought elicitation cue
  bool rubric = false;             // grading / judging cue
  bool benchmark = false;          // benchmark-item shape
  uint32_t prompt_tokens = 0;      // from usage (or estimated from the text)
  uint32_t completion_tokens = 0;  // from usage
  uint64_t prompt_hash = 0;        // exact last user prompt
  uint64_t system_hash = 0;        // 0 when no system prompt
  uint64_t model_hash = 0;
  TemplateKeys tmpl;
  uint64_t ip_hash = 0;        // 0 when absent
  uint64_t ip_block = 0;       // /24 (IPv4) or /48 (IPv6); 0 when absent
  uint64_t fingerprint = 0;    // user agent + header fingerprint; 0 when both absent
  TimeNs account_created = 0;  // 0 when unknown
};

// The parts of an exchange the engine reads (a record, or the gateway's
// per-request context). References must outlive the call.
struct RecordView {
  TimeNs ts = 0;
  const boost::json::object* request = nullptr;  // required
  int64_t prompt_tokens = -1;                    // -1: estimate from the prompt
  int64_t completion_tokens = 0;
  std::string_view ip, user_agent, headers_fp;
  TimeNs account_created = 0;  // 0 unknown
};
RecordView view_of(const ExchangeRecord& r);

// What the features read from a request body. Read from a Boost.JSON object
// by extract_features(RecordView), and straight from the line by analyze's
// RecordReader (analyze.h), which must agree with it (analyze_test checks).
// Duplicate keys: the last one counts, as in a parsed Boost.JSON object.
struct RequestFacts {
  std::string_view
      prompt;  // the last user message's text, or `prompt` (a string or the first of an array)
  int user_turns = 0;       // user messages (with a string role and a content); 1 for `prompt`
  std::string_view system;  // the first non-empty system/developer message's text
  std::string_view model;   // when model_is_string
  bool model_is_string = false;
  double temperature = 1, n = 1, best_of = 1, top_logprobs = 0;  // the numbers, when numbers
  bool logprobs = false;   // `logprobs` true, or an integer > 0
  bool has_tools = false;  // a non-empty `tools` or `functions` array
  // Storage for a prompt or system text joined from content parts ("text"
  // parts joined by '\n'; plain string parts appended as they are).
  std::string prompt_buf, system_buf;
  void clear();
};

// `scratch` is a reusable buffer (lower-cased prompt).
RecordFeatures extract_features(const RecordView& r, const CapabilityClassifier& clf,
                                std::string& scratch);
// The same from facts already read (r.request is not read).
RecordFeatures extract_features(const RequestFacts& q, const RecordView& r,
                                const CapabilityClassifier& clf, std::string& scratch);
RecordFeatures extract_features(const ExchangeRecord& r, const CapabilityClassifier& clf,
                                std::string& scratch);

}  // namespace dg::engine
