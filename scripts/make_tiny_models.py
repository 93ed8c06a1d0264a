#!/usr/bin/env python3
"""Tiny random-weight Hugging Face model folders, one per supported family, quirks switched on.

Writes tests/fixtures/models/{tiny-llama,tiny-qwen2,tiny-mistral,tiny-gemma2,tiny-llama-sharded}/
in the layout the hub uses: config.json (written by transformers' `save_pretrained`),
generation_config.json, model.safetensors in f32 (or two shards plus
model.safetensors.index.json), and tokenizer.json + tokenizer_config.json copied byte for byte
from the synthetic tokenizers in tests/fixtures/tokenizers/ (llama3, chatml, mistral, gemma2).

The weights are drawn with numpy's PCG64 from a seed derived from the family and the tensor
name (CRC-32), so the output is the same on every run and does not depend on transformers'
initialisers. After writing, each folder is loaded back with transformers (strict: no missing,
unexpected or re-initialised tensors) and checked: 16 greedy tokens per probe text are not one
repeated id, and the logits are not saturated.

Quirks per family (what the Rust decoder must get right, see make_engine_fixtures.py):
  llama   GQA 4/2 heads, rope_scaling llama3 (factor 8, low 1, high 4, original max 64: changes
          some of the 8 frequencies of head_dim 16), rope_theta 500000, untied lm_head. Its
          config.json is rewritten in the transformers-4 layout (`rope_theta` + `rope_scaling`,
          as real Llama-3.1 checkpoints carry); the other three keep the transformers-5
          `rope_parameters` layout that save_pretrained writes, so both layouts are covered.
  qwen2   q/k/v biases (non-zero), tie_word_embeddings (no lm_head.weight in the file),
          use_sliding_window false.
  mistral sliding_window 16 on every layer, untied.
  gemma2  head_dim 32 (q dim 128 != hidden 64), query_pre_attn_scalar 24, attention softcap 5,
          final logit softcap 3, sliding_window 16 on layers 0 and 2 (layer_types), (1+w)
          norms with non-zero w, four norms per layer, gelu_pytorch_tanh, tied embeddings,
          embeddings scaled by sqrt(64).

Setup and run from the repository root:
  python -m venv .venv && .venv/bin/pip install -r scripts/requirements.txt
  .venv/bin/python scripts/make_tiny_models.py
"""

import json
import pathlib
import shutil
import sys
import zlib

import numpy as np
import torch
from safetensors.numpy import save_file
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    Gemma2Config,
    LlamaConfig,
    MistralConfig,
    Qwen2Config,
)

ROOT = pathlib.Path(__file__).resolve().parent.parent
TOKENIZERS = ROOT / "tests" / "fixtures" / "tokenizers"
MODELS = ROOT / "tests" / "fixtures" / "models"
SEED = 1

HIDDEN = 64
HEADS = 4
KV_HEADS = 2
INTERMEDIATE = 128
LAYERS = 4
MAX_POS = 2048

# Texts used only to check that greedy continuations are not constant.
PROBES = [
    "Context: The library opens at nine in the morning. Question: When does the library open?",
    "这座城市位于一条大河的岸边。",
    "यह शहर एक बड़ी नदी के किनारे बसा है।",
]


