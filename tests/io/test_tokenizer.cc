// The tokenizer against HF on SmolLM2-135M-Instruct's real tokenizer.json: every case of
// tests/golden/data/tokenizer_cases.json (made by scripts/reference/make_tokenizer_cases.py) and
// the token count of a WikiText-2 prefix.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "io/tokenizer.h"

namespace {

using nlohmann::json;

const std::string kModelDir = QUANTA_SOURCE_DIR "/../shared/models/smollm2-135m-instruct";
const std::string kWiki = QUANTA_SOURCE_DIR "/../shared/data/wikitext-2-raw/wiki.test.raw";
const std::string kCases = QUANTA_SOURCE_DIR "/tests/golden/data/tokenizer_cases.json";

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string show(const std::string& s) { return json(s).dump(); }

// Loaded once: the vocab has 49k entries and 49k merges.
const quanta::Tokenizer* smollm() {
  static const std::unique_ptr<quanta::Tokenizer> tok = [] {
    if (!std::filesystem::exists(kModelDir + "/tokenizer.json"))
      return std::unique_ptr<quanta::Tokenizer>();
    return std::make_unique<quanta::Tokenizer>(quanta::Tokenizer::load(kModelDir));
  }();
  return tok.get();
}

#define REQUIRE_SMOLLM()                                                                \
  if (!smollm()) GTEST_SKIP() << "no tokenizer at " << kModelDir << " (shared models)"; \
  const quanta::Tokenizer& tok = *smollm()

TEST(Tokenizer, SmolLM2MatchesHF) {
  REQUIRE_SMOLLM();
  const json cases = json::parse(read_file(kCases));
  ASSERT_GE(cases["cases"].size(), 40u);
  for (const json& c : cases["cases"]) {
    const std::string text = c["text"];
    SCOPED_TRACE("text " + show(text.substr(0, 80)));
    const auto ids = tok.encode(text, false);
    EXPECT_EQ(ids, c["ids"].get<std::vector<int32_t>>());
    EXPECT_EQ(tok.encode(text, true), c["ids_special"].get<std::vector<int32_t>>());
    EXPECT_EQ(show(tok.decode(ids)), show(c["decoded"]));
    EXPECT_EQ(show(tok.decode(ids, true)), show(c["decoded_skip"]));
    // Streaming: the tokens' bytes put together are the text again (byte-level BPE is lossless).
    std::string streamed;
    for (int32_t id : ids) streamed += tok.token_bytes(id);
    EXPECT_EQ(show(streamed), show(text));
  }
}

TEST(Tokenizer, SmolLM2Vocabulary) {
  REQUIRE_SMOLLM();
  EXPECT_EQ(tok.vocab_size(), 49152);
  EXPECT_EQ(tok.bos_id(), 1);  // tokenizer_config.json: bos <|im_start|>, eos <|im_end|>
  EXPECT_EQ(tok.eos_id(), 2);
  EXPECT_EQ(tok.bos_token(), "<|im_start|>");
  EXPECT_EQ(tok.eos_token(), "<|im_end|>");
  EXPECT_EQ(tok.token_id("<|endoftext|>"), 0);
  EXPECT_EQ(tok.token_id("Ġthe"), 260);
  EXPECT_EQ(tok.token_id("no such token"), -1);
  for (int32_t id = 0; id <= 16; ++id) EXPECT_TRUE(tok.is_special(id)) << id;
  EXPECT_FALSE(tok.is_special(17));
  EXPECT_EQ(tok.token_bytes(260), " the");
  EXPECT_EQ(tok.token_bytes(2), "<|im_end|>");
  EXPECT_EQ(tok.token_bytes(-5), "");
  EXPECT_NE(tok.chat_template().find("<|im_start|>"), std::string::npos);
  // A token that is part of a UTF-8 sequence streams as raw bytes.
  const auto ids = tok.encode("😀");
  std::string bytes;
  for (int32_t id : ids) bytes += tok.token_bytes(id);
  EXPECT_EQ(bytes, "😀");
}

TEST(Tokenizer, SmolLM2DecodeRepairsBrokenUtf8) {
  REQUIRE_SMOLLM();
  // Half of "é" (0xC3 0xA9) alone decodes to U+FFFD, as String::from_utf8_lossy does.
  const auto ids = tok.encode("é");
  ASSERT_EQ(ids.size(), 1u);
  const int32_t c3 = tok.token_id("Ã");
  ASSERT_GE(c3, 0);
  EXPECT_EQ(tok.decode({c3}), "\xEF\xBF\xBD");
  EXPECT_EQ(tok.decode({c3, tok.token_id("©")}), "é");
  // Invalid input bytes are replaced before encoding, so nothing fails.
  EXPECT_EQ(tok.decode(tok.encode("a\xFF"
                                  "b")),
            "a\xEF\xBF\xBD"
            "b");
}

TEST(Tokenizer, SmolLM2WikiTextPrefixCount) {
  REQUIRE_SMOLLM();
  if (!std::filesystem::exists(kWiki)) GTEST_SKIP() << "no " << kWiki;
  const json wiki = json::parse(read_file(kCases))["wiki"];
  const std::string text = read_file(kWiki).substr(0, wiki["prefix_bytes"].get<size_t>());
  const auto t0 = std::chrono::steady_clock::now();
  const auto ids = tok.encode(text);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(int64_t(ids.size()), wiki["prefix_tokens"].get<int64_t>());  // 25043 with HF tokenizers
  EXPECT_EQ(tok.decode(ids), text);
  EXPECT_LT(s, 1.0) << "encoding 100 KB took " << s << " s";
}

}  // namespace
