#!/usr/bin/env python3
"""Independent reference for quanta: PyTorch + transformers on the SmolLM2-135M-Instruct GGUF.

The golden model is the GGUF loaded by transformers and dequantized to float32
(AutoModelForCausalLM.from_pretrained(dir, gguf_file=name, dtype=float32)). The tokenizer is the original
HF one (the GGUF tokenizer as transformers loads it has eos = <|im_start|>, which is wrong for this model).

Writes into --out (default tests/golden/data):
  logits.json  per-position logits (top 10 + a fixed strided sample) for 3 prompts, one no-cache forward pass
  greedy.json  32 greedy tokens per prompt (stops early at, and includes, EOS id 2 <|im_end|>)
  ppl.json     WikiText-2 test perplexity, ctx 512, two scoring conventions

Run:  $(bash scripts/reference/venv.sh) scripts/reference/make_golden.py [--full]
"""
import argparse
import json
import math
import os
import sys
import time

import torch
import tokenizers
from transformers import AutoModelForCausalLM, AutoTokenizer

PROMPTS = [
    ("capital", "The capital of France is"),
    ("code", 'def fibonacci(n):\n    """Return the n-th Fibonacci number."""\n'),
    ("chat", None),  # ChatML, filled in from the tokenizer's chat template
]
CHAT_MESSAGES = [{"role": "user", "content": "What is 17 times 23?"}]
TOPK = 10
SAMPLE_STRIDE = 97
N_NEW = 32
EOS_ID = 2
CTX = 512


def sig6(x):
    """Round to 6 significant digits (as a JSON float)."""
    return float(f"{float(x):.6g}")


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def load(args):
    gdir, gname = os.path.split(os.path.abspath(args.gguf))
    model = AutoModelForCausalLM.from_pretrained(gdir, gguf_file=gname, dtype=torch.float32)
    model.eval()
    tok = AutoTokenizer.from_pretrained(args.tokenizer)
    assert tok.eos_token_id == EOS_ID, tok.eos_token
    return model, tok


def prompts(tok):
    out = []
    for name, text in PROMPTS:
        if text is None:
            text = tok.apply_chat_template(CHAT_MESSAGES, tokenize=False, add_generation_prompt=True)
        ids = tok(text, add_special_tokens=False)["input_ids"]
        out.append((name, text, ids))
    return out


@torch.no_grad()
def make_logits(model, ps):
    sample_ids = list(range(0, model.config.vocab_size, SAMPLE_STRIDE))
    res = {
        "model": "SmolLM2-135M-Instruct.Q4_1.gguf dequantized to float32 by transformers",
        "note": "one forward pass of the whole prompt, no cache, no BOS added; values rounded to 6 significant digits",
        "topk": TOPK,
        "sample_ids": {"start": 0, "stop": model.config.vocab_size, "step": SAMPLE_STRIDE, "count": len(sample_ids)},
        "prompts": [],
    }
    idx = torch.tensor(sample_ids)
    for name, text, ids in ps:
        logits = model(torch.tensor([ids]), use_cache=False).logits[0]  # [T, V]
        positions = []
        for t in range(logits.shape[0]):
            row = logits[t]
            v, i = torch.topk(row, TOPK)
            positions.append({
                "top": [[int(a), sig6(b)] for a, b in zip(i.tolist(), v.tolist())],
                "sampled": [sig6(x) for x in row[idx].tolist()],
            })
        mx = float(logits.abs().max())
        res["prompts"].append({"name": name, "prompt": text, "ids": ids, "max_abs_logit": sig6(mx),
                               "positions": positions})
        log(f"logits {name}: {len(ids)} tokens, max|logit| {mx:.4f}")
    return res


@torch.no_grad()
def make_greedy(model, tok, ps):
    res = {
        "method": ("model.generate(do_sample=False, num_beams=1, max_new_tokens=32, eos_token_id=2, pad_token_id=2, "
                   "KV cache on, batch 1, no BOS added); stops at and includes EOS 2 <|im_end|> if it comes before 32 "
                   "tokens. Cross-checked against a manual argmax loop of full no-cache forward passes."),
        "max_new_tokens": N_NEW,
        "eos_token_id": EOS_ID,
        "prompts": [],
    }
    for name, text, ids in ps:
        inp = torch.tensor([ids])
        out = model.generate(inp, attention_mask=torch.ones_like(inp), do_sample=False, num_beams=1,
                             max_new_tokens=N_NEW, eos_token_id=EOS_ID, pad_token_id=EOS_ID,
                             temperature=None, top_p=None, top_k=None, repetition_penalty=None)
        new = out[0, len(ids):].tolist()
        # manual no-cache check, and the top1 - top2 logit margin of each step (small margins = fragile steps)
        seq, manual, margins = list(ids), [], []
        for _ in range(N_NEW):
            row = model(torch.tensor([seq]), use_cache=False).logits[0, -1]
            v, i = torch.topk(row, 2)
            nxt = int(i[0])
            manual.append(nxt)
            margins.append(sig6(v[0] - v[1]))
            seq.append(nxt)
            if nxt == EOS_ID:
                break
        agree = manual == new
        if not agree:
            log(f"WARNING greedy {name}: generate and the no-cache loop differ:\n  {new}\n  {manual}")
        text_out = tok.decode(new, skip_special_tokens=False)
        res["prompts"].append({"name": name, "prompt": text, "ids": ids, "tokens": new, "text": text_out,
                               "stopped_at_eos": bool(new and new[-1] == EOS_ID),
                               "top1_top2_margin": margins, "no_cache_loop_agrees": agree})
        log(f"greedy {name}: {text_out!r} (min margin {min(margins):.4g}, agree {agree})")
    return res


