// tokenizer.json (HF tokenizers format): BPE, byte-level (GPT-2 / Llama-3 / Qwen / SmolLM;
// pre-tokenizer regex via PCRE2) and SentencePiece-style with byte fallback (Llama-2 / Mistral);
// added and special tokens; decode that round-trips.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace quanta {

// One chat message.
struct ChatMessage {
  std::string role;
  std::string content;
};

class Tokenizer {
 public:
  // Loads DIR/tokenizer.json (and DIR/tokenizer_config.json for bos/eos/chat template, if present).
  // Throws quanta::Error naming the file and field on anything it cannot read.
  static Tokenizer load(const std::string& dir);
  // From the text of a tokenizer.json (and optionally tokenizer_config.json); for tests/fuzzers.
  static Tokenizer from_json(std::string_view tokenizer_json,
                             std::string_view tokenizer_config_json = {});

  Tokenizer();
  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;
  ~Tokenizer();

  // Encodes text as HF `tokenizer(text, add_special_tokens=add_special)` does: added/special tokens
  // in the text are matched as such; post-processor BOS/EOS only if add_special.
  std::vector<int32_t> encode(std::string_view text, bool add_special = false) const;
  // Decodes as HF `decode(ids, skip_special_tokens=skip_special)`.
  std::string decode(const std::vector<int32_t>& ids, bool skip_special = false) const;
  // The bytes one token contributes when streaming (may be an incomplete UTF-8 sequence).
  std::string token_bytes(int32_t id) const;

  int32_t vocab_size() const;
  int32_t token_id(std::string_view token) const;  // -1 if absent
  bool is_special(int32_t id) const;
  int32_t bos_id() const;                    // -1 if none
  int32_t eos_id() const;                    // -1 if none
  const std::string& chat_template() const;  // empty if none
  const std::string& bos_token() const;      // text of the BOS token, empty if none
  const std::string& eos_token() const;      // text of the EOS token, empty if none

  // Renders this tokenizer's chat template with its bos/eos tokens (see render_chat_template).
  // Throws quanta::Error if the tokenizer has no template.
  std::string apply_chat_template(const std::vector<ChatMessage>& messages,
                                  bool add_generation_prompt) const;

 private:
  void apply_config(std::string_view config_json, const std::string& where);

  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Renders a Jinja chat template (the subset HF chat templates use) as transformers'
// apply_chat_template(messages, tokenize=False, add_generation_prompt=...) does.
std::string render_chat_template(const std::string& tmpl, const std::vector<ChatMessage>& messages,
                                 bool add_generation_prompt, const std::string& bos_token,
                                 const std::string& eos_token);

}  // namespace quanta
