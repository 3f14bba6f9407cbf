// compressed-tensors quantization_config inputs that fuzz/fuzz_ct_config.cc found escaping as a
// json::exception: each must now parse or be refused with a quanta::Error naming the field.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

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
