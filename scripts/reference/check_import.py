#!/usr/bin/env python3
"""Checks `quanta import-gguf` against transformers' own GGUF loader.

Usage (with the reference venv from scripts/reference/venv.sh):
  build/venv-ref/bin/python scripts/reference/check_import.py MODEL.gguf OUR_FOLDER [--hf-ref DIR]

- Every tensor of AutoModelForCausalLM.from_pretrained(dir, gguf_file=..., torch_dtype=float32)
  must be bit-identical to ours (tied lm_head compared with the embedding); prints the max abs
  diff per tensor.
- Our config.json must agree with the config transformers derives from the GGUF.
- With --hf-ref (an original Hugging Face folder of the same model): config fields, tokenizer.json
  (vocab, merges, added tokens, pipeline) and tokenizer_config.json special tokens must match.
Exits 1 on any mismatch.
"""
import argparse
import json
import os
import sys

os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TQDM_DISABLE", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402
from safetensors.numpy import load_file  # noqa: E402
from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer  # noqa: E402

transformers.utils.logging.disable_progress_bar()
transformers.utils.logging.set_verbosity_error()

SAMPLE_TEXTS = [
    "Hello, world! The year 2024 has 366 days.",
    "<|im_start|>user\nWhat is 12345 * 678?<|im_end|>\n<|im_start|>assistant\n",
    "  leading spaces, tabs\tand\nnewlines; unicode: café, 日本語, emoji 🙂",
    "def f(x):\n    return x**2  # comment",
]

CONFIG_FIELDS = [
    "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
    "num_key_value_heads", "rms_norm_eps", "rope_theta", "max_position_embeddings", "vocab_size",
    "tie_word_embeddings", "bos_token_id", "eos_token_id", "pad_token_id", "model_type",
    "hidden_act",
]


def rope_theta(cfg):
    if isinstance(cfg, dict):
        return cfg.get("rope_theta", (cfg.get("rope_parameters") or {}).get("rope_theta"))
    if getattr(cfg, "rope_theta", None) is not None:
        return cfg.rope_theta
    return (getattr(cfg, "rope_parameters", None) or {}).get("rope_theta")


def field(cfg, name):
    if name == "rope_theta":
        return rope_theta(cfg)
    return cfg.get(name) if isinstance(cfg, dict) else getattr(cfg, name, None)


def same_number(a, b):
    if isinstance(a, float) or isinstance(b, float):
        return a is not None and b is not None and np.float32(a) == np.float32(b)
    return a == b


def check_config(ours, ref, label):
    bad = 0
    for name in CONFIG_FIELDS:
        a, b = field(ours, name), field(ref, name)
        ok = same_number(a, b)
        bad += not ok
        print(f"  config {name:26s} ours={a!r:14} {label}={b!r:14} {'ok' if ok else 'MISMATCH'}")
    return bad


def check_tensors(gguf_path, folder):
    d, name = os.path.split(os.path.abspath(gguf_path))
    model = AutoModelForCausalLM.from_pretrained(d, gguf_file=name, dtype=torch.float32)
    theirs = {k: v.detach().cpu().numpy() for k, v in model.state_dict().items()}
    ours = load_file(os.path.join(folder, "model.safetensors"))
    tied = "lm_head.weight" not in ours
    bad = 0
    worst = 0.0
    for k in sorted(theirs):
        src = "model.embed_tokens.weight" if (k == "lm_head.weight" and tied) else k
        if src not in ours:
            print(f"  MISSING in ours: {k}")
            bad += 1
            continue
        a, b = ours[src], theirs[k]
        if a.shape != b.shape or a.dtype != b.dtype:
            print(f"  SHAPE/DTYPE {k}: ours {a.shape} {a.dtype}, transformers {b.shape} {b.dtype}")
            bad += 1
            continue
        diff = float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64)))) if a.size else 0.0
        identical = np.array_equal(a.view(np.uint32), b.view(np.uint32))
        worst = max(worst, diff)
        bad += not identical
        note = " (tied)" if src != k else ""
        print(f"  {k:52s} {str(list(a.shape)):14s} max|diff|={diff:.3g} "
              f"{'bit-identical' if identical else 'DIFFERENT'}{note}")
    for k in sorted(set(ours) - set(theirs)):
        print(f"  EXTRA in ours: {k}")
        bad += 1
    print(f"tensors: {len(theirs)} compared, {bad} problems, max |diff| over all = {worst:.3g}")
    return bad, AutoConfig.from_pretrained(d, gguf_file=name)


def check_hf_ref(folder, ref):
    bad = 0
    ours = json.load(open(os.path.join(folder, "tokenizer.json")))
    theirs = json.load(open(os.path.join(ref, "tokenizer.json")))
    om, tm = ours["model"], theirs["model"]
    checks = {
        "vocab": om["vocab"] == tm["vocab"],
        "merges": [m if isinstance(m, str) else " ".join(m) for m in om["merges"]]
        == [m if isinstance(m, str) else " ".join(m) for m in tm["merges"]],
        "added_tokens": ours["added_tokens"] == theirs["added_tokens"],
    }
    for k in ("normalizer", "pre_tokenizer", "post_processor", "decoder"):
        checks[k] = ours.get(k) == theirs.get(k)
    for k in ("type", "byte_fallback", "ignore_merges", "fuse_unk", "unk_token"):
        checks[f"model.{k}"] = om.get(k) == tm.get(k)
    print(f"  tokenizer.json: {len(om['vocab'])} tokens, {len(om['merges'])} merges, "
          f"{len(ours['added_tokens'])} added tokens")
    otc = json.load(open(os.path.join(folder, "tokenizer_config.json")))
    ttc = json.load(open(os.path.join(ref, "tokenizer_config.json")))
    for k in ("bos_token", "eos_token", "pad_token", "unk_token", "chat_template",
              "model_max_length", "added_tokens_decoder"):
        checks[f"tokenizer_config.{k}"] = otc.get(k) == ttc.get(k)
    for k, ok in checks.items():
        bad += not ok
        print(f"  {k:40s} {'ok' if ok else 'MISMATCH'}")
    tok_ours = AutoTokenizer.from_pretrained(folder)
    tok_ref = AutoTokenizer.from_pretrained(ref)
    for text in SAMPLE_TEXTS:
        a, b = tok_ours.encode(text), tok_ref.encode(text)
        ok = a == b and tok_ours.decode(a) == tok_ref.decode(b)
        bad += not ok
        print(f"  encode/decode {text[:40]!r:46} {len(a):3d} ids {'ok' if ok else 'MISMATCH'}")
    bad += check_config(json.load(open(os.path.join(folder, "config.json"))),
                        json.load(open(os.path.join(ref, "config.json"))), "hf")
    return bad


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("gguf")
    ap.add_argument("folder")
    ap.add_argument("--hf-ref", help="original Hugging Face folder to compare config/tokenizer with")
    args = ap.parse_args()
    print(f"== tensors: {args.folder} vs transformers' dequantization of {args.gguf}")
    bad, gguf_cfg = check_tensors(args.gguf, args.folder)
    print("== config.json vs transformers' GGUF config")
    bad += check_config(json.load(open(os.path.join(args.folder, "config.json"))), gguf_cfg, "gguf")
    if args.hf_ref:
        print(f"== {args.folder} vs original Hugging Face files in {args.hf_ref}")
        bad += check_hf_ref(args.folder, args.hf_ref)
    print("OK" if bad == 0 else f"FAILED: {bad} problems")
    return 0 if bad == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
