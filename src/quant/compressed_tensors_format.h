// Internals of the compressed-tensors format shared by the writer and the reader: dense bit
// packing into int32 (compressed-tensors' pack_to_int32 / unpack_from_int32) and the
// quantization_config JSON.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "quant/quant_args.h"

namespace quanta::ct {

// compressed-tensors' format names.
inline constexpr const char* kPackQuantized = "pack-quantized";
inline constexpr const char* kIntQuantized = "int-quantized";
inline constexpr const char* kFloatQuantized = "float-quantized";
inline constexpr const char* kNaiveQuantized = "naive-quantized";

// The format llm-compressor infers for a scheme (compressed_tensors.compressors.format):
// int weights with int activations -> int-quantized; int weight-only -> pack-quantized; fp8
// weights with activations -> float-quantized; fp8 weight-only -> naive-quantized.
std::string format_for(const Scheme& s);

// Packs v (rows, cols) of unsigned bits-wide values (0 .. 2^bits - 1) along the columns into
// (rows, ceil(cols * bits / 32)) int32: element i occupies bits [i*bits, (i+1)*bits) of the row's
// bit stream, lowest bits first (dense, values may straddle words).
std::vector<int32_t> pack_rows(const uint8_t* v, int64_t rows, int64_t cols, int bits);
// Inverse: packed (rows, ceil(cols * bits / 32)) -> (rows, cols) unsigned values.
std::vector<uint8_t> unpack_rows(const int32_t* p, int64_t rows, int64_t cols, int bits);
inline int64_t packed_cols(int64_t cols, int bits) { return (cols * bits + 31) / 32; }

// QuantizationArgs as compressed-tensors 0.19 serializes them (model_dump field set).
nlohmann::json args_json(const QuantArgs& a, bool is_activation);
// Parses a QuantizationArgs object; `where` names the JSON path for messages.
QuantArgs parse_args(const nlohmann::json& j, const std::string& where);

// The whole quantization_config object.
nlohmann::json quantization_config_json(const Scheme& s, const std::vector<std::string>& targets,
                                        const std::vector<std::string>& ignore);

}  // namespace quanta::ct