def family_specs():
    """(folder, tokenizer dir, config, generation config, init scales) per family."""
    common = dict(
        hidden_size=HIDDEN,
        num_attention_heads=HEADS,
        num_key_value_heads=KV_HEADS,
        intermediate_size=INTERMEDIATE,
        num_hidden_layers=LAYERS,
        max_position_embeddings=MAX_POS,
        vocab_size=None,  # filled from the tokenizer
        dtype="float32",
    )
    specs = []

    # Llama-3.1 style: ids as in tests/fixtures/tokenizers/llama3 (0 begin_of_text,
    # 1 end_of_text, 4 eom_id, 5 eot_id). Real Llama-3.1-Instruct lists all three EOS ids in
    # config.json and generation_config.json.
    specs.append(
        dict(
            name="llama",
            folder="tiny-llama",
            tokenizer="llama3",
            config_class=LlamaConfig,
            config=dict(
                common,
                architectures=["LlamaForCausalLM"],
                rms_norm_eps=1e-5,
                rope_theta=500000.0,
                rope_scaling={
                    "rope_type": "llama3",
                    "factor": 8.0,
                    "low_freq_factor": 1.0,
                    "high_freq_factor": 4.0,
                    "original_max_position_embeddings": 64,
                },
                tie_word_embeddings=False,
                bos_token_id=0,
                eos_token_id=[1, 4, 5],
                hidden_act="silu",
            ),
            generation=dict(bos_token_id=0, eos_token_id=[1, 4, 5], do_sample=False),
            legacy_rope_layout=True,
            scales=dict(embed=1.0, attn_qk=2.0, attn_vo=2.0, mlp=2.0, lm_head=1.6, norm=0.1),
        )
    )

    # Qwen2.5 style: 0 <|endoftext|>, 1 <|im_start|>, 2 <|im_end|>. Like the real Qwen2.5
    # instruct configs, config.json names <|endoftext|> as bos_token_id although the tokenizer
    # adds no BOS; generation_config stops on <|im_end|> and <|endoftext|>.
    specs.append(
        dict(
            name="qwen2",
            folder="tiny-qwen2",
            tokenizer="chatml",
            config_class=Qwen2Config,
            config=dict(
                common,
                architectures=["Qwen2ForCausalLM"],
                rms_norm_eps=1e-6,
                rope_theta=1000000.0,
                tie_word_embeddings=True,
                use_sliding_window=False,
                sliding_window=None,
                max_window_layers=LAYERS,
                bos_token_id=0,
                eos_token_id=2,
                hidden_act="silu",
            ),
            generation=dict(bos_token_id=0, eos_token_id=[2, 0], pad_token_id=0, do_sample=False),
            legacy_rope_layout=False,
            # Tied: the embedding is also the output matrix, so it is drawn small (logit std ~1.6).
            scales=dict(
                embed=0.2, attn_qk=2.0, attn_vo=2.0, mlp=2.0, lm_head=None, norm=0.1, bias=0.5
            ),
        )
    )

    # Mistral-7B-Instruct-v0.3 style: 0 <unk>, 1 <s>, 2 </s>; </s> ends a turn too.
    specs.append(
        dict(
            name="mistral",
            folder="tiny-mistral",
            tokenizer="mistral",
            config_class=MistralConfig,
            config=dict(
                common,
                architectures=["MistralForCausalLM"],
                rms_norm_eps=1e-5,
                rope_theta=1000000.0,
                sliding_window=16,
                tie_word_embeddings=False,
                bos_token_id=1,
                eos_token_id=2,
                hidden_act="silu",
            ),
            generation=dict(bos_token_id=1, eos_token_id=2, do_sample=False),
            legacy_rope_layout=False,
            scales=dict(embed=1.0, attn_qk=2.0, attn_vo=2.0, mlp=2.0, lm_head=1.6, norm=0.1),
        )
    )

    # Gemma-2-it style: 0 <pad>, 1 <eos>, 2 <bos>, 5 <end_of_turn>; generation_config stops on
    # <eos> and <end_of_turn> as the real instruct models do.
    specs.append(
        dict(
            name="gemma2",
            folder="tiny-gemma2",
            tokenizer="gemma2",
            config_class=Gemma2Config,
            config=dict(
                common,
                architectures=["Gemma2ForCausalLM"],
                head_dim=32,
                query_pre_attn_scalar=24,
                attn_logit_softcapping=5.0,
                final_logit_softcapping=3.0,
                sliding_window=16,
                rms_norm_eps=1e-6,
                rope_theta=10000.0,
                hidden_activation="gelu_pytorch_tanh",
                tie_word_embeddings=True,
                bos_token_id=2,
                eos_token_id=1,
                pad_token_id=0,
            ),
            generation=dict(
                bos_token_id=2, eos_token_id=[1, 5], pad_token_id=0, do_sample=False
            ),
            legacy_rope_layout=False,
            # Embeddings are multiplied by sqrt(64) = 8 in the model, so they start small. The
            # post-attention / post-feedforward norms get (1 + w) ~ 2: with (1 + w) ~ 1 the tied
            # embedding dominates and greedy text falls into a one-token loop.
            scales=dict(
                embed=0.125,
                attn_qk=1.5,
                attn_vo=2.0,
                mlp=2.0,
                lm_head=None,
                norm=0.1,
                post_norm_offset=1.0,
            ),
        )
    )
    return specs


