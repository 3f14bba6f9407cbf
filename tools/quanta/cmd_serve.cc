// quanta serve: an OpenAI-compatible HTTP server with continuous batching over a paged KV cache.
// SIGINT/SIGTERM stop accepting connections, let in-flight requests finish, and exit 0.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "commands.h"
#include "io/hf_config.h"
#include "io/tokenizer.h"
#include "runtime/scheduler.h"
#include "server/http_server.h"

namespace quanta::cli {
namespace {

struct ServeArgs {
  LmHeadOption lm_head;
  std::string model, host = "127.0.0.1", api_key, name;
  std::string kv_type = "f16";
  int port = 8000;
  int64_t max_batch = 8, ctx = 2048, kv_blocks = 0, block_size = 16, prefill_chunk = 128;
  size_t max_body = 1 << 20;
};

// Self-pipe: the handler (any thread may run it; OpenBLAS starts threads before main) only
// writes the signal number; a normal thread reads it and stops the server.
int g_signal_pipe[2] = {-1, -1};

extern "C" void on_stop_signal(int sig) {
  const unsigned char b = static_cast<unsigned char>(sig);
  [[maybe_unused]] const ssize_t n = write(g_signal_pipe[1], &b, 1);
}

void run_serve(const ServeArgs& a) {
  if (pipe(g_signal_pipe) != 0) fail("serve: cannot create a pipe for signal handling");
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);  // a client that hangs up mid-stream is a failed write, not a kill

  LlamaModel model = LlamaModel::load(a.model);
  prepare_for_inference(model, a.lm_head);
  model.set_kv_type(parse_kv_type(a.kv_type));
  Tokenizer tok = Tokenizer::load(a.model);
  const GenerationConfig gen = load_generation_config(a.model, model.config());
  EngineOptions eo;
  eo.max_batch = a.max_batch;
  eo.ctx = a.ctx;
  eo.kv_blocks = a.kv_blocks;
  eo.block_size = a.block_size;
  eo.prefill_chunk = a.prefill_chunk;
  eo.eos_ids = gen.eos_ids;
  if (tok.eos_id() >= 0 && std::find(eo.eos_ids.begin(), eo.eos_ids.end(), tok.eos_id()) == eo.eos_ids.end())
    eo.eos_ids.push_back(tok.eos_id());
  Engine engine(model, tok, eo);
  server::ServerOptions so;
  so.host = a.host;
  so.port = a.port;
  so.api_key = a.api_key;
  so.max_body_bytes = a.max_body;
  so.model_name = a.name.empty() ? std::filesystem::path(a.model).lexically_normal().filename().string() : a.name;
  if (so.model_name.empty()) so.model_name = std::filesystem::path(a.model).parent_path().filename().string();
  server::HttpServer http(engine, tok, so);
  const int port = http.bind();
  const EngineOptions& o = engine.options();
  std::fprintf(
      stderr,
      "quanta serve: %s on http://%s:%d (max batch %lld, context %lld, %lld KV blocks of %lld "
      "tokens, %.0f MB %s)%s\n",
      so.model_name.c_str(), a.host.c_str(), port, (long long)o.max_batch, (long long)o.ctx,
      (long long)o.kv_blocks, (long long)o.block_size,
      double(o.kv_blocks * o.block_size) * model.kv_bytes_per_token() / 1e6, a.kv_type.c_str(),
      a.api_key.empty() ? "" : ", API key required");
  std::thread waiter([&] {
    unsigned char sig = 0;
    while (read(g_signal_pipe[0], &sig, 1) < 0 && errno == EINTR) {
    }
    if (sig == 0) return;  // woken by run_serve itself
    std::fprintf(stderr, "quanta serve: signal %d: no new requests; draining those in flight\n", sig);
    http.drain_and_stop();
  });
  http.run();
  engine.stop();
  // run() also returns if listening failed: wake the waiter so it can be joined.
  const unsigned char zero = 0;
  [[maybe_unused]] const ssize_t n = write(g_signal_pipe[1], &zero, 1);
  waiter.join();
  std::fprintf(stderr, "quanta serve: stopped\n");
}

}  // namespace

void add_serve(CLI::App& app) {
  auto a = std::make_shared<ServeArgs>();
  auto* cmd = app.add_subcommand("serve", "OpenAI-compatible HTTP server (continuous batching, paged KV cache)");
  cmd->add_option("--model", a->model, "Hugging Face model folder")->required();
  add_lm_head_option(cmd, a->lm_head);
  add_kv_type_option(cmd, a->kv_type);
  cmd->add_option("--host", a->host, "address to listen on")->capture_default_str();
  cmd->add_option("--port", a->port, "port (0: any free port)")->capture_default_str()->check(CLI::Range(0, 65535));
  cmd->add_option("--api-key", a->api_key, "require 'Authorization: Bearer KEY' on /v1/ routes");
  cmd->add_option("--served-model-name", a->name, "model id reported by /v1/models (default: folder name)");
  cmd->add_option("--max-batch", a->max_batch, "requests run together at most")->capture_default_str()->check(CLI::Range(1, 1024));
  cmd->add_option("--ctx", a->ctx, "context per request (prompt + generated tokens)")->capture_default_str()->check(CLI::Range(2, 1 << 20));
  cmd->add_option("--kv-blocks", a->kv_blocks, "KV-cache blocks (0: max-batch full contexts)")->capture_default_str()->check(CLI::NonNegativeNumber);
  cmd->add_option("--block-size", a->block_size, "tokens per KV block")->capture_default_str()->check(CLI::Range(1, 1024));
  cmd->add_option("--prefill-chunk", a->prefill_chunk, "prompt tokens per step at most (all requests)")->capture_default_str()->check(CLI::Range(1, 1 << 16));
  cmd->add_option("--max-body", a->max_body, "largest request body in bytes (413 above)")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->callback([a] { run_serve(*a); });
}

}  // namespace quanta::cli
