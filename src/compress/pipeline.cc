#include "compress/pipeline.h"

#include <cblas.h>
#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>

#include "compress/dense_save.h"
#include "compress/gptq.h"
#include "core/error.h"
#include "core/peak_rss.h"
#include "io/hf_config.h"
#include "io/tokenizer.h"
#include "kernels/matmul.h"
#include "model/llama.h"
#include "quant/compressed_tensors.h"
#include "quant/rtn.h"

#include <unistd.h>

namespace quanta {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// "0.5" -> unstructured 50 %; "2:4" -> 2 of every 4 pruned.
SparsityOptions parse_sparsity(const std::string& s) {
  SparsityOptions sp;
  const size_t colon = s.find(':');
  try {
    if (colon != std::string::npos) {
      sp.n = std::stoi(s.substr(0, colon));
      sp.m = std::stoi(s.substr(colon + 1));
      if (sp.n <= 0 || sp.m <= sp.n) throw std::invalid_argument("n:m");
    } else {
      sp.sparsity = std::stod(s);
      if (!(sp.sparsity > 0.0 && sp.sparsity < 1.0)) throw std::invalid_argument("range");
    }
  } catch (const std::exception&) {
    fail("--sparsity '{}': expected a fraction in (0, 1) such as 0.5, or n:m such as 2:4", s);
  }
  return sp;
}

// Calibration: the text tokenized once, cut into `samples` consecutive windows of seq_len.
std::vector<int32_t> calibration_tokens(const Tokenizer& tok, const CompressOptions& opt) {
  if (opt.calib_file.empty()) fail("--calib FILE is required for --method {}", opt.method);
  std::vector<int32_t> ids = tok.encode(read_file(opt.calib_file), false);
  const int64_t need = opt.samples * opt.seq_len;
  if (int64_t(ids.size()) < need)
    fail("{}: {} tokens, fewer than --samples {} x --seq-len {} = {}", opt.calib_file, ids.size(),
         opt.samples, opt.seq_len, need);
  ids.resize(size_t(need));
  return ids;
}

std::vector<float> weight_f32(const MatrixView& w) {
  std::vector<float> out(static_cast<size_t>(w.numel()));
  kernels::to_f32(w.data, w.dtype, out.data(), w.numel(), kernels::active_isa());
  return out;
}

double squared_error(const std::vector<float>& a, const std::vector<float>& b) {
  double e = 0;
  for (size_t i = 0; i < a.size(); ++i) e += double(a[i] - b[i]) * double(a[i] - b[i]);
  return e;
}

// The Linear whose captured input serves `name` (q/k/v share one, gate/up share one).
std::string input_group(const std::string& name) {
  if (name == "self_attn.k_proj" || name == "self_attn.v_proj") return "self_attn.q_proj";
  if (name == "mlp.up_proj") return "mlp.gate_proj";
  return name;
}

bool entry_matches(const std::string& entry, const std::string& name) {
  if (entry.rfind("re:", 0) == 0) {
    try {
      return std::regex_match(name, std::regex(entry.substr(3)));
    } catch (const std::regex_error& e) {
      fail("'{}': not a valid regular expression: {}", entry, e.what());
    }
  }
  return entry == name;
}

std::string yaml_list(const std::vector<std::string>& v) {
  std::string r = "[";
  for (size_t i = 0; i < v.size(); ++i) r += (i ? ", \"" : "\"") + v[i] + "\"";
  return r + "]";
}

}  // namespace

bool module_selected(const std::string& name, const std::vector<std::string>& targets,
                     const std::vector<std::string>& ignore) {
  bool hit = false;
  for (const auto& t : targets) hit = hit || t == "Linear" || entry_matches(t, name);
  for (const auto& i : ignore) hit = hit && !entry_matches(i, name);
  return hit;
}

uint64_t dir_bytes(const std::string& dir) {
  uint64_t n = 0;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file()) n += e.file_size();
  return n;
}

