#!/usr/bin/env python3
"""Reference outputs of transformers on the tiny GGUF files, for the Rust GGUF reader.

Run from the repository root (after scripts/make_tiny_gguf.py):
  .venv/bin/python scripts/make_gguf_fixtures.py

Reads tests/fixtures/models/gguf/*.gguf (scripts/make_tiny_gguf.py) and the engine fixtures
tests/fixtures/engine/<family>.json (scripts/make_engine_fixtures.py: the same tiny models from
model.safetensors), and writes:

tests/fixtures/gguf/<family>.json, one per family (llama, qwen2, mistral, gemma2):
  {
    "family", "versions": {torch, transformers, tokenizers, gguf},
    "gguf_dir": "tests/fixtures/models/gguf", "engine_fixture": "tests/fixtures/engine/<family>.json",
    "dtype": "float32", "attn_implementation": "eager",
    "files": [                                  # one per file: tiny-<family>.f32.gguf, .q8_0.gguf
      {
        "file", "general.file_type": 0 | 7, "tensor_types": {"F32": n, "Q8_0": m},
        "loader": {
          "call": "AutoModelForCausalLM.from_pretrained(gguf_dir, gguf_file=file, dtype=float32, ...)",
          "from_pretrained_kwargs": {...},      # config values transformers does not read from GGUF
          "class_loaded": "...ForCausalLM",     # what transformers built from the file
          "class_run": "...ForCausalLM",        # what produced the numbers below
          "note": "..."
        },
        "prompts": [                            # the 4 prompts of the engine fixture, same input_ids
          {"name", "input_ids",
           "last_logits": [vocab floats, 7 significant digits, like the engine fixtures],
           "greedy_ids": [8 argmax steps, each a full forward of the sequence, no EOS stop],
           "greedy_ids_engine": [first 8 greedy ids of the engine fixture],
           "max_abs_diff_vs_engine": float}   # vs the engine fixture's (rounded) last_logits
        ],
        "max_abs_diff_vs_engine": float,        # max over the prompts
        "max_abs_diff_vs_safetensors": float,   # vs a fresh unrounded run of model.safetensors
        "greedy_matches_engine": bool
      }, ...
    ],
    "tokenizer_check": {
      "gguf_file": "tiny-<family>.q8_0.gguf",   # the f32 file holds the same vocabulary (checked)
      "reference": "tests/fixtures/models/tiny-<family>/tokenizer.json",
      "gguf_tokenizer": {class, normalizer, pre_tokenizer, post_processor, decoder, model (BPE options),
                         added_tokens, extra_added_tokens (ids >= vocab_size), bos/eos/unk/pad},
      "reference_tokenizer": {normalizer, pre_tokenizer, post_processor, decoder, model},
      "cases": [{"text", "gguf_ids", "reference_ids", "agree", "decoded_reference", "decode_agree"}],
                                               # add_special_tokens=False
      "with_special_tokens": [...same, add_special_tokens=True (BOS handling)],
      "engine_prompts": [{"name", "agree"}],   # GGUF tokenizer vs the engine fixture's input_ids
      "agreement": "k/n", "differences": [texts]
    }
  }

tests/fixtures/gguf/spm-tokenizer.json: tiny-spm-tokenizer.gguf (a SentencePiece BPE vocabulary,
`tokenizer.ggml.model = "llama"`) against sentencepiece itself:
  {"gguf_file", "versions", "sentencepiece": {trainer settings, vocab_size},
   "gguf_tokenizer": {...as above},
   "cases": [{"text", "sentencepiece_ids", "sentencepiece_pieces", "sentencepiece_decoded",
              "gguf_ids", "gguf_decoded", "ids_agree", "decode_agree"}],    # no BOS on either side
   "with_bos": [{"text", "sentencepiece_ids" (= [bos] + sp.encode), "gguf_ids", "agree"}],
   "agreement": "k/n", "differences": [texts],
   "model_check": {"input_ids", "last_logits"}}  # the file's random weights through transformers

transformers and the GGUF metadata (5.23; see make_tiny_gguf.py for the keys written):
  * Config: modeling_gguf_pytorch_utils.load_gguf_checkpoint maps keys through
    integrations/ggml.py GGUF_CONFIG_MAPPING; llama/qwen2/gemma2 are not in the new
    integrations/gguf fast path (GGUF_ARCHS = qwen35, qwen35moe, lfm2), so the legacy loader reads
    the config AND the tensors (dequantized to numpy by gguf-py, so Q8_0 becomes F32 weights) and
    the models run in plain float32 nn.Linear.
    Not read: llama3 rope scaling (rope_freqs.weight is dropped) -> we pass rope_parameters for
    llama; Mistral: a `llama` file is loaded as LlamaForCausalLM (it becomes mistral only when
    general.name is exactly "mistral", and even then get_gguf_hf_weights_map fails: gguf-py has no
    `mistral` architecture), and LlamaForCausalLM has no sliding window, which no kwarg can add. So
    for mistral the weights transformers loaded (dequantized, q/k un-permuted) are put into a
    MistralForCausalLM(sliding_window=16) with load_state_dict(strict=True); gemma2: softcapping
    keys and attention.scale are not read (Gemma2Config defaults 50 / 30 / query_pre_attn_scalar
    256 would apply) -> we pass query_pre_attn_scalar=24, attn_logit_softcapping=5.0,
    final_logit_softcapping=3.0; gemma2.attention.sliding_window IS read (16), and layer_types
    defaults to sliding on even layers, as in the safetensors model.
  * Tokenizer (integrations/gguf/gguf_tokenizer_mapping.py; AutoTokenizer.from_pretrained(gguf_dir,
    gguf_file=...) -- the folder must hold no tokenizer.json / tokenizer_config.json, or those win):
    `gpt2` files -> byte_level_tokenizer: GPT2Tokenizer(vocab, merges from tokenizer.ggml.merges):
    BPE without byte_fallback, pre-tokenizer ByteLevel(add_prefix_space=False, use_regex=True)
    (the GPT-2 regex), ByteLevel decoder, NO normalizer (so qwen2's NFC is lost); then
    set_split_regex replaces the pre-tokenizer by Split(<regex>, isolated) + ByteLevel(use_regex=
    False) when tokenizer.ggml.pre is a known name (llama-bpe -> the Llama-3 regex, qwen2 -> the
    Qwen2 regex; gpt-2 is not in the table and keeps GPT2Tokenizer's default, which is GPT-2's).
    Tokens of type 3 (control) are added as special AddedTokens, type 4 as plain added tokens.
    bos/eos/unk/pad come from the *_token_id keys, add_bos_token / add_eos_token from
    tokenizer.ggml.add_*_token (a TemplateProcessing post-processor adds BOS when true), the chat
    template from tokenizer.chat_template. Side effect: GPT2Tokenizer's default `<|endoftext|>` and
    GemmaTokenizer's `<mask>` are added as extra special tokens past the vocabulary when the file
    has no such token (see extra_added_tokens).
    `llama` (SentencePiece) files -> sentencepiece_tokenizer: LlamaTokenizer(vocab, merges) where
    merges are the file's or, as here, derived from the scores by generate_merges (every split of
    every token into two vocabulary tokens, ranked by the token's score, best first); BPE with
    byte_fallback and fuse_unk, no normalizer, pre-tokenizer Metaspace(replacement U+2581,
    prepend_scheme "first", split=False), decoder Replace(U+2581 -> " "), ByteFallback, Fuse,
    Strip(1 leading space). tokenizer.ggml.add_space_prefix is read but not used by this builder.
    Metaspace only prepends U+2581 when the text does not already start with one, so text with
    leading spaces loses one U+2581 relative to sentencepiece (and llama.cpp), which always add the
    dummy prefix; the spm fixture shows it.

Determinism: torch.set_num_threads(1), no sampling; json written with sorted structure and the
same float formatting as make_engine_fixtures.py, so reruns are byte-identical.
"""

