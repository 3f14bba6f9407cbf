// The text stages of tokenizer.json ahead of the BPE model: normalizers (rewrite a piece) and
// pre-tokenizers (split pieces into words), with HF tokenizers' semantics.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

namespace quanta::tok {

// A piece of the input on its way to the model.
struct Piece {
  std::string text;
  int32_t id = -1;         // >= 0: an added token, already resolved; later stages skip it
  bool at_origin = false;  // starts at byte 0 of the original input (Metaspace "first")
};

class Normalizer {
 public:
  virtual ~Normalizer() = default;
  virtual void normalize(std::string& text) const = 0;
};

class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  // Splits every piece with id < 0 in place; empty pieces are dropped, as tokenizers does.
  virtual void pre_tokenize(std::vector<Piece>& pieces) const = 0;
};

// From tokenizer.json's "normalizer" / "pre_tokenizer" objects (null gives nullptr). where names
// the field for error messages. Unsupported types throw quanta::Error naming them.
std::unique_ptr<Normalizer> parse_normalizer(const nlohmann::json& j, const std::string& where);
std::unique_ptr<PreTokenizer> parse_pre_tokenizer(const nlohmann::json& j,
                                                  const std::string& where);

}  // namespace quanta::tok
