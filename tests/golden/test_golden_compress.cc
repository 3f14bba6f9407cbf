// Compression end to end on the packaged model: `compress_model` writes a compressed-tensors folder,
// quanta loads it back, and its perplexity lands where the method should put it.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "compress/pipeline.h"
#include "core/error.h"
#include "eval/perplexity.h"
#include "io/hf_config.h"
#include "io/safetensors.h"
#include "io/tokenizer.h"
#include "model/llama.h"
#include "quant/compressed_tensors.h"

namespace quanta {
namespace {

namespace fs = std::filesystem;

const std::string kModelDir = QUANTA_SOURCE_DIR "/models/smollm2-135m-instruct";
const std::string kWiki = QUANTA_SOURCE_DIR "/../shared/data/wikitext-2-raw/wiki.test.raw";
const std::string kCalib = QUANTA_SOURCE_DIR "/../shared/data/tinyshakespeare/input.txt";
const std::string kWikiValid = QUANTA_SOURCE_DIR "/../shared/data/wikitext-2/wiki.valid.tokens";

double ppl_with(LlamaModel& m, int64_t windows) {
  static const Tokenizer tok = Tokenizer::load(kModelDir);
  static const std::vector<int32_t> ids = tok.encode(read_file(kWiki).substr(0, 40000), false);
  PplOptions opt;
  opt.max_windows = windows;
  return perplexity(m, ids, opt).ppl;
}

double ppl_of(const std::string& dir, int64_t windows) {
  LlamaModel m = LlamaModel::load(dir);
  return ppl_with(m, windows);
}

std::string out_dir(const std::string& name) {
  const fs::path p = fs::path(::testing::TempDir()) / ("quanta_compress_" + name);
  fs::remove_all(p);
  return p.string();
}

TEST(GoldenCompress, RtnSchemesLoadBackWithExpectedPerplexity) {
  const double base = ppl_of(kModelDir, 2);
  // Expected increase on 2 windows (measured; 64-window figures in docs/results.md): 8-bit
  // weight-only is near lossless, 4-bit g64 costs tens of percent on this small model.
  for (auto [scheme, group, max_rel] : {std::tuple{"W8A16", -1, 0.01}, std::tuple{"W4A16", 64, 0.6},
                                        std::tuple{"W4A16_ASYM", 64, 0.6}, std::tuple{"FP8", -1, 0.1},
                                        std::tuple{"W8A8", -1, 0.1}}) {
    CompressOptions o;
    o.model_dir = kModelDir;
    o.out_dir = out_dir(scheme);
    o.scheme = scheme;
    o.method = "rtn";
    o.group_size = group;
    double in_memory = 0;
    const CompressReport r = compress_model(o, {}, [&](LlamaModel& m) { in_memory = ppl_with(m, 2); });
    ASSERT_TRUE(is_compressed_tensors(o.out_dir)) << scheme;
    EXPECT_LT(r.bytes_after, r.bytes_before / 3) << scheme;
    const double p = ppl_of(o.out_dir, 2);
    EXPECT_GT(p, base * 0.99) << scheme;
    // W8A8 quantizes activations per token as well: measurably worse than weight-only W8A16.
    if (std::string(scheme) == "W8A8") EXPECT_GT(p, base * 1.005) << "activation quantization inactive?";
    EXPECT_LT(p, base * (1 + max_rel)) << scheme << ": " << p << " vs " << base;
    // The saved folder runs as the compressed model did in memory (W8A8 adds activation
    // quantization at load, which the in-memory model does not have).
    if (std::string(scheme) != "W8A8")
      EXPECT_NEAR(p, in_memory, 1e-3 * in_memory) << scheme << ": saved folder vs in memory";
    std::printf("[compress] %s rtn: ppl %.3f vs %.3f (2 windows), %.1f MiB\n", scheme, p, base,
                double(r.bytes_after) / 1048576.0);
    fs::remove_all(o.out_dir);
  }
}

TEST(GoldenCompress, GptqSmallCalibrationRunsAndLoads) {
  CompressOptions o;
  o.model_dir = kModelDir;
  o.out_dir = out_dir("gptq");
  o.scheme = "W4A16";
  o.group_size = 64;
  o.method = "gptq";
  o.calib_file = kCalib;
  o.samples = 4;
  o.seq_len = 128;
  double in_memory = 0;
  const CompressReport r = compress_model(o, {}, [&](LlamaModel& m) { in_memory = ppl_with(m, 2); });
  EXPECT_EQ(r.layers.size(), 210u);
  EXPECT_EQ(r.calib_tokens, 512);
  const auto q = read_quantized_weights(o.out_dir);
  EXPECT_EQ(q.size(), 210u);
  const double p = ppl_of(o.out_dir, 2);
  EXPECT_NEAR(p, in_memory, 1e-3 * in_memory) << "saved folder vs in memory";
  EXPECT_LT(p, 2.0 * ppl_of(kModelDir, 2));  // measured 46.6 vs 26.8; a broken GPTQ gives hundreds
  std::printf("[compress] W4A16 g64 gptq (4 x 128 calibration tokens): ppl %.3f, %.1f s\n", p, r.seconds);
  fs::remove_all(o.out_dir);
}

TEST(GoldenCompress, MagnitudeTwoFourDense) {
  CompressOptions o;
  o.model_dir = kModelDir;
  o.out_dir = out_dir("mag24");
  o.scheme = "DENSE";
  o.method = "magnitude";
  o.sparsity = "2:4";
  compress_model(o);
  EXPECT_FALSE(is_compressed_tensors(o.out_dir));
  LlamaModel m = LlamaModel::load(o.out_dir);
  const MatrixView& w = m.linear(3, "mlp.up_proj");
  ASSERT_EQ(w.dtype, DType::kBF16);
  const uint16_t* b = static_cast<const uint16_t*>(w.data);
  for (int64_t i = 0; i < w.numel(); i += 4) {
    int zeros = 0;
    for (int j = 0; j < 4; ++j) zeros += (b[i + j] & 0x7fff) == 0;
    ASSERT_GE(zeros, 2) << "group at " << i;
  }
  fs::remove_all(o.out_dir);
}

TEST(GoldenCompress, BadOptionsAreErrors) {
  CompressOptions o;
  o.model_dir = kModelDir;
  o.out_dir = out_dir("bad");
  o.method = "gptq";  // no --calib
  EXPECT_THROW(compress_model(o), Error);
  o.method = "sparsegpt";
  o.sparsity = "3:2";
  EXPECT_THROW(compress_model(o), Error);
  o.method = "rtn";
  o.scheme = "W5A16";
  EXPECT_THROW(compress_model(o), Error);
  EXPECT_FALSE(fs::exists(o.out_dir));
}

}  // namespace
}  // namespace quanta