import json
import pathlib
import sys

import gguf
import tokenizers
import torch
import transformers
from transformers import AutoModelForCausalLM, AutoTokenizer, MistralConfig, MistralForCausalLM

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import make_tiny_gguf  # noqa: E402  (train_spm / spm settings)

ROOT = pathlib.Path(__file__).resolve().parent.parent
MODELS = ROOT / "tests" / "fixtures" / "models"
GGUF_DIR = MODELS / "gguf"
ENGINE = ROOT / "tests" / "fixtures" / "engine"
OUT = ROOT / "tests" / "fixtures" / "gguf"
FAMILIES = ["llama", "qwen2", "mistral", "gemma2"]
FILE_TYPES = ["f32", "q8_0"]
GREEDY_STEPS = 8
DIGITS = 7  # significant digits, as in make_engine_fixtures.py

# Config values transformers does not take from the GGUF metadata (see the module docstring).
EXTRA_KWARGS = {
    "llama": {
        "rope_parameters": {
            "rope_type": "llama3",
            "rope_theta": 500000.0,
            "factor": 8.0,
            "low_freq_factor": 1.0,
            "high_freq_factor": 4.0,
            "original_max_position_embeddings": 64,
        }
    },
    "qwen2": {},
    "mistral": {},
    "gemma2": {"query_pre_attn_scalar": 24, "attn_logit_softcapping": 5.0, "final_logit_softcapping": 3.0},
}
MISTRAL_SLIDING_WINDOW = 16