CompressReport compress_model(const CompressOptions& opt,
                              const std::function<void(int64_t, int64_t)>& progress,
                              const std::function<void(LlamaModel&)>& on_compressed) {
  const auto t0 = Clock::now();
  const bool quantize = opt.scheme != "DENSE";
  const Scheme scheme = quantize ? scheme_by_name(opt.scheme, opt.group_size) : Scheme{"DENSE", {}, {}};
  QuantArgs qargs = scheme.weights;
  qargs.actorder = act_order_by_name(opt.actorder);
  qargs.scale_rule = scale_rule_by_name(opt.scale_rule);
  if (quantize) with_context("--scheme " + opt.scheme, [&] { check_scale_rule(qargs); });
  // Note: ggml's blocks hold weight-only quantization; the rule is not validated with W8A8's
  // int8 activation path.
  if (quantize && qargs.scale_rule == ScaleRule::kGgml && scheme.input_activations)
    fail("--scale-rule ggml applies to weight-only schemes (W4A16, W8A16), not {}", opt.scheme);
  const bool prune = opt.method == "sparsegpt" || opt.method == "magnitude";
  if (opt.method != "rtn" && opt.method != "gptq" && !prune)
    fail("--method '{}' is not one of rtn, gptq, sparsegpt, magnitude", opt.method);
  if (prune && opt.sparsity.empty()) fail("--method {} needs --sparsity (e.g. 0.5 or 2:4)", opt.method);
  if (!quantize && !prune) fail("--scheme DENSE (no quantization) only goes with a pruning method");
  const SparsityOptions sp = prune ? parse_sparsity(opt.sparsity) : SparsityOptions{};
  const bool replace = fs::exists(opt.out_dir) && !fs::is_empty(opt.out_dir);
  if (replace && !opt.overwrite)
    fail("{}: exists and is not empty; choose another --out or pass --overwrite", opt.out_dir);
  if (replace && !fs::is_directory(opt.out_dir)) fail("{}: exists and is not a folder", opt.out_dir);
  // A bad re: pattern fails here, before any work.
  for (const auto* list : {&opt.targets, &opt.ignore})
    for (const auto& e : *list) entry_matches(e, "");

  // Note: GPTQ's matrices here are small; OpenBLAS's own threads only slow them down (measured).
  openblas_set_num_threads(1);
  // Calibration needs the f32 weights of a compressed input as the reference path sees them.
  LlamaModel model = LlamaModel::load(opt.model_dir, WeightMode::kDequantized);
  const ModelConfig& c = model.config();
  const bool calibrate = opt.method == "gptq" || opt.method == "sparsegpt";
  GptqOptions gopt;
  gopt.damp = opt.damp;
  gopt.actorder = qargs.actorder;

  CompressReport rep;
  std::vector<float> xs;  // calibration activations (samples, seq_len, hidden)
  if (calibrate) {
    const Tokenizer tok = Tokenizer::load(opt.model_dir);
    const std::vector<int32_t> ids = calibration_tokens(tok, opt);
    xs.resize(ids.size() * size_t(c.hidden_size));
    model.embed(ids.data(), int64_t(ids.size()), xs.data());
    rep.calib_tokens = double(ids.size());
  }
  // Note: checked before any work, so a GPTQ run does not fail after calibrating layer 0.
  if (quantize && qargs.group_size > 0) {
    for (const std::string& name : LlamaModel::linear_names()) {
      const int64_t cols = model.linear(0, name).cols;
      if (cols % qargs.group_size != 0 &&
          module_selected("model.layers.0." + name, opt.targets, opt.ignore))
        fail("group size {} does not divide the {} input columns of {} (try a divisor of {}, e.g. "
             "{}, or --group-size 0 for per channel)", qargs.group_size, cols, name, cols,
             cols % 64 == 0 ? 64 : 32);
    }
  }
  // Note: calibration keeps an f32 KV cache whatever the serving default, so the captured
  // activations (and the compressed weights) match the full-precision reference forward.
  KvCache cache = model.make_cache(calibrate ? opt.seq_len : 1, DType::kF32);
  const int64_t d = c.hidden_size;
  std::map<std::string, QuantizedWeight> quantized;

  for (int64_t l = 0; l < c.n_layers; ++l) {
    std::map<std::string, HessianAccumulator> hess;
    if (calibrate) {
      // Capture the inputs of every Linear of layer l (its weights not yet compressed).
      std::vector<float> tmp(static_cast<size_t>(opt.seq_len * d));
      for (int64_t s = 0; s < opt.samples; ++s) {
        std::copy_n(xs.data() + s * opt.seq_len * d, tmp.size(), tmp.data());
        cache.clear();
        model.layer_forward(l, tmp.data(), opt.seq_len, cache,
                            [&](const std::string& name, const float* x, int64_t T) {
                              if (input_group(name) != name) return;
                              const int64_t cols = model.linear(l, name).cols;
                              auto it = hess.try_emplace(name, cols).first;
                              it->second.add(x, T);
                            });
      }
    }
    for (const std::string& name : LlamaModel::linear_names()) {
      const auto tl = Clock::now();
      const std::string full = fmt::format("model.layers.{}.{}", l, name);
      if (!module_selected(full, opt.targets, opt.ignore)) continue;  // kept as it is
      const MatrixView& mv = model.linear(l, name);
      std::vector<float> w = weight_f32(mv);
      const std::vector<float> original = w;
      LayerReport lr{full, 0, 0};
      std::vector<double> h;
      if (calibrate) h = hess.at(input_group(name)).hessian();
      if (opt.method == "magnitude") {
        magnitude_prune(w.data(), mv.rows, mv.cols, sp);
      } else if (opt.method == "sparsegpt") {
        QuantizedWeight qw;
        lr.loss = sparsegpt_prune(w.data(), mv.rows, mv.cols, std::move(h), sp, gopt,
                                  quantize ? &qargs : nullptr, quantize ? &qw : nullptr);
        if (quantize) {
          qw.dequantize(w.data());
          quantized.emplace(full + ".weight", std::move(qw));
        }
      } else if (opt.method == "gptq") {
        GptqResult r = gptq_quantize(w.data(), mv.rows, mv.cols, std::move(h), qargs, gopt);
        lr.loss = r.loss;
        // Static act-order keeps groups contiguous: an identity g_idx carries nothing (and
        // llm-compressor writes none).
        bool identity = true;
        for (size_t c = 0; c < r.weight.g_idx.size() && identity; ++c)
          identity = qargs.group_size > 0 && r.weight.g_idx[c] == int32_t(int64_t(c) / qargs.group_size);
        if (identity) r.weight.g_idx.clear();
        r.weight.dequantize(w.data());
        quantized.emplace(full + ".weight", std::move(r.weight));
      }
      // RTN (the method, or after magnitude pruning).
      if (quantize && (opt.method == "rtn" || opt.method == "magnitude")) {
        QuantizedWeight qw = quantize_rtn(w.data(), mv.rows, mv.cols, qargs);
        qw.dequantize(w.data());
        quantized.emplace(full + ".weight", std::move(qw));
      }
      if (opt.method == "rtn" || opt.method == "magnitude") lr.loss = squared_error(original, w);
      model.set_linear(l, name, std::move(w));
      lr.seconds = seconds_since(tl);
      rep.layers.push_back(lr);
    }
    if (calibrate) {
      // Layer l's outputs, from its compressed weights, are layer l+1's inputs.
      for (int64_t s = 0; s < opt.samples; ++s) {
        cache.clear();
        model.layer_forward(l, xs.data() + s * opt.seq_len * d, opt.seq_len, cache);
      }
    }
    if (progress) progress(l + 1, c.n_layers);
  }

  if (on_compressed) on_compressed(model);
  const std::string recipe = fmt::format(
      "# written by quanta compress\nquant_stage:\n  quant_modifiers:\n    method: {}\n    scheme: {}\n"
      "    group_size: {}\n    scale_rule: {}\n    actorder: {}\n    dampening_frac: {}\n    sparsity: \"{}\"\n"
      "    calibration: {{file: \"{}\", samples: {}, seq_len: {}}}\n    targets: {}\n"
      "    ignore: {}\n",
      opt.method, opt.scheme, qargs.group_size, scale_rule_name(qargs.scale_rule), act_order_name(qargs.actorder), opt.damp,
      opt.sparsity, opt.calib_file, calibrate ? opt.samples : 0, calibrate ? opt.seq_len : 0,
      yaml_list(opt.targets), yaml_list(opt.ignore));
  // With --overwrite the new folder is written beside the old one and swapped in when complete.
  const std::string target = replace ? opt.out_dir + ".new-" + std::to_string(::getpid()) : opt.out_dir;
  if (quantize) {
    CompressedSaveOptions so;
    so.source_dir = opt.model_dir;
    so.scheme = scheme;
    so.scheme.weights = qargs;
    so.targets = opt.targets;
    so.ignore = opt.ignore;
    so.recipe_yaml = recipe;
    save_compressed_tensors(target, so, quantized, model.store());
  } else {
    save_dense_model(target, opt.model_dir, model, recipe);
  }
  if (replace) {
    const std::string old = opt.out_dir + ".old-" + std::to_string(::getpid());
    fs::rename(opt.out_dir, old);
    fs::rename(target, opt.out_dir);
    fs::remove_all(old);
  }
  rep.seconds = seconds_since(t0);
  rep.bytes_before = dir_bytes(opt.model_dir);
  rep.bytes_after = dir_bytes(opt.out_dir);
  rep.peak_rss = peak_rss_bytes();
  return rep;
}

}  // namespace quanta
