#include "server/openai_request.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <random>

namespace quanta::server {
namespace {

using nlohmann::json;

[[noreturn]] void bad(const std::string& param, const std::string& msg) {
  throw ApiError(400, msg, param);
}

const char* type_name(const json& v) { return v.type_name(); }

double get_number(const json& j, const char* key, double lo, double hi) {
  const json& v = j.at(key);
  if (!v.is_number())
    bad(key, fmt::format("'{}' must be a number, got {}", key, type_name(v)));
  const double x = v.get<double>();
  if (!(x >= lo && x <= hi)) bad(key, fmt::format("'{}' must be in [{}, {}], got {}", key, lo, hi, x));
  return x;
}

bool get_bool(const json& j, const char* key) {
  const json& v = j.at(key);
  if (!v.is_boolean()) bad(key, fmt::format("'{}' must be a boolean, got {}", key, type_name(v)));
  return v.get<bool>();
}

std::vector<ChatMessage> parse_messages(const json& j) {
  if (!j.contains("messages")) bad("messages", "'messages' is required");
  const json& m = j["messages"];
  if (!m.is_array() || m.empty()) bad("messages", "'messages' must be a non-empty array");
  std::vector<ChatMessage> out;
  for (size_t i = 0; i < m.size(); ++i) {
    const std::string p = fmt::format("messages[{}]", i);
    if (!m[i].is_object()) bad(p, p + " must be an object");
    if (!m[i].contains("role") || !m[i]["role"].is_string()) bad(p + ".role", p + ".role must be a string");
    ChatMessage msg{m[i]["role"].get<std::string>(), ""};
    if (msg.role != "system" && msg.role != "user" && msg.role != "assistant" && msg.role != "developer")
      bad(p + ".role", fmt::format("{}.role '{}' is not one of system, developer, user, assistant", p, msg.role));
    const json& c = m[i].value("content", json());
    if (c.is_string()) {
      msg.content = c.get<std::string>();
    } else if (c.is_array()) {  // content parts: text only
      for (const json& part : c) {
        // Note: json::value("type", "") throws type_error when "type" holds a non-string (a
        // 500 before, found by reviewing what fuzz_openai_request reaches); test the type first.
        if (!part.is_object() || !part.contains("type") || part["type"] != "text" ||
            !part.contains("text") || !part["text"].is_string())
          bad(p + ".content", p + ".content parts must be {\"type\": \"text\", \"text\": string}");
        msg.content += part["text"].get<std::string>();
      }
    } else if (!c.is_null() || msg.role != "assistant") {
      bad(p + ".content", p + ".content must be a string or an array of text parts");
    }
    out.push_back(std::move(msg));
  }
  return out;
}

void parse_prompt(const json& j, CompletionRequest& r) {
  if (!j.contains("prompt")) bad("prompt", "'prompt' is required");
  const json& p = j["prompt"];
  if (p.is_string()) {
    r.prompt = p.get<std::string>();
  } else if (p.is_array() && p.size() == 1 && p[0].is_string()) {
    r.prompt = p[0].get<std::string>();
  } else if (p.is_array() && !p.empty() && p[0].is_number_integer()) {
    for (const json& t : p) {
      if (!t.is_number_integer()) bad("prompt", "a token-id prompt must hold only integers");
      const int64_t id = t.get<int64_t>();
      if (id < 0 || id > INT32_MAX) bad("prompt", fmt::format("token id {} is out of range", id));
      r.prompt_ids.push_back(int32_t(id));
    }
  } else {
    bad("prompt", "'prompt' must be a string, a list of one string or a list of token ids "
                  "(batched prompts are not supported)");
  }
}

}  // namespace

CompletionRequest parse_completion_request(std::string_view body, bool chat) {
  json j;
  try {
    j = json::parse(body);
  } catch (const json::exception& e) {
    // Note: not only parse_error: a number beyond double's range ("1e999999") is out_of_range
    // (found by fuzz_openai_request; tests/data/fuzz/request_*.bin).
    bad("", std::string("malformed JSON body: ") + e.what());
  }
  if (!j.is_object()) bad("", "the request body must be a JSON object");
  CompletionRequest r;
  r.chat = chat;
  if (chat)
    r.messages = parse_messages(j);
  else
    parse_prompt(j, r);
  if (j.contains("model")) {
    if (!j["model"].is_string()) bad("model", "'model' must be a string");
    r.model = j["model"].get<std::string>();
  }
  const char* max_key = chat && j.contains("max_completion_tokens") ? "max_completion_tokens" : "max_tokens";
  if (j.contains(max_key) && !j[max_key].is_null()) {
    if (!j[max_key].is_number_integer())
      bad(max_key, fmt::format("'{}' must be an integer, got {}", max_key, type_name(j[max_key])));
    const int64_t m = j[max_key].get<int64_t>();
    if (m < 1) bad(max_key, fmt::format("'{}' must be at least 1, got {}", max_key, m));
    r.max_tokens = m;
  }
  if (j.contains("temperature") && !j["temperature"].is_null())
    r.temperature = float(get_number(j, "temperature", 0.0, 2.0));
  if (j.contains("top_p") && !j["top_p"].is_null()) {
    r.top_p = float(get_number(j, "top_p", 0.0, 1.0));
    if (r.top_p <= 0.0f) bad("top_p", "'top_p' must be greater than 0");
  }
  if (j.contains("seed") && !j["seed"].is_null()) {
    if (!j["seed"].is_number_integer()) bad("seed", "'seed' must be an integer");
    r.seed = j["seed"].is_number_unsigned() ? j["seed"].get<uint64_t>() : uint64_t(j["seed"].get<int64_t>());
  }
  if (j.contains("n") && !j["n"].is_null()) {
    if (!j["n"].is_number_integer() || j["n"].get<int64_t>() != 1)
      bad("n", "only n = 1 is supported");
  }
  if (j.contains("stop") && !j["stop"].is_null()) {
    const json& s = j["stop"];
    if (s.is_string()) {
      r.stop.push_back(s.get<std::string>());
    } else if (s.is_array()) {
      for (const json& x : s) {
        if (!x.is_string()) bad("stop", "'stop' must be a string or a list of strings");
        r.stop.push_back(x.get<std::string>());
      }
    } else {
      bad("stop", "'stop' must be a string or a list of strings");
    }
    if (r.stop.size() > 4) bad("stop", "'stop' holds at most 4 strings");
    for (const auto& x : r.stop)
      if (x.empty()) bad("stop", "stop strings must not be empty");
  }
  if (j.contains("stream") && !j["stream"].is_null()) r.stream = get_bool(j, "stream");
  if (j.contains("stream_options") && !j["stream_options"].is_null()) {
    const json& so = j["stream_options"];
    if (!so.is_object()) bad("stream_options", "'stream_options' must be an object");
    if (so.contains("include_usage")) r.include_usage = get_bool(so, "include_usage");
  }
  if (j.contains("ignore_eos") && !j["ignore_eos"].is_null()) r.ignore_eos = get_bool(j, "ignore_eos");
  return r;
}

RequestParams to_request_params(const CompletionRequest& r, const Tokenizer& tok, int64_t ctx) {
  RequestParams p;
  if (r.chat) {
    if (tok.chat_template().empty())
      throw ApiError(400, "this model has no chat template; use /v1/completions", "messages");
    // The rendered template carries BOS itself when the model wants one.
    p.prompt = tok.encode(tok.apply_chat_template(r.messages, true), false);
  } else if (!r.prompt_ids.empty()) {
    p.prompt = r.prompt_ids;
    for (int32_t id : p.prompt)
      if (id >= tok.vocab_size())
        bad("prompt", fmt::format("token id {} is outside the vocabulary (size {})", id, tok.vocab_size()));
  } else {
    p.prompt = tok.encode(r.prompt, true);
  }
  const int64_t n = int64_t(p.prompt.size());
  if (n == 0) bad(r.chat ? "messages" : "prompt", "the prompt is empty");
  if (n >= ctx)
    bad(r.chat ? "messages" : "prompt",
        fmt::format("the prompt has {} tokens; this server's context is {} tokens", n, ctx));
  p.max_tokens = r.max_tokens ? *r.max_tokens : r.chat ? ctx - n : std::min<int64_t>(16, ctx - n);
  if (n + p.max_tokens > ctx)
    bad("max_tokens",
        fmt::format("max_tokens is {} but the prompt has {} tokens and the context is {} tokens "
                    "(at most {} tokens can be generated)",
                    p.max_tokens, n, ctx, ctx - n));
  p.sampling.temperature = r.temperature;
  p.sampling.top_p = r.top_p;
  p.sampling.seed = r.seed ? *r.seed : std::random_device{}();
  p.stop = r.stop;
  p.ignore_eos = r.ignore_eos;
  return p;
}

}  // namespace quanta::server