# Strings for the BPE tokenizer comparison (add_special_tokens=False), plus one chat string each.
TOKENIZER_TEXTS = [
    "The library opens at nine in the morning and closes at six.",
    "Die Bibliothek öffnet um neun Uhr – schöne Grüße aus München, Straße Nr. 5!",
    "这座城市位于一条大河的岸边。图书馆每天早上九点开门。",
    "المكتبة تفتح في الساعة التاسعة صباحا.",
    "यह शहर एक बड़ी नदी के किनारे बसा है।",
    "1234567 and 3.14159, 2024-05-01: 42 apples",
    "  multiple   spaces\n\nnewlines\n",
    "\tTabs\tand trailing spaces   ",
    "I've been 'told' he's there, you'll see; WE'RE HERE",
    "Cafe\u0301 Mu\u0308ller (decomposed, NFD)",
    "emoji 🦙🚀 ok",
]
CHAT_TEXTS = {
    "llama": "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi there!<|eot_id|>"
    "<|start_header_id|>assistant<|end_header_id|>\n\n",
    "qwen2": "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\nHi there!<|im_end|>\n"
    "<|im_start|>assistant\n",
    "mistral": "<s>[INST] Hi there! [/INST] Hello</s>",
    "gemma2": "<bos><start_of_turn>user\nHi there!<end_of_turn>\n<start_of_turn>model\n",
}
SPECIAL_TEXTS = ["Hello world", "Grüße"]

SPM_TEXTS = [
    "Hello world",
    " leading space",
    "   three leading spaces",
    "multiple   spaces  inside",
    "trailing spaces   ",
    "line one\nline two\n\nline four",
    "\ttab\tseparated",
    "Grüße aus München, schöne Bäume!",
    "Größere Städte wie Köln und Düsseldorf",
    "这座城市位于一条大河的岸边。",
    "Ünïcödé ñ ø",
    "1234567 and 3.14",
    "emoji 🦙🚀😀",
    "The library opens at nine in the morning.",
    "Die Bibliothek öffnet um 9 Uhr.",
    "<s> looks like a control token",
]


def rounded(values):
    if isinstance(values, torch.Tensor):
        values = values.tolist()
    if isinstance(values, list):
        return [rounded(v) for v in values]
    return float(f"{values:.{DIGITS}g}")


