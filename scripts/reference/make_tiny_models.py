"""Tiny random-weight models of each supported architecture, saved by transformers itself, with the
logits transformers computes for them: golden fixtures for the architecture variants the packaged model
does not exercise (untied lm_head, llama3 RoPE scaling, BF16 and F16 weights, Mistral's sliding window,
Qwen2's q/k/v bias, Qwen3's q/k RMSNorm).

Usage: $(bash scripts/reference/venv.sh) scripts/reference/make_tiny_models.py [--out tests/golden/data/tiny]
"""
import argparse
import json
import os

import torch
from transformers import (AutoModelForCausalLM, LlamaConfig, MistralConfig, Qwen2Config,
                          Qwen3Config)

COMMON = dict(hidden_size=64, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4,
              num_key_value_heads=2, vocab_size=128, max_position_embeddings=64, rms_norm_eps=1e-6)
TOKENS = [1, 17, 33, 5, 99, 100, 3, 64, 127, 0, 42, 42, 7, 88, 21, 55]

MODELS = {
    "llama3_untied_bf16": (LlamaConfig, dict(tie_word_embeddings=False, rope_theta=500000.0,
                           rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                         "high_freq_factor": 4.0,
                                         "original_max_position_embeddings": 16}), torch.bfloat16),
    "llama_tied_f16": (LlamaConfig, dict(tie_word_embeddings=True, rope_theta=10000.0), torch.float16),
    "mistral_window4": (MistralConfig, dict(sliding_window=4, tie_word_embeddings=False), torch.float32),
    "qwen2_bias": (Qwen2Config, dict(tie_word_embeddings=True, use_sliding_window=False), torch.float32),
    "qwen3_qknorm": (Qwen3Config, dict(tie_word_embeddings=False, head_dim=16, use_sliding_window=False),
                     torch.float32),
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="tests/golden/data/tiny")
    args = ap.parse_args()
    torch.manual_seed(0)
    expected = {"tokens": TOKENS, "models": {}}
    for name, (cls, extra, dtype) in MODELS.items():
        cfg = cls(**COMMON, **extra)
        cfg._attn_implementation = "eager"
        model = AutoModelForCausalLM.from_config(cfg, attn_implementation="eager")
        with torch.no_grad():  # larger than the default init, so layers matter to the logits
            for p in model.parameters():
                if p.dim() == 2:
                    p.normal_(0.0, 0.15)
                else:
                    p.normal_(0.0, 0.3)
            for n, p in model.named_parameters():
                if "norm" in n:
                    p.add_(1.0)
        model = model.to(dtype)
        out = os.path.join(args.out, name)
        model.save_pretrained(out, safe_serialization=True)
        for extra_file in ("generation_config.json",):
            path = os.path.join(out, extra_file)
            if os.path.exists(path):
                os.remove(path)
        # Reference: the saved weights, computed in f32.
        ref = AutoModelForCausalLM.from_pretrained(out, torch_dtype=torch.float32,
                                                   attn_implementation="eager")
        with torch.no_grad():
            logits = ref(torch.tensor([TOKENS])).logits[0]
        expected["models"][name] = {
            "dtype": str(dtype).replace("torch.", ""),
            "logits": [[round(float(v), 6) for v in row] for row in logits],
        }
        print(name, "max |logit|", float(logits.abs().max()))
    with open(os.path.join(args.out, "expected.json"), "w") as f:
        json.dump(expected, f)


if __name__ == "__main__":
    main()
