// The HTTP server in-process on an ephemeral loopback port with a tiny model, driven by
// httplib::Client: completions (plain and streamed), chat, errors as OpenAI JSON, API keys, a
// client hanging up mid-stream (its KV blocks are freed), and draining on stop.
#include <gtest/gtest.h>
#include <httplib.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "runtime/scheduler.h"
#include "server/http_server.h"
#include "test_util.h"
#include "tiny_llama.h"

namespace quanta::server {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

// Wide enough that a step takes about a millisecond: a stream of thousands of tokens is still
// running when the client hangs up or the server is stopped.
const testing_util::TinyLlamaSpec kSlower{256, 1024, 4, 4, 2};

class ServerTest : public ::testing::Test {
 protected:
  void start(ServerOptions so = {}, EngineOptions eo = {}, testing_util::TinyLlamaSpec spec = {}) {
    dir_ = testing_util::write_tiny_llama(testing_util::temp_dir(), spec);
    model_ = std::make_unique<LlamaModel>(LlamaModel::load(dir_));
    tok_ = std::make_unique<Tokenizer>(Tokenizer::load(dir_));
    if (eo.ctx == EngineOptions{}.ctx) eo.ctx = 256;
    eo.eos_ids = {2};
    engine_ = std::make_unique<Engine>(*model_, *tok_, eo);
    so.port = 0;
    so.model_name = "tiny";
    http_ = std::make_unique<HttpServer>(*engine_, *tok_, so);
    port_ = http_->bind();
    thread_ = std::thread([this] { http_->run(); });
    client_ = std::make_unique<httplib::Client>("127.0.0.1", port_);
    client_->set_read_timeout(30, 0);
  }
  void TearDown() override {
    if (http_) http_->stop();
    if (thread_.joinable()) thread_.join();
  }
  httplib::Result post(const std::string& path, const std::string& body, httplib::Headers h = {}) {
    return client_->Post(path.c_str(), h, body, "application/json");
  }
  // Streams a request; returns the SSE payloads (after "data: "). hang_up_after > 0 closes the
  // connection after that many events.
  std::vector<std::string> stream(const std::string& path, const json& body, int hang_up_after = 0) {
    httplib::Request req;
    req.method = "POST";
    req.path = path;
    req.set_header("Content-Type", "application/json");
    req.body = body.dump();
    std::string buf;
    std::vector<std::string> events;
    req.content_receiver = [&](const char* d, size_t n, uint64_t, uint64_t) {
      buf.append(d, n);
      for (size_t e; (e = buf.find("\n\n")) != std::string::npos;) {
        EXPECT_EQ(buf.rfind("data: ", 0), 0u);
        events.push_back(buf.substr(6, e - 6));
        buf.erase(0, e + 2);
      }
      return hang_up_after == 0 || int(events.size()) < hang_up_after;
    };
    httplib::Client c("127.0.0.1", port_);
    auto res = c.send(req);
    if (hang_up_after == 0) {
      EXPECT_TRUE(res);
      if (res) {
        EXPECT_EQ(res->status, 200);
        EXPECT_EQ(res->get_header_value("Content-Type"), "text/event-stream");
      }
    }
    return events;
  }
  double metric(const std::string& name) {
    auto res = client_->Get("/metrics");
    EXPECT_TRUE(res && res->status == 200);
    const size_t p = res->body.find("\n" + name + " ");
    return p == std::string::npos ? -1 : std::stod(res->body.substr(p + name.size() + 2));
  }
  // Expects an OpenAI error object with this status.
  void expect_error(const httplib::Result& res, int status, const std::string& param = "") {
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, status) << res->body;
    const json j = json::parse(res->body, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << res->body;
    ASSERT_TRUE(j.contains("error")) << res->body;
    EXPECT_TRUE(j["error"]["message"].is_string());
    EXPECT_TRUE(j["error"].contains("type") && j["error"].contains("code"));
    if (!param.empty()) EXPECT_EQ(j["error"]["param"], param) << res->body;
  }

