// Inputs the fuzzers (fuzz/) found that escaped as something other than quanta::Error; each must now
// be refused with a quanta::Error naming the file.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "core/error.h"
#include "io/gguf.h"
#include "io/hf_config.h"
#include "io/tokenizer.h"

namespace quanta {
namespace {

namespace fs = std::filesystem;

// Every tests/data/fuzz/config_*.json (e.g. "model_type": 9304, a json::type_error before).
TEST(FuzzRegressions, ConfigJsonTypeErrorsAreQuantaErrors) {
  const fs::path dir = fs::path(QUANTA_SOURCE_DIR) / "tests/data/fuzz";
  int n = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name.rfind("config_", 0) != 0) continue;
    ++n;
    const std::string text = read_file(e.path().string());
    try {
      parse_model_config(text, name);
      ADD_FAILURE() << name << " parsed";
    } catch (const Error& err) {
      EXPECT_NE(std::string(err.what()).find(name), std::string::npos) << err.what();
    } catch (const std::exception& err) {
      ADD_FAILURE() << name << ": not a quanta::Error: " << err.what();
    }
  }
  EXPECT_GE(n, 1);
}

TEST(FuzzRegressions, WrongTypedStringFieldsAreQuantaErrors) {
  for (const char* field : {"model_type", "torch_dtype", "hidden_act"}) {
    const std::string text = std::string(R"({"architectures": ["LlamaForCausalLM"], "hidden_size": 8,
      "intermediate_size": 8, "num_hidden_layers": 1, "num_attention_heads": 2, "vocab_size": 4, ")") +
                             field + R"(": 5})";
    EXPECT_THROW(parse_model_config(text, "config.json"), Error) << field;
  }
}

// fuzz_gguf (UBSan, after 3,095,290 executions): a tensor with dims (0, 281474976907289) holds no
// elements; dequantizing it passed a null destination to memcpy. It opens and dequantizes to
// nothing.
TEST(FuzzRegressions, GgufZeroElementTensorDequantizesToNothing) {
  const std::string path = std::string(QUANTA_SOURCE_DIR) + "/tests/data/fuzz/gguf_zero_element_tensor.gguf";
  std::unique_ptr<GgufFile> f = GgufFile::open(path);
  ASSERT_EQ(f->tensors().size(), 1u);
  EXPECT_EQ(f->tensors()[0].numel(), 0);
  EXPECT_TRUE(dequantize(f->tensors()[0]).empty());
}

// fuzz_tokenizer_json (out of memory after 6,392,086 executions): a vocab of ~150 tokens with one
// id of 133333332 sized the id table at 4.3 GB. Refused, naming the id; ids a little past the
// vocab's size still load.
TEST(FuzzRegressions, SparseVocabIdIsRefused) {
  const std::string path = std::string(QUANTA_SOURCE_DIR) + "/tests/data/fuzz/tokenizer_sparse_vocab_id.json";
  try {
    Tokenizer::from_json(read_file(path));
    ADD_FAILURE() << "loaded";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("133333332"), std::string::npos) << e.what();
  }
  const std::string ok = R"({"model": {"type": "BPE", "vocab": {"a": 0, "b": 60000}, "merges": []}})";
  EXPECT_EQ(Tokenizer::from_json(ok).token_id("b"), 60000);
}

}  // namespace
}  // namespace quanta
