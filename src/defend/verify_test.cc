#include "defend/verify.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <unordered_set>

#include "distillguard/random.h"

namespace dg::defend {
namespace {
namespace json = boost::json;

std::string source_dir() {
  const char* src = std::getenv("DG_SOURCE_DIR");
  return src ? src : ".";
}

// The 822 real teacher answers shipped in data/teacher.
std::vector<std::string> teacher_answers() {
  std::ifstream in(source_dir() + "/data/teacher/teacher.jsonl");
  std::vector<std::string> out;
  std::string line;
  while (std::getline(in, line))
    out.emplace_back(json::parse(line).at("response").as_string().c_str());
  return out;
}

// Human and other-model texts never watermarked: every prompt ("text") and
// reference answer ("answer") of data/prompts.
std::vector<std::string> other_texts() {
  std::vector<std::string> out;
  for (const auto& f : std::filesystem::directory_iterator(source_dir() + "/data/prompts")) {
    if (f.path().extension() != ".jsonl") continue;
    std::ifstream in(f.path());
    std::string line;
    while (std::getline(in, line)) {
      auto o = json::parse(line).as_object();
      for (const char* k : {"text", "answer"}) {
        if (const auto* v = o.if_contains(k);
            v != nullptr && v->is_string() && !v->as_string().empty()) {
          out.emplace_back(v->as_string().c_str());
        }
      }
    }
  }
  return out;
}

std::vector<KeyedAccount> keys(int n) {
  std::vector<KeyedAccount> out;
  for (int i = 0; i < n; ++i) {
    std::string a = "acct-" + std::to_string(i);
    out.push_back({a, derive_account_key("master", a)});
  }
  return out;
}

ReceivedPairs received_of(const std::vector<std::string>& texts) {
  ReceivedPairs r(SynonymTable::builtin());
  for (const auto& t : texts) r.add_text(t);
  return r;
}

std::vector<std::string> marked(const std::vector<std::string>& texts, const WatermarkKey& key,
                                double strength) {
  std::vector<std::string> out;
  for (const auto& t : texts)
    out.push_back(watermark_text(SynonymTable::builtin(), key, strength, t));
  return out;
}

// The selection is a function of the received text before any watermark: the
// counts of the marked responses equal those of the originals under any key,
// although the marks changed the contexts (the test would fail with per-word
// instead of per-class counts).
TEST(ReceivedPairs, CountsDoNotDependOnTheKey) {
  const auto& t = SynonymTable::builtin();
  const auto answers = teacher_answers();
  ASSERT_GT(answers.size(), 800u);
  const ReceivedPairs clean = received_of(answers);
  PositionExtractor clean_pos(t);
  for (const auto& a : answers) clean_pos.add_text(a);
  for (const auto& ka : keys(3)) {
    const auto m = marked(answers, ka.key, 1.0);
    const ReceivedPairs r = received_of(m);
    EXPECT_EQ(r.occurrences(), clean.occurrences());
    PositionExtractor pos(t);
    for (const auto& a : m) pos.add_text(a);
    int new_contexts = 0;
    std::unordered_set<std::string> before;
    for (const auto& p : clean_pos.positions())
      before.insert(p.context + '\x1f' + std::to_string(p.group));
    for (const auto& p : pos.positions()) {
      new_contexts += before.count(p.context + '\x1f' + std::to_string(p.group)) == 0 ? 1 : 0;
      ASSERT_EQ(r.count(p.context, p.group), clean.count(p.context, p.group))
          << p.context << " " << p.group;
    }
    for (const auto& p : clean_pos.positions()) {
      ASSERT_EQ(r.count(p.context, p.group), clean.count(p.context, p.group))
          << p.context << " " << p.group;
    }
    EXPECT_GT(new_contexts, 0);  // the marks did move occurrences between contexts
  }
}

// Which positions are scored never depends on the form the suspect text wrote
// there: every member swapped gives the same selection.
TEST(ReceivedPairs, SelectionNeverReadsTheForm) {
  const auto& t = SynonymTable::builtin();
  const auto answers = teacher_answers();
  const ReceivedPairs r = received_of(answers);
  PositionExtractor ex(t);
  for (size_t i = 0; i < answers.size(); i += 2) ex.add_text(answers[i]);
  std::vector<Position> swapped = ex.positions();
  for (auto& p : swapped) p.member = (p.member + 1) % p.k;
  const auto a = select_received(ex.positions(), r, 2);
  const auto b = select_received(swapped, r, 2);
  ASSERT_EQ(a.size(), b.size());
  ASSERT_GT(a.size(), 20u);
  ASSERT_LT(a.size(), ex.positions().size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].context, b[i].context);
    EXPECT_EQ(a[i].group, b[i].group);
  }
}

