#include "server/http_server.h"

#include <httplib.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "server/openai_request.h"
#include "server/openai_response.h"

namespace quanta::server {
namespace {

using namespace std::chrono_literals;

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch()).count();
}

void send_error(httplib::Response& res, const ApiError& e) {
  res.status = e.status;
  res.set_content(error_json(e), "application/json");
}

// Relays a request's events to the client as server-sent events; owned by the chunked content
// provider, which httplib calls until done() (or until a write fails: the client went away).
struct SseRelay {
  std::shared_ptr<RequestChannel> ch;
  ResponseMeta meta;
  bool include_usage = false;
  bool first = true;
  bool finished = false;

  bool operator()(httplib::DataSink& sink) {
    StreamEvent e;
    if (!ch->pop(e, 50ms)) return sink.is_writable();
    std::string out;
    if (!e.done) {
      if (!e.text.empty() || first) out = stream_chunk(meta, e.text, first, "");
      first = false;
    } else {
      if (e.finish_reason == "error") {
        out = "data: " + error_json(e.error, "server_error", "", "") + "\n\n";
      } else {
        if (!e.text.empty() || first) out += stream_chunk(meta, e.text, first, "");
        out += stream_chunk(meta, "", false, e.finish_reason);
        if (include_usage) out += stream_usage_chunk(meta, e.prompt_tokens, e.completion_tokens);
      }
      out += kStreamDone;
      finished = true;
    }
    if (!out.empty() && !sink.write(out.data(), out.size())) return false;
    if (finished) sink.done();
    return true;
  }
};

}  // namespace

constexpr int kListenBacklog = 1024;

struct HttpServer::Impl {
  Engine& engine;
  const Tokenizer& tok;
  ServerOptions opt;
  httplib::Server svr;
  int64_t created = unix_now();
  std::atomic<uint64_t> next_id{1};
  std::mutex status_mu;
  std::map<int, uint64_t> statuses;
  bool bound = false;
  int listen_fd = -1;  // the listening socket, seen by the socket-options callback
  std::atomic<bool> draining{false};
  // run()/stop() handshake: httplib's stop() is a no-op until the listen loop runs, so a stop
  // that comes first must either keep run() from starting or wait for the loop.
  std::atomic<bool> run_entered{false}, run_exited{false}, stop_requested{false};
  std::atomic<int64_t> in_flight{0};
  // Counts a completion request from its arrival until its response is fully written.
  struct InFlight {
    std::atomic<int64_t>& n;
    explicit InFlight(std::atomic<int64_t>& c) : n(c) { ++n; }
    ~InFlight() { --n; }
  };

  Impl(Engine& e, const Tokenizer& t, ServerOptions o) : engine(e), tok(t), opt(std::move(o)) {}

  std::string make_id(bool chat) {
    static thread_local std::mt19937_64 rng{std::random_device{}()};
    return fmt::format("{}-{:x}{:08x}", chat ? "chatcmpl" : "cmpl", next_id++, uint32_t(rng()));
  }

  void completions(const httplib::Request& req, httplib::Response& res, bool chat) {
    auto token = std::make_shared<InFlight>(in_flight);
    if (draining) throw ApiError(503, "the server is shutting down", "", "server_error");
    CompletionRequest cr = parse_completion_request(req.body, chat);
    RequestParams params = to_request_params(cr, tok, engine.options().ctx);
    std::shared_ptr<RequestChannel> ch;
    try {
      ch = engine.submit(std::move(params));
    } catch (const Error& e) {
      throw ApiError(400, e.what());
    }
    ResponseMeta meta{make_id(chat), opt.model_name, unix_now(), chat};
    if (cr.stream) {
      res.set_header("Cache-Control", "no-cache");
      auto relay = std::make_shared<SseRelay>(SseRelay{ch, meta, cr.include_usage});
      res.set_chunked_content_provider(
          "text/event-stream",
          [relay](size_t, httplib::DataSink& sink) { return (*relay)(sink); },
          [relay, token](bool) {
            if (!relay->finished) relay->ch->cancel();  // client gone: free its KV blocks now
          });
      return;
    }
    std::string text;
    StreamEvent e;
    for (;;) {
      if (!ch->pop(e, 1s)) continue;
      text += e.text;
      if (e.done) break;
    }
    if (e.finish_reason == "error") throw ApiError(500, "generation failed: " + e.error, "", "server_error");
    res.set_content(completion_json(meta, text, e.finish_reason, e.prompt_tokens, e.completion_tokens),
                    "application/json");
  }

