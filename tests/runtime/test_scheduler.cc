// The continuous-batching engine on a tiny random model: concurrent greedy requests give the same
// text as generate() alone; chunked prefill; cancellation and completion free KV blocks;
// requests that cannot fit are refused.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "runtime/generate.h"
#include "runtime/scheduler.h"
#include "runtime/text_stream.h"
#include "test_util.h"
#include "tiny_llama.h"

namespace quanta {
namespace {

using namespace std::chrono_literals;

struct Collected {
  std::string text, finish;
  int64_t completion_tokens = 0;
};

Collected collect(RequestChannel& ch) {
  Collected c;
  StreamEvent e;
  for (;;) {
    if (!ch.pop(e, 30s)) {
      ADD_FAILURE() << "no event in 30 s";
      return c;
    }
    c.text += e.text;
    if (e.done) break;
  }
  c.finish = e.finish_reason;
  c.completion_tokens = e.completion_tokens;
  return c;
}

class SchedulerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing_util::write_tiny_llama(testing_util::temp_dir());
    model_ = std::make_unique<LlamaModel>(LlamaModel::load(dir_));
    tok_ = std::make_unique<Tokenizer>(Tokenizer::load(dir_));
  }
  RequestParams params(const std::string& prompt, int64_t max_tokens) {
    RequestParams p;
    p.prompt = tok_->encode(prompt);
    p.max_tokens = max_tokens;
    p.ignore_eos = true;
    return p;
  }
  std::string dir_;
  std::unique_ptr<LlamaModel> model_;
  std::unique_ptr<Tokenizer> tok_;
};

TEST_F(SchedulerTest, ConcurrentGreedyMatchesGenerateAlone) {
  EngineOptions eo;
  eo.max_batch = 3;  // five requests: two wait, then join as others finish
  eo.ctx = 128;
  eo.block_size = 4;
  eo.prefill_chunk = 8;  // prompts longer than 8 tokens are prefilled over several steps
  const std::vector<std::string> prompts = {"a", "hello there, this is long enough to chunk", "xyz",
                                            "0123456789abcdefghij", "q"};
  const std::vector<int64_t> lens = {20, 7, 33, 12, 1};
  std::vector<std::string> expected;
  for (size_t i = 0; i < prompts.size(); ++i) {
    GenerateOptions go;
    go.max_tokens = lens[i];
    go.context = 128;
    expected.push_back(generate(*model_, *tok_, tok_->encode(prompts[i]), go).text);
  }
  Engine engine(*model_, *tok_, eo);
  std::vector<std::shared_ptr<RequestChannel>> chans;
  for (size_t i = 0; i < prompts.size(); ++i) chans.push_back(engine.submit(params(prompts[i], lens[i])));
  for (size_t i = 0; i < prompts.size(); ++i) {
    const Collected c = collect(*chans[i]);
    EXPECT_EQ(c.text, expected[i]) << "request " << i;
    EXPECT_EQ(c.finish, "length");
    EXPECT_EQ(c.completion_tokens, lens[i]);
  }
  const EngineMetrics m = engine.metrics();
  EXPECT_EQ(m.requests_finished, 5u);
  EXPECT_EQ(m.kv_blocks_used, 0);
  EXPECT_EQ(m.generation_tokens, uint64_t(20 + 7 + 33 + 12 + 1));
  EXPECT_EQ(m.ttft.count, 5u);
  EXPECT_EQ(m.itl.count, uint64_t(19 + 6 + 32 + 11 + 0));
  EXPECT_EQ(m.running, 0);
}

TEST_F(SchedulerTest, CancelFreesBlocksAtOnce) {
  EngineOptions eo;
  eo.ctx = 512;
  eo.max_batch = 2;
  Engine engine(*model_, *tok_, eo);
  auto ch = engine.submit(params("cancel me", 500));
  StreamEvent e;
  ASSERT_TRUE(ch->pop(e, 30s));
  EXPECT_GT(engine.metrics().kv_blocks_used, 0);
  ch->cancel();
  for (int i = 0; i < 300 && engine.metrics().kv_blocks_used != 0; ++i) std::this_thread::sleep_for(10ms);
  const EngineMetrics m = engine.metrics();
  EXPECT_EQ(m.kv_blocks_used, 0);
  EXPECT_EQ(m.requests_cancelled, 1u);
  // The engine still serves.
  EXPECT_EQ(collect(*engine.submit(params("next", 3))).completion_tokens, 3);
}

TEST_F(SchedulerTest, StopStringsAndEos) {
  EngineOptions eo;
  eo.ctx = 128;
  Engine engine(*model_, *tok_, eo);
  GenerateOptions go;
  go.max_tokens = 40;
  go.context = 128;
  const std::string full = generate(*model_, *tok_, tok_->encode("s"), go).text;
  ASSERT_GE(full.size(), 6u);
  RequestParams p = params("s", 40);
  p.stop = {full.substr(3, 2)};
  const Collected c = collect(*engine.submit(p));
  EXPECT_EQ(c.finish, "stop");
  EXPECT_EQ(c.text, full.substr(0, full.find(p.stop[0])));
  // The first greedy token as the only EOS id: the request ends at once with "stop".
  GenerateOptions one;
  one.max_tokens = 1;
  EngineOptions eo2 = eo;
  eo2.eos_ids = {generate(*model_, *tok_, tok_->encode("s"), one).tokens.at(0)};
  Engine engine2(*model_, *tok_, eo2);
  RequestParams q = params("s", 10);
  q.ignore_eos = false;
  const Collected d = collect(*engine2.submit(q));
  EXPECT_EQ(d.finish, "stop");
  EXPECT_EQ(d.text, "");
  EXPECT_EQ(d.completion_tokens, 1);
}

TEST_F(SchedulerTest, RefusesRequestsThatCannotFit) {
  EngineOptions eo;
  eo.ctx = 32;
  eo.kv_blocks = 2;
  eo.block_size = 8;
  Engine engine(*model_, *tok_, eo);
  EXPECT_NE(testing_util::error_of([&] { engine.submit(params("abc", 30)); }).find("context"), std::string::npos);
  EXPECT_NE(testing_util::error_of([&] { engine.submit(params("abc", 20)); }).find("KV blocks"), std::string::npos);
  EXPECT_NE(testing_util::error_of([&] { engine.submit(params("", 2)); }).find("empty"), std::string::npos);
  EXPECT_EQ(collect(*engine.submit(params("abc", 10))).completion_tokens, 10);
}

TEST(TextStream, HoldsBackStopPrefixesAndPartialUtf8) {
  TextStream s({"END"});
  EXPECT_EQ(s.push("ab"), "ab");
  EXPECT_EQ(s.push("cE"), "c");  // "E" may start "END"
  EXPECT_EQ(s.push("x"), "Ex");
  EXPECT_EQ(s.push("\xc3"), "");  // half of "é"
  EXPECT_EQ(s.push("\xa9"), "\xc3\xa9");
  EXPECT_EQ(s.push("EN"), "");
  EXPECT_EQ(s.push("Dzz"), "");
  EXPECT_TRUE(s.stopped());
  EXPECT_EQ(s.text(), "abcEx\xc3\xa9");
  TextStream t({});
  EXPECT_EQ(t.push("\xe2\x82"), "");
  EXPECT_EQ(t.flush(), "\xe2\x82");
}

}  // namespace
}  // namespace quanta
