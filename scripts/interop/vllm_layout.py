"""What vLLM's loader consumes from a compressed-tensors folder, recorded while vLLM loads it, as a
small JSON fixture (tests/data/vllm_layout/<scheme>.json) for quanta's CI layout test
(tests/golden/test_golden_vllm_layout.cc), which needs no vLLM.

Used by vllm_check.py: call `record_loads()` before constructing vllm.LLM (in-process engine,
VLLM_ENABLE_V1_MULTIPROCESSING=0), then `layout(llm, folder, how)` after it loaded.
Recorded:
- tensors: every (name, safetensors dtype, shape) vLLM's LlamaForCausalLM.load_weights was given
  from the folder; per-layer names as "model.layers.{i}.…" with n_layers (the layers must agree);
- quantization_config: the fields vLLM's CompressedTensorsConfig reads (quant_method, format,
  ignore, config_groups.*.{targets,format,weights.*,input_activations.*,output_activations},
  sparsity_config, transform_config, kv_cache_scheme), flattened to "a.b.c": value;
- config: architectures, tie_word_embeddings and the dtype fields of config.json;
- vllm: the compressed-tensors scheme class vLLM picked per Linear and the parameters of its model
  before loading (names in vLLM's fused qkv_proj / gate_up_proj space; informational).
"""
import json
import os
import re

_DTYPES = {"float32": "F32", "bfloat16": "BF16", "float16": "F16", "int8": "I8", "uint8": "U8",
           "int32": "I32", "int64": "I64", "float8_e4m3fn": "F8_E4M3", "int16": "I16", "bool": "BOOL"}
_LAYER = re.compile(r"^model\.layers\.(\d+)\.")
# compressed-tensors bookkeeping that vLLM does not read.
_UNREAD = {"version", "quantization_status", "global_compression_ratio"}


def _dtype(t):
    return _DTYPES[str(t).replace("torch.", "")]


def record_loads():
    """Wraps LlamaForCausalLM.load_weights to keep what it is given on the model (_quanta_layout)."""
    from vllm.model_executor.models.llama import LlamaForCausalLM
    if getattr(LlamaForCausalLM.load_weights, "_quanta_wrapped", False):
        return
    inner = LlamaForCausalLM.load_weights

    def load_weights(self, weights):
        seen = []
        params = [(n, _dtype(p.dtype), list(p.shape)) for n, p in self.named_parameters()]

        def tap():
            for name, t in weights:
                seen.append((name, _dtype(t.dtype), list(t.shape)))
                yield name, t
        loaded = inner(self, tap())
        self._quanta_layout = {"given": seen, "params": params, "loaded": sorted(loaded)}
        return loaded
    load_weights._quanta_wrapped = True
    LlamaForCausalLM.load_weights = load_weights


def _compact(rows):
    """[(name, dtype, shape)] -> ({pattern: [dtype, shape]}, n_layers); layers must agree."""
    out, layers = {}, set()
    for name, dt, shape in rows:
        m = _LAYER.match(name)
        key = name
        if m:
            layers.add(int(m.group(1)))
            key = "model.layers.{i}." + name[m.end():]
        if key in out and out[key] != [dt, shape]:
            raise ValueError(f"{name}: {dt} {shape} differs from other layers' {out[key]}")
        out[key] = [dt, shape]
    n = len(layers)
    if layers != set(range(n)):
        raise ValueError(f"layer indices are not 0..{n - 1}: {sorted(layers)}")
    return dict(sorted(out.items())), n


def _flatten(prefix, v, out):
    if isinstance(v, dict) and v:
        for k, x in v.items():
            _flatten(f"{prefix}.{k}" if prefix else k, x, out)
    else:
        out[prefix] = v


def quantization_fields(qc):
    if qc is None:
        return None
    out = {}
    for k, v in qc.items():
        if k not in _UNREAD:
            _flatten(k, v, out)
    return dict(sorted(out.items()))


def dump(fixture, path):
    """JSON with one line per tensor / field, so the fixture stays short and diffs read well."""
    def block(d, indent):
        pad = " " * indent
        items = [f"{pad}{json.dumps(k)}: {json.dumps(v)}" for k, v in d.items()]
        return "{\n" + ",\n".join(items) + "\n" + " " * (indent - 1) + "}"
    lines = []
    for k, v in fixture.items():
        if isinstance(v, dict) and k != "quanta_compress":
            body = ("{\n" + ",\n".join(f'   {json.dumps(k2)}: {block(v2, 4) if isinstance(v2, dict) else json.dumps(v2)}'
                                       for k2, v2 in v.items()) + "\n }") if k == "vllm" else block(v, 2)
            lines.append(f" {json.dumps(k)}: {body}")
        else:
            lines.append(f" {json.dumps(k)}: {json.dumps(v)}")
    with open(path, "w") as f:
        f.write("{\n" + ",\n".join(lines) + "\n}\n")


def layout(llm, folder, how):
    rec = llm.apply_model(lambda m: (m._quanta_layout, {
        n: type(mod.scheme).__name__ for n, mod in m.named_modules() if getattr(mod, "scheme", None) is not None}))
    rec, schemes = rec[0]
    tensors, n_layers = _compact(rec["given"])
    params, _ = _compact(rec["params"])
    schemes_c = {}
    for n, s in schemes.items():
        schemes_c[_LAYER.sub("model.layers.{i}.", n)] = s
    cfg = json.load(open(os.path.join(folder, "config.json")))
    import vllm
    return {
        "made_by": f"scripts/interop/vllm.sh (vllm {vllm.__version__}, CPU): tensors vLLM's "
                   "LlamaForCausalLM.load_weights was given while loading the folder",
        "quanta_compress": how,
        "n_layers": n_layers,
        "tensors": tensors,
        "quantization_config": quantization_fields(cfg.get("quantization_config")),
        "config": {k: cfg[k] for k in ("architectures", "tie_word_embeddings", "torch_dtype", "dtype") if k in cfg},
        "vllm": {"schemes": dict(sorted(schemes_c.items())), "parameters_before_load": params},
    }