def tensor_rng(family: str, name: str) -> np.random.Generator:
    """A generator per tensor, so one tensor's draw never shifts another's."""
    return np.random.default_rng([SEED, zlib.crc32(f"{family}/{name}".encode())])


def make_weights(family: str, shapes: dict, scales: dict, gemma_norms: bool) -> dict:
    """Random f32 weights by tensor name; linear weights ~ N(0, (gain / sqrt(fan_in))^2)."""
    out = {}
    for name in sorted(shapes):
        shape = shapes[name]
        rng = tensor_rng(family, name)
        if name.endswith("norm.weight"):
            noise = rng.normal(0.0, scales["norm"], size=shape)
            # (1 + w) norms store the offset around 0; plain norms store w around 1. Gemma's
            # post-sublayer norms may get a mean offset so that the layers outweigh the
            # (tied) embedding in the residual stream; otherwise greedy text repeats itself.
            if not gemma_norms:
                value = 1.0 + noise
            elif ".post_" in name:
                value = scales.get("post_norm_offset", 0.0) + noise
            else:
                value = noise
        elif name.endswith(".bias"):
            value = rng.normal(0.0, scales["bias"], size=shape)
        elif name == "model.embed_tokens.weight":
            value = rng.normal(0.0, scales["embed"], size=shape)
        else:
            fan_in = shape[1]
            if name == "lm_head.weight":
                gain = scales["lm_head"]
            elif name.endswith(("q_proj.weight", "k_proj.weight")):
                gain = scales["attn_qk"]
            elif name.endswith(("v_proj.weight", "o_proj.weight")):
                gain = scales["attn_vo"]
            else:
                gain = scales["mlp"]
            value = rng.normal(0.0, gain / np.sqrt(fan_in), size=shape)
        out[name] = np.ascontiguousarray(value.astype(np.float32))
    return out


def to_legacy_rope_layout(config_path: pathlib.Path) -> None:
    """Rewrite `rope_parameters` as top-level `rope_theta` + `rope_scaling` (transformers 4)."""
    cfg = json.loads(config_path.read_text())
    params = cfg.pop("rope_parameters")
    cfg["rope_theta"] = params.pop("rope_theta")
    cfg["rope_scaling"] = params
    config_path.write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n")


def write_json(path: pathlib.Path, value) -> None:
    path.write_text(json.dumps(value, indent=2, sort_keys=True) + "\n")


def build(spec: dict) -> dict:
    folder = MODELS / spec["folder"]
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    tok_dir = TOKENIZERS / spec["tokenizer"]
    for file in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copyfile(tok_dir / file, folder / file)
    tokenizer = AutoTokenizer.from_pretrained(folder)

    cfg_kwargs = dict(spec["config"])
    cfg_kwargs["vocab_size"] = len(tokenizer)
    config = spec["config_class"](**cfg_kwargs)
    check_special_ids(spec, config, tokenizer)
    config.save_pretrained(folder)
    if spec["legacy_rope_layout"]:
        to_legacy_rope_layout(folder / "config.json")
    write_json(folder / "generation_config.json", dict(spec["generation"], transformers_version=_tf_version()))

    with torch.device("meta"):
        meta_model = AutoModelForCausalLM.from_config(config)
    shapes = {k: tuple(v.shape) for k, v in meta_model.state_dict().items()}
    if config.tie_word_embeddings:
        shapes.pop("lm_head.weight", None)
    weights = make_weights(spec["name"], shapes, spec["scales"], spec["name"] == "gemma2")
    save_file(weights, str(folder / "model.safetensors"), metadata={"format": "pt"})
    return weights