  std::string dir_;
  std::unique_ptr<LlamaModel> model_;
  std::unique_ptr<Tokenizer> tok_;
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<HttpServer> http_;
  std::thread thread_;
  int port_ = 0;
  std::unique_ptr<httplib::Client> client_;
};

TEST_F(ServerTest, CompletionStreamAndChat) {
  start();
  auto res = client_->Get("/health");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  res = client_->Get("/v1/models");
  ASSERT_TRUE(res);
  EXPECT_EQ(json::parse(res->body)["data"][0]["id"], "tiny");

  const json req = {{"prompt", "hello"}, {"max_tokens", 12}, {"temperature", 0}, {"ignore_eos", true}};
  res = post("/v1/completions", req.dump());
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  const json full = json::parse(res->body);
  EXPECT_EQ(full["object"], "text_completion");
  EXPECT_EQ(full["model"], "tiny");
  EXPECT_EQ(full["usage"]["prompt_tokens"], 5);
  EXPECT_EQ(full["usage"]["completion_tokens"], 12);
  EXPECT_EQ(full["choices"][0]["finish_reason"], "length");

  // The same greedy request streamed: the chunks add up to the same text.
  json sreq = req;
  sreq["stream"] = true;
  sreq["stream_options"] = {{"include_usage", true}};
  const std::vector<std::string> ev = stream("/v1/completions", sreq);
  ASSERT_GE(ev.size(), 3u);
  EXPECT_EQ(ev.back(), "[DONE]");
  std::string text;
  std::string finish;
  int64_t usage = -1;
  for (size_t i = 0; i + 1 < ev.size(); ++i) {
    const json j = json::parse(ev[i]);
    EXPECT_EQ(j["object"], "text_completion");
    if (j.contains("usage")) {
      usage = j["usage"]["completion_tokens"];
      continue;
    }
    text += j["choices"][0]["text"].get<std::string>();
    if (!j["choices"][0]["finish_reason"].is_null()) finish = j["choices"][0]["finish_reason"];
  }
  EXPECT_EQ(text, full["choices"][0]["text"].get<std::string>());
  EXPECT_EQ(finish, "length");
  EXPECT_EQ(usage, 12);

  const json chat = {{"messages", {{{"role", "user"}, {"content", "hi"}}}}, {"max_tokens", 5}, {"seed", 3}};
  res = post("/v1/chat/completions", chat.dump());
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  const json c = json::parse(res->body);
  EXPECT_EQ(c["object"], "chat.completion");
  EXPECT_EQ(c["choices"][0]["message"]["role"], "assistant");
  EXPECT_EQ(c["usage"]["prompt_tokens"], int64_t(tok_->encode("<user>hi\n<assistant>").size()));
  json schat = chat;
  schat["stream"] = true;
  const std::vector<std::string> cev = stream("/v1/chat/completions", schat);
  ASSERT_GE(cev.size(), 2u);
  EXPECT_EQ(json::parse(cev[0])["choices"][0]["delta"]["role"], "assistant");
  EXPECT_EQ(json::parse(cev[0])["object"], "chat.completion.chunk");
  EXPECT_EQ(metric("quanta_kv_blocks_used"), 0);
  EXPECT_GE(metric("quanta_generation_tokens_total"), 12 + 12);
}

TEST_F(ServerTest, BadRequestsGetJsonErrorsAndTheServerKeepsServing) {
  ServerOptions so;
  so.max_body_bytes = 2000;
  start(so);
  expect_error(post("/v1/completions", "{not json"), 400);
  expect_error(post("/v1/completions", R"({"prompt": 1})"), 400, "prompt");
  expect_error(post("/v1/completions", R"({"prompt": "x", "n": 2})"), 400, "n");
  expect_error(post("/v1/completions", R"({"prompt": "x", "max_tokens": 1000})"), 400, "max_tokens");
  expect_error(post("/v1/completions", json{{"prompt", std::string(300, 'x')}}.dump()), 400, "prompt");
  expect_error(post("/v1/chat/completions", R"({"prompt": "x"})"), 400, "messages");
  expect_error(post("/v1/completions", json{{"prompt", std::string(5000, 'x')}}.dump()), 413);
  expect_error(client_->Get("/v1/nothing"), 404);
  expect_error(post("/v2/completions", "{}"), 404);
  auto res = post("/v1/completions", R"({"prompt": "ok", "max_tokens": 2})");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  const auto m = client_->Get("/metrics");
  ASSERT_TRUE(m);
  EXPECT_NE(m->body.find("quanta_http_responses_total{code=\"400\"} 6"), std::string::npos) << m->body;
}

TEST_F(ServerTest, SecondServerOnTheSamePortFailsToBind) {
  start();
  ServerOptions so;
  so.port = port_;
  HttpServer second(*engine_, *tok_, so);
  EXPECT_NE(testing_util::error_of([&] { second.bind(); }).find("cannot bind"), std::string::npos);
}

TEST_F(ServerTest, ApiKey) {
  ServerOptions so;
  so.api_key = "sekret";
  start(so);
  const std::string body = R"({"prompt": "a", "max_tokens": 1})";
  expect_error(post("/v1/completions", body), 401);
  expect_error(post("/v1/completions", body, {{"Authorization", "Bearer wrong"}}), 401);
  auto res = post("/v1/completions", body, {{"Authorization", "Bearer sekret"}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  res = client_->Get("/health");  // liveness needs no key
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
}

TEST_F(ServerTest, HangingUpMidStreamFreesBlocks) {
  EngineOptions eo;
  eo.ctx = 4096;
  start({}, eo, kSlower);
  const json req = {{"prompt", "long one"}, {"max_tokens", 4000}, {"ignore_eos", true}, {"stream", true}};
  const std::vector<std::string> ev = stream("/v1/completions", req, 3);
  EXPECT_EQ(ev.size(), 3u);
  double used = -1;
  for (int i = 0; i < 500 && (used = metric("quanta_kv_blocks_used")) != 0; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(used, 0);
  EXPECT_LT(metric("quanta_generation_tokens_total"), 4000);
  auto res = client_->Get("/metrics");
  EXPECT_NE(res->body.find("quanta_requests_total{outcome=\"cancelled\"} 1"), std::string::npos);
  res = post("/v1/completions", R"({"prompt": "still here", "max_tokens": 2})");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
}

TEST_F(ServerTest, StopDrainsInFlightRequests) {
  start({}, {}, kSlower);
  const json req = {{"prompt", "drain"}, {"max_tokens", 80}, {"ignore_eos", true}, {"stream", true}};
  std::vector<std::string> ev;
  std::thread t([&] { ev = stream("/v1/completions", req); });
  while (metric("quanta_generation_tokens_total") < 1) std::this_thread::sleep_for(1ms);
  std::thread stopper([&] { http_->drain_and_stop(); });
  // While draining, new work is refused with 503.
  uint64_t before_drain = 0;  // late requests that arrived before the drain began: served
  for (int i = 0; i < 1000; ++i) {
    auto res = post("/v1/completions", R"({"prompt": "late", "max_tokens": 2})");
    if (!res) break;  // already stopped
    if (res->status == 200) ++before_drain;
    if (res->status == 503) {
      expect_error(res, 503);
      break;
    }
    std::this_thread::sleep_for(1ms);
  }
  stopper.join();
  t.join();
  ASSERT_FALSE(ev.empty());
  EXPECT_EQ(ev.back(), "[DONE]");
  thread_.join();
  EXPECT_EQ(engine_->metrics().requests_finished, 1u + before_drain);
}

}  // namespace
}  // namespace quanta::server
