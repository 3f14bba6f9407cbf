// KL divergence: a model against itself is 0 with full top-1 agreement; a tiny model against a
// perturbed copy matches a direct computation (softmax in double, sum p log(p/q)) position by
// position over the same windows.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "eval/kl_divergence.h"
#include "test_util.h"
#include "tiny_llama.h"

namespace quanta {
namespace {

std::vector<double> softmax(const float* l, int64_t n) {
  std::vector<double> p(static_cast<size_t>(n));
  double mx = l[0], z = 0;
  for (int64_t i = 0; i < n; ++i) mx = std::max(mx, double(l[i]));
  for (int64_t i = 0; i < n; ++i) z += p[size_t(i)] = std::exp(double(l[i]) - mx);
  for (auto& v : p) v /= z;
  return p;
}

TEST(KlDivergence, TokenKlOfKnownDistributions) {
  const float a[3] = {0, 0, 0}, b[3] = {std::log(2.0f), 0, 0};
  EXPECT_NEAR(token_kl(a, a, 3), 0.0, 1e-12);
  // P uniform, Q = (1/2, 1/4, 1/4): KL = 1/3 (log(2/3) + 2 log(4/3)).
  EXPECT_NEAR(token_kl(a, b, 3), (std::log(2.0 / 3) + 2 * std::log(4.0 / 3)) / 3, 1e-6);
}

std::vector<int32_t> some_tokens(int64_t n, int64_t vocab) {
  std::mt19937 rng(3);
  std::vector<int32_t> t(static_cast<size_t>(n));
  for (auto& v : t) v = int32_t(3 + rng() % uint32_t(vocab - 3));
  return t;
}

TEST(KlDivergence, ModelAgainstItselfIsZero) {
  const std::string dir = testing_util::write_tiny_llama(testing_util::temp_dir() + "/m");
  LlamaModel a = LlamaModel::load(dir), b = LlamaModel::load(dir);
  KlOptions o;
  o.ctx = 16;
  const KlResult r = kl_divergence(a, b, some_tokens(50, a.config().vocab_size), o);
  EXPECT_EQ(r.n_windows, 3);
  EXPECT_EQ(r.n_tokens, 48);
  EXPECT_NEAR(r.mean_kl, 0.0, 1e-9);
  EXPECT_DOUBLE_EQ(r.top1_agree, 1.0);
}

TEST(KlDivergence, PerturbedModelMatchesDirectComputation) {
  const std::string dir = testing_util::write_tiny_llama(testing_util::temp_dir() + "/m");
  LlamaModel a = LlamaModel::load(dir), b = LlamaModel::load(dir);
  std::mt19937 rng(11);
  std::normal_distribution<float> noise(0.0f, 0.05f);
  for (int64_t l = 0; l < b.config().n_layers; ++l)
    for (const char* name : {"mlp.down_proj", "self_attn.v_proj"}) {
      const MatrixView& w = b.linear(l, name);
      const float* src = static_cast<const float*>(w.data);
      std::vector<float> p(src, src + w.rows * w.cols);
      for (auto& v : p) v += noise(rng);
      b.set_linear(l, name, std::move(p));
    }
  const int64_t vocab = a.config().vocab_size, ctx = 12;
  const std::vector<int32_t> toks = some_tokens(40, vocab);
  KlOptions o;
  o.ctx = ctx;
  o.max_windows = 2;
  const KlResult r = kl_divergence(a, b, toks, o);

  double sum = 0, mx = 0;
  int64_t agree = 0;
  std::vector<float> la(size_t(ctx * vocab)), lb(la.size());
  for (int64_t w = 0; w < 2; ++w) {
    KvCache ca = a.make_cache(ctx), cb = b.make_cache(ctx);
    a.forward(toks.data() + w * ctx, ctx, ca, la.data(), ctx);
    b.forward(toks.data() + w * ctx, ctx, cb, lb.data(), ctx);
    for (int64_t i = 0; i < ctx; ++i) {
      const auto p = softmax(la.data() + i * vocab, vocab), q = softmax(lb.data() + i * vocab, vocab);
      double kl = 0;
      for (int64_t v = 0; v < vocab; ++v) kl += p[size_t(v)] * std::log(p[size_t(v)] / q[size_t(v)]);
      sum += kl;
      mx = std::max(mx, kl);
      agree += std::max_element(p.begin(), p.end()) - p.begin() == std::max_element(q.begin(), q.end()) - q.begin();
    }
  }
  EXPECT_GT(sum / 24, 1e-4);  // the perturbation is visible
  EXPECT_NEAR(r.mean_kl, sum / 24, 1e-6 + 1e-4 * sum / 24);
  EXPECT_NEAR(r.max_kl, mx, 1e-6 + 1e-4 * mx);
  EXPECT_DOUBLE_EQ(r.top1_agree, double(agree) / 24);
  EXPECT_EQ(r.n_tokens, 24);
}

TEST(KlDivergence, TooShortTextIsAnError) {
  const std::string dir = testing_util::write_tiny_llama(testing_util::temp_dir() + "/m");
  LlamaModel a = LlamaModel::load(dir);
  KlOptions o;
  o.ctx = 64;
  EXPECT_NE(testing_util::error_of([&] { kl_divergence(a, a, some_tokens(10, 100), o); }).find("fewer than one window"),
            std::string::npos);
}

}  // namespace
}  // namespace quanta
