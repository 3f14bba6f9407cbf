// Chat templates: the variables transformers' apply_chat_template gives a template. The public
// entry point, render_chat_template, is declared in io/tokenizer.h.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "io/jinja_value.h"
#include "io/tokenizer.h"

namespace quanta {

// messages (as dicts with role and content), add_generation_prompt, bos_token, eos_token, and
// tools/documents as None. Callers may append more (e.g. date_string) before rendering.
std::vector<std::pair<std::string, jinja::Value>> chat_template_vars(
    const std::vector<ChatMessage>& messages, bool add_generation_prompt,
    const std::string& bos_token, const std::string& eos_token);

}  // namespace quanta