def versions() -> dict:
    return {
        "torch": torch.__version__.split("+")[0],
        "transformers": transformers.__version__,
        "tokenizers": tokenizers.__version__,
        "gguf": _dist_version("gguf"),
    }


def _dist_version(name: str) -> str:
    from importlib.metadata import version

    return version(name)


# ------------------------------------------------------------------------------------------------
# models


def load_gguf_model(family: str, file: str):
    """The model transformers builds from the file; for mistral, its weights in a MistralForCausalLM."""
    kwargs = EXTRA_KWARGS[family]
    model = AutoModelForCausalLM.from_pretrained(
        GGUF_DIR, gguf_file=file, dtype=torch.float32, attn_implementation="eager", **kwargs
    ).eval()
    loader = {
        "call": "AutoModelForCausalLM.from_pretrained(gguf_dir, gguf_file=file, dtype=torch.float32, "
        "attn_implementation='eager', **from_pretrained_kwargs)",
        "from_pretrained_kwargs": kwargs,
        "class_loaded": type(model).__name__,
        "class_run": type(model).__name__,
    }
    if family == "llama":
        loader["note"] = (
            "transformers reads no rope scaling from GGUF (rope_freqs.weight is ignored), so the "
            "llama3 rope_parameters of config.json are passed as a kwarg."
        )
    if family == "qwen2":
        loader["note"] = "everything transformers needs is in the GGUF metadata; no kwargs."
    if family == "gemma2":
        loader["note"] = (
            "transformers does not read gemma2.attn_logit_softcapping, gemma2.final_logit_softcapping "
            "or gemma2.attention.scale (its Gemma2Config defaults are 50.0, 30.0 and "
            "query_pre_attn_scalar 256), so they are passed as kwargs; gemma2.attention.sliding_window "
            "(16) and attention.key_length (head_dim 32) are read from the file, and the norms are "
            "stored +1 and un-offset by transformers' Gemma2TensorProcessor."
        )
    if family == "mistral":
        config = model.config.to_dict()
        for key in ("model_type", "architectures", "transformers_version", "_name_or_path", "dtype"):
            config.pop(key, None)
        mistral = MistralForCausalLM(
            MistralConfig(**config, sliding_window=MISTRAL_SLIDING_WINDOW, attn_implementation="eager")
        )
        mistral.load_state_dict(model.state_dict(), strict=True)
        model = mistral.to(torch.float32).eval()
        loader["class_run"] = "MistralForCausalLM"
        loader["mistral_sliding_window"] = MISTRAL_SLIDING_WINDOW
        loader["note"] = (
            "general.architecture is 'llama' (as llama.cpp writes Mistral), and transformers builds "
            "a LlamaForCausalLM (it switches to mistral only when general.name is exactly 'mistral', "
            "and that path then fails in get_gguf_hf_weights_map: gguf-py has no 'mistral' "
            "architecture). LlamaForCausalLM has no sliding window and no kwarg adds one, so the "
            "weights transformers loaded (dequantized, q/k un-permuted) are copied with "
            "load_state_dict(strict=True) into MistralForCausalLM(config of the loaded model, "
            "sliding_window=16); llama.attention.sliding_window in the file is not read."
        )
    return model, loader


def load_safetensors_model(family: str):
    return AutoModelForCausalLM.from_pretrained(
        MODELS / f"tiny-{family}", dtype=torch.float32, attn_implementation="eager"
    ).eval()


def last_logits(model, ids: list) -> torch.Tensor:
    t = torch.tensor([ids])
    return model(input_ids=t, attention_mask=torch.ones_like(t), use_cache=False).logits[0, -1]


def greedy(model, ids: list) -> list:
    ids = list(ids)
    out = []
    for _ in range(GREEDY_STEPS):
        nxt = int(torch.argmax(last_logits(model, ids)))
        out.append(nxt)
        ids.append(nxt)
    return out


