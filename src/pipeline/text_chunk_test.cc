#include "pipeline/text_chunk.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <random>

namespace dg::pipeline {
namespace {

// The text field's value as it sits in the JSON.
std::string_view field(std::string_view json, const TextChunkShape& sh) {
  return json.substr(sh.value_begin, sh.value_end - sh.value_begin);
}

TEST(TextChunk, ReadsTheCommonChatChunk) {
  const std::string j =
      R"({"id":"c1","object":"chat.completion.chunk","created":1700000000,"model":"m","system_fingerprint":"fp",)"
      R"("choices":[{"index":2,"delta":{"content":"Hi \"you\"\n"},"logprobs":null,"finish_reason":null}],"usage":null})";
  TextChunkShape sh;
  ASSERT_TRUE(scan_text_chunk(j, sh));
  EXPECT_TRUE(sh.chunk.chat);
  EXPECT_TRUE(sh.chunk.has_text);
  EXPECT_FALSE(sh.chunk.finished);
  EXPECT_EQ(sh.chunk.index, 2);
  EXPECT_EQ(sh.chunk.text, "Hi \"you\"\n");
  EXPECT_EQ(field(j, sh), R"("Hi \"you\"\n")");
  EXPECT_EQ(sh.begin, 0u);
  EXPECT_EQ(sh.end, j.size());
}

TEST(TextChunk, RoleAndFinishChunks) {
  TextChunkShape sh;
  const std::string role =
      R"({"choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]})";
  ASSERT_TRUE(scan_text_chunk(role, sh));
  EXPECT_TRUE(sh.chunk.has_text);
  EXPECT_EQ(sh.chunk.text, "");

  const std::string fin = R"({"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]})";
  ASSERT_TRUE(scan_text_chunk(fin, sh));
  EXPECT_FALSE(sh.chunk.has_text);
  EXPECT_TRUE(sh.chunk.finished);
  EXPECT_EQ(sh.value_begin, sh.value_end);
  EXPECT_EQ(fin[sh.insert_at], '}');
  EXPECT_EQ(fin[sh.insert_at - 1], '{');
  EXPECT_TRUE(sh.holder_empty);

  const std::string fin_role =
      R"({"choices":[{"delta":{ "role" : "assistant" } ,"finish_reason":"length"}]})";
  ASSERT_TRUE(scan_text_chunk(fin_role, sh));
  EXPECT_FALSE(sh.holder_empty);
  EXPECT_EQ(fin_role[sh.insert_at], '}');

  const std::string null_content =
      R"({"choices":[{"delta":{"content":null},"finish_reason":"stop"}]})";
  ASSERT_TRUE(scan_text_chunk(null_content, sh));
  EXPECT_FALSE(sh.chunk.has_text);
  EXPECT_EQ(field(null_content, sh), "null");
}

TEST(TextChunk, CompletionsChunk) {
  const std::string j =
      R"({"choices":[{"text":"abc","index":1,"logprobs":null,"finish_reason":null}],"object":"text_completion"})";
  TextChunkShape sh;
  ASSERT_TRUE(scan_text_chunk(j, sh));
  EXPECT_FALSE(sh.chunk.chat);
  EXPECT_EQ(sh.chunk.index, 1);
  EXPECT_EQ(sh.chunk.text, "abc");
  EXPECT_EQ(field(j, sh), "\"abc\"");
}

TEST(TextChunk, OtherOrdersExtraFieldsAndWhitespace) {
  const std::string j =
      " \n{ \"choices\" : [ { \"finish_reason\" : null , \"delta\" : { \"content\" : \"x\" , "
      "\"role\" : \"assistant\" ,"
      " \"refusal\" : null } , \"index\" : 0 } ] , \"usage\" : { \"prompt_tokens\" : 3, \"cost\": "
      "-0.25, \"a\": [true, "
      "false, null, {}, []] } , \"id\" : \"c\" }\r\n";
  TextChunkShape sh;
  ASSERT_TRUE(scan_text_chunk(j, sh));
  EXPECT_EQ(sh.chunk.text, "x");
  EXPECT_EQ(j[sh.begin], '{');
  EXPECT_EQ(j[sh.end - 1], '}');
  EXPECT_EQ(field(j, sh), "\"x\"");
}

TEST(TextChunk, UnescapesLikeTheParser) {
  const std::string j =
      R"({"choices":[{"delta":{"content":"a\/b\\c\t\u00e9\u20AC\ud83d\ude00 é€😀\b\f\r\u0000"}}]})";
  TextChunkShape sh;
  ASSERT_TRUE(scan_text_chunk(j, sh));
  const boost::json::value v = boost::json::parse(j);
  const auto& s = v.at("choices").at(0).at("delta").at("content").as_string();
  EXPECT_EQ(sh.chunk.text, std::string(s.data(), s.size()));
  EXPECT_EQ(sh.chunk.text.back(), '\0');
}

