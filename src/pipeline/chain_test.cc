#include "pipeline/chain.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

namespace dg::pipeline {
namespace {

struct Log {
  std::vector<std::string> calls;
};

class TestStage : public Stage {
 public:
  TestStage(std::string name, Log& log, bool stop = false, bool transform = false)
      : name_(std::move(name)), log_(log), stop_(stop), transform_(transform) {}
  std::string_view name() const override { return name_; }
  FilterStatus on_request(ExchangeContext& ctx) override {
    log_.calls.push_back("req:" + name_);
    if (transform_) ctx.add_transform(std::make_unique<Upper>());
    if (stop_) {
      ctx.reply(LocalReply{429, "rate_limit_error", "rate_limit_exceeded", "slow down", {}});
      return FilterStatus::kStop;
    }
    return FilterStatus::kContinue;
  }
  void on_complete(ExchangeContext&) override { log_.calls.push_back("done:" + name_); }

  // Appends "!" to every delta content; holds nothing back but adds one chunk at the end.
  struct Upper : ResponseTransform {
    void on_body(boost::json::object& body) override { body["seen"] = true; }
    void on_chunk(boost::json::object& chunk) override { chunk["n"] = ++n; }
    void on_stream_end(const boost::json::object* last, std::vector<boost::json::object>& extra) override {
      boost::json::object o;
      o["tail"] = last != nullptr;
      extra.push_back(o);
    }
    int n = 0;
  };

 private:
  std::string name_;
  Log& log_;
  bool stop_;
  bool transform_;
};

Chain make(Log& log, StageMode mid_mode, bool mid_transform = false) {
  std::vector<ChainEntry> e;
  e.push_back({std::make_unique<TestStage>("a", log), StageMode::kEnforce});
  e.push_back({std::make_unique<TestStage>("b", log, true, mid_transform), mid_mode});
  e.push_back({std::make_unique<TestStage>("c", log), StageMode::kEnforce});
  return Chain(std::move(e));
}

TEST(Chain, StopsAtLocalReplyAndCompletesInReverse) {
  Log log;
  Chain chain = make(log, StageMode::kEnforce);
  ExchangeContext ctx;
  auto out = chain.run_request(ctx);
  EXPECT_TRUE(out.replied);
  EXPECT_EQ(out.ran, 2u);
  ASSERT_NE(ctx.local_reply(), nullptr);
  EXPECT_EQ(ctx.local_reply()->status, 429);
  chain.run_complete(ctx, out.ran);
  EXPECT_EQ(log.calls, (std::vector<std::string>{"req:a", "req:b", "done:b", "done:a"}));
}

TEST(Chain, ShadowRecordsNoteAndGoesOn) {
  Log log;
  Chain chain = make(log, StageMode::kShadow, /*mid_transform=*/true);
  ExchangeContext ctx;
  auto out = chain.run_request(ctx);
  EXPECT_FALSE(out.replied);
  EXPECT_EQ(out.ran, 3u);
  EXPECT_EQ(ctx.local_reply(), nullptr);
  EXPECT_TRUE(ctx.transforms().empty());
  ASSERT_EQ(ctx.notes.size(), 1u);
  EXPECT_EQ(ctx.notes[0].first, "b");
  EXPECT_EQ(ctx.notes[0].second, "shadow: would reply 429 rate_limit_exceeded");
}

TEST(Chain, OffStagesAreSkipped) {
  Log log;
  Chain chain = make(log, StageMode::kOff);
  ExchangeContext ctx;
  auto out = chain.run_request(ctx);
  EXPECT_FALSE(out.replied);
  chain.run_complete(ctx, out.ran);
  EXPECT_EQ(log.calls, (std::vector<std::string>{"req:a", "req:c", "done:c", "done:a"}));
}

TEST(StreamTransformer, TransformsChunksAndFlushesBeforeDone) {
  ExchangeContext ctx;
  ctx.add_transform(std::make_unique<TestStage::Upper>());
  StreamTransformer st(ctx.transforms());
  std::string out;
  const boost::json::object* parsed = nullptr;
  st.process_event("data: {\"a\":1}\n\n", out, &parsed);
  ASSERT_NE(parsed, nullptr);
  EXPECT_EQ(parsed->at("n").as_int64(), 1);
  st.process_event(": keep-alive\n\n", out, &parsed);
  EXPECT_EQ(parsed, nullptr);
  st.process_event("data: [DONE]\n\n", out, &parsed);
  EXPECT_EQ(out, "data: {\"a\":1,\"n\":1}\n\n: keep-alive\n\ndata: {\"tail\":true}\n\ndata: [DONE]\n\n");
}

TEST(StreamTransformer, LaterTransformsSeeFlushedChunks) {
  ExchangeContext ctx;
  ctx.add_transform(std::make_unique<TestStage::Upper>());
  ctx.add_transform(std::make_unique<TestStage::Upper>());
  StreamTransformer st(ctx.transforms());
  std::string out;
  st.finish(out);
  // The first transform's tail chunk passes the second's on_chunk (n=1).
  EXPECT_EQ(out, "data: {\"tail\":false,\"n\":1}\n\ndata: {\"tail\":false}\n\n");
}

}  // namespace
}  // namespace dg::pipeline
