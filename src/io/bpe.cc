#include "io/bpe.h"

#include <queue>

#include "io/pretokenizer_json.h"
#include "io/utf8.h"

namespace quanta::tok {

// Words seen before skip the merge loop. Bounded so that a long-running server does not grow
// without limit; HF keeps a similar bounded cache.
struct BpeModel::Cache {
  static constexpr size_t kMaxEntries = 1 << 18;
  static constexpr size_t kMaxWordBytes = 256;
  std::mutex mu;
  std::unordered_map<std::string, std::vector<int32_t>, StringHash, std::equal_to<>> map;
};

BpeModel::BpeModel() : cache_(std::make_unique<Cache>()) {
  std::fill(std::begin(byte_ids_), std::end(byte_ids_), -1);
}
BpeModel::BpeModel(BpeModel&&) noexcept = default;
BpeModel& BpeModel::operator=(BpeModel&&) noexcept = default;
BpeModel::~BpeModel() = default;

namespace {

uint64_t pair_key(int32_t a, int32_t b) { return (uint64_t(uint32_t(a)) << 32) | uint32_t(b); }

std::string optional_string(const json& j, const char* key, const std::string& where) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return {};
  if (!it->is_string()) fail("{}.{}: expected a string or null", where, key);
  return it->get<std::string>();
}

}  // namespace

BpeModel BpeModel::from_json(const json& m, const std::string& where) {
  if (!m.is_object()) fail("{}: expected an object", where);
  if (m.contains("type")) {
    const std::string type = type_of(m, where);
    if (type != "BPE")
      fail("{}.type: unsupported model type '{}' (only BPE is supported)", where, type);
  }
  if (m.contains("dropout") && m["dropout"].is_number() && m["dropout"].get<double>() > 0)
    fail("{}.dropout: BPE dropout is a training-time option; expected null or 0", where);
  BpeModel b;
  const json& vocab = get_field(m, "vocab", where);
  if (!vocab.is_object()) fail("{}.vocab: expected an object of token -> id", where);
  b.vocab_.reserve(vocab.size());
  int64_t max_id = -1;
  for (auto it = vocab.begin(); it != vocab.end(); ++it) {
    if (!it.value().is_number_integer() || it.value().get<int64_t>() < 0 ||
        it.value().get<int64_t>() > INT32_MAX)
      fail("{}.vocab['{}']: expected a non-negative integer id", where, it.key());
    const int64_t id = it.value().get<int64_t>();
    b.vocab_[it.key()] = int32_t(id);
    max_id = std::max(max_id, id);
  }
  // Ids index a dense table (id -> token): a vocab whose ids run far past its size would make the
  // table, not the file, the size of the allocation (fuzz_tokenizer_json: one id of 133333332 in a
  // 150-token vocab asked for 4.3 GB). Real vocabs number their tokens 0 .. size - 1.
  const int64_t max_span = int64_t(vocab.size()) + kMaxVocabIdGap;
  if (max_id >= max_span)
    fail("{}.vocab: id {} is beyond the vocab's {} tokens by more than {} (ids are expected to run "
         "0 .. size - 1)", where, max_id, vocab.size(), kMaxVocabIdGap);
  b.vocab_r_.assign(size_t(max_id + 1), std::string());
  b.has_id_.assign(size_t(max_id + 1), false);
  for (const auto& [tok, id] : b.vocab_) {
    b.vocab_r_[id] = tok;
    b.has_id_[id] = true;
  }

  b.unk_token_ = optional_string(m, "unk_token", where);
  b.has_unk_ = m.contains("unk_token") && m["unk_token"].is_string();
  b.prefix_ = optional_string(m, "continuing_subword_prefix", where);
  b.suffix_ = optional_string(m, "end_of_word_suffix", where);
  b.fuse_unk_ = get_bool(m, "fuse_unk", where, false);
  b.byte_fallback_ = get_bool(m, "byte_fallback", where, false);
  b.ignore_merges_ = get_bool(m, "ignore_merges", where, false);
  for (int i = 0; i < 256; ++i) b.byte_ids_[i] = b.token_id(fmt::format("<0x{:02X}>", i));

  const json& merges = get_field(m, "merges", where);
  if (!merges.is_array()) fail("{}.merges: expected a list", where);
  b.merges_.reserve(merges.size());
  std::string left, right;
  int32_t rank = 0;
  for (size_t i = 0; i < merges.size(); ++i) {
    const json& e = merges[i];
    if (e.is_string()) {
      // Legacy "a b" form; "#version" lines (from merges.txt) are not merges.
      const std::string& s = e.get_ref<const std::string&>();
      if (s.rfind("#version", 0) == 0) continue;
      const size_t sp = s.find(' ');
      if (sp == std::string::npos || s.find(' ', sp + 1) != std::string::npos)
        fail("{}.merges[{}]: expected \"left right\" (one space), got '{}'", where, i, s);
      left = s.substr(0, sp);
      right = s.substr(sp + 1);
    } else if (e.is_array() && e.size() == 2 && e[0].is_string() && e[1].is_string()) {
      left = e[0].get<std::string>();
      right = e[1].get<std::string>();
    } else {
      fail("{}.merges[{}]: expected \"left right\" or [left, right]", where, i);
    }
    const int32_t a = b.token_id(left), c = b.token_id(right);
    if (a < 0) fail("{}.merges[{}]: token '{}' is not in the vocab", where, i, left);
    if (c < 0) fail("{}.merges[{}]: token '{}' is not in the vocab", where, i, right);
    if (right.size() < b.prefix_.size())
      fail("{}.merges[{}]: '{}' lacks the continuing_subword_prefix", where, i, right);
    const std::string merged = left + right.substr(b.prefix_.size());
    const int32_t id = b.token_id(merged);
    if (id < 0) fail("{}.merges[{}]: merged token '{}' is not in the vocab", where, i, merged);
    // A repeated pair keeps its last rank, as HF's map collect does.
    b.merges_[pair_key(a, c)] = {rank++, id};
  }
  return b;
}

