// Request parsing/validation and response shaping of the OpenAI-compatible API, without sockets.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "io/hf_config.h"
#include "server/loadtest.h"
#include "server/openai_request.h"
#include "server/openai_response.h"
#include "test_util.h"
#include "tiny_llama.h"

namespace quanta::server {
namespace {

using nlohmann::json;

// The ApiError a parse throws: (status, param); (0, "") if none.
std::pair<int, std::string> parse_error(const std::string& body, bool chat = false) {
  try {
    parse_completion_request(body, chat);
  } catch (const ApiError& e) {
    return {e.status, e.param};
  }
  return {0, ""};
}

TEST(OpenAiRequest, ParsesCompletionFields) {
  const CompletionRequest r = parse_completion_request(
      R"({"model": "m", "prompt": "hi", "max_tokens": 7, "temperature": 0.5, "top_p": 0.9,
          "seed": 42, "stop": ["a", "bc"], "stream": true, "n": 1, "ignore_eos": true,
          "stream_options": {"include_usage": true}})",
      false);
  EXPECT_EQ(r.prompt, "hi");
  EXPECT_EQ(r.model, "m");
  EXPECT_EQ(*r.max_tokens, 7);
  EXPECT_FLOAT_EQ(r.temperature, 0.5f);
  EXPECT_FLOAT_EQ(r.top_p, 0.9f);
  EXPECT_EQ(*r.seed, 42u);
  EXPECT_EQ(r.stop, (std::vector<std::string>{"a", "bc"}));
  EXPECT_TRUE(r.stream && r.ignore_eos && r.include_usage);
  EXPECT_EQ(parse_completion_request(R"({"prompt": "x", "stop": "s"})", false).stop,
            std::vector<std::string>{"s"});
  EXPECT_EQ(parse_completion_request(R"({"prompt": [5, 6, 7]})", false).prompt_ids,
            (std::vector<int32_t>{5, 6, 7}));
  EXPECT_EQ(parse_completion_request(R"({"prompt": ["one"]})", false).prompt, "one");
  const CompletionRequest c = parse_completion_request(
      R"({"messages": [{"role": "system", "content": "s"},
                       {"role": "user", "content": [{"type": "text", "text": "u"}]}]})", true);
  ASSERT_EQ(c.messages.size(), 2u);
  EXPECT_EQ(c.messages[1].role, "user");
  EXPECT_EQ(c.messages[1].content, "u");
  EXPECT_FALSE(c.max_tokens.has_value());
}

TEST(OpenAiRequest, RejectsBadInputWithTheField) {
  EXPECT_EQ(parse_error("{not json"), std::make_pair(400, std::string()));
  EXPECT_EQ(parse_error("[1]"), std::make_pair(400, std::string()));
  EXPECT_EQ(parse_error("{}"), std::make_pair(400, std::string("prompt")));
  EXPECT_EQ(parse_error(R"({"prompt": 5})"), std::make_pair(400, std::string("prompt")));
  EXPECT_EQ(parse_error(R"({"prompt": ["a", "b"]})"), std::make_pair(400, std::string("prompt")));
  EXPECT_EQ(parse_error(R"({"prompt": "x", "max_tokens": "3"})"), std::make_pair(400, std::string("max_tokens")));
  EXPECT_EQ(parse_error(R"({"prompt": "x", "max_tokens": 0})"), std::make_pair(400, std::string("max_tokens")));
  EXPECT_EQ(parse_error(R"({"prompt": "x", "temperature": 3})"), std::make_pair(400, std::string("temperature")));
  EXPECT_EQ(parse_error(R"({"prompt": "x", "top_p": 0})"), std::make_pair(400, std::string("top_p")));
  EXPECT_EQ(parse_error(R"({"prompt": "x", "n": 2})"), std::make_pair(400, std::string("n")));
  EXPECT_EQ(parse_error(R"({"prompt": "x", "stop": 3})"), std::make_pair(400, std::string("stop")));
  EXPECT_EQ(parse_error(R"({"prompt": "x", "stream": "yes"})"), std::make_pair(400, std::string("stream")));
  EXPECT_EQ(parse_error(R"({"prompt": "x", "seed": 1.5})"), std::make_pair(400, std::string("seed")));
  EXPECT_EQ(parse_error(R"({"prompt": "x"})", true), std::make_pair(400, std::string("messages")));
  EXPECT_EQ(parse_error(R"({"messages": []})", true), std::make_pair(400, std::string("messages")));
  EXPECT_EQ(parse_error(R"({"messages": [{"role": "wizard", "content": "x"}]})", true),
            std::make_pair(400, std::string("messages[0].role")));
  EXPECT_EQ(parse_error(R"({"messages": [{"role": "user", "content": 5}]})", true),
            std::make_pair(400, std::string("messages[0].content")));
  // Content parts whose "type" is not a string were a json::type_error (HTTP 500), not a 400.
  for (const char* part : {R"({"type": 5, "text": "x"})", R"({"type": null})", R"({"type": ["text"]})",
                           R"({"text": "x"})"})
    EXPECT_EQ(parse_error(std::string(R"({"messages": [{"role": "user", "content": [)") + part + "]}]}", true),
              std::make_pair(400, std::string("messages[0].content")))
        << part;
}

