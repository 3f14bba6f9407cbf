// Jinja lexer with the environment transformers uses for chat templates: trim_blocks and
// lstrip_blocks on, '-' / '+' whitespace control, newlines normalized, one trailing newline
// dropped (keep_trailing_newline off).
#pragma once

#include <string>
#include <vector>

namespace quanta::jinja {

enum class TokenKind {
  kText,        // template data, whitespace control already applied
  kVarBegin,    // {{
  kVarEnd,      // }}
  kBlockBegin,  // {%
  kBlockEnd,    // %}
  kName,
  kString,  // value is the unescaped string
  kInt,
  kFloat,
  kOp,  // operator or punctuation
  kEof,
};

struct Token {
  TokenKind kind;
  std::string value;
  int line;
};

// Throws quanta::Error ("chat template: line N: ...") on malformed input.
std::vector<Token> lex(const std::string& source);

}  // namespace quanta::jinja
