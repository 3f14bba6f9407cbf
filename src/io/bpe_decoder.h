// tokenizer.json "decoder": turns token strings back into text (ByteLevel, ByteFallback, Replace,
// Fuse, Strip, Metaspace, BPEDecoder and Sequence of these), as HF's Decoder::decode_chain.
#pragma once

#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

namespace quanta::tok {

class Decoder {
 public:
  virtual ~Decoder() = default;
  // One step of the chain: token strings in, token strings out.
  virtual void decode_chain(std::vector<std::string>& tokens) const = 0;
  // The raw bytes one token contributes when streaming: the per-token part of the chain only
  // (no UTF-8 repair, no start-of-text stripping).
  virtual void stream(std::string& token) const = 0;
};

// From tokenizer.json's "decoder" (null gives nullptr).
std::unique_ptr<Decoder> parse_decoder(const nlohmann::json& j, const std::string& where);

}  // namespace quanta::tok