TEST(TextChunk, RefusesWhatTheParserRefuses) {
  for (const char* bad : {
           R"({"choices":[{"delta":{"content":"\ud83d"}}]})",             // lone high surrogate
           R"({"choices":[{"delta":{"content":"\ude00\ud83d"}}]})",       // lone low surrogate
           R"({"choices":[{"delta":{"content":"\x"}}]})",                 // unknown escape
           R"({"choices":[{"delta":{"content":"\u12G4"}}]})",             // bad hex
           "{\"choices\":[{\"delta\":{\"content\":\"a\x01\"}}]}",         // raw control character
           "{\"choices\":[{\"delta\":{\"content\":\"\xc0\x80\"}}]}",      // overlong
           "{\"choices\":[{\"delta\":{\"content\":\"\xed\xa0\x80\"}}]}",  // encoded surrogate
           "{\"choices\":[{\"delta\":{\"content\":\"\xe2\x82\"}}]}",      // truncated sequence
           "{\"choices\":[{\"delta\":{\"content\":\"\xf5\x80\x80\x80\"}}]}",  // beyond U+10FFFF
           R"({"choices":[{"delta":{"content":"a"}}]} x)",                    // trailing data
           R"({"choices":[{"delta":{"content":"a"}}],})",                     // trailing comma
           R"({"choices":[{"delta":{"content":"a"}}])",                       // unterminated
       }) {
    TextChunkShape sh;
    EXPECT_FALSE(scan_text_chunk(bad, sh)) << bad;
    boost::system::error_code ec;
    (void)boost::json::parse(bad, ec);
    EXPECT_TRUE(ec) << "the parser accepts " << bad;
  }
}

TEST(TextChunk, LeavesOtherShapesToTheTree) {
  for (const char* other : {
           R"([1])",
           R"({"choices":[]})",
           R"({"choices":[{"delta":{"content":"a"}},{"delta":{"content":"b"}}]})",
           R"({"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{}"}}]}}]})",
           R"({"choices":[{"delta":{"content":"a","reasoning_content":"r"}}]})",
           R"({"choices":[{"delta":{"content":"a"},"logprobs":{"content":[]}}]})",
           R"({"choices":[{"delta":{"content":"a","content":"b"}}]})",
           R"({"choices":[{"delta":{"content":"a"}}],"choices":[]})",
           R"({"choices":[{"delta":{"cont\u0065nt":"a"}}]})",
           R"({"choices":[{"delta":{"content":"a"},"text":"b"}]})",
           R"({"choices":[{"index":0,"finish_reason":"stop"}]})",
           R"({"choices":[{"delta":{"content":"a"},"index":-1}]})",
           R"({"choices":[{"delta":{"content":"a"},"index":1.0}]})",
           R"({"choices":[{"delta":{"content":"a"},"index":1234567890123456789}]})",
           R"({"choices":[{"delta":{"content":"a"},"finish_reason":1}]})",
           R"({"choices":[{"delta":{"content":"a"}}],"created":1e9})",
           R"({"choices":[{"delta":{"content":7}}]})",
           R"({"choices":[{"delta":{"content":"a"}}],"x":[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]})",
       }) {
    TextChunkShape sh;
    EXPECT_FALSE(scan_text_chunk(other, sh)) << other;
  }
}

