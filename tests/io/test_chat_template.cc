// Chat templates against transformers' apply_chat_template(tokenize=False): every case of
// tests/golden/data/chat_cases.json (SmolLM2, Llama-2/3/3.2, Mistral, Qwen2.5 and a feature
// template), Jinja details checked against jinja2 3.1, and syntax errors.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/error.h"
#include "io/chat_template.h"
#include "io/jinja.h"
#include "io/tokenizer.h"

namespace {

using nlohmann::json;

const std::string kCases = QUANTA_SOURCE_DIR "/tests/golden/data/chat_cases.json";
const std::string kModelDir = QUANTA_SOURCE_DIR "/../shared/models/smollm2-135m-instruct";

json load_cases() {
  std::ifstream f(kCases);
  std::ostringstream ss;
  ss << f.rdbuf();
  return json::parse(ss.str());
}

std::vector<quanta::ChatMessage> messages_of(const json& c) {
  std::vector<quanta::ChatMessage> out;
  for (const json& m : c["messages"]) out.push_back({m["role"], m["content"]});
  return out;
}

// Renders a case as the script did: the named template, its bos/eos, any extra variables.
std::string render_case(const json& templates, const json& c) {
  const json& t = templates[c["template"].get<std::string>()];
  const auto msgs = messages_of(c);
  const bool gen = c["add_generation_prompt"];
  if (c["extra"].empty())
    return quanta::render_chat_template(t["template"], msgs, gen, t["bos_token"], t["eos_token"]);
  auto vars = quanta::chat_template_vars(msgs, gen, t["bos_token"], t["eos_token"]);
  for (const auto& [k, v] : c["extra"].items())
    vars.emplace_back(k, quanta::jinja::Value(v.get<std::string>()));
  return quanta::jinja::Template(t["template"].get<std::string>()).render(vars);
}

TEST(ChatTemplate, MatchesTransformers) {
  const json cases = load_cases();
  ASSERT_GE(cases["cases"].size(), 20u);
  for (const json& c : cases["cases"]) {
    SCOPED_TRACE(c["template"].get<std::string>() + " " + c["messages"].dump());
    if (c.contains("rendered")) {
      EXPECT_EQ(json(render_case(cases["templates"], c)).dump(), json(c["rendered"]).dump());
      continue;
    }
    // transformers raised (raise_exception in the template): so must we, with its message.
    try {
      render_case(cases["templates"], c);
      ADD_FAILURE() << "expected an error: " << c["error"];
    } catch (const quanta::Error& e) {
      EXPECT_NE(std::string(e.what()).find(c["error"].get<std::string>()), std::string::npos)
          << e.what();
    }
  }
}

TEST(ChatTemplate, SmolLM2TokenizerTemplate) {
  if (!std::filesystem::exists(kModelDir + "/tokenizer_config.json"))
    GTEST_SKIP() << "no tokenizer at " << kModelDir;
  const json cases = load_cases();
  const auto tok = quanta::Tokenizer::load(kModelDir);
  EXPECT_EQ(tok.chat_template(), cases["templates"]["smollm2"]["template"].get<std::string>());
  int n = 0;
  for (const json& c : cases["cases"]) {
    if (c["template"] != "smollm2") continue;
    EXPECT_EQ(tok.apply_chat_template(messages_of(c), c["add_generation_prompt"]),
              c["rendered"].get<std::string>());
    ++n;
  }
  EXPECT_GT(n, 0);
}

std::string render(const std::string& tmpl) { return quanta::jinja::Template(tmpl).render({}); }

// Expected strings are jinja2 3.1's output with transformers' settings.
TEST(ChatTemplate, JinjaSemantics) {
  EXPECT_EQ(render("{% for x in [1,2,3] %}{{ x }}{% if not loop.last %}, {% endif %}{% endfor %}"),
            "1, 2, 3");
  EXPECT_EQ(render("  {% if true %}\n  yes\n  {% endif %}\nend"),
            "  yes\nend");  // lstrip/trim_blocks
  EXPECT_EQ(render("a  {{- ' a ' -}}  b {{ 'c' }}"), "a a b c");
  EXPECT_EQ(render("  {%+ if true %}x{% endif +%}\nz"), "  x\nz");
  EXPECT_EQ(
      render(
          "{{ 'x' if 0 else 'y' }}{{ [1,2][5] is defined }}{{ none }}{{ true }}{{ 1.5 }}{{ 2.0 }}"),
      "yFalseNoneTrue1.52.0");
  // A set inside a loop iteration does not outlive it.
  EXPECT_EQ(
      render("{% set x = 0 %}{% for i in range(3) %}{% set x = x + 1 %}{{ x }}{% endfor %}{{ x }}"),
      "1110");
  EXPECT_EQ(
      render(
          "{{ 'abc' | upper ~ ('X' | lower) }}{{ '  t  ' | trim }}{{ [3,1,2] | sort | join('-') }}"
          "{{ 'hello'[1:3] }}"),
      "ABCxt1-2-3el");
  EXPECT_EQ(render("{% for i in range(10) %}{% if i == 2 %}{% continue %}{% endif %}{% if i > 4 "
                   "%}{% break %}"
                   "{% endif %}{{ i }}{% endfor %}"),
            "0134");
  EXPECT_EQ(
      render("{% set d = {'b': 2, 'a': 1} %}{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}"
             "{{ d | length }}{{ 'a' in d }}{{ 3 not in [1, 2] }}"),
      "b=2;a=1;2TrueTrue");
  EXPECT_EQ(render("{% set s %}captured {{ 1 + 1 }}{% endset %}[{{ s }}]{{ '%d' }}"),
            "[captured 2]%d");
  EXPECT_EQ(render("{# c #}\n  {# c2 #}\nx"), "x");
  EXPECT_EQ(render("{% raw %}{{ a }}{% endraw %}"), "{{ a }}");
  EXPECT_EQ(render("{{ 'a\\tb\\u00e9\\x41' }}|{{ 'it''s' }}"),
            "a\tb\xC3\xA9"
            "A|its");
  EXPECT_EQ(render("{% with a = 5 %}{{ a }}{% endwith %}{{ a is defined }}"), "5False");
  EXPECT_EQ(render("line\r\nend\n"), "line\nend");  // newlines normalized, final one dropped
}

void expect_error(const std::string& tmpl, const std::string& fragment) {
  try {
    render(tmpl);
    ADD_FAILURE() << "no error for " << tmpl;
  } catch (const quanta::Error& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos)
        << "template: " << tmpl << "\nerror: " << e.what() << "\nmissing: " << fragment;
  }
}

