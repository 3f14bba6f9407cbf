// compressed-tensors quantization_config inputs that fuzz/fuzz_ct_config.cc found escaping as a
// json::exception: each must now parse or be refused with a quanta::Error naming the field.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "core/error.h"
#include "quant/compressed_tensors.h"
#include "test_util.h"

namespace quanta {
namespace {

namespace fs = std::filesystem;

std::string folder_with_config(const std::string& text) {
  const std::string dir = testing_util::temp_dir();
  std::ofstream(fs::path(dir) / "config.json", std::ios::binary) << text;
  return dir;
}

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Found after 4,261,794 executions: a duplicated "quantization_config" whose last copy has
// "format": null (json::value threw type_error). A null folder-wide format now means "none": the
// group's own "pack-quantized" applies and the config parses.
TEST(CtConfigFuzz, NullFolderFormatParses) {
  const std::string dir = folder_with_config(
      read_text(fs::path(QUANTA_SOURCE_DIR) / "tests/data/fuzz/ct_config_format_null.json"));
  ASSERT_TRUE(is_compressed_tensors(dir));
  EXPECT_FALSE(input_activation_args(dir).has_value());  // weight-only, and no exception
}

// Found after 2,549,575 executions of the fixed target: "num_bits": 4e10 went through
// json::get<int> (a float-to-int cast out of range: undefined behaviour, reported by UBSan).
TEST(CtConfigFuzz, FloatForIntegerFieldIsRefused) {
  const std::string dir = folder_with_config(
      read_text(fs::path(QUANTA_SOURCE_DIR) / "tests/data/fuzz/ct_config_num_bits_4e10.json"));
  try {
    (void)input_activation_args(dir);
    ADD_FAILURE() << "accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("num_bits: expected an integer, got 40000000000.0"), std::string::npos)
        << e.what();
  }
}

TEST(CtConfigFuzz, WrongTypedFieldsAreQuantaErrors) {
  const std::string group =
      R"("config_groups": {"g": {"targets": ["Linear"], "weights": {"num_bits": 4, "type": "int",
         "symmetric": true, "strategy": "group", "group_size": 16}}})";
  const struct {
    std::string qc, want;
  } cases[] = {
      {R"({"quant_method": "compressed-tensors", "format": 5, )" + group + "}", "format"},
      {R"({"quant_method": "compressed-tensors", "format": ["pack-quantized"], )" + group + "}", "format"},
      {R"({"quant_method": 7, "format": "pack-quantized", )" + group + "}", "quant_method"},
  };
  std::vector<std::pair<std::string, std::string>> weights = {
      {R"("num_bits": 4.5)", "num_bits: expected an integer"},
      {R"("num_bits": 1e300)", "num_bits: expected an integer"},
      {R"("num_bits": 18446744073709551615)", "num_bits: expected an integer"},
      {R"("num_bits": 4, "group_size": -1e30)", "group_size: expected an integer"},
      {R"("num_bits": 4, "group_size": "16")", "group_size"},
  };
  for (const auto& [w, want] : weights) {
    const std::string dir = folder_with_config(
        R"({"quantization_config": {"quant_method": "compressed-tensors", "format": "pack-quantized",
            "config_groups": {"g": {"targets": ["Linear"], "weights": {)" + w + "}}}}}");
    try {
      (void)read_quantized_weights(dir);
      ADD_FAILURE() << w << ": accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(want), std::string::npos) << e.what();
    } catch (const std::exception& e) {
      ADD_FAILURE() << w << ": not a quanta::Error: " << e.what();
    }
  }
  for (const auto& c : cases) {
    const std::string dir = folder_with_config(R"({"quantization_config": )" + c.qc + "}");
    try {
      (void)read_quantized_weights(dir);
      ADD_FAILURE() << c.qc << ": accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(c.want), std::string::npos) << e.what();
    } catch (const std::exception& e) {
      ADD_FAILURE() << c.qc << ": not a quanta::Error: " << e.what();
    }
  }
}

}  // namespace
}  // namespace quanta