def as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def check_special_ids(spec, config, tokenizer) -> None:
    """bos/eos/pad in config and generation config must name the tokenizer's special tokens."""
    special = set(tokenizer.all_special_ids) | set(tokenizer.get_added_vocab().values())
    config_eos = as_list(config.eos_token_id)
    generation_eos = as_list(spec["generation"]["eos_token_id"])
    ids = [config.bos_token_id, getattr(config, "pad_token_id", None), *config_eos, *generation_eos]
    for i in ids:
        if i is not None and i not in special:
            sys.exit(f"{spec['folder']}: id {i} is not a special token of its tokenizer")
    if tokenizer.eos_token_id not in config_eos + generation_eos:
        sys.exit(f"{spec['folder']}: tokenizer eos {tokenizer.eos_token_id} is not among the EOS ids")
    if tokenizer.bos_token_id is not None and tokenizer.bos_token_id != config.bos_token_id:
        sys.exit(f"{spec['folder']}: tokenizer bos {tokenizer.bos_token_id} != config bos")


def write_sharded(weights: dict) -> None:
    """tiny-llama's tensors split over two shards with the index file the hub uses."""
    src = MODELS / "tiny-llama"
    folder = MODELS / "tiny-llama-sharded"
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    for file in ("config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json"):
        shutil.copyfile(src / file, folder / file)
    names = sorted(weights)
    # Layers 0-1 and the embeddings in shard 1; layers 2-3, the final norm, lm_head in shard 2.
    first = [n for n in names if n == "model.embed_tokens.weight" or n.startswith(("model.layers.0.", "model.layers.1."))]
    second = [n for n in names if n not in first]
    shard_names = ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]
    weight_map = {}
    for shard, members in zip(shard_names, (first, second)):
        save_file({n: weights[n] for n in members}, str(folder / shard), metadata={"format": "pt"})
        weight_map.update({n: shard for n in members})
    total = int(sum(w.nbytes for w in weights.values()))
    write_json(
        folder / "model.safetensors.index.json",
        {"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))},
    )


def _tf_version() -> str:
    import transformers

    return transformers.__version__


def verify(folder: pathlib.Path) -> None:
    """Load with transformers (strict) and check the generations and logits look alive."""
    model, info = AutoModelForCausalLM.from_pretrained(
        folder, dtype=torch.float32, attn_implementation="eager", output_loading_info=True
    )
    bad = {k: v for k, v in info.items() if v}
    if bad:
        sys.exit(f"{folder.name}: loading info not clean: {bad}")
    model.eval()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    with torch.no_grad():
        for text in PROBES:
            ids = tokenizer(text, return_tensors="pt").input_ids
            out = []
            for _ in range(16):
                logits = model(ids, use_cache=False).logits[0, -1]
                nxt = int(torch.argmax(logits))
                out.append(nxt)
                ids = torch.cat([ids, torch.tensor([[nxt]])], dim=1)
            distinct = len(set(out))
            std = float(logits.std())
            print(f"  {folder.name}: {distinct:2d} distinct of 16 greedy ids, last logits std {std:.3f} max {float(logits.max()):.3f}")
            if distinct < 4:
                sys.exit(f"{folder.name}: greedy continuation of {text!r} is nearly constant: {out}")
            if std < 0.05:
                sys.exit(f"{folder.name}: logits are flat (std {std})")


def main() -> None:
    torch.manual_seed(SEED)
    for spec in family_specs():
        weights = build(spec)
        if spec["name"] == "llama":
            write_sharded(weights)
    for folder in sorted(p for p in MODELS.iterdir() if p.is_dir()):
        size = sum(f.stat().st_size for f in folder.iterdir())
        print(f"{folder.name}: {size} bytes")
        verify(folder)


if __name__ == "__main__":
    main()
