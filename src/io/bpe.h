// The BPE model of tokenizer.json: vocab, ranked merges, unk / byte fallback; turns one
// pre-tokenized word into ids exactly as HF tokenizers' BPE::tokenize does.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace quanta::tok {

// Hash/equality that let unordered_map<std::string, ...> be probed with a string_view.
struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
using StringMap = std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>>;

// How far past the number of vocab entries an id may go (BpeModel::from_json refuses more: its id
// table is dense).
inline constexpr int64_t kMaxVocabIdGap = 1 << 16;

class BpeModel {
 public:
  // From tokenizer.json's "model" object; where names it in errors.
  static BpeModel from_json(const nlohmann::json& model, const std::string& where);

  BpeModel();
  BpeModel(BpeModel&&) noexcept;
  BpeModel& operator=(BpeModel&&) noexcept;
  ~BpeModel();

  // Appends the ids of one word (a pre-tokenizer output piece).
  void tokenize(std::string_view word, std::vector<int32_t>& out) const;

  int32_t token_id(std::string_view token) const;  // -1 if absent
  const std::string* token(int32_t id) const;      // nullptr if absent
  int32_t max_id() const { return int32_t(vocab_r_.size()) - 1; }
  int64_t vocab_count() const { return int64_t(vocab_.size()); }  // entries, not max id + 1

 private:
  void merge_word(std::string_view word, std::vector<int32_t>& out) const;

  StringMap vocab_;
  std::vector<std::string> vocab_r_;
  std::vector<bool> has_id_;
  // (left id, right id) -> (rank, merged id)
  std::unordered_map<uint64_t, std::pair<int32_t, int32_t>> merges_;
  std::string unk_token_, prefix_, suffix_;
  bool has_unk_ = false, fuse_unk_ = false, byte_fallback_ = false, ignore_merges_ = false;
  int32_t byte_ids_[256];  // ids of "<0xXX>" for byte fallback, -1 if absent

  struct Cache;
  std::unique_ptr<Cache> cache_;
};

}  // namespace quanta::tok
