// The OpenAI-compatible HTTP front end (cpp-httplib, plain HTTP): routes, API-key check, body
// limit, JSON errors for every 4xx, server-sent-event streaming from a request's channel. The
// model runs on the Engine's thread; the HTTP worker threads only parse, submit and relay.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "io/tokenizer.h"
#include "runtime/scheduler.h"

namespace quanta::server {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8000;                 // 0: any free port (see bound_port)
  std::string api_key;             // empty: no authentication
  std::string model_name = "quanta";
  size_t max_body_bytes = 1 << 20;
  int http_threads = 64;           // concurrent connections served
};

class HttpServer {
 public:
  HttpServer(Engine& engine, const Tokenizer& tok, ServerOptions opt);
  ~HttpServer();

  // Binds the listening socket; throws quanta::Error if it cannot. Returns the port.
  int bind();
  // Serves until stop(); returns after in-flight requests finished.
  void run();
  // Graceful stop (SIGINT/SIGTERM): new completion requests get 503 while the ones in flight
  // (streams included) finish, for at most `timeout_s`; then stop(). Blocks; any thread.
  void drain_and_stop(double timeout_s = 600);
  // Closes the listening socket and cuts open connections at once; run() then returns.
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace quanta::server
