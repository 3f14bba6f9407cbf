#!/usr/bin/env python3
"""Reference cases for quanta's tokenizer and chat-template renderer, made with HF transformers/tokenizers.

Writes tests/golden/data/tokenizer_cases.json and tests/golden/data/chat_cases.json (or into --out).

tokenizer_cases.json: {"model", "cases": [{"text", "ids", "ids_special", "decoded", "decoded_skip"}],
  "wiki": {"prefix_bytes", "prefix_tokens", "total_tokens", ...}}
  ids = encode(text, add_special_tokens=False), ids_special = add_special_tokens=True,
  decoded = decode(ids), decoded_skip = decode(ids, skip_special_tokens=True).

Note on the reference: the ids come from the tokenizer.json pipeline exactly as written
(tokenizers.Tokenizer / transformers.TokenizersBackend). transformers 5's AutoTokenizer maps SmolLM2's
"tokenizer_class": "GPT2Tokenizer" to a class that rebuilds the pre-tokenizer as plain ByteLevel, dropping the
Digits(individual_digits) step tokenizer.json has; the two differ on Unicode numerics such as "½" and "²".
Where they differ the case also records "ids_auto" (AutoTokenizer's ids), and the script prints a note.

chat_cases.json: {"templates": {name: {"template", "bos_token", "eos_token"}},
  "cases": [{"template", "messages", "add_generation_prompt", "extra", "rendered" | "error"}]}
  rendered by apply_chat_template(messages, tokenize=False, ...) with the named template.

Run:  build/venv-ref/bin/python scripts/reference/make_tokenizer_cases.py /work/shared/models/smollm2-135m-instruct
"""
import argparse
import json
import os
import sys

from transformers import AutoTokenizer, TokenizersBackend

WIKI = "/work/shared/data/wikitext-2-raw/wiki.test.raw"
WIKI_PREFIX_BYTES = 100_000

TEXTS = [
    "Hello world",
    "Hello, world! How are you today?",
    " leading space",
    "trailing space ",
    "multiple   spaces   between    words",
    "   ",
    " ",
    "a",
    "\t\ttabs\tand\ttext\t",
    "line one\nline two\n\nline four\n",
    "windows\r\nline\r\nendings\r\n",
    "mixed \t \n \r\n whitespace  \n\n  runs   ",
    "\n\n\n",
    "12345678",
    "3.14159",
    "In 1999, 42 people paid $1,234.56 for 7 items (about 0.5%).",
    "don't I'll we've they're she's he'd",
    "DON'T WE'VE 'quoted' ''",
    "!!! ??? ... --- *** ;;; ()[]{} <<>> @#$%^&",
    'def foo(x):\n    return x ** 2  # square\n\nprint(foo(3))\n',
    "for (int i = 0; i < n; ++i) { sum += a[i]; }",
    '<html><body class="main">Text &amp; more</body></html>',
    "café naïve résumé Zürich Ångström",
    "日本語のテキストです。中文文本。",
    "한국어 텍스트",
    "emoji 😀🎉👍🏽 family 👨\u200d👩\u200d👧",
    "مرحبا بالعالم",
    "שלום עולם",
    "e\u0301 a\u0308 combining marks\u0327",
    "Ελληνικά και русский текст",
    "½ ² ٣ unicode numerics",
    "\u00a0non-breaking\u00a0space and\u2003em space\u3000",
    "\u0085 NEL and \x1c control \x00 nul",
    "ĠĊ already-mapped chars Ġ",
    "x" * 300,
    "<|im_start|>user\nhi<|im_end|>",
    "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>assistant\n",
    "text<|endoftext|>more text",
    "<|im_start|><|im_end|><|im_start|>",
    "<|im_start partial <|im_end|x|>",
    "",
]


def wiki_paragraphs(raw):
    """Two ~1000-character paragraphs of wiki.test.raw (CRLF line ends kept)."""
    out = []
    for line in raw.split("\n"):
        if 900 <= len(line) <= 1200 and not line.startswith(" ="):
            if not out or (any(c.isdigit() for c in line) and any(ord(c) > 127 for c in line)):
                out.append(line + "\n")
        if len(out) == 2:
            break
    return out


