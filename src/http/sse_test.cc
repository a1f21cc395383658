#include "http/sse.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace dg::http {
namespace {

std::vector<std::string> split_all(std::string_view s) {
  std::vector<std::string> out;
  for (;;) {
    std::string_view ev = next_event(&s);
    if (ev.empty()) break;
    out.emplace_back(ev);
  }
  return out;
}

TEST(SseFramer, RelaysOnlyWholeEventsWhateverTheSplit) {
  const std::string stream = "data: {\"a\":1}\n\ndata: {\"b\":2}\r\n\r\n: comment\ndata: [DONE]\n\n";
  for (size_t step = 1; step <= stream.size(); ++step) {
    SseFramer f;
    std::string relayed;
    for (size_t i = 0; i < stream.size(); i += step) {
      f.feed(std::string_view(stream).substr(i, step));
      relayed += f.complete();
      f.consume_complete();
    }
    EXPECT_EQ(relayed, stream) << "step " << step;
    EXPECT_TRUE(f.tail().empty());
  }
}

TEST(SseFramer, TakeRelaysWholeEventsWhateverTheSplit) {
  const std::string stream =
      "data: {\"a\":1}\n\ndata: {\"b\":2}\r\n\r\n: comment\ndata: x\ndata: y\n\ndata: [DONE]\n\n";
  for (size_t step = 1; step <= stream.size(); ++step) {
    SseFramer f;
    std::string relayed;
    size_t calls_with_events = 0;
    for (size_t i = 0; i < stream.size(); i += step) {
      std::string_view got = f.take(std::string_view(stream).substr(i, step));
      if (!got.empty()) {
        ++calls_with_events;
        // Only whole events: every relayed run ends with a blank line.
        EXPECT_TRUE(got.size() >= 2 && got.substr(got.size() - 1) == "\n") << "step " << step;
        EXPECT_EQ(got.find_last_of('\n'), got.size() - 1);
      }
      relayed += got;
    }
    EXPECT_EQ(relayed, stream) << "step " << step;
    EXPECT_TRUE(f.tail().empty()) << "step " << step;
    EXPECT_GE(calls_with_events, 1u);
  }
}

TEST(SseFramer, TakeKeepsUnfinishedTailAndReturnsTheInputWhenNothingIsHeld) {
  SseFramer f;
  const std::string a = "data: {\"a\":1}\n\n";
  std::string_view got = f.take(a);
  EXPECT_EQ(got, a);
  EXPECT_EQ(got.data(), a.data());  // relayed from the input, not copied
  EXPECT_EQ(f.take("data: {\"b\""), "");
  EXPECT_EQ(f.tail(), "data: {\"b\"");
  EXPECT_EQ(f.take(":2}\n"), "");
  EXPECT_EQ(f.take("\ndata: c\n\ndata: d"), "data: {\"b\":2}\n\ndata: c\n\n");
  EXPECT_EQ(f.tail(), "data: d");
}

TEST(SseFramer, KeepsUnfinishedTail) {
  SseFramer f;
  f.feed("data: {\"a\":1}\n\ndata: {\"b\"");
  EXPECT_EQ(f.complete(), "data: {\"a\":1}\n\n");
  EXPECT_EQ(f.tail(), "data: {\"b\"");
  f.consume_complete();
  f.feed(":2}\n");
  EXPECT_TRUE(f.complete().empty());
  f.feed("\n");
  EXPECT_EQ(f.complete(), "data: {\"b\":2}\n\n");
}

TEST(SseEvents, SplitsAndExtractsData) {
  auto evs = split_all("data: x\n\nevent: e\ndata:y1\ndata: y2\n\n");
  ASSERT_EQ(evs.size(), 2u);
  std::string scratch;
  EXPECT_EQ(event_data(evs[0], scratch), "x");
  EXPECT_EQ(event_data(evs[1], scratch), "y1\ny2");
  EXPECT_EQ(event_data(": only a comment\n\n", scratch), "");
  EXPECT_EQ(event_data("data: z\r\n\r\n", scratch), "z");
}

}  // namespace
}  // namespace dg::http
