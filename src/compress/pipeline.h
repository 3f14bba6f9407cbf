// Layer-by-layer compression of a Llama-family model: RTN, GPTQ, SparseGPT or magnitude pruning to a
// compressed-tensors folder. Calibration activations run through decoder layer i using the already
// compressed layers 0..i-1; the Hessians of layer i's Linears are captured, the Linears compressed,
// and the layer run again to give layer i+1 its inputs. Memory is bounded by one layer (weights,
// calibration activations, Hessians), not by depth.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace quanta {

struct CompressOptions {
  std::string model_dir, out_dir;
  std::string scheme = "W4A16";      // see scheme_by_name
  std::string method = "gptq";       // rtn | gptq | sparsegpt | magnitude
  int64_t group_size = -1;           // -1: the scheme's default
  std::string actorder;              // GPTQ: "" (none), "static" or "group"
  // Symmetric int4/int8 weights: "minmax" (compressed-tensors' rule) or "ggml" (ggml's Q4_0 /
  // Q8_0 rule: with group size 32 the result exported to GGUF is what llama-quantize would write
  // for RTN; see ScaleRule).
  std::string scale_rule = "minmax";
  double damp = 0.01;
  std::string sparsity;              // "0.5" or "2:4" (sparsegpt / magnitude)
  std::string calib_file;            // text; tokenized once, cut into samples
  int64_t samples = 64, seq_len = 512;
  // Which Linears are compressed: those matching a target and no ignore entry. An entry is a
  // module name ("model.layers.0.mlp.down_proj"), "Linear" (every Linear, targets only) or
  // "re:REGEX" matched against the whole module name, as compressed-tensors reads them.
  std::vector<std::string> targets = {"Linear"};
  std::vector<std::string> ignore = {"lm_head"};
  bool overwrite = false;  // replace a non-empty out_dir (only once the new folder is complete)
};

// Whether module `name` (e.g. "model.layers.3.mlp.up_proj") is selected by targets/ignore.
bool module_selected(const std::string& name, const std::vector<std::string>& targets,
                     const std::vector<std::string>& ignore);

struct LayerReport {
  std::string name;     // e.g. "model.layers.3.mlp.up_proj"
  double loss = 0;      // GPTQ / SparseGPT loss, or RTN's sum of squared weight errors
  double seconds = 0;
};

struct CompressReport {
  std::vector<LayerReport> layers;
  double seconds = 0;
  double calib_tokens = 0;
  uint64_t bytes_before = 0, bytes_after = 0;  // size on disk of the folders
  uint64_t peak_rss = 0;                       // bytes (VmHWM)
};

class LlamaModel;

// progress(done_layers, total_layers). If set, on_compressed is called with the compressed model
// in memory (weights as the saved folder dequantizes them) before the folder is written.
CompressReport compress_model(const CompressOptions& opt,
                              const std::function<void(int64_t, int64_t)>& progress = {},
                              const std::function<void(LlamaModel&)>& on_compressed = {});

// Bytes of the regular files directly in folder `dir` (a model folder's size on disk).
uint64_t dir_bytes(const std::string& dir);

}  // namespace quanta
