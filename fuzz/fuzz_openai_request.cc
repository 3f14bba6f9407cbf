// The server's request handling short of the model: an OpenAI request body (the first input byte
// picks /v1/chat/completions when odd, /v1/completions when even) parsed by
// parse_completion_request, then turned into RequestParams by to_request_params with a real
// tokenizer and its chat template ($QUANTA_FUZZ_TOKENIZER_DIR, default models/smollm2-135m-instruct)
// and a 256-token context. Every input is either rejected with an ApiError (the server's 4xx) or a
// quanta::Error, or yields a request the scheduler can run: a non-empty prompt of in-vocabulary ids
// that leaves room for max_tokens >= 1 within the context, sampling parameters in range.
#include <cmath>
#include <cstdlib>
#include <memory>
#include <string_view>

#include "core/error.h"
#include "io/tokenizer.h"
#include "server/openai_request.h"

namespace {

constexpr int64_t kCtx = 256;

const quanta::Tokenizer& tokenizer() {
  static const std::unique_ptr<quanta::Tokenizer> t = [] {
    const char* dir = std::getenv("QUANTA_FUZZ_TOKENIZER_DIR");
    return std::make_unique<quanta::Tokenizer>(
        quanta::Tokenizer::load(dir ? dir : "models/smollm2-135m-instruct"));
  }();
  return *t;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const bool chat = data[0] & 1;
  const std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);
  const quanta::Tokenizer& tok = tokenizer();
  quanta::server::CompletionRequest r;
  try {
    r = quanta::server::parse_completion_request(body, chat);
  } catch (const quanta::server::ApiError& e) {
    if (e.status != 400) __builtin_trap();
    return 0;
  }
  if (r.chat != chat || (chat && r.messages.empty())) __builtin_trap();
  if (!(r.temperature >= 0.0f && r.temperature <= 2.0f) || !(r.top_p > 0.0f && r.top_p <= 1.0f))
    __builtin_trap();
  if (r.max_tokens && *r.max_tokens < 1) __builtin_trap();
  if (r.stop.size() > 4) __builtin_trap();
  quanta::RequestParams p;
  try {
    p = quanta::server::to_request_params(r, tok, kCtx);
  } catch (const quanta::server::ApiError& e) {
    if (e.status != 400) __builtin_trap();
    return 0;
  } catch (const quanta::Error&) {
    return 0;  // e.g. a prompt that is not valid UTF-8, refused by the tokenizer with a message
  }
  const int64_t n = int64_t(p.prompt.size());
  if (n == 0 || n >= kCtx || p.max_tokens < 1 || n + p.max_tokens > kCtx) __builtin_trap();
  for (int32_t id : p.prompt)
    if (id < 0 || id >= tok.vocab_size()) __builtin_trap();
  return 0;
}