@torch.no_grad()
def make_ppl(model, tok, wiki, n_windows_wanted, batch):
    raw = open(wiki, "rb").read()  # bytes: keep the CRLF line endings as they are
    text = raw.decode("utf-8")
    # Note: the `tokenizers` library reading tokenizer.json, not AutoTokenizer: transformers 5 maps
    # SmolLM2's "GPT2Tokenizer" class to a pre-tokenizer without the Digits(individual) step, which
    # splits Unicode numerals (e.g. "½") differently: 304,839 tokens instead of tokenizer.json's 304,830.
    ids = tokenizers.Tokenizer.from_file(tok.name_or_path + "/tokenizer.json").encode(
        text, add_special_tokens=False).ids
    n_tok = len(ids)
    n_win_total = n_tok // CTX
    n_win = n_win_total if n_windows_wanted is None else min(n_windows_wanted, n_win_total)
    log(f"ppl: {len(raw)} bytes, {n_tok} tokens, {n_win_total} windows of {CTX}, scoring {n_win}")
    data = torch.tensor(ids[: n_win_total * CTX]).view(n_win_total, CTX)
    half = CTX // 2
    win_all, win_half = [], []  # per-window NLL sums (float64)
    t0 = time.time()
    for b0 in range(0, n_win, batch):
        x = data[b0: min(b0 + batch, n_win)]
        logits = model(x, use_cache=False).logits  # [B, CTX, V]
        lp = torch.log_softmax(logits[:, :-1].double(), dim=-1)  # position p predicts token p+1
        nll = -lp.gather(-1, x[:, 1:].unsqueeze(-1)).squeeze(-1)  # [B, CTX-1]; nll[:, p] is for token p+1
        del logits, lp
        win_all += nll.sum(1).tolist()
        # llama.cpp perplexity: first = n_ctx/2, logits at positions first..n_ctx-2 score tokens first+1..n_ctx-1
        win_half += nll[:, half:].sum(1).tolist()
        done = len(win_all)
        log(f"  {done}/{n_win} windows, {time.time() - t0:.0f}s, running ppl "
            f"{math.exp(sum(win_all) / (done * (CTX - 1))):.4f}")

    def ppl(sums, k, per):
        return math.exp(sum(sums[:k]) / (k * per))

    n_half = CTX - 1 - half  # 255 tokens per window
    res = {
        "ctx": CTX,
        "convention": ("wiki.test.raw read as bytes (CRLF kept), decoded UTF-8, tokenized once with the HF tokenizers library from tokenizer.json, "
                       "no BOS; split into floor(n_tokens/512) non-overlapping windows of 512 (the tail is dropped); "
                       "'windows': in each window the logits at positions 0..510 score tokens 1..511 (511 per window); "
                       "ppl = exp(sum NLL / count) over the first k windows"),
        "second_half_convention": ("llama.cpp perplexity: in each window the logits at positions 256..510 score tokens "
                                   "257..511 (255 per window, first = n_ctx/2); no BOS (the GGUF's add_bos_token is false)"),
        "model": "SmolLM2-135M-Instruct.Q4_1.gguf dequantized to float32 by transformers",
        "n_tokens": n_tok,
        "n_windows": n_win_total,
        "windows": {},
        "second_half": {},
        "nll_sum_first_window": round(win_all[0], 6),
        "first_window_ids_head": ids[:16],
        "window_nll_sums_first_8": [round(s, 6) for s in win_all[:8]],
    }
    for k in (8, 64):
        if k <= n_win:
            res["windows"][str(k)] = round(ppl(win_all, k, CTX - 1), 6)
            res["second_half"][str(k)] = round(ppl(win_half, k, n_half), 6)
    if n_win == n_win_total and n_windows_wanted is None:
        res["windows"]["all"] = round(ppl(win_all, n_win, CTX - 1), 6)
    log(f"ppl done in {time.time() - t0:.0f}s: windows {res['windows']} second_half {res['second_half']}")
    return res


def dump(obj, path):
    with open(path, "w") as f:
        json.dump(obj, f, separators=(",", ":"), ensure_ascii=False)
        f.write("\n")
    log(f"wrote {path} ({os.path.getsize(path)} bytes)")


def main():
    root = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gguf", default=os.path.join(root, "build/downloads/SmolLM2-135M-Instruct.Q4_1.gguf"))
    ap.add_argument("--tokenizer", default="/work/shared/models/smollm2-135m-instruct")
    ap.add_argument("--wiki", default="/work/shared/data/wikitext-2-raw/wiki.test.raw")
    ap.add_argument("--out", default=os.path.join(root, "tests/golden/data"))
    ap.add_argument("--full", action="store_true", help="also the perplexity of the full text (all windows)")
    ap.add_argument("--batch", type=int, default=8, help="windows per forward pass")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--only", choices=["logits", "greedy", "ppl"], action="append",
                    help="write only these files (repeatable); default all three")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    os.makedirs(args.out, exist_ok=True)
    t0 = time.time()
    model, tok = load(args)
    log(f"loaded in {time.time() - t0:.0f}s")
    ps = prompts(tok)
    want = set(args.only or ["logits", "greedy", "ppl"])
    if "logits" in want:
        dump(make_logits(model, ps), os.path.join(args.out, "logits.json"))
    if "greedy" in want:
        dump(make_greedy(model, tok, ps), os.path.join(args.out, "greedy.json"))
    if "ppl" in want:
        dump(make_ppl(model, tok, args.wiki, None if args.full else 64, args.batch),
             os.path.join(args.out, "ppl.json"))
    log(f"total {time.time() - t0:.0f}s")


if __name__ == "__main__":
    main()
