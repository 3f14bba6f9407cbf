// Continuous batching: one engine thread owns the model and a paged KV cache. Requests wait in a
// queue; between steps, waiting requests join the running batch (up to max_batch, FIFO, when the
// KV blocks for their prompt + max_tokens are free); each step runs every running request's next
// tokens together: a decode token, or a chunk of its prompt (at most prefill_chunk prompt tokens
// per step in all, so a long prompt does not stall the others). A request that finishes, stops or
// is cancelled frees its blocks before the next step.
#pragma once

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>

#include "io/tokenizer.h"
#include "model/llama.h"
#include "runtime/metrics.h"
#include "runtime/request.h"

namespace quanta {

struct EngineOptions {
  int64_t max_batch = 8;
  int64_t ctx = 2048;         // prompt + generated tokens per request
  int64_t kv_blocks = 0;      // 0: enough for max_batch full contexts
  int64_t block_size = 16;    // tokens per KV block
  int64_t prefill_chunk = 128;
  std::vector<int32_t> eos_ids;
};

class Engine {
 public:
  Engine(LlamaModel& model, const Tokenizer& tok, EngineOptions opt);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Queues a request. Throws quanta::Error if it could never run: empty prompt, prompt +
  // max_tokens over the context or over the whole KV cache, or the engine is stopping.
  std::shared_ptr<RequestChannel> submit(RequestParams p);
  // Finishes the requests already submitted, then stops the engine thread. Idempotent.
  void stop();
  EngineMetrics metrics() const;
  const EngineOptions& options() const { return opt_; }

 private:
  struct Active;
  void loop();
  void step(std::vector<std::unique_ptr<Active>>& running);
  void admit(std::vector<std::unique_ptr<Active>>& running);
  void finish(Active& a, const std::string& reason, std::string text = "", std::string error = "");

  LlamaModel& model_;
  const Tokenizer& tok_;
  EngineOptions opt_;
  PagedKvCache cache_;
  std::vector<float> logits_;

  mutable std::mutex mu_;  // guards waiting_, stopping_, metrics_
  std::condition_variable cv_;
  std::deque<std::unique_ptr<Active>> waiting_;
  bool stopping_ = false;
  EngineMetrics metrics_;
  std::thread thread_;
};

}  // namespace quanta
