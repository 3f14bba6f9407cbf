// Small hand-built tokenizer.json files: SentencePiece-style BPE (Llama-2/Mistral: Prepend/Replace
// normalizer or Metaspace, byte fallback) and byte-level BPE (GPT-2 style and Llama-3 style), plus
// bad input. Expected ids are what HF tokenizers 0.23 gives on the same JSON.
#include <gtest/gtest.h>

#include <functional>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "io/tokenizer.h"
#include "io/utf8_nfc.h"

namespace {

using nlohmann::json;
using Ids = std::vector<int32_t>;

// <unk> <s> </s>, the 256 "<0xXX>" byte tokens (ids 3..258), then a few pieces of "hello world".
json sentencepiece_json() {
  json vocab = {{"<unk>", 0}, {"<s>", 1}, {"</s>", 2}};
  for (int b = 0; b < 256; ++b) vocab[fmt::format("<0x{:02X}>", b)] = 3 + b;
  for (const char* t : {"▁", "h", "e", "l", "o", "w", "r", "d", "ll", "▁h", "ell", "▁hell",
                        "▁hello", "or", "▁w", "▁wor", "ld", "▁world"})
    vocab[t] = int(vocab.size());
  json added = json::array();
  int id = 0;
  for (const char* t : {"<unk>", "<s>", "</s>"}) {
    added.push_back({{"id", id++},
                     {"content", t},
                     {"single_word", false},
                     {"lstrip", false},
                     {"rstrip", false},
                     {"normalized", false},
                     {"special", true}});
  }
  return {
      {"version", "1.0"},
      {"added_tokens", added},
      {"normalizer",
       {{"type", "Sequence"},
        {"normalizers",
         {{{"type", "Prepend"}, {"prepend", "▁"}},
          {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", "▁"}}}}}},
      {"pre_tokenizer", nullptr},
      {"post_processor",
       {{"type", "TemplateProcessing"},
        {"single",
         {{{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}},
          {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}}},
        {"special_tokens", {{"<s>", {{"id", "<s>"}, {"ids", {1}}, {"tokens", {"<s>"}}}}}}}},
      {"decoder",
       {{"type", "Sequence"},
        {"decoders",
         {{{"type", "Replace"}, {"pattern", {{"String", "▁"}}}, {"content", " "}},
          {{"type", "ByteFallback"}},
          {{"type", "Fuse"}},
          {{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}}}}}},
      {"model",
       {{"type", "BPE"},
        {"dropout", nullptr},
        {"unk_token", "<unk>"},
        {"fuse_unk", true},
        {"byte_fallback", true},
        {"ignore_merges", false},
        {"vocab", vocab},
        {"merges",
         {"l l", "▁ h", "e ll", "▁h ell", "▁hell o", "o r", "▁ w", "▁w or", "l d", "▁wor ld"}}}},
  };
}

// The same model with the newer Metaspace pre-tokenizer/decoder (prepend_scheme "first") and
// merges as [left, right] pairs.
json metaspace_json() {
  json j = sentencepiece_json();
  j["normalizer"] = nullptr;
  const json ms = {
      {"type", "Metaspace"}, {"replacement", "▁"}, {"prepend_scheme", "first"}, {"split", false}};
  j["pre_tokenizer"] = ms;
  j["decoder"] = ms;
  json pairs = json::array();
  for (const auto& m : j["model"]["merges"]) {
    const std::string s = m;
    pairs.push_back({s.substr(0, s.find(' ')), s.substr(s.find(' ') + 1)});
  }
  j["model"]["merges"] = pairs;
  return j;
}

// GPT-2 byte-level alphabet as ids 0..255 (id = byte), a few merges, three added tokens.
json byte_level_json() {
  auto printable = [](int b) {
    return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
  };
  json vocab = json::object();
  int n = 0;
  for (int b = 0; b < 256; ++b) {
    const int cp = printable(b) ? b : 256 + n++;
    std::string s;
    if (cp < 0x80) {
      s += char(cp);
    } else {
      s += char(0xC0 | (cp >> 6));
      s += char(0x80 | (cp & 0x3F));
    }
    vocab[s] = b;
  }
  for (const char* t : {"Ġt", "he", "Ġthe", "Ġc", "at", "Ġcat", "in", "Ġin", "12", "123", "Ġ1"})
    vocab[t] = int(vocab.size());
  // Note: the "id" fields here disagree with the vocab on purpose; HF assigns 267, 268, 269.
  json added = {
      {{"id", 300},
       {"content", "<|end|>"},
       {"single_word", false},
       {"lstrip", false},
       {"rstrip", false},
       {"normalized", false},
       {"special", true}},
      {{"id", 301},
       {"content", "<mask>"},
       {"single_word", false},
       {"lstrip", true},
       {"rstrip", true},
       {"normalized", false},
       {"special", true}},
      {{"id", 302},
       {"content", "cat"},
       {"single_word", true},
       {"lstrip", false},
       {"rstrip", false},
       {"normalized", true},
       {"special", false}},
  };
  const json bl = {{"type", "ByteLevel"},
                   {"add_prefix_space", true},
                   {"trim_offsets", true},
                   {"use_regex", true}};
  return {
      {"version", "1.0"},
      {"added_tokens", added},
      {"normalizer", nullptr},
      {"pre_tokenizer", bl},
      {"post_processor", bl},
      {"decoder", bl},
      {"model",
       {{"type", "BPE"},
        {"unk_token", nullptr},
        {"vocab", vocab},
        {"merges",
         {"Ġ t", "h e", "Ġt he", "Ġ c", "a t", "Ġc at", "i n", "Ġ in", "1 2", "12 3", "Ġ 1"}}}}};
}

// Llama-3 style: a Split regex then ByteLevel without its own regex; ignore_merges; BOS template.
json llama3_json() {
  json j = byte_level_json();
  j["pre_tokenizer"] = {
      {"type", "Sequence"},
      {"pretokenizers",
       {{{"type", "Split"},
         {"pattern",
          {{"Regex",
            R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)"}}},
         {"behavior", "Isolated"},
         {"invert", false}},
        {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}}}}};
  j["model"]["ignore_merges"] = true;
  j["post_processor"] = json::parse(R"({"type": "Sequence", "processors": [
      {"type": "ByteLevel"},
      {"type": "TemplateProcessing",
       "single": [{"SpecialToken": {"id": "<|end|>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
       "special_tokens": {"<|end|>": {"id": "<|end|>", "ids": [300], "tokens": ["<|end|>"]}}}]})");
  return j;
}

struct Case {
  std::string text;
  Ids ids;
  std::string decoded;
};

void check(const quanta::Tokenizer& tok, const std::vector<Case>& cases, const Ids& bos) {
  for (const Case& c : cases) {
    SCOPED_TRACE(json(c.text).dump());
    EXPECT_EQ(tok.encode(c.text), c.ids);
    Ids with = bos;
    with.insert(with.end(), c.ids.begin(), c.ids.end());
    EXPECT_EQ(tok.encode(c.text, true), with);
    EXPECT_EQ(json(tok.decode(c.ids)).dump(), json(c.decoded).dump());
  }
}

TEST(Tokenizer, SentencePieceByteFallback) {
  const auto tok = quanta::Tokenizer::from_json(sentencepiece_json().dump());
  check(tok,
        {{"hello world", {271, 276}, "hello world"},
         {"hello  wörld!", {271, 259, 273, 198, 185, 265, 275, 36}, "hello  wörld!"},
         {"Hello", {259, 75, 269, 263}, "Hello"},
         {"<s>hello</s> world",
          {1, 271, 2, 259, 276},
          "<s> hello</s>  world"},  // ▁ prepended per piece
         {"", {}, ""},
         {" ", {259, 259}, " "},
         {"hi\n", {268, 108, 13}, "hi\n"},
         {"héllo\u00a0world",
          {268, 198, 172, 267, 263, 197, 163, 264, 272, 275},
          "héllo\u00a0world"}},
        {1});
  // Byte tokens that do not form UTF-8 decode to one U+FFFD each; unknown ids are dropped.
  EXPECT_EQ(tok.decode({3 + 0xC3, 277, 3 + 0xC3, 3 + 0xB6, 3 + 0xE2}),
            "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(tok.decode({1, 271, 2}, /*skip_special=*/true), "hello");
  EXPECT_EQ(tok.decode({1, 271, 2}), "<s> hello</s>");
  EXPECT_EQ(tok.token_bytes(276), " world");
  EXPECT_EQ(tok.token_bytes(3 + 0xC3), "\xC3");
  EXPECT_EQ(tok.bos_id(), -1);  // no tokenizer_config.json given
}

TEST(Tokenizer, SentencePieceMetaspace) {
  const auto tok = quanta::Tokenizer::from_json(metaspace_json().dump());
  check(
      tok,
      {{"hello world", {271, 276}, "hello world"},
       {"hello  wörld!", {271, 259, 273, 198, 185, 265, 275, 36}, "hello  w<0xC3><0xB6>rld<0x21>"},
       {"<s>hello world", {1, 260, 269, 263, 276}, "<s>hello world"},  // "first": no ▁ after <s>
       {" world", {276}, "world"}},
      {1});
}

TEST(Tokenizer, ByteLevelGpt2Style) {
  const auto tok = quanta::Tokenizer::from_json(byte_level_json().dump());
  check(tok,
        {{"the cat", {258, 32, 269}, " the cat"},  // "cat" is a single_word added token
         {"the cat sat in 123", {258, 32, 269, 32, 115, 260, 263, 32, 265}, " the cat sat in 123"},
         {"concat cat.", {259, 111, 110, 99, 260, 32, 269, 32, 46}, " concat cat ."},
         {"a <mask>  b", {32, 97, 268, 32, 98}, " a<mask> b"},  // lstrip/rstrip take the spaces
         {"x<|end|>the", {32, 120, 267, 258}, " x<|end|> the"},
         {"  two  spaces ",
          {32, 256, 119, 111, 32, 32, 115, 112, 97, 99, 101, 115, 32},
          "  two  spaces "},
         {"12345", {32, 265, 52, 53}, " 12345"},
         {"ÿé😀", {32, 195, 191, 195, 169, 240, 159, 152, 128}, " ÿé😀"}},
        {});
  EXPECT_EQ(tok.token_id("<|end|>"), 267);
  EXPECT_TRUE(tok.is_special(268));
  EXPECT_FALSE(tok.is_special(269));
  EXPECT_EQ(tok.vocab_size(), 270);
  EXPECT_EQ(tok.decode({0xC3, 261, 0xE2, 0x82}), "\xEF\xBF\xBD cat\xEF\xBF\xBD");
  EXPECT_EQ(tok.decode({258, 267, 32}, true), " the ");
}

TEST(Tokenizer, ByteLevelLlama3Style) {
  const auto tok = quanta::Tokenizer::from_json(llama3_json().dump());
  check(tok,
        {{"the cat", {116, 257, 32, 269}, "the cat"},
         {"The CAT'S 12345 in\r\n\n  x",
          {84, 257, 32, 67, 65, 84, 39, 83, 32, 265, 52, 53, 263, 13, 10, 10, 32, 32, 120},
          "The CAT'S 12345 in\r\n\n  x"},
         {"Hello  world!!\n\n",
          {72, 101, 108, 108, 111, 32, 32, 119, 111, 114, 108, 100, 33, 33, 10, 10},
          "Hello  world!!\n\n"},
         {"ÿé😀", {195, 191, 195, 169, 240, 159, 152, 128}, "ÿé😀"}},
        {300});
}

TEST(Tokenizer, NfcNormalizer) {
  using quanta::utf8::nfc;
  EXPECT_EQ(nfc("plain ASCII"), "plain ASCII");
  EXPECT_EQ(nfc("e\u0301"), "\u00e9");
  EXPECT_EQ(nfc("\u1100\u1161\u11a8"), "\uac01");  // Hangul L V T
  EXPECT_EQ(nfc("\u212b"), "\u00c5");              // singleton
  EXPECT_EQ(nfc("a\u0302\u0323"), "\u1ead");       // reordered, then composed
  EXPECT_EQ(nfc("\u0344"), "\u0308\u0301");        // excluded from composition
  EXPECT_EQ(nfc("\u0301a"), "\u0301a");            // leading mark stays
  EXPECT_EQ(nfc("\u00dc\u0304"), "\u01d5");
  // Qwen2-style: NFC before the byte-level pre-tokenizer.
  json j = byte_level_json();
  j["normalizer"] = {{"type", "NFC"}};
  const auto tok = quanta::Tokenizer::from_json(j.dump());
  EXPECT_EQ(tok.encode("cafe\u0301"), tok.encode("caf\u00e9"));
  EXPECT_EQ(tok.encode("caf\u00e9"), (Ids{259, 97, 102, 195, 169}));
}

TEST(Tokenizer, ConfigGivesBosEosAndTemplate) {
  const std::string config = R"({"bos_token": {"content": "<s>", "lstrip": false},
      "eos_token": "</s>", "chat_template": [{"name": "tool_use", "template": "T"},
                                             {"name": "default", "template": "{{ bos_token }}"}]})";
  const auto tok = quanta::Tokenizer::from_json(sentencepiece_json().dump(), config);
  EXPECT_EQ(tok.bos_id(), 1);
  EXPECT_EQ(tok.eos_id(), 2);
  EXPECT_EQ(tok.chat_template(), "{{ bos_token }}");
  EXPECT_EQ(tok.apply_chat_template({{"user", "hi"}}, true), "<s>");
}

// EXPECT_THROW that also checks every fragment appears in the message.
void expect_error(const std::function<void()>& fn, std::vector<std::string> fragments) {
  try {
    fn();
    ADD_FAILURE() << "no quanta::Error thrown";
  } catch (const quanta::Error& e) {
    const std::string msg = e.what();
    for (const auto& f : fragments)
      EXPECT_NE(msg.find(f), std::string::npos) << msg << "\nmissing: " << f;
  }
}

TEST(Tokenizer, BadInputNamesFileAndField) {
  using quanta::Tokenizer;
  expect_error([] { Tokenizer::load("/nonexistent/model"); },
               {"/nonexistent/model/tokenizer.json", "cannot open"});
  expect_error([] { Tokenizer::from_json("{\"model\": "); }, {"tokenizer.json", "invalid JSON"});
  expect_error([] { Tokenizer::from_json("[1, 2]"); }, {"tokenizer.json", "object"});
  expect_error([] { Tokenizer::from_json(R"({"added_tokens": []})"); },
               {"tokenizer.json", "'model'"});
  json j = sentencepiece_json();
  j["model"]["type"] = "WordPiece";
  expect_error([&] { Tokenizer::from_json(j.dump()); }, {"model.type", "WordPiece"});
  j = sentencepiece_json();
  j["model"].erase("vocab");
  expect_error([&] { Tokenizer::from_json(j.dump()); }, {"tokenizer.json.model", "'vocab'"});
  j = sentencepiece_json();
  j["model"]["vocab"]["x"] = "seven";
  expect_error([&] { Tokenizer::from_json(j.dump()); }, {"vocab['x']", "integer"});
  j = sentencepiece_json();
  j["model"]["merges"].push_back("zz q");
  expect_error([&] { Tokenizer::from_json(j.dump()); }, {"merges[10]", "'zz'", "vocab"});
  j = sentencepiece_json();
  j["model"]["merges"].push_back("a b c");
  expect_error([&] { Tokenizer::from_json(j.dump()); }, {"merges[10]"});
  j = sentencepiece_json();
  j["pre_tokenizer"] = {{"type", "BertPreTokenizer"}};
  expect_error([&] { Tokenizer::from_json(j.dump()); }, {"pre_tokenizer", "BertPreTokenizer"});
  j = sentencepiece_json();
  j["normalizer"] = {{"type", "Lowercase"}};
  expect_error([&] { Tokenizer::from_json(j.dump()); }, {"normalizer", "Lowercase"});
  j = sentencepiece_json();
  j["decoder"] = {{"type", "WordPiece"}};
  expect_error([&] { Tokenizer::from_json(j.dump()); }, {"decoder", "WordPiece"});
  j = llama3_json();
  j["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = "(unclosed";
  expect_error([&] { Tokenizer::from_json(j.dump()); },
               {"pretokenizers[0]", "pattern", "(unclosed"});
  j = llama3_json();
  j["pre_tokenizer"]["pretokenizers"][0]["behavior"] = "Sideways";
  expect_error([&] { Tokenizer::from_json(j.dump()); }, {"behavior", "Sideways"});
  j = sentencepiece_json();
  j["added_tokens"][0].erase("content");
  expect_error([&] { Tokenizer::from_json(j.dump()); }, {"added_tokens[0]", "'content'"});
  const std::string ok = sentencepiece_json().dump();
  expect_error([&] { Tokenizer::from_json(ok, "{bad"); },
               {"tokenizer_config.json", "invalid JSON"});
  expect_error([&] { Tokenizer::from_json(ok, R"({"bos_token": "<nope>"})"); },
               {"tokenizer_config.json.bos_token", "<nope>"});
  expect_error([&] { Tokenizer::from_json(ok, R"({"eos_token": 5})"); }, {"eos_token"});
  expect_error([&] { Tokenizer::from_json(ok).apply_chat_template({}, false); }, {"chat_template"});
}

}  // namespace