TEST(ChatTemplate, ErrorsNameTheConstruct) {
  expect_error("{% include 'x.j2' %}", "unsupported tag '{% include %}'");
  expect_error("{% extends 'base' %}", "extends");
  expect_error("{{ x | frobnicate }}", "unsupported filter 'frobnicate'");
  expect_error("{{ x is frob }}", "unsupported test 'frob'");
  expect_error("{% if true %}open", "endif");
  expect_error("{% for x in y %}", "endfor");
  expect_error("{{ 1 + }}", "line 1");
  expect_error("a\n{{ (1 }}", "line 2");
  expect_error("{{ 'unterminated }}", "unterminated string");
  expect_error("{{ x ", "unclosed");
  expect_error("{# never closed", "unclosed comment");
  expect_error("{{ foo.bar }}", "'foo' is undefined");
  expect_error("{{ nothing() }}", "'nothing' is undefined");
  expect_error("{{ 1 < 'a' }}", "not supported between");
  expect_error("{{ 'a' + 1 }}", "unsupported operand");
  expect_error("{{ raise_exception('boom: ' ~ 42) }}", "boom: 42");
  expect_error("{% set x.y = 1 %}", "non-namespace");
  expect_error("{% for a, b in [1] %}{% endfor %}", "not iterable");
  expect_error("{{ 1 / 0 }}", "division by zero");
  expect_error("{% macro m(a) %}{% endmacro %}{{ m(1, 2) }}", "takes 1 arguments");
  expect_error("{{ f(*args) }}", "*args");
  expect_error("{% for x in items recursive %}{% endfor %}", "recursive");
  expect_error("{{ x }} {% endif %}", "unexpected");
}

}  // namespace