// Bodies fuzz_openai_request found (first byte: 1 = chat, as the fuzzer reads it), each a 400 now
// (a json::out_of_range for "11111.111e1111743" escaped as a 500 before).
TEST(OpenAiRequest, FuzzRegressionsAreApiErrors) {
  const std::filesystem::path dir = std::filesystem::path(QUANTA_SOURCE_DIR) / "tests/data/fuzz";
  int n = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name.rfind("request_", 0) != 0) continue;
    ++n;
    const std::string data = read_file(e.path().string());
    ASSERT_FALSE(data.empty());
    EXPECT_EQ(parse_error(data.substr(1), data[0] & 1).first, 400) << name;
  }
  EXPECT_GE(n, 1);
}

TEST(OpenAiRequest, PromptAndMaxTokensAgainstTheContext) {
  const std::string dir = testing_util::write_tiny_llama(testing_util::temp_dir());
  const Tokenizer tok = Tokenizer::load(dir);
  CompletionRequest r = parse_completion_request(R"({"prompt": "hello"})", false);
  RequestParams p = to_request_params(r, tok, 64);
  EXPECT_EQ(p.prompt.size(), 5u);  // five byte tokens, no BOS post-processor
  EXPECT_EQ(p.max_tokens, 16);     // the completions default
  r.max_tokens = 59;
  EXPECT_EQ(to_request_params(r, tok, 64).max_tokens, 59);
  r.max_tokens = 60;  // 5 + 60 > 64
  try {
    to_request_params(r, tok, 64);
    ADD_FAILURE() << "max_tokens over the context accepted";
  } catch (const ApiError& e) {
    EXPECT_EQ(e.status, 400);
    EXPECT_EQ(e.param, "max_tokens");
  }
  r.prompt = std::string(64, 'x');
  r.max_tokens.reset();
  try {
    to_request_params(r, tok, 64);
    ADD_FAILURE() << "prompt as long as the context accepted";
  } catch (const ApiError& e) {
    EXPECT_EQ(e.param, "prompt");
    EXPECT_NE(std::string(e.what()).find("64 tokens"), std::string::npos);
  }
  // Chat: through the template; no max_tokens means the rest of the context.
  const CompletionRequest c = parse_completion_request(R"({"messages": [{"role": "user", "content": "hi"}]})", true);
  p = to_request_params(c, tok, 64);
  EXPECT_EQ(tok.decode(p.prompt), "<user>hi\n<assistant>");
  EXPECT_EQ(p.max_tokens, 64 - int64_t(p.prompt.size()));
}