namespace quanta {
namespace {

// The orderings the methods exist for, on 2 windows of WikiText-2 test with 8 x 256 calibration
// tokens (measured figures in docs/results.md): GPTQ beats RTN at 4 bits per channel (62.8 ->
// 56.4), SparseGPT beats magnitude pruning at 50 % (345 -> 85). Note: GPTQ is calibrated on
// wiki.valid (in domain, not the evaluation text): calibrated on Tiny Shakespeare it is *worse*
// than RTN on WikiText for this model (74.3), as llm-compressor's GPTQ is (../shared/PEERS.md).
TEST(GoldenCompress, CalibratedMethodsBeatTheirBaselines) {
  auto run = [](const std::string& method, const std::string& scheme, int64_t group,
                const std::string& sparsity, const std::string& calib) {
    CompressOptions o;
    o.model_dir = kModelDir;
    o.out_dir = out_dir(method + scheme);
    o.scheme = scheme;
    o.method = method;
    o.group_size = group;
    o.sparsity = sparsity;
    o.calib_file = calib;
    o.samples = 8;
    o.seq_len = 256;
    double p = 0;
    compress_model(o, {}, [&](LlamaModel& m) { p = ppl_with(m, 2); });
    fs::remove_all(o.out_dir);
    std::printf("[compress] %s %s g%lld %s: ppl %.3f (2 windows)\n", method.c_str(), scheme.c_str(),
                static_cast<long long>(group), sparsity.c_str(), p);
    return p;
  };
  const double rtn = run("rtn", "W4A16", 0, "", ""), gptq = run("gptq", "W4A16", 0, "", kWikiValid);
  // Note: on 8 x 256 calibration tokens per-channel GPTQ is sensitive to the last bits of its
  // inputs: changes of ~1e-7 in the forward (an exp implementation, the ISA level) gave 54.26,
  // 56.36, 59.73 and 60.29 against RTN's 62.77 (ratios 0.86-0.96); a GPTQ that did not help would
  // be at 1.0 or above.
  EXPECT_LT(gptq, 0.97 * rtn) << "GPTQ per-channel W4 should beat RTN";
  const double mag = run("magnitude", "DENSE", -1, "0.5", ""),
               sgpt = run("sparsegpt", "DENSE", -1, "0.5", kCalib);
  EXPECT_LT(sgpt, 0.5 * mag) << "SparseGPT 50% should beat magnitude pruning clearly";
}

TEST(GoldenCompress, IgnoreKeepsModulesAndOverwriteReplacesOnlyWhenAsked) {
  CompressOptions o;
  o.model_dir = kModelDir;
  o.out_dir = out_dir("ignore");
  o.scheme = "W8A16";
  o.method = "rtn";
  o.ignore = {"lm_head", "re:.*mlp\\.down_proj"};
  compress_model(o);
  const auto q = read_quantized_weights(o.out_dir);
  EXPECT_EQ(q.size(), 180u);  // 30 layers x 6 Linears; down_proj kept
  EXPECT_EQ(q.count("model.layers.0.mlp.down_proj.weight"), 0u);
  const TensorStore st = TensorStore::open(o.out_dir);
  EXPECT_EQ(st.get("model.layers.7.mlp.down_proj.weight").dtype, DType::kBF16);  // as the rest
  const nlohmann::json cfg = nlohmann::json::parse(read_file(o.out_dir + "/config.json"));
  EXPECT_EQ(cfg["quantization_config"]["ignore"][1], "re:.*mlp\\.down_proj");
  LlamaModel::load(o.out_dir);  // a mixed folder loads

  // An existing folder is refused and left as it is; --overwrite replaces it.
  o.ignore = {"lm_head"};
  EXPECT_THROW(compress_model(o), Error);
  EXPECT_EQ(read_quantized_weights(o.out_dir).size(), 180u);
  o.overwrite = true;
  compress_model(o);
  EXPECT_EQ(read_quantized_weights(o.out_dir).size(), 210u);
  for (const auto& e : fs::directory_iterator(fs::path(o.out_dir).parent_path()))
    EXPECT_EQ(e.path().filename().string().find("quanta_compress_ignore."), std::string::npos)
        << "leftover " << e.path();
  fs::remove_all(o.out_dir);
}

}  // namespace
}  // namespace quanta