def tensor_types(path: pathlib.Path) -> dict:
    reader = gguf.GGUFReader(path)
    kinds = {}
    for t in reader.tensors:
        kinds[t.tensor_type.name] = kinds.get(t.tensor_type.name, 0) + 1
    file_type = int(reader.fields["general.file_type"].contents())
    return dict(sorted(kinds.items())), file_type


def file_entry(family: str, ftype: str, engine: dict, reference: dict) -> dict:
    file = f"tiny-{family}.{ftype}.gguf"
    model, loader = load_gguf_model(family, file)
    kinds, file_type = tensor_types(GGUF_DIR / file)
    prompts, worst, worst_st, greedy_ok = [], 0.0, 0.0, True
    with torch.no_grad():
        for p in engine["prompts"]:
            logits = last_logits(model, p["input_ids"])
            diff = float((logits - torch.tensor(p["last_logits"])).abs().max())
            diff_st = float((logits - reference[p["name"]]).abs().max())
            greedy_ids = greedy(model, p["input_ids"])
            engine_greedy = p["greedy_ids"][:GREEDY_STEPS]
            greedy_ok &= greedy_ids == engine_greedy
            worst, worst_st = max(worst, diff), max(worst_st, diff_st)
            prompts.append(
                {
                    "name": p["name"],
                    "input_ids": p["input_ids"],
                    "last_logits": rounded(logits),
                    "greedy_ids": greedy_ids,
                    "greedy_ids_engine": engine_greedy,
                    "max_abs_diff_vs_engine": diff,
                }
            )
    return {
        "file": file,
        "general.file_type": file_type,
        "tensor_types": kinds,
        "loader": loader,
        "prompts": prompts,
        "max_abs_diff_vs_engine": worst,
        "max_abs_diff_vs_safetensors": worst_st,
        "greedy_matches_engine": greedy_ok,
    }


# ------------------------------------------------------------------------------------------------
# tokenizers


def backend_summary(backend: tokenizers.Tokenizer) -> dict:
    d = json.loads(backend.to_str())
    model = {k: v for k, v in d["model"].items() if k not in ("vocab", "merges")}
    model["vocab_size"] = len(d["model"]["vocab"])
    if "merges" in d["model"]:
        model["merges"] = len(d["model"]["merges"])
    return {
        "normalizer": d["normalizer"],
        "pre_tokenizer": d["pre_tokenizer"],
        "post_processor": d["post_processor"],
        "decoder": d["decoder"],
        "model": model,
    }


def tokenizer_summary(tok, vocab_size: int) -> dict:
    summary = {"class": type(tok).__name__}
    summary.update(backend_summary(tok.backend_tokenizer))
    added = [
        {"id": i, "content": t.content, "special": t.special}
        for i, t in sorted(tok.added_tokens_decoder.items())
    ]
    summary["added_tokens"] = added
    summary["extra_added_tokens"] = [a for a in added if a["id"] >= vocab_size]
    for name in ("bos", "eos", "unk", "pad"):
        summary[f"{name}_token"] = getattr(tok, f"{name}_token")
        summary[f"{name}_token_id"] = getattr(tok, f"{name}_token_id")
    summary["add_bos_token"] = getattr(tok, "add_bos_token", None)
    summary["add_eos_token"] = getattr(tok, "add_eos_token", None)
    return summary