  void routes() {
    svr.new_task_queue = [n = opt.http_threads] { return new httplib::ThreadPool(size_t(n)); };
    svr.set_payload_max_length(opt.max_body_bytes);
    // SO_REUSEADDR only: httplib's default adds SO_REUSEPORT, with which a second server on the
    // same port binds silently and the kernel splits connections between the two.
    svr.set_socket_options([this](socket_t sock) {
      int yes = 1;
      setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
      listen_fd = sock;
    });
    svr.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
      if (opt.api_key.empty() || req.path.rfind("/v1/", 0) != 0)
        return httplib::Server::HandlerResponse::Unhandled;
      if (req.get_header_value("Authorization") == "Bearer " + opt.api_key)
        return httplib::Server::HandlerResponse::Unhandled;
      send_error(res, ApiError(401, "missing or invalid API key (expected 'Authorization: Bearer <key>')",
                               "", "invalid_request_error", "invalid_api_key"));
      return httplib::Server::HandlerResponse::Handled;
    });
    svr.set_error_handler(httplib::Server::HandlerWithResponse(
        [this](const httplib::Request& req, httplib::Response& res) {
      if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
      std::string msg = fmt::format("HTTP {}", res.status);
      if (res.status == 404) msg = fmt::format("no route for {} {}", req.method, req.path);
      if (res.status == 413)
        msg = fmt::format("the request body is larger than {} bytes", opt.max_body_bytes);
      send_error(res, ApiError(res.status, msg));
      return httplib::Server::HandlerResponse::Handled;
    }));
    svr.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
      try {
        std::rethrow_exception(ep);
      } catch (const std::exception& e) {
        send_error(res, ApiError(500, e.what(), "", "server_error"));
      } catch (...) {
        send_error(res, ApiError(500, "unknown error", "", "server_error"));
      }
    });
    svr.set_logger([this](const httplib::Request&, const httplib::Response& res) {
      std::lock_guard<std::mutex> lk(status_mu);
      ++statuses[res.status];
    });
    auto guarded = [this](bool chat) {
      return [this, chat](const httplib::Request& req, httplib::Response& res) {
        try {
          completions(req, res, chat);
        } catch (const ApiError& e) {
          send_error(res, e);
        } catch (const Error& e) {
          send_error(res, ApiError(400, e.what()));
        }
      };
    };
    svr.Post("/v1/completions", guarded(false));
    svr.Post("/v1/chat/completions", guarded(true));
    svr.Get("/v1/models", [this](const httplib::Request&, httplib::Response& res) {
      res.set_content(models_json(opt.model_name, created), "application/json");
    });
    svr.Get("/health", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(R"({"status":"ok"})", "application/json");
    });
    svr.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
      std::map<int, uint64_t> st;
      {
        std::lock_guard<std::mutex> lk(status_mu);
        st = statuses;
      }
      res.set_content(metrics_text(engine.metrics(), st), "text/plain; version=0.0.4");
    });
  }
};

HttpServer::HttpServer(Engine& engine, const Tokenizer& tok, ServerOptions opt)
    : impl_(std::make_unique<Impl>(engine, tok, std::move(opt))) {
  impl_->routes();
}

HttpServer::~HttpServer() { stop(); }

int HttpServer::bind() {
  Impl& s = *impl_;
  if (s.opt.port == 0) {
    s.opt.port = s.svr.bind_to_any_port(s.opt.host);
    if (s.opt.port < 0) fail("cannot bind {} (any port)", s.opt.host);
  } else if (!s.svr.bind_to_port(s.opt.host, s.opt.port)) {
    fail("cannot bind {}:{} (in use, or not an address of this machine?)", s.opt.host, s.opt.port);
  }
  // Debian's compiled httplib listens with a backlog of 5: with more clients connecting at once
  // than the accept thread takes in, the kernel drops connections (TcpExtListenOverflows; the
  // loadtest's 32 clients saw "connection: Read" on a loaded machine). listen() again raises it.
  if (s.listen_fd >= 0) ::listen(s.listen_fd, kListenBacklog);
  s.bound = true;
  return s.opt.port;
}

void HttpServer::run() {
  Impl& s = *impl_;
  if (!s.bound) bind();
  s.run_entered = true;
  if (!s.stop_requested) s.svr.listen_after_bind();
  s.run_exited = true;
}

void HttpServer::drain_and_stop(double timeout_s) {
  impl_->draining = true;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  while (impl_->in_flight > 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(10ms);
  stop();
}

void HttpServer::stop() {
  Impl& s = *impl_;
  s.stop_requested = true;
  if (!s.run_entered) return;  // run() will see stop_requested
  while (!s.svr.is_running() && !s.run_exited) std::this_thread::sleep_for(1ms);
  s.svr.stop();
}

}  // namespace quanta::server