def utf8_prefix(data, n):
    """The first n bytes of data, cut back to a UTF-8 character boundary."""
    while n > 0 and n < len(data) and (data[n] & 0xC0) == 0x80:
        n -= 1
    return data[:n]


def tokenizer_cases(model_dir):
    auto = AutoTokenizer.from_pretrained(model_dir)
    ref = TokenizersBackend.from_pretrained(model_dir)  # tokenizer.json as written
    raw_bytes = open(WIKI, "rb").read()
    raw = raw_bytes.decode("utf-8")
    texts = TEXTS + wiki_paragraphs(raw)
    cases = []
    for text in texts:
        ids = ref(text, add_special_tokens=False)["input_ids"]
        case = {
            "text": text,
            "ids": ids,
            "ids_special": ref(text, add_special_tokens=True)["input_ids"],
            "decoded": ref.decode(ids),
            "decoded_skip": ref.decode(ids, skip_special_tokens=True),
        }
        auto_ids = auto(text, add_special_tokens=False)["input_ids"]
        if auto_ids != ids:
            case["ids_auto"] = auto_ids
            print(f"note: AutoTokenizer ({type(auto).__name__}) differs from tokenizer.json on {text[:40]!r}")
        cases.append(case)

    prefix = utf8_prefix(raw_bytes, WIKI_PREFIX_BYTES).decode("utf-8")
    wiki = {
        "file": "wikitext-2-raw/wiki.test.raw",
        "prefix_bytes": len(prefix.encode("utf-8")),
        "prefix_tokens": len(ref(prefix, add_special_tokens=False)["input_ids"]),
        "total_tokens": len(ref(raw, add_special_tokens=False)["input_ids"]),
        "total_tokens_auto": len(auto(raw, add_special_tokens=False)["input_ids"]),
    }
    print(f"wiki.test.raw: {wiki}")
    return {"model": os.path.basename(os.path.normpath(model_dir)), "cases": cases, "wiki": wiki}


