// The generation loop: prefill the prompt as one batch, then decode one token at a time until
// max_tokens, an end-of-sequence id, or a stop string.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "io/tokenizer.h"
#include "model/llama.h"
#include "runtime/sampler.h"

namespace quanta {

struct GenerateOptions {
  int64_t max_tokens = 128;
  SamplingParams sampling;
  std::vector<int32_t> eos_ids;
  std::vector<std::string> stop;  // stop strings (not included in the output)
  int64_t context = 2048;         // KV-cache capacity
  int top_logprobs = 0;           // > 0: keep the top-k log-probabilities of each generated token
};

struct GenerateResult {
  std::vector<int32_t> tokens;  // generated ids (an EOS that ended it is included)
  std::string text;             // decoded text, cut before a stop string
  std::string finish_reason;    // "stop" or "length"
  double prefill_seconds = 0, decode_seconds = 0;
  int64_t prompt_tokens = 0;
  // With top_logprobs k > 0: per generated token, the k most likely tokens at that position.
  std::vector<std::vector<TokenLogprob>> top_logprobs;
};

// on_text(piece) receives text as it becomes final (complete UTF-8, not part of a stop string).
GenerateResult generate(LlamaModel& model, const Tokenizer& tok, const std::vector<int32_t>& prompt,
                        const GenerateOptions& opt,
                        const std::function<void(const std::string&)>& on_text = {});

}  // namespace quanta