int32_t BpeModel::token_id(std::string_view token) const {
  auto it = vocab_.find(token);
  return it == vocab_.end() ? -1 : it->second;
}

const std::string* BpeModel::token(int32_t id) const {
  if (id < 0 || size_t(id) >= vocab_r_.size() || !has_id_[id]) return nullptr;
  return &vocab_r_[id];
}

void BpeModel::tokenize(std::string_view word, std::vector<int32_t>& out) const {
  if (word.empty()) return;
  if (ignore_merges_) {
    const int32_t id = token_id(word);
    if (id >= 0) {
      out.push_back(id);
      return;
    }
  }
  const bool cacheable = word.size() < Cache::kMaxWordBytes;
  if (cacheable) {
    std::lock_guard<std::mutex> lock(cache_->mu);
    auto it = cache_->map.find(word);
    if (it != cache_->map.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  const size_t start = out.size();
  merge_word(word, out);
  if (cacheable) {
    std::lock_guard<std::mutex> lock(cache_->mu);
    if (cache_->map.size() < Cache::kMaxEntries)
      cache_->map.emplace(std::string(word), std::vector<int32_t>(out.begin() + start, out.end()));
  }
}

// BPE::merge_word + Word::merge_all: characters (or their byte-fallback / unk stand-ins) are
// merged lowest rank first, leftmost first among equal ranks.
void BpeModel::merge_word(std::string_view w, std::vector<int32_t>& out) const {
  struct Symbol {
    int32_t id;
    int32_t prev, next;
    bool alive;
  };
  thread_local std::vector<Symbol> sym;
  sym.clear();
  auto add = [&](int32_t id) {
    const int32_t n = int32_t(sym.size());
    sym.push_back({id, n - 1, n + 1, true});
  };
  int32_t unk_id = -1;  // a pending unk, flushed before the next known symbol
  std::string piece;
  for (size_t pos = 0; pos < w.size();) {
    const size_t len = utf8::char_len(w, pos);
    piece.assign(w.substr(pos, len));
    const bool first = pos == 0;
    pos += len;
    if (!first && !prefix_.empty()) piece.insert(0, prefix_);
    if (pos >= w.size() && !suffix_.empty()) piece += suffix_;
    const int32_t id = token_id(piece);
    if (id >= 0) {
      if (unk_id >= 0) add(unk_id), unk_id = -1;
      add(id);
      continue;
    }
    if (byte_fallback_) {
      bool all = true;
      for (unsigned char c : piece) all = all && byte_ids_[c] >= 0;
      if (all) {
        // Note: HF leaves a pending unk where it is here, so it lands after these bytes.
        for (unsigned char c : piece) add(byte_ids_[c]);
        continue;
      }
    }
    if (has_unk_) {
      const int32_t u = token_id(unk_token_);
      if (u < 0) fail("tokenizer.json: unk_token '{}' is not in the vocab", unk_token_);
      if (unk_id >= 0 && !fuse_unk_) add(unk_id);
      unk_id = u;
    }
  }
  if (unk_id >= 0) add(unk_id);
  if (sym.empty()) return;
  sym.back().next = -1;

  struct Merge {
    int32_t rank, pos, new_id;
    bool operator>(const Merge& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
  };
  std::priority_queue<Merge, std::vector<Merge>, std::greater<Merge>> queue;
  auto lookup = [&](int32_t a, int32_t b) -> const std::pair<int32_t, int32_t>* {
    auto it = merges_.find(pair_key(a, b));
    return it == merges_.end() ? nullptr : &it->second;
  };
  for (int32_t i = 0; i + 1 < int32_t(sym.size()); ++i) {
    if (auto* m = lookup(sym[i].id, sym[i + 1].id)) queue.push({m->first, i, m->second});
  }
  while (!queue.empty()) {
    const Merge top = queue.top();
    queue.pop();
    Symbol& cur = sym[top.pos];
    if (!cur.alive || cur.next < 0) continue;
    const int32_t right = cur.next;
    // Skip entries made stale by an earlier merge.
    auto* m = lookup(cur.id, sym[right].id);
    if (!m || m->second != top.new_id) continue;
    cur.id = top.new_id;
    cur.next = sym[right].next;
    sym[right].alive = false;
    if (cur.next >= 0) sym[cur.next].prev = top.pos;
    if (cur.prev >= 0) {
      if (auto* pm = lookup(sym[cur.prev].id, cur.id))
        queue.push({pm->first, cur.prev, pm->second});
    }
    if (cur.next >= 0) {
      if (auto* nm = lookup(cur.id, sym[cur.next].id)) queue.push({nm->first, top.pos, nm->second});
    }
  }
  for (const Symbol& s : sym)
    if (s.alive) out.push_back(s.id);
}

}  // namespace quanta::tok
