// The folders quanta writes have the layout vLLM's loader needs, without vLLM in CI: each fixture in
// tests/data/vllm_layout/ was recorded by scripts/interop/vllm.sh while vLLM 0.32 (CPU) loaded the
// folder quanta wrote for that scheme (tensor names, dtypes and shapes its LlamaForCausalLM was given,
// and the quantization_config fields its CompressedTensorsConfig reads). Here quanta writes the same
// scheme again from the real model (RTN, seconds) and the folder must match the fixture exactly.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "compress/pipeline.h"
#include "core/error.h"
#include "io/safetensors.h"

namespace quanta {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

const std::string kModelDir = QUANTA_SOURCE_DIR "/models/smollm2-135m-instruct";
const std::string kFixtures = QUANTA_SOURCE_DIR "/tests/data/vllm_layout";

json read_json(const fs::path& p) {
  std::ifstream in(p);
  if (!in) throw Error("cannot open " + p.string());
  return json::parse(in);
}

// Nested objects to "a.b.c": leaf (an empty object is a leaf), as scripts/interop/vllm_layout.py.
void flatten(const std::string& prefix, const json& v, std::map<std::string, json>& out) {
  if (v.is_object() && !v.empty()) {
    for (const auto& [k, x] : v.items()) flatten(prefix.empty() ? k : prefix + "." + k, x, out);
  } else {
    out[prefix] = v;
  }
}

// Every way folder `dir` differs from what the fixture says vLLM loads; empty when it matches.
std::vector<std::string> layout_mismatches(const json& fx, const std::string& dir) {
  std::vector<std::string> bad;
  // Tensors: "model.layers.{i}.x" stands for every layer 0..n_layers-1.
  std::map<std::string, json> want;
  const int64_t n_layers = fx.at("n_layers").get<int64_t>();
  for (const auto& [pattern, dt_shape] : fx.at("tensors").items()) {
    const size_t at = pattern.find("{i}");
    if (at == std::string::npos) {
      want[pattern] = dt_shape;
      continue;
    }
    for (int64_t i = 0; i < n_layers; ++i)
      want[pattern.substr(0, at) + std::to_string(i) + pattern.substr(at + 3)] = dt_shape;
  }
  const TensorStore store = TensorStore::open(dir);
  for (const auto& [name, dt_shape] : want) {
    if (!store.contains(name)) {
      bad.push_back("missing tensor " + name);
      continue;
    }
    const TensorInfo& t = store.get(name);
    const std::string dt(dtype_name(t.dtype));
    if (dt != dt_shape[0].get<std::string>())
      bad.push_back(name + ": dtype " + dt + ", vLLM loads " + dt_shape[0].get<std::string>());
    if (json(t.shape) != dt_shape[1])
      bad.push_back(name + ": shape " + json(t.shape).dump() + ", vLLM loads " + dt_shape[1].dump());
  }
  for (const auto& [name, t] : store.tensors())
    if (!want.count(name)) bad.push_back(name + ": a tensor vLLM was not given from its folder");

  // quantization_config: the fields vLLM reads, both ways (its QuantizationArgs are validated whole).
  const json cfg = read_json(fs::path(dir) / "config.json");
  const json& want_qc = fx.at("quantization_config");
  if (want_qc.is_null() != !cfg.contains("quantization_config")) {
    bad.push_back(want_qc.is_null() ? "config.json has a quantization_config; vLLM loaded a dense folder"
                                    : "config.json has no quantization_config");
  } else if (!want_qc.is_null()) {
    std::map<std::string, json> have;
    json qc = cfg.at("quantization_config");
    for (const char* unread : {"version", "quantization_status", "global_compression_ratio"}) qc.erase(unread);
    flatten("", qc, have);
    for (const auto& [k, v] : want_qc.items()) {
      if (!have.count(k))
        bad.push_back("quantization_config." + k + ": missing (vLLM read " + v.dump() + ")");
      else if (have[k] != v)
        bad.push_back("quantization_config." + k + ": " + have[k].dump() + ", vLLM read " + v.dump());
    }
    for (const auto& [k, v] : have)
      if (!want_qc.contains(k)) bad.push_back("quantization_config." + k + ": a field vLLM was not given");
  }
  for (const auto& [k, v] : fx.at("config").items())
    if (!cfg.contains(k) || cfg.at(k) != v)
      bad.push_back("config.json " + k + ": " + (cfg.contains(k) ? cfg.at(k).dump() : "missing") +
                    ", vLLM read " + v.dump());
  return bad;
}

// The folder quanta writes for a fixture's scheme ("quanta_compress": how the checked one was made).
// SparseGPT's saved layout is that of any pruning method, so magnitude pruning (no calibration)
// stands in for it.
std::string write_folder(const json& fx, const std::string& name) {
  const json& how = fx.at("quanta_compress");
  CompressOptions o;
  o.model_dir = kModelDir;
  o.out_dir = (fs::path(::testing::TempDir()) / ("quanta_vllm_layout_" + name)).string();
  fs::remove_all(o.out_dir);
  o.scheme = how.at("scheme").get<std::string>();
  o.method = how.at("method").get<std::string>();
  o.group_size = how.value("group_size", int64_t{-1});
  o.sparsity = how.value("sparsity", std::string());
  if (o.method == "sparsegpt") o.method = "magnitude";
  compress_model(o);
  return o.out_dir;
}

std::vector<fs::path> fixtures() {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(kFixtures))
    if (e.path().extension() == ".json") out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

TEST(GoldenVllmLayout, EverySchemeFolderMatchesWhatVllmLoads) {
  const auto paths = fixtures();
  ASSERT_GE(paths.size(), 5u) << "fixtures in " << kFixtures << " (made by scripts/interop/vllm.sh)";
  for (const fs::path& p : paths) {
    const json fx = read_json(p);
    const std::string dir = write_folder(fx, p.stem().string());
    const auto bad = layout_mismatches(fx, dir);
    for (const auto& b : bad) ADD_FAILURE() << p.stem().string() << ": " << b;
    std::printf("[vllm layout] %s: %zu tensors, %zu quantization_config fields: %s\n", p.stem().string().c_str(),
                fx.at("tensors").size(),
                fx.at("quantization_config").is_null() ? size_t{0} : fx.at("quantization_config").size(),
                bad.empty() ? "match" : "MISMATCH");
    fs::remove_all(dir);
  }
}

// The check fails when a name, a dtype, a shape or a quantization_config value is off.
TEST(GoldenVllmLayout, MismatchesAreReported) {
  const json fx = read_json(fs::path(kFixtures) / "w8a8.json");
  const std::string dir = write_folder(fx, "w8a8_mutated");
  ASSERT_TRUE(layout_mismatches(fx, dir).empty());
  auto expect_one = [&](const json& changed, const std::string& contains) {
    const auto bad = layout_mismatches(changed, dir);
    ASSERT_FALSE(bad.empty()) << contains;
    EXPECT_NE(bad[0].find(contains), std::string::npos) << bad[0];
  };
  const std::string w = "model.layers.{i}.mlp.down_proj.weight";
  json f = fx;
  f["tensors"][w][0] = "F8_E4M3";
  expect_one(f, "model.layers.0.mlp.down_proj.weight: dtype I8, vLLM loads F8_E4M3");
  f = fx;
  f["tensors"][w][1] = {1536, 576};
  expect_one(f, "model.layers.0.mlp.down_proj.weight: shape [576,1536], vLLM loads [1536,576]");
  f = fx;
  f["tensors"]["model.layers.{i}.mlp.down_proj.weight_packed"] = f["tensors"][w];
  f["tensors"].erase(w);
  expect_one(f, "missing tensor model.layers.0.mlp.down_proj.weight_packed");
  f = fx;
  f["quantization_config"]["config_groups.group_0.weights.strategy"] = "group";
  expect_one(f, "quantization_config.config_groups.group_0.weights.strategy: \"channel\", vLLM read \"group\"");
  f = fx;
  f["quantization_config"].erase("format");
  expect_one(f, "quantization_config.format: a field vLLM was not given");
  f = fx;
  f["config"]["tie_word_embeddings"] = false;
  expect_one(f, "config.json tie_word_embeddings: true, vLLM read false");
  fs::remove_all(dir);
}

}  // namespace
}  // namespace quanta
