"""HellaSwag reference scores for quanta's model test, from PyTorch + transformers (no quanta code).

For the first N items of the 6-lines-per-item file, llama.cpp's convention (tools/perplexity,
hellaswag_score): each candidate is tokenized as context + " " + ending with the tokenizer's
special tokens; the tokens after the prefix common to all four candidates are scored by
log p(token | everything before it); acc picks the largest sum, acc_norm the largest mean.
Writes tests/golden/data/hellaswag.json: per item the sums, token counts and both picks.

Usage: /work/main/build/venv-vllm/bin/python scripts/reference/make_hellaswag.py \
         [--model models/smollm2-135m-instruct] [--data ../shared/data/hellaswag/hellaswag_val_full.txt] [--n 20]
"""
import argparse
import json

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="models/smollm2-135m-instruct")
    ap.add_argument("--data", default="../shared/data/hellaswag/hellaswag_val_full.txt")
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--out", default="tests/golden/data/hellaswag.json")
    a = ap.parse_args()
    torch.set_num_threads(2)
    tok = AutoTokenizer.from_pretrained(a.model)
    model = AutoModelForCausalLM.from_pretrained(a.model, dtype=torch.float32).eval()
    lines = open(a.data, encoding="utf-8", newline="\n").read().split("\n")
    items = []
    n_acc = n_norm = 0
    for i in range(a.n):
        ctx, gold, endings = lines[6 * i], int(lines[6 * i + 1]), lines[6 * i + 2:6 * i + 6]
        seqs = [tok(ctx + " " + e, add_special_tokens=True)["input_ids"] for e in endings]
        cp = 0
        while all(cp < len(s) for s in seqs) and all(s[cp] == seqs[0][cp] for s in seqs):
            cp += 1
        sums, counts = [], []
        for s in seqs:
            with torch.no_grad():
                logits = model(torch.tensor([s])).logits[0].double()
            logp = torch.log_softmax(logits, dim=-1)
            sums.append(float(sum(logp[j - 1, s[j]] for j in range(cp, len(s)))))
            counts.append(len(s) - cp)
        pred = max(range(4), key=lambda k: (sums[k], -k))
        pred_norm = max(range(4), key=lambda k: (sums[k] / counts[k], -k))
        n_acc += pred == gold
        n_norm += pred_norm == gold
        items.append({"gold": gold, "common_prefix": cp, "logprob_sum": sums, "n_tokens": counts,
                      "pred": pred, "pred_norm": pred_norm})
    out = {"source": "scripts/reference/make_hellaswag.py: transformers, float32, " + a.model,
           "data": "first %d items of hellaswag_val_full.txt" % a.n,
           "n_items": a.n, "n_correct": n_acc, "n_correct_norm": n_norm, "items": items}
    with open(a.out, "w") as f:
        json.dump(out, f, indent=1)
    print("acc %d/%d  acc_norm %d/%d" % (n_acc, a.n, n_norm, a.n))


if __name__ == "__main__":
    main()