TEST(OpenAiResponse, ShapesMatchOpenAi) {
  const ResponseMeta chat{"chatcmpl-1", "m", 100, true}, cmpl{"cmpl-1", "m", 100, false};
  json j = json::parse(completion_json(chat, "hey", "stop", 3, 2));
  EXPECT_EQ(j["object"], "chat.completion");
  EXPECT_EQ(j["choices"][0]["message"]["content"], "hey");
  EXPECT_EQ(j["choices"][0]["message"]["role"], "assistant");
  EXPECT_EQ(j["choices"][0]["finish_reason"], "stop");
  EXPECT_EQ(j["usage"]["total_tokens"], 5);
  j = json::parse(completion_json(cmpl, "t", "length", 1, 1));
  EXPECT_EQ(j["object"], "text_completion");
  EXPECT_EQ(j["choices"][0]["text"], "t");

  std::string ev = stream_chunk(chat, "a", true, "");
  ASSERT_EQ(ev.rfind("data: ", 0), 0u);
  ASSERT_EQ(ev.substr(ev.size() - 2), "\n\n");
  j = json::parse(ev.substr(6));
  EXPECT_EQ(j["object"], "chat.completion.chunk");
  EXPECT_EQ(j["choices"][0]["delta"]["role"], "assistant");
  EXPECT_EQ(j["choices"][0]["delta"]["content"], "a");
  EXPECT_TRUE(j["choices"][0]["finish_reason"].is_null());
  j = json::parse(stream_chunk(chat, "", false, "length").substr(6));
  EXPECT_EQ(j["choices"][0]["finish_reason"], "length");
  EXPECT_TRUE(j["choices"][0]["delta"].empty());
  j = json::parse(stream_usage_chunk(cmpl, 4, 6).substr(6));
  EXPECT_TRUE(j["choices"].empty());
  EXPECT_EQ(j["usage"]["completion_tokens"], 6);

  j = json::parse(error_json(ApiError(400, "bad max_tokens", "max_tokens")));
  EXPECT_EQ(j["error"]["message"], "bad max_tokens");
  EXPECT_EQ(j["error"]["type"], "invalid_request_error");
  EXPECT_EQ(j["error"]["param"], "max_tokens");
  EXPECT_TRUE(j["error"]["code"].is_null());
  j = json::parse(models_json("smol", 5));
  EXPECT_EQ(j["data"][0]["id"], "smol");
  // Invalid UTF-8 from a byte-level model is replaced, never a throw.
  EXPECT_NO_THROW(json::parse(completion_json(cmpl, std::string("\xff"), "stop", 1, 1)));
}

TEST(OpenAiResponse, MetricsText) {
  EngineMetrics m;
  m.generation_tokens = 12;
  m.kv_blocks_used = 3;
  m.kv_blocks_total = 10;
  m.ttft.observe(0.02);
  m.ttft.observe(7);
  const std::string t = metrics_text(m, {{200, 4}, {400, 1}});
  EXPECT_NE(t.find("quanta_generation_tokens_total 12\n"), std::string::npos);
  EXPECT_NE(t.find("quanta_kv_blocks_used 3\n"), std::string::npos);
  EXPECT_NE(t.find("quanta_kv_blocks_total 10\n"), std::string::npos);
  EXPECT_NE(t.find("quanta_http_responses_total{code=\"400\"} 1\n"), std::string::npos);
  EXPECT_NE(t.find("quanta_time_to_first_token_seconds_bucket{le=\"0.025\"} 1\n"), std::string::npos);
  EXPECT_NE(t.find("quanta_time_to_first_token_seconds_bucket{le=\"10\"} 2\n"), std::string::npos);
  EXPECT_NE(t.find("quanta_time_to_first_token_seconds_count 2\n"), std::string::npos);
  EXPECT_NE(t.find("# TYPE quanta_inter_token_latency_seconds histogram"), std::string::npos);
}

TEST(Loadtest, Percentile) {
  EXPECT_EQ(percentile({}, 50), 0);
  EXPECT_DOUBLE_EQ(percentile({3, 1, 2}, 50), 2);
  EXPECT_DOUBLE_EQ(percentile({1, 2, 3, 4}, 50), 2.5);
  EXPECT_DOUBLE_EQ(percentile({1, 2, 3, 4}, 100), 4);
  EXPECT_DOUBLE_EQ(percentile({1, 2, 3, 4}, 0), 1);
}

}  // namespace
}  // namespace quanta::server