# Templates beyond the model's own (verbatim from the models' tokenizer_config.json; Qwen2.5 and the
# feature template exercise the wider Jinja subset).
LLAMA2 = (
    "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set system_message = "
    "messages[0]['content'] %}{% else %}{% set loop_messages = messages %}{% set system_message = false %}{% endif %}"
    "{% for message in loop_messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ "
    "raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if "
    "loop.index0 == 0 and system_message != false %}{% set content = '<<SYS>>\\n' + system_message + "
    "'\\n<</SYS>>\\n\\n' + message['content'] %}{% else %}{% set content = message['content'] %}{% endif %}{% if "
    "message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}{% elif message['role'] "
    "== 'assistant' %}{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}{% endfor %}"
)
MISTRAL = (
    "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ "
    "raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if "
    "message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}{% elif message['role'] == "
    "'assistant' %}{{ message['content'] + eos_token}}{% else %}{{ raise_exception('Only user and assistant roles "
    "are supported!') }}{% endif %}{% endfor %}"
)
LLAMA3 = (
    "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + "
    "message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}"
    "{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ "
    "'<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}"
)
QWEN25 = """{%- if tools %}
    {{- '<|im_start|>system\\n' }}
    {%- if messages[0]['role'] == 'system' %}
        {{- messages[0]['content'] }}
    {%- else %}
        {{- 'You are Qwen, created by Alibaba Cloud. You are a helpful assistant.' }}
    {%- endif %}
    {{- "\\n\\n# Tools\\n\\nYou may call one or more functions to assist with the user query.\\n\\nYou are provided with function signatures within <tools></tools> XML tags:\\n<tools>" }}
    {%- for tool in tools %}
        {{- "\\n" }}
        {{- tool | tojson }}
    {%- endfor %}
    {{- "\\n</tools>\\n\\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\\n<tool_call>\\n{\\"name\\": <function-name>, \\"arguments\\": <args-json-object>}\\n</tool_call><|im_end|>\\n" }}
{%- else %}
    {%- if messages[0]['role'] == 'system' %}
        {{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}
    {%- else %}
        {{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\\n' }}
    {%- endif %}
{%- endif %}
{%- for message in messages %}
    {%- if (message.role == "user") or (message.role == "system" and not loop.first) or (message.role == "assistant" and not message.tool_calls) %}
        {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}
    {%- elif message.role == "assistant" %}
        {{- '<|im_start|>' + message.role }}
        {%- if message.content %}
            {{- '\\n' + message.content }}
        {%- endif %}
        {%- for tool_call in message.tool_calls %}
            {%- if tool_call.function is defined %}
                {%- set tool_call = tool_call.function %}
            {%- endif %}
            {{- '\\n<tool_call>\\n{"name": "' }}
            {{- tool_call.name }}
            {{- '", "arguments": ' }}
            {{- tool_call.arguments | tojson }}
            {{- '}\\n</tool_call>' }}
        {%- endfor %}
        {{- '<|im_end|>\\n' }}
    {%- elif message.role == "tool" %}
        {%- if (loop.index0 == 0) or (messages[loop.index0 - 1].role != "tool") %}
            {{- '<|im_start|>user' }}
        {%- endif %}
        {{- '\\n<tool_response>\\n' }}
        {{- message.content }}
        {{- '\\n</tool_response>' }}
        {%- if loop.last or (messages[loop.index0 + 1].role != "tool") %}
            {{- '<|im_end|>\\n' }}
        {%- endif %}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\\n' }}
{%- endif %}
"""
# Not a model's template: the wider Jinja features, with trim_blocks/lstrip_blocks layout on purpose.
FEATURES = """{# a comment #}
{% macro tag(name, close=false) -%}
<{{ '/' if close }}{{ name | upper }}>
{%- endmacro %}
{% set ns = namespace(n=0, roles=[]) %}
{% for m in messages %}
    {% set ns.n = ns.n + m.content | length %}
    {% set ns.roles = ns.roles + [m.role] %}
{% endfor %}
roles: {{ ns.roles | join(', ') }} ({{ ns.roles | unique | list | length }} distinct), chars: {{ ns.n }}
{% for m in messages if m.role != 'system' %}
  {{ loop.index }}/{{ loop.length }} {{ tag(m.role) }}{{ m['content'] | trim | replace('\\n', ' / ') }}{{ tag(m.role, close=true) }}
  {%- if not loop.last %}{{ loop.cycle(';', ',') }}{% endif %}

{% else %}
(no messages)
{% endfor %}
{%+ if messages | selectattr('role', 'equalto', 'user') | list | length > 1 %}  multi-user
{% elif messages[0].role is defined and messages[0].role in ['user', 'system'] %}  first={{ messages[0].role|capitalize }}
{% endif %}
{{ {"k": [1, 2.5, none, true], "s": "q\\"uote é"} | tojson }} {{ {"b": 1, "a": {"c": []}} | tojson(indent=2, sort_keys=true) }}
{{ "%s" ~ 7 // 2 ~ "|" ~ 7 % 3 ~ "|" ~ 2 ** 5 ~ "|" ~ (10 / 4) ~ "|" ~ -3 // 2 }}
{{ messages[-1].content[:5] }}|{{ messages[0].content[::-1][:3] }}|{{ 'a,b,,c'.split(',') }}|{{ '  x  '.strip() ~ '|' ~ 'Hi There'.lower().startswith('hi') }}
{{ 'yes' if add_generation_prompt else 'no' }} {{ missing | default('dflt') }} {{ missing is defined }} {{ none is none }} {{ 4 is divisibleby 2 }}
{%- raw %} {{ not rendered }} {% endraw %}
{{- '\\n' -}}
{{ bos_token ~ eos_token }}
{%- if add_generation_prompt %}

<gen>
{% endif %}
"""
STRICT_ROLES = "{% for m in messages %}{% if m.role not in ['user', 'assistant'] %}{{ raise_exception('bad role: ' ~ m.role) }}{% endif %}{{ m.content }}{% endfor %}"

