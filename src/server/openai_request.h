// OpenAI-compatible request bodies (/v1/completions, /v1/chat/completions): parsing and
// validation into the scheduler's RequestParams. Pure functions, no sockets; every rejection is
// an ApiError carrying the HTTP status and the OpenAI error fields.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "io/tokenizer.h"
#include "runtime/request.h"

namespace quanta::server {

class ApiError : public Error {
 public:
  ApiError(int status, const std::string& message, std::string param = "",
           std::string type = "invalid_request_error", std::string code = "")
      : Error(message), status(status), type(std::move(type)), param(std::move(param)),
        code(std::move(code)) {}
  int status;
  std::string type, param, code;
};

struct CompletionRequest {
  bool chat = false;
  std::string model;
  std::string prompt;                  // /v1/completions: text ...
  std::vector<int32_t> prompt_ids;     // ... or token ids
  std::vector<ChatMessage> messages;   // /v1/chat/completions
  std::optional<int64_t> max_tokens;
  float temperature = 1.0f;
  float top_p = 1.0f;
  std::optional<uint64_t> seed;
  std::vector<std::string> stop;
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
  bool ignore_eos = false;     // non-standard (as vLLM): generate exactly max_tokens
};

// Parses a request body. Throws ApiError 400 naming the field on malformed JSON, a wrong type,
// a missing field or an out-of-range value, and on n != 1.
CompletionRequest parse_completion_request(std::string_view body, bool chat);

// Tokenizes the prompt (chat: through the model's chat template) and checks it against the
// context: 400 if the prompt does not leave room for one token, or if max_tokens does not fit.
// Without max_tokens: 16 for completions, the rest of the context for chat (as OpenAI/vLLM).
RequestParams to_request_params(const CompletionRequest& r, const Tokenizer& tok, int64_t ctx);

}  // namespace quanta::server