def tokenizer_check(family: str, engine: dict, vocab_size: int) -> dict:
    files = [f"tiny-{family}.{ftype}.gguf" for ftype in FILE_TYPES]
    toks = [AutoTokenizer.from_pretrained(GGUF_DIR, gguf_file=f) for f in files]
    reference_path = MODELS / f"tiny-{family}" / "tokenizer.json"
    ref = tokenizers.Tokenizer.from_file(str(reference_path))
    tok = toks[-1]

    def compare(text: str, special: bool) -> dict:
        gguf_ids = tok(text, add_special_tokens=special).input_ids
        for other in toks[:-1]:
            if other(text, add_special_tokens=special).input_ids != gguf_ids:
                sys.exit(f"{family}: the GGUF files tokenize {text!r} differently")
        ref_ids = ref.encode(text, add_special_tokens=special).ids
        decoded = ref.decode(ref_ids, skip_special_tokens=False)
        return {
            "text": text,
            "gguf_ids": gguf_ids,
            "reference_ids": ref_ids,
            "agree": gguf_ids == ref_ids,
            "decoded_reference": decoded,
            "decode_agree": tok.decode(gguf_ids, skip_special_tokens=False) == decoded,
        }

    cases = [compare(t, False) for t in TOKENIZER_TEXTS + [CHAT_TEXTS[family]]]
    with_special = [compare(t, True) for t in SPECIAL_TEXTS]
    engine_prompts = []
    for p in engine["prompts"]:
        ids = tok(p["text"], add_special_tokens=p["add_special_tokens"]).input_ids
        engine_prompts.append({"name": p["name"], "agree": ids == p["input_ids"]})
    all_cases = cases + with_special
    return {
        "gguf_file": files[-1],
        "reference": str(reference_path.relative_to(ROOT)),
        "gguf_tokenizer": tokenizer_summary(tok, vocab_size),
        "reference_tokenizer": backend_summary(ref),
        "cases": cases,
        "with_special_tokens": with_special,
        "engine_prompts": engine_prompts,
        "agreement": f"{sum(c['agree'] for c in all_cases)}/{len(all_cases)}",
        "differences": [c["text"] for c in all_cases if not c["agree"]],
    }


def family_fixture(family: str) -> dict:
    engine = json.loads((ENGINE / f"{family}.json").read_text())
    reference_model = load_safetensors_model(family)
    with torch.no_grad():
        reference = {p["name"]: last_logits(reference_model, p["input_ids"]) for p in engine["prompts"]}
    files = [file_entry(family, ftype, engine, reference) for ftype in FILE_TYPES]
    return {
        "family": family,
        "versions": versions(),
        "gguf_dir": str(GGUF_DIR.relative_to(ROOT)),
        "engine_fixture": str((ENGINE / f"{family}.json").relative_to(ROOT)),
        "dtype": "float32",
        "attn_implementation": "eager",
        "files": files,
        "tokenizer_check": tokenizer_check(family, engine, engine["vocab_size"]),
    }


# ------------------------------------------------------------------------------------------------
# SentencePiece