LLAMA32_PATH_HINT = "models/templates/meta-llama-Llama-3.2-3B-Instruct.jinja (llama.cpp)"


def chat_cases(model_dir, llama32):
    tok = AutoTokenizer.from_pretrained(model_dir)
    templates = {
        "smollm2": {"template": tok.chat_template, "bos_token": tok.bos_token, "eos_token": tok.eos_token},
        "llama2": {"template": LLAMA2, "bos_token": "<s>", "eos_token": "</s>"},
        "mistral": {"template": MISTRAL, "bos_token": "<s>", "eos_token": "</s>"},
        "llama3": {"template": LLAMA3, "bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"},
        "qwen2.5": {"template": QWEN25, "bos_token": "", "eos_token": "<|im_end|>"},
        "features": {"template": FEATURES, "bos_token": "<s>", "eos_token": "</s>"},
        "strict_roles": {"template": STRICT_ROLES, "bos_token": "", "eos_token": ""},
    }
    if llama32:
        templates["llama3.2"] = {"template": llama32, "bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"}

    user = [{"role": "user", "content": "What is 17 times 23?"}]
    system_user = [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Hi there!"}]
    multi = [
        {"role": "system", "content": "  Be brief.\n"},
        {"role": "user", "content": "Name a prime."},
        {"role": "assistant", "content": " 7 \n"},
        {"role": "user", "content": "Another one, with ünïcödé and\nnewlines?"},
    ]
    alternating = multi[1:]
    bad_order = [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]
    with_tool = [{"role": "user", "content": "x"}, {"role": "tool", "content": "42"}, {"role": "tool", "content": "43"}]

    plan = []
    for name in ("smollm2", "qwen2.5", "features"):
        for msgs in (user, system_user, multi):
            for gen in (True, False):
                plan.append((name, msgs, gen, {}))
    plan.append(("qwen2.5", with_tool, True, {}))
    for name in ("llama2", "mistral", "llama3"):
        for msgs in (user, alternating):
            plan.append((name, msgs, True, {}))
    plan.append(("llama2", system_user, False, {}))
    plan.append(("llama3", multi, False, {}))
    if llama32:
        plan.append(("llama3.2", multi, True, {"date_string": "26 Jul 2024"}))
        plan.append(("llama3.2", user, False, {"date_string": "01 Jan 2025"}))
    plan.append(("llama2", bad_order, True, {}))
    plan.append(("mistral", system_user, True, {}))
    plan.append(("strict_roles", with_tool, False, {}))

    cases = []
    for name, msgs, gen, extra in plan:
        t = templates[name]
        case = {"template": name, "messages": msgs, "add_generation_prompt": gen, "extra": extra}
        try:
            case["rendered"] = tok.apply_chat_template(
                msgs, chat_template=t["template"], tokenize=False, add_generation_prompt=gen,
                bos_token=t["bos_token"], eos_token=t["eos_token"], **extra)
        except Exception as e:  # jinja2.exceptions.TemplateError from raise_exception
            case["error"] = str(e)
        cases.append(case)
    return {"templates": templates, "cases": cases}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model_dir")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "..", "tests", "golden", "data"))
    ap.add_argument("--llama32", help="path of the Llama-3.2 chat template (" + LLAMA32_PATH_HINT + ")")
    args = ap.parse_args()
    llama32 = open(args.llama32, encoding="utf-8").read() if args.llama32 else None

    tc = tokenizer_cases(args.model_dir)
    cc = chat_cases(args.model_dir, llama32)
    for name, data in (("tokenizer_cases.json", tc), ("chat_cases.json", cc)):
        path = os.path.join(args.out, name)
        with open(path, "w", encoding="utf-8") as f:
            json.dump(data, f, ensure_ascii=False, indent=1)
            f.write("\n")
        print(f"wrote {os.path.normpath(path)} ({os.path.getsize(path)} bytes)")


if __name__ == "__main__":
    sys.exit(main())
