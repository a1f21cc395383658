// Canaries: distinctive but harmless signatures planted, for accounts under
// `trace`, in answers to prompts of chosen kinds, and a registry of what was
// planted where (SQLite).
//
// Kinds (classify_prompt): "definition" (what is / define / explain the term),
// "list" (list / give me N / examples of), "howto" (how do I / steps to).
// Other prompts get no canary.
//
// Signature: a coined two-word name, e.g. "Velorin Kadusa", drawn from
// HMAC-SHA256(master, "distillguard/canary/v1:" + account + ":" + kind) as six
// consonant-vowel syllables (70 each: ~36.8 bits). It is the same for every
// answer of that kind to that account, so a student trained on them learns
// it; it names nothing, so it cannot be right or wrong. The planted sentence
// (appended at the end of the answer) depends on the kind:
//   definition: ` (Some glossaries also file this under "Velorin Kadusa".)`
//   list:       `\n\n- For a compact summary, see the Velorin Kadusa checklist.`
//   howto:      `\n\n(Mnemonic for these steps: Velorin Kadusa.)`
//
// Chance: under H0 (the suspect model never saw our answers), emitting one
// given signature verbatim is bounded by the number of places it could start
// over the number of signatures: P <= S * N * L / 70^6 for S signatures
// searched in N answers of at most L characters (union bound). Reported by
// `probe` per hit.
//
// Thread-safety: signature functions are pure. CanaryRegistry is thread-safe;
// record() never blocks on disk (a writer thread inserts in batches).
#pragma once

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "distillguard/clock.h"
#include "distillguard/stage.h"
#include "distillguard/status.h"

namespace dg::defend {

inline constexpr double kCanarySignatureSpace = 70.0 * 70 * 70 * 70 * 70 * 70;

// "definition" | "list" | "howto" | "" (no canary) for the last user message.
std::string classify_prompt(std::string_view prompt);
// The last user message of a chat request, or the completion prompt.
std::string last_user_text(const boost::json::object& request);
const std::vector<std::string>& canary_kinds();

std::string canary_signature(std::string_view master_secret, std::string_view account, std::string_view kind);
std::string canary_sentence(std::string_view kind, std::string_view signature);

// Chance bound for finding one of `signatures` signatures in `answers` texts of
// at most `max_len` characters.
double canary_chance(size_t signatures, size_t answers, size_t max_len);

struct CanaryPlanting {
  std::string account;
  std::string kind;
  std::string signature;
  TimeNs ts = 0;
};

class CanaryRegistry {
 public:
  // Opens (creating) the table `canary_plantings` in the SQLite file.
  static Result<std::unique_ptr<CanaryRegistry>> open(const std::string& sqlite_path);
  ~CanaryRegistry();
  // Queues a planting; never blocks on disk.
  void record(CanaryPlanting p);
  // Writes everything queued so far (blocking). For tests and shutdown.
  Status flush();
  // Distinct (account, kind, signature) with first/last time and count.
  struct Row {
    std::string account, kind, signature;
    TimeNs first = 0, last = 0;
    int64_t count = 0;
  };
  // account "" = all.
  Result<std::vector<Row>> list(const std::string& account) const;

 private:
  CanaryRegistry() = default;
  Status write(const std::vector<CanaryPlanting>& batch);
  void run();

  struct Db;
  std::unique_ptr<Db> db_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<CanaryPlanting> queue_;
  bool stop_ = false;
  std::thread writer_;
  mutable std::mutex db_mu_;
};

// Appends the canary sentence to the answer (choices[].message.content, or
// streamed at the chunk carrying finish_reason / at stream end). Records a
// planting in the registry (if any) per choice that got it.
class CanaryTransform : public ResponseTransform {
 public:
  CanaryTransform(std::string account, std::string kind, std::string signature, CanaryRegistry* registry,
                  TimeNs now)
      : account_(std::move(account)), kind_(std::move(kind)), signature_(std::move(signature)),
        registry_(registry), now_(now) {}
  void on_body(boost::json::object& body) override;
  void on_chunk(boost::json::object& chunk) override;
  void on_stream_end(const boost::json::object* last, std::vector<boost::json::object>& extra) override;
  int planted() const { return planted_; }

 private:
  void planted_one();
  std::string account_, kind_, signature_;
  CanaryRegistry* registry_;
  TimeNs now_;
  int planted_ = 0;
  bool saw_content_ = false;
  bool done_ = false;
};

}  // namespace dg::defend