// Property: whatever the scanner takes, boost::json::parse takes too, and the
// text it finds is the parsed delta.content. Inputs: byte mutations of chunks.
TEST(TextChunk, AcceptsOnlyWhatTheParserAccepts) {
  const std::vector<std::string> seeds = {
      R"({"id":"c","choices":[{"index":0,"delta":{"content":"a\"b\u00e9\ud83d\ude00\\ é"},"finish_reason":null}],"usage":{"n":[1,2.5,true]}})",
      R"({"choices":[{"delta":{"role":"assistant","content":""},"logprobs":null}]})",
  };
  const std::string alphabet = "{}[]\":,\\u0123456789abcdefnrtl \x01\x7f\xc3\xa9\xed\xf0";
  std::mt19937 rng(7);
  int accepted = 0;
  for (int i = 0; i < 200000; ++i) {
    std::string s = seeds[static_cast<size_t>(i) % seeds.size()];
    const int edits = 1 + static_cast<int>(rng() % 3);
    for (int e = 0; e < edits; ++e) {
      const size_t at = rng() % s.size();
      const char c = alphabet[rng() % alphabet.size()];
      switch (rng() % 3) {
        case 0:
          s[at] = c;
          break;
        case 1:
          s.insert(s.begin() + static_cast<std::ptrdiff_t>(at), c);
          break;
        default:
          s.erase(at, 1);
      }
    }
    TextChunkShape sh;
    if (!scan_text_chunk(s, sh)) continue;
    ++accepted;
    boost::system::error_code ec;
    const boost::json::value v = boost::json::parse(s, ec);
    ASSERT_FALSE(ec) << s;
    const auto& choice = v.at("choices").at(0).as_object();
    const auto* holder = sh.chunk.chat ? &choice.at("delta").as_object() : &choice;
    const auto* t = holder->if_contains(sh.chunk.chat ? "content" : "text");
    ASSERT_EQ(sh.chunk.has_text, t != nullptr && t->is_string()) << s;
    if (sh.chunk.has_text) {
      ASSERT_EQ(sh.chunk.text, std::string(t->as_string().data(), t->as_string().size())) << s;
    }
  }
  EXPECT_GT(accepted, 1000);  // the mutations do reach the accepting paths
}

// The envelope shortcut: same results as scanning each event whole.
TEST(TextChunkScanner, ReusesTheEnvelopeOnlyWhenItMatches) {
  const std::string head = R"({"id":"c","choices":[{"index":3,"delta":{"content":)";
  const std::string tail = R"(},"finish_reason":null}]} )";
  TextChunkScanner sc;
  TextChunkShape sh;
  ASSERT_TRUE(sc.scan(head + R"("a")" + tail, sh));
  const std::string next = head + R"("b\u00e9\n")" + tail;
  ASSERT_TRUE(sc.scan(next, sh));
  EXPECT_EQ(sh.chunk.text, "b\xc3\xa9\n");
  EXPECT_EQ(sh.chunk.index, 3);
  EXPECT_EQ(field(next, sh), R"("b\u00e9\n")");
  EXPECT_EQ(sh.end, next.size() - 1);
  EXPECT_TRUE(sc.scan(head + "null" + tail, sh));
  EXPECT_FALSE(sh.chunk.has_text);
  for (const std::string& bad :
       {head + R"("a" "b")" + tail, head + R"("a","content":"b")" + tail,
        head + R"("\ud800")" + tail, head + "7" + tail, head + tail, head + R"("a)" + tail}) {
    EXPECT_FALSE(sc.scan(bad, sh)) << bad;
    EXPECT_TRUE(sc.scan(head + R"("x")" + tail, sh));  // and remembers again
  }
}

// Property: over a stream of mutated events, TextChunkScanner agrees with
// scan_text_chunk on every event (taken or not, text, offsets).
TEST(TextChunkScanner, AgreesWithTheWholeScan) {
  const std::string base =
      R"({"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"ab\"c"},"logprobs":null,"finish_reason":null}],"usage":null})";
  const std::string alphabet = "{}[]\":,\\u0123456789abcdefnrtl \x01\xc3\xa9";
  std::mt19937 rng(11);
  TextChunkScanner sc;
  const size_t value = base.find(R"("ab)");
  for (int i = 0; i < 100000; ++i) {
    std::string s = base;
    // Mostly edits inside the text value (the shortcut's case), sometimes anywhere.
    const bool inside = rng() % 4 != 0;
    const size_t at = inside ? value + 1 + rng() % 5 : rng() % s.size();
    const char c = alphabet[rng() % alphabet.size()];
    if (rng() % 2) {
      s[at] = c;
    } else {
      s.insert(s.begin() + static_cast<std::ptrdiff_t>(at), c);
    }
    TextChunkShape whole, fast;
    const bool a = scan_text_chunk(s, whole);
    const bool b = sc.scan(s, fast);
    ASSERT_EQ(a, b) << s;
    if (!a) continue;
    ASSERT_EQ(whole.chunk.text, fast.chunk.text) << s;
    ASSERT_EQ(whole.chunk.has_text, fast.chunk.has_text) << s;
    ASSERT_EQ(whole.chunk.index, fast.chunk.index) << s;
    ASSERT_EQ(whole.chunk.finished, fast.chunk.finished) << s;
    ASSERT_EQ(whole.value_begin, fast.value_begin) << s;
    ASSERT_EQ(whole.value_end, fast.value_end) << s;
    ASSERT_EQ(whole.begin, fast.begin) << s;
    ASSERT_EQ(whole.end, fast.end) << s;
  }
}

}  // namespace
}  // namespace dg::pipeline
