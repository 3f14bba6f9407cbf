// A generation request as the scheduler sees it, and the channel its results come back through:
// the engine thread pushes events, the thread serving the client pops them or cancels.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

#include "runtime/sampler.h"

namespace quanta {

struct RequestParams {
  std::vector<int32_t> prompt;
  int64_t max_tokens = 16;
  SamplingParams sampling;
  std::vector<std::string> stop;  // stop strings, not included in the output
  bool ignore_eos = false;        // generate exactly max_tokens (benchmarks)
};

struct StreamEvent {
  std::string text;  // newly final text; may be empty
  bool done = false;
  std::string finish_reason;  // when done: "stop", "length", "cancelled" or "error"
  std::string error;          // when finish_reason is "error"
  int64_t prompt_tokens = 0, completion_tokens = 0;
};

class RequestChannel {
 public:
  void push(StreamEvent e) {
    {
      std::lock_guard<std::mutex> lk(mu_);
      events_.push_back(std::move(e));
    }
    cv_.notify_all();
  }
  // Waits up to `timeout` for the next event; false if none came.
  bool pop(StreamEvent& e, std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lk(mu_);
    if (!cv_.wait_for(lk, timeout, [&] { return !events_.empty(); })) return false;
    e = std::move(events_.front());
    events_.pop_front();
    return true;
  }
  // The client went away: the engine drops the request at its next step and frees its blocks.
  void cancel() { cancelled_ = true; }
  bool cancelled() const { return cancelled_; }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<StreamEvent> events_;
  std::atomic<bool> cancelled_{false};
};

}  // namespace quanta
