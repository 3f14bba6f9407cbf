#include "compress/dense_save.h"

#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "io/hf_config.h"
#include "io/staging_dir.h"
#include "kernels/matmul.h"

namespace quanta {

namespace fs = std::filesystem;

void save_dense_model(const std::string& out_dir, const std::string& source_dir,
                      const LlamaModel& model, const std::string& recipe_yaml) {
  StagingDir stage(out_dir);
  const fs::path& tmp = stage.path();
  {
    // Current weights by name: the Linears from the model, everything else from the store.
    std::map<std::string, MatrixView> views;
    for (int64_t l = 0; l < model.config().n_layers; ++l)
      for (const std::string& name : LlamaModel::linear_names())
        views[fmt::format("model.layers.{}.{}.weight", l, name)] = model.linear(l, name);
    SafetensorsWriter w;
    for (const auto& [name, t] : model.store().tensors()) {
      auto it = views.find(name);
      const void* data = it != views.end() ? it->second.data : t.data;
      const DType dt = it != views.end() ? it->second.dtype : t.dtype;
      const int64_t n = t.numel();
      std::vector<float> f(static_cast<size_t>(n));
      kernels::to_f32(data, dt, f.data(), n, kernels::active_isa());
      std::vector<uint16_t> b(static_cast<size_t>(n));
      for (int64_t i = 0; i < n; ++i) b[size_t(i)] = f32_to_bf16(f[size_t(i)]);
      w.add(name, DType::kBF16, t.shape, b.data(), b.size() * 2);
    }
    w.write((tmp / "model.safetensors").string());
    auto config = nlohmann::json::parse(read_file((fs::path(source_dir) / "config.json").string()));
    config["torch_dtype"] = "bfloat16";
    std::ofstream(tmp / "config.json") << config.dump(2) << "\n";
    for (const char* f : {"tokenizer.json", "tokenizer_config.json", "generation_config.json",
                          "special_tokens_map.json", "chat_template.jinja"})
      if (fs::exists(fs::path(source_dir) / f)) fs::copy_file(fs::path(source_dir) / f, tmp / f);
    std::ofstream(tmp / "recipe.yaml") << recipe_yaml;
    stage.commit();
  }
}

}  // namespace quanta