def spm_fixture() -> dict:
    import sentencepiece

    file = "tiny-spm-tokenizer.gguf"
    sp = make_tiny_gguf.spm_processor(make_tiny_gguf.train_spm())
    reader = gguf.GGUFReader(GGUF_DIR / file)
    pieces = [str(bytes(reader.fields["tokenizer.ggml.tokens"].parts[i]), "utf-8")
              for i in reader.fields["tokenizer.ggml.tokens"].data]
    if pieces != [sp.IdToPiece(i) for i in range(sp.vocab_size())]:
        sys.exit(f"{file}: its tokens are not the retrained sentencepiece model's pieces")
    tok = AutoTokenizer.from_pretrained(GGUF_DIR, gguf_file=file)

    cases = []
    for text in SPM_TEXTS:
        sp_ids = sp.encode(text)
        gguf_ids = tok(text, add_special_tokens=False).input_ids
        sp_decoded = sp.decode(sp_ids)
        gguf_decoded = tok.decode(gguf_ids, skip_special_tokens=False)
        cases.append(
            {
                "text": text,
                "sentencepiece_ids": sp_ids,
                "sentencepiece_pieces": [sp.IdToPiece(i) for i in sp_ids],
                "sentencepiece_decoded": sp_decoded,
                "gguf_ids": gguf_ids,
                "gguf_decoded": gguf_decoded,
                "ids_agree": sp_ids == gguf_ids,
                "decode_agree": sp_decoded == gguf_decoded,
            }
        )
    with_bos = []
    for text in SPM_TEXTS[:3]:
        sp_ids = [sp.bos_id()] + sp.encode(text)
        gguf_ids = tok(text, add_special_tokens=True).input_ids
        with_bos.append({"text": text, "sentencepiece_ids": sp_ids, "gguf_ids": gguf_ids, "agree": sp_ids == gguf_ids})

    model = AutoModelForCausalLM.from_pretrained(
        GGUF_DIR, gguf_file=file, dtype=torch.float32, attn_implementation="eager"
    ).eval()
    check_ids = [sp.bos_id()] + sp.encode("Die Bibliothek öffnet um neun Uhr.")
    with torch.no_grad():
        logits = last_logits(model, check_ids)

    settings = {
        "model_type": "bpe",
        "vocab_size": make_tiny_gguf.SPM_VOCAB,
        "byte_fallback": True,
        "split_digits": True,
        "character_coverage": 1.0,
        "normalization_rule_name": "identity",
        "remove_extra_whitespaces": False,
        "add_dummy_prefix": True,
        "allow_whitespace_only_pieces": True,
        "unk_id": 0,
        "bos_id": 1,
        "eos_id": 2,
        "training_text": "scripts/make_tiny_gguf.py SPM_TEXT (English + German), lines x4",
    }
    all_ids = [c["ids_agree"] for c in cases] + [c["agree"] for c in with_bos]
    return {
        "gguf_file": f"{GGUF_DIR.relative_to(ROOT)}/{file}",
        "versions": dict(versions(), sentencepiece=sentencepiece.__version__),
        "sentencepiece": settings,
        "gguf_tokenizer": tokenizer_summary(tok, sp.vocab_size()),
        "cases": cases,
        "with_bos": with_bos,
        "agreement": f"{sum(all_ids)}/{len(all_ids)}",
        "decode_agreement": f"{sum(c['decode_agree'] for c in cases)}/{len(cases)}",
        "differences": [c["text"] for c in cases if not c["ids_agree"]]
        + [c["text"] for c in with_bos if not c["agree"]],
        "model_check": {
            "note": "the file's random 1-layer llama through transformers (default rope, no kwargs)",
            "class_loaded": type(model).__name__,
            "input_ids": check_ids,
            "last_logits": rounded(logits),
        },
    }


def write(path: pathlib.Path, data: dict) -> None:
    path.write_text(json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n")


def main() -> None:
    torch.set_num_threads(1)
    torch.manual_seed(0)
    OUT.mkdir(parents=True, exist_ok=True)
    for family in FAMILIES:
        data = family_fixture(family)
        path = OUT / f"{family}.json"
        write(path, data)
        print(f"{path.relative_to(ROOT)}: {path.stat().st_size} bytes")
        for f in data["files"]:
            print(
                f"  {f['file']:24s} {f['loader']['class_run']:20s} max|diff| vs engine {f['max_abs_diff_vs_engine']:.3e}"
                f", vs safetensors {f['max_abs_diff_vs_safetensors']:.3e}, greedy matches {f['greedy_matches_engine']}"
            )
        t = data["tokenizer_check"]
        print(f"  tokenizer agreement {t['agreement']}, differences {t['differences']}")
        print(f"  engine prompts {[(p['name'], p['agree']) for p in t['engine_prompts']]}")
        print(f"  extra added tokens {t['gguf_tokenizer']['extra_added_tokens']}")
    data = spm_fixture()
    path = OUT / "spm-tokenizer.json"
    write(path, data)
    print(f"{path.relative_to(ROOT)}: {path.stat().st_size} bytes")
    print(f"  ids agreement {data['agreement']}, decode agreement {data['decode_agreement']}")
    print(f"  differences {data['differences']}")


if __name__ == "__main__":
    main()
