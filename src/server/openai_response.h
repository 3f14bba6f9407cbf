// OpenAI-compatible response bodies: full completions, server-sent-event chunks, errors, the
// model list, and the Prometheus text of the engine's metrics. Pure functions returning strings.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "runtime/metrics.h"
#include "server/openai_request.h"

namespace quanta::server {

// What identifies one response and its chunks.
struct ResponseMeta {
  std::string id;     // "cmpl-..." or "chatcmpl-..."
  std::string model;  // served model name
  int64_t created = 0;
  bool chat = false;
};

// {"id", "object": "text_completion" | "chat.completion", "choices": [...], "usage": {...}}.
std::string completion_json(const ResponseMeta& m, const std::string& text,
                            const std::string& finish_reason, int64_t prompt_tokens,
                            int64_t completion_tokens);

// One SSE event "data: {chunk}\n\n". Chat chunks carry a delta ({"role": "assistant"} on the
// first, {"content": text} after); finish_reason is null until the last chunk.
std::string stream_chunk(const ResponseMeta& m, const std::string& text, bool first,
                         const std::string& finish_reason);
// The final usage chunk (stream_options.include_usage): empty choices and usage.
std::string stream_usage_chunk(const ResponseMeta& m, int64_t prompt_tokens, int64_t completion_tokens);
inline const char* kStreamDone = "data: [DONE]\n\n";

// {"error": {"message", "type", "param", "code"}}.
std::string error_json(const std::string& message, const std::string& type,
                       const std::string& param, const std::string& code);
std::string error_json(const ApiError& e);

// GET /v1/models.
std::string models_json(const std::string& model, int64_t created);

// GET /metrics: Prometheus text exposition (version 0.0.4). http_responses: count per status.
std::string metrics_text(const EngineMetrics& m, const std::map<int, uint64_t>& http_responses);

}  // namespace quanta::server
