#include "eval/hellaswag.h"

#include <algorithm>
#include <chrono>

#include "core/error.h"
#include "eval/perplexity.h"
#include "io/hf_config.h"

namespace quanta {

std::vector<HellaswagItem> parse_hellaswag(const std::string& text, const std::string& source,
                                           int64_t max_items) {
  // Lines split on '\n' as std::getline does (a final newline ends the last line; '\r' is kept,
  // as llama.cpp keeps it).
  std::vector<std::string> lines;
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t nl = text.find('\n', pos);
    const size_t end = nl == std::string::npos ? text.size() : nl;
    lines.push_back(text.substr(pos, end - pos));
    pos = end + 1;
  }
  if (lines.empty()) fail("{}: empty HellaSwag file (expected 6 lines per item)", source);
  if (lines.size() % 6 != 0)
    fail("{}: {} lines, not a multiple of 6 (each item is 6 lines: context, gold label 0-3, four "
         "endings)",
         source, lines.size());
  int64_t n = int64_t(lines.size() / 6);
  if (max_items > 0) n = std::min(n, max_items);
  std::vector<HellaswagItem> items(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const size_t l0 = size_t(i) * 6;
    HellaswagItem& it = items[size_t(i)];
    it.context = lines[l0];
    if (it.context.empty()) fail("{}:{}: item {} has an empty context line", source, l0 + 1, i);
    const std::string& label = lines[l0 + 1];
    if (label.size() != 1 || label[0] < '0' || label[0] > '3')
      fail("{}:{}: item {}: gold label '{}' is not 0, 1, 2 or 3", source, l0 + 2, i, label.substr(0, 40));
    it.gold = label[0] - '0';
    for (size_t e = 0; e < 4; ++e) {
      it.endings[e] = lines[l0 + 2 + e];
      if (it.endings[e].empty()) fail("{}:{}: item {}: ending {} is empty", source, l0 + 3 + e, i, e);
    }
  }
  return items;
}

std::vector<HellaswagItem> load_hellaswag(const std::string& path, int64_t max_items) {
  return parse_hellaswag(read_file(path), path, max_items);
}

HellaswagTokens hellaswag_tokens(const HellaswagItem& item, const Tokenizer& tok) {
  HellaswagTokens t;
  for (size_t s = 0; s < 4; ++s) t.seqs[s] = tok.encode(item.context + " " + item.endings[s], true);
  size_t cp = 0;
  while (cp < t.seqs[0].size() && cp < t.seqs[1].size() && cp < t.seqs[2].size() && cp < t.seqs[3].size() &&
         t.seqs[0][cp] == t.seqs[1][cp] && t.seqs[0][cp] == t.seqs[2][cp] && t.seqs[0][cp] == t.seqs[3][cp])
    ++cp;
  t.common_prefix = int64_t(cp);
  if (cp == 0) fail("HellaSwag item '{}': the candidates share no first token", item.context.substr(0, 60));
  for (size_t s = 0; s < 4; ++s)
    if (t.seqs[s].size() == cp)
      fail("HellaSwag item '{}': ending {} adds no token after the part all endings share",
           item.context.substr(0, 60), s);
  return t;
}

HellaswagItemScore hellaswag_score_item(LlamaModel& model, const HellaswagTokens& t, KvCache& cache) {
  const int64_t vocab = model.config().vocab_size;
  const int64_t cp = t.common_prefix;
  std::vector<float> first(static_cast<size_t>(vocab));
  cache.clear();
  model.forward(t.seqs[0].data(), cp, cache, first.data(), 1);
  HellaswagItemScore r;
  std::vector<float> logits;
  for (size_t s = 0; s < 4; ++s) {
    const std::vector<int32_t>& seq = t.seqs[s];
    const int64_t n = int64_t(seq.size());
    // The last prefix position predicts seq[cp]; positions cp .. n-2 predict seq[cp+1 .. n-1].
    double sum = -token_nll(first.data(), vocab, seq[size_t(cp)]);
    const int64_t rest = n - 1 - cp;
    if (rest > 0) {
      logits.resize(size_t(rest * vocab));
      cache.set_n_past(cp);
      model.forward(seq.data() + cp, rest, cache, logits.data(), rest);
      for (int64_t j = 0; j < rest; ++j) sum -= token_nll(logits.data() + j * vocab, vocab, seq[size_t(cp + j + 1)]);
    }
    r.logprob_sum[s] = sum;
    r.n_tokens[s] = n - cp;
  }
  for (int s = 1; s < 4; ++s) {
    if (r.logprob_sum[size_t(s)] > r.logprob_sum[size_t(r.pred)]) r.pred = s;
    if (r.logprob_sum[size_t(s)] / double(r.n_tokens[size_t(s)]) >
        r.logprob_sum[size_t(r.pred_norm)] / double(r.n_tokens[size_t(r.pred_norm)]))
      r.pred_norm = s;
  }
  return r;
}

HellaswagResult hellaswag_eval(LlamaModel& model, const Tokenizer& tok,
                               const std::vector<HellaswagItem>& items,
                               const std::function<void(int64_t, int64_t)>& progress) {
  if (items.empty()) fail("HellaSwag: no items to score");
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<HellaswagTokens> toks;
  toks.reserve(items.size());
  int64_t longest = 0;
  for (size_t i = 0; i < items.size(); ++i) {
    try {
      toks.push_back(hellaswag_tokens(items[i], tok));
    } catch (const Error& e) {
      fail("HellaSwag item {}: {}", i, e.what());
    }
    for (const auto& s : toks.back().seqs) longest = std::max(longest, int64_t(s.size()));
  }
  KvCache cache = model.make_cache(longest);
  HellaswagResult r;
  r.items.reserve(items.size());
  for (size_t i = 0; i < items.size(); ++i) {
    r.items.push_back(hellaswag_score_item(model, toks[i], cache));
    r.n_correct += r.items.back().pred == items[i].gold;
    r.n_correct_norm += r.items.back().pred_norm == items[i].gold;
    if (progress) progress(int64_t(i + 1), int64_t(items.size()));
  }
  r.n_items = int64_t(items.size());
  r.acc = double(r.n_correct) / double(r.n_items);
  r.acc_norm = double(r.n_correct_norm) / double(r.n_items);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

}  // namespace quanta