// Calibration (H0): unwatermarked texts scored only at the pairs a watermarked
// copy of them holds (the hardest case: the received text is the same
// answers, marked) must give uniform p-values. Texts: the teacher's answers and
// the human and other-model texts of data/prompts, 200 to a document; each
// document tested under 100 keys, one of them the received text's.
TEST(Verify, ReceivedCalibratedOnCleanText) {
  auto texts = teacher_answers();
  const auto others = other_texts();
  ASSERT_GT(others.size(), 5000u);
  texts.insert(texts.end(), others.begin(), others.end());
  const auto ks = keys(100);
  const ReceivedPairs r = received_of(marked(texts, ks[0].key, 1.0));
  std::vector<std::vector<Position>> docs;
  for (size_t i = 0; i < texts.size(); i += 200) {
    PositionExtractor ex(SynonymTable::builtin());
    for (size_t j = i; j < std::min(texts.size(), i + 200); ++j) ex.add_text(texts[j]);
    docs.push_back(ex.positions());
  }
  for (int min_count : {1, 5}) {
    VerifyOptions opt;
    opt.keys = ks;
    opt.received = &r;
    opt.min_count = min_count;
    int tests = 0, below001 = 0, below01 = 0, below1 = 0, named = 0;
    long positions = 0;
    for (const auto& d : docs) {
      for (const auto& ka : ks) {
        opt.account = ka.account;
        const VerifyResult v = verify_positions(d, opt);
        ++tests;
        positions += v.positions;
        below001 += v.p_value < 0.001;
        below01 += v.p_value < 0.01;
        below1 += v.p_value < 0.1;
      }
      opt.account.clear();
      named += !verify_positions(d, opt).account.empty();
    }
    const double n = tests;
    std::printf(
        "min-count %d: %d tests, mean positions %.1f, p<0.001 %.4f, p<0.01 %.4f, p<0.1 %.4f, named "
        "%d\n",
        min_count, tests, positions / n, below001 / n, below01 / n, below1 / n, named);
    EXPECT_GT(positions / n, 5);
    EXPECT_LE(below001 / n, 0.003);
    EXPECT_LE(below01 / n, 0.015);
    EXPECT_LE(below1 / n, 0.11);
    if (min_count == 1) {
      EXPECT_GE(below1 / n, 0.04);  // 33 positions a test: not vacuously conservative
    }
    EXPECT_LE(named, 1);
  }
}

// A student that learned the mark only on the pairs it saw often: it writes
// the green form at 85% of the pairs the harvest holds >= kLearned times and
// any form at random elsewhere (what the neural student does at >= 20 in a
// 2,932-answer harvest, docs/countermeasures.md; the 822 answers here hold
// fewer frequent pairs, so the threshold is lower).
constexpr int kLearned = 3;
class StudentLike : public WordScanner {
 public:
  StudentLike(const WatermarkKey& key, const ReceivedPairs& received, uint64_t seed)
      : WordScanner(SynonymTable::builtin()), key_(key), received_(received), rng_(seed) {}

 protected:
  uint32_t on_candidate(std::string_view context, const SynonymTable::Entry& entry) override {
    const auto k = static_cast<uint32_t>(table_.group(entry.group).size());
    if (received_.count(context, entry.group) >= kLearned && rng_.uniform() < 0.85) {
      return position_hash(key_, context, entry.group, k).green;
    }
    return static_cast<uint32_t>(rng_.below(k));
  }

 private:
  WatermarkKey key_;
  const ReceivedPairs& received_;
  Rng rng_;
};

TEST(Verify, ReceivedDetectsAStudentOfFrequentPairs) {
  const auto answers = teacher_answers();
  const auto ks = keys(100);
  const ReceivedPairs r = received_of(marked(answers, ks[37].key, 1.0));
  StudentLike student(ks[37].key, r, 5);
  std::string text;
  for (const auto& a : answers) {
    student.feed(a, text);
    student.finish(text);
    text += "\n\n";
    student.reset();
  }
  VerifyOptions opt;
  opt.keys = ks;
  opt.detect_strength = 1.0;  // the received text was marked at 1.0 (trace): score every position
  opt.account = "acct-37";
  const VerifyResult plain = verify_text(SynonymTable::builtin(), text, opt);
  opt.received = &r;
  opt.min_count = kLearned;
  const VerifyResult aware = verify_text(SynonymTable::builtin(), text, opt);
  std::printf(
      "plain: %d positions, %d green, p %.3g; received >= %d: %d positions, %d green, p %.3g "
      "(corrected %.3g)\n",
      plain.positions, plain.green, plain.p_value, kLearned, aware.positions, aware.green,
      aware.p_value, aware.account_p_value);
  EXPECT_EQ(plain.account, "");  // the long tail at chance drowns the learned pairs
  EXPECT_LT(aware.p_value, 1e-6);
  EXPECT_EQ(aware.account, "acct-37");
}

TEST(Verify, ReadsReceivedFiles) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("dg-verify-test-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string record =
      R"({"ts":"2026-02-01T12:00:00Z","account":"a","endpoint":"/v1/chat/completions","request":{},)"
      R"("response":{"choices":[{"message":{"role":"assistant","content":"It is often fine."}},{"text":"Also this."}]}})";
  {
    std::ofstream(dir / "log.jsonl") << record << "\n\n"
                                     << R"({"response":"plain answer"})"
                                     << "\n";
    json::object entry{{"seq", 1}, {"line", record}};
    std::ofstream(dir / "entries.jsonl") << json::serialize(entry) << "\n";
    std::ofstream(dir / "plain.txt") << "{not json}\nsome text\n";
    std::ofstream(dir / "bad.jsonl") << record << "\n"
                                     << "{oops\n";
  }
  auto log = read_received_file((dir / "log.jsonl").string());
  ASSERT_TRUE(log.ok());
  EXPECT_EQ(*log, (std::vector<std::string>{"It is often fine.\n\nAlso this.", "plain answer"}));
  auto entries = read_received_file((dir / "entries.jsonl").string());
  ASSERT_TRUE(entries.ok());
  EXPECT_EQ(*entries, (std::vector<std::string>{"It is often fine.\n\nAlso this."}));
  auto plain = read_received_file((dir / "plain.txt").string());
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(*plain, (std::vector<std::string>{"{not json}\nsome text\n"}));
  auto bad = read_received_file((dir / "bad.jsonl").string());
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find(":2:"), std::string::npos);
  EXPECT_FALSE(read_received_file((dir / "missing").string()).ok());
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace dg::defend
