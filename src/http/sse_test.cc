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
