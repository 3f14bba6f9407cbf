#include "quant/compressed_tensors_format.h"

#include <limits>
#include <type_traits>

#include "core/error.h"

namespace quanta::ct {

using json = nlohmann::json;

std::string format_for(const Scheme& s) {
  if (s.weights.type == QuantType::kFloat)
    return s.input_activations ? kFloatQuantized : kNaiveQuantized;
  if (s.input_activations) return kIntQuantized;
  return kPackQuantized;
}

std::vector<int32_t> pack_rows(const uint8_t* v, int64_t rows, int64_t cols, int bits) {
  QUANTA_ASSERT(bits >= 1 && bits <= 8);
  const int64_t pc = packed_cols(cols, bits);
  std::vector<uint32_t> out(size_t(rows * pc), 0u);
  const uint32_t mask = (1u << bits) - 1u;
  for (int64_t r = 0; r < rows; ++r) {
    uint32_t* o = out.data() + r * pc;
    for (int64_t c = 0; c < cols; ++c) {
      const uint32_t x = uint32_t(v[r * cols + c]) & mask;
      const int64_t bit = c * bits;
      const int64_t w = bit / 32;
      const int off = int(bit % 32);
      o[w] |= x << off;
      if (off + bits > 32) o[w + 1] |= x >> (32 - off);
    }
  }
  std::vector<int32_t> res(out.size());
  for (size_t i = 0; i < out.size(); ++i) res[i] = int32_t(out[i]);
  return res;
}

std::vector<uint8_t> unpack_rows(const int32_t* p, int64_t rows, int64_t cols, int bits) {
  QUANTA_ASSERT(bits >= 1 && bits <= 8);
  const int64_t pc = packed_cols(cols, bits);
  std::vector<uint8_t> out(size_t(rows * cols));
  const uint32_t mask = (1u << bits) - 1u;
  for (int64_t r = 0; r < rows; ++r) {
    const int32_t* row = p + r * pc;
    for (int64_t c = 0; c < cols; ++c) {
      const int64_t bit = c * bits;
      const int64_t w = bit / 32;
      const int off = int(bit % 32);
      uint32_t x = uint32_t(row[w]) >> off;
      if (off + bits > 32) x |= uint32_t(row[w + 1]) << (32 - off);
      out[size_t(r * cols + c)] = uint8_t(x & mask);
    }
  }
  return out;
}

json args_json(const QuantArgs& a, bool is_activation) {
  json j;
  j["num_bits"] = a.num_bits;
  j["type"] = a.type == QuantType::kFloat ? "float" : "int";
  j["symmetric"] = a.symmetric;
  if (a.group_size > 0) {
    j["group_size"] = a.group_size;
    j["strategy"] = "group";
  } else {
    j["group_size"] = nullptr;
    j["strategy"] = is_activation ? "token" : "channel";
  }
  j["block_structure"] = nullptr;
  j["dynamic"] = a.dynamic;
  // "group": GPTQ activation order with weight_g_idx; "static": ordered sweep, contiguous groups.
  j["actorder"] = a.actorder == ActOrder::kNone ? json(nullptr) : json(act_order_name(a.actorder));
  // The ggml rule's scales are f16 values (as in ggml's blocks); bf16 would round them again.
  j["scale_dtype"] = a.scale_rule == ScaleRule::kGgml ? json("float16") : json(nullptr);
  j["zp_dtype"] = nullptr;
  j["observer"] = a.dynamic ? json(nullptr) : json("minmax");
  j["observer_kwargs"] = json::object();
  return j;
}

namespace {

template <typename T>
T field(const json& j, const char* key, const std::string& where, T dflt) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return dflt;
  if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
    // Note: json::get<int> of a float casts (4e10 is undefined behaviour, found by
    // fuzz/fuzz_ct_config.cc; 4.5 would truncate): integer fields take integers in T's range.
    const bool in_range =
        it->is_number_unsigned() ? it->get<uint64_t>() <= uint64_t(std::numeric_limits<T>::max())
        : it->is_number_integer() ? it->get<int64_t>() >= int64_t(std::numeric_limits<T>::min()) &&
                                        it->get<int64_t>() <= int64_t(std::numeric_limits<T>::max())
                                  : false;
    if (!in_range) fail("{}.{}: expected an integer, got {}", where, key, it->dump());
    return it->is_number_unsigned() ? T(it->get<uint64_t>()) : T(it->get<int64_t>());
  }
  try {
    return it->get<T>();
  } catch (const json::exception&) {
    fail("{}.{}: unexpected value {}", where, key, it->dump());
  }
}

}  // namespace

QuantArgs parse_args(const json& j, const std::string& where) {
  if (!j.is_object()) fail("{}: expected an object, got {}", where, j.dump());
  QuantArgs a;
  a.num_bits = field<int>(j, "num_bits", where, 8);
  const std::string type = field<std::string>(j, "type", where, "int");
  if (type == "int") {
    a.type = QuantType::kInt;
    if (a.num_bits < 1 || a.num_bits > 8)
      fail("{}.num_bits: {} is not supported for int (1..8)", where, a.num_bits);
  } else if (type == "float") {
    a.type = QuantType::kFloat;
    if (a.num_bits != 8) fail("{}.num_bits: {} is not supported for float (8)", where, a.num_bits);
  } else {
    fail("{}.type: unknown type '{}' (expected int or float)", where, type);
  }
  a.symmetric = field<bool>(j, "symmetric", where, true);
  a.dynamic = j.contains("dynamic") && j["dynamic"].is_boolean() && j["dynamic"].get<bool>();
  const std::string strategy = field<std::string>(j, "strategy", where, "");
  const int64_t gs = field<int64_t>(j, "group_size", where, 0);
  if (strategy == "group" || (strategy.empty() && gs > 0)) {
    if (gs <= 0) fail("{}.group_size: strategy group needs a positive group_size", where);
    a.group_size = gs;
  } else if (strategy == "channel" || strategy == "token" || strategy.empty()) {
    a.group_size = 0;
  } else {
    fail("{}.strategy: '{}' is not supported (group, channel, token)", where, strategy);
  }
  auto ao = j.find("actorder");
  if (ao != j.end()) {
    // Older configs wrote a boolean (true meant group ordering).
    if (ao->is_boolean()) a.actorder = ao->get<bool>() ? ActOrder::kGroup : ActOrder::kNone;
    if (ao->is_string()) a.actorder = act_order_by_name(ao->get<std::string>());
  }
  return a;
}

json quantization_config_json(const Scheme& s, const std::vector<std::string>& targets,
                              const std::vector<std::string>& ignore) {
  json group;
  group["targets"] = targets;
  group["weights"] = args_json(s.weights, false);
  group["input_activations"] =
      s.input_activations ? args_json(*s.input_activations, true) : json(nullptr);
  group["output_activations"] = nullptr;
  group["format"] = format_for(s);
  json q;
  q["config_groups"] = json::object({{"group_0", group}});
  q["quant_method"] = "compressed-tensors";
  q["kv_cache_scheme"] = nullptr;
  q["format"] = format_for(s);
  q["quantization_status"] = "compressed";
  q["global_compression_ratio"] = nullptr;
  q["ignore"] = ignore;
  q["sparsity_config"] = json::object();  // as ModelCompressor.update_config writes them
  q["transform_config"] = json::object();
  q["version"] = "0.19.0";
  return q;
}

}  // namespace quanta::ct
