"""Drives a running `quanta serve` with the official openai client: chat completion (plain and
streamed), text completion, and an invalid request that must come back as a 400 error."""
import sys

import openai
from openai import OpenAI

base_url, api_key = sys.argv[1], sys.argv[2]
client = OpenAI(base_url=base_url, api_key=api_key, max_retries=0, timeout=120)

models = client.models.list()
model = models.data[0].id
print(f"model: {model}")

msgs = [{"role": "user", "content": "What is the capital of France? Answer in one word."}]
r = client.chat.completions.create(model=model, messages=msgs, max_tokens=16, temperature=0)
text = r.choices[0].message.content
print(f"chat: {text!r} finish={r.choices[0].finish_reason} usage={r.usage}")
assert "Paris" in text, text
assert r.usage.completion_tokens >= 1 and r.usage.prompt_tokens > 10

pieces = []
usage = None
for chunk in client.chat.completions.create(model=model, messages=msgs, max_tokens=16, temperature=0,
                                            stream=True, stream_options={"include_usage": True}):
    if chunk.usage:
        usage = chunk.usage
    for c in chunk.choices:
        if c.delta.content:
            pieces.append(c.delta.content)
streamed = "".join(pieces)
print(f"chat stream: {streamed!r} ({len(pieces)} chunks) usage={usage}")
assert streamed == text, (streamed, text)
assert usage is not None and usage.completion_tokens == r.usage.completion_tokens

c = client.completions.create(model=model, prompt="The capital of Germany is", max_tokens=8,
                              temperature=0, stop=["."])
print(f"completion: {c.choices[0].text!r} finish={c.choices[0].finish_reason}")
assert c.choices[0].text.strip() != ""

try:
    client.chat.completions.create(model=model, messages=msgs, n=2)
    raise SystemExit("n=2 was accepted")
except openai.BadRequestError as e:
    print(f"n=2 -> 400: {e.message[:80]}")
print("openai client interop: OK")
