#!/usr/bin/env python3
"""GGUF copies of the tiny test models, written the way llama.cpp's convert_hf_to_gguf.py does.

Run from the repository root (after scripts/make_tiny_models.py):
  .venv/bin/python scripts/make_tiny_gguf.py

Writes, with the `gguf` package (gguf-py, llama.cpp's own writer), into tests/fixtures/models/gguf/:
  tiny-<family>.f32.gguf    every tensor F32                         (general.file_type 0, ALL_F32)
  tiny-<family>.q8_0.gguf   every 2-D weight whose row length is a multiple of 32 as Q8_0
                            (gguf.quants.quantize, llama.cpp's reference numpy code), the rest F32;
                            1-D tensors (norms, biases, rope_freqs) are always F32
                            (general.file_type 7, MOSTLY_Q8_0)
  tiny-spm-tokenizer.gguf   a SentencePiece (`tokenizer.ggml.model = "llama"`) vocabulary trained
                            here, plus a 1-layer hidden-32 llama of random F32 weights so that the
                            file is a complete model (see `spm_*` below)
for family in llama, qwen2, mistral, gemma2 (sources: tests/fixtures/models/tiny-<family>/).
The folder holds only .gguf files on purpose: transformers' AutoTokenizer.from_pretrained(folder,
gguf_file=...) would otherwise prefer a tokenizer.json lying next to the file.

What follows llama.cpp's converter (ModelBase.prepare_tensors / TextModel.set_gguf_parameters /
LlamaModel / Qwen2Model / Gemma2Model, get_vocab_base + gguf.SpecialVocab for the vocabulary):
  * general.architecture: llama for tiny-llama AND tiny-mistral (llama.cpp converts
    MistralForCausalLM with LlamaModel), qwen2, gemma2. general.type "model", general.name from
    gguf.Metadata's heuristics on the folder name ("Tiny Llama", "Tiny Mistral", ...),
    general.file_type, general.quantization_version.
  * Tensor names from gguf-py's TensorNameMap (token_embd, blk.N.attn_norm / attn_q / attn_k /
    attn_v / attn_output / ffn_norm / ffn_gate / ffn_up / ffn_down, qwen2's attn_{q,k,v}.bias,
    gemma2's attn_norm / post_attention_norm / ffn_norm (= pre_feedforward_layernorm) /
    post_ffw_norm, output_norm, output (only when lm_head is not tied: llama, mistral)).
    GGUF stores dims reversed: a torch [out, in] weight has ne = [in, out].
  * llama / mistral (arch `llama`): q_proj and k_proj rows permuted by LlamaModel.permute
    (w.reshape(n_head, 2, rows // n_head // 2, cols).swapaxes(1, 2).reshape(rows, cols), n_head = 4
    for q, n_kv_head = 2 for k), i.e. HF's rotate-half layout turned into llama.cpp's interleaved
    (GPT-J) pair layout. qwen2 and gemma2 are NOT permuted (llama.cpp runs them with NEOX rope).
  * gemma2: every `*norm.weight` stored as w + 1 (Gemma2Model.modify_tensors), so the file holds
    the effective RMSNorm scale; transformers' Gemma2TensorProcessor subtracts 1 again.
  * tiny-llama's llama3 rope scaling becomes an extra F32 tensor `rope_freqs.weight` ([head_dim/2]
    = 8 values, written first, as generate_extra_tensors does): per-frequency divisors, llama.cpp
    uses theta_i = pos * base**(-2i/d) / rope_freqs[i]. No rope.scaling.* keys are written for llama3.
    Deviation: llama.cpp reads original_max_position_embeddings from the TOP LEVEL of config.json
    (`self.hparams.get("original_max_position_embeddings", 8192)`), where this checkpoint has none
    (it sits inside rope_scaling, as in real Llama-3.1 configs, where the 8192 default happens to be
    right). We use rope_scaling's value (64), so that base / rope_freqs reproduces transformers'
    inv_freq (checked here against the engine fixture's rope_inv_freq).
  * tokenizer.ggml.model "gpt2"; tokenizer.ggml.pre as llama.cpp names these pre-tokenizers
    (llama-bpe, qwen2, gpt-2; the converter would hash a probe text, which fails on our synthetic
    vocabularies, so the names are given here); tokens = the byte-level vocab pieces in id order
    (exactly tokenizer.json's spelling, added tokens included); token_type 1 normal, 3 control for
    added special tokens, 4 user-defined for added non-special ones (there are none in these four
    vocabularies); merges as "left right" strings (gguf.SpecialVocab); bos / eos / unknown /
    padding ids and add_bos_token / add_eos_token as gguf.SpecialVocab derives them from
    tokenizer_config.json, the TemplateProcessing post-processor and config.json:
      llama   bos 0 <|begin_of_text|>, eos 5 <|eot_id|>, add_bos true
      qwen2   bos 0 <|endoftext|> (from config.json's bos_token_id, as for real Qwen2.5), eos 2
              <|im_end|>, pad 0, add_bos false
      mistral bos 1 <s>, eos 2 </s>, unk 0 <unk>, add_bos true, add_eos false
      gemma2  bos 2 <bos>, eos 1 <eos>, unk 3 <unk>, pad 0 <pad>, add_bos true, add_eos false,
              add_space_prefix false (Gemma2Model.set_vocab always writes it)
    tokenizer.chat_template from tokenizer_config.json.

Hyper-parameter keys (<arch> = general.architecture):
  all     <arch>.block_count, context_length, embedding_length, feed_forward_length,
          attention.head_count, attention.head_count_kv, rope.freq_base,
          attention.layer_norm_rms_epsilon, attention.key_length, attention.value_length (head_dim),
          vocab_size
  llama-arch (llama, mistral): <arch>.rope.dimension_count (head_dim, LlamaModel writes it)
  mistral: llama.attention.sliding_window = 16
  gemma2:  gemma2.attention.sliding_window = 16, gemma2.attn_logit_softcapping = 5,
           gemma2.final_logit_softcapping = 3, gemma2.attention.scale = 24 ** -0.5
           (query_pre_attn_scalar 24 != head_dim 32; llama.cpp's generic attention-scale key)
Deviations from what llama.cpp's converter writes, on purpose (the brief asks for them):
  key_length / value_length for qwen2 (the converter writes them only when config.json has
  head_dim), vocab_size for qwen2 / gemma2 (only LlamaModel writes it), rope.freq_base for gemma2,
  llama.attention.sliding_window (llama.cpp's llama arch has no sliding window: it runs Mistral with
  full attention), gemma2.attention.scale (llama.cpp derives gemma2's scale itself, and its Gemma2
  converter refuses a query_pre_attn_scalar other than hidden_size / n_head).
transformers (5.23, modeling_gguf_pytorch_utils.load_gguf_checkpoint + integrations/ggml.py
GGUF_CONFIG_MAPPING) IGNORES these keys: <arch>.attention.sliding_window for llama (it loads
tiny-mistral as a LlamaForCausalLM: it only switches to mistral when general.name is exactly
"mistral"), gemma2.attn_logit_softcapping, gemma2.final_logit_softcapping, gemma2.attention.scale,
attention.value_length, rope_freqs.weight (and so llama3 rope scaling), add_space_prefix for gpt2
vocabularies. It reads gemma2.attention.sliding_window and attention.key_length (gemma2 head_dim)
and llama's rope.dimension_count (head_dim). make_gguf_fixtures.py passes the ignored values as
from_pretrained kwargs and says so in its fixtures.

The SentencePiece file (tiny-spm-tokenizer.gguf): a BPE model trained here with sentencepiece
(vocab 400, byte_fallback, split_digits, identity normalisation, no whitespace squeezing, dummy
prefix: the Llama-2 / Mistral-v0.1 settings) on the English/German text in SPM_TEXT, one thread,
no input sampling or shuffling, so the model is the same on every run. Its vocabulary is written as
llama.cpp's _set_vocab_sentencepiece does: tokenizer.ggml.model "llama", pre "default", tokens as
the pieces (with U+2581), scores, token_type (1 normal, 2 unknown, 3 control, 6 byte for <0xNN>),
bos 1, eos 2, unk 0, add_bos_token true, add_eos_token false, add_space_prefix true. The model part:
llama arch, 1 layer, hidden 32, 4 heads / 2 kv heads (head_dim 8), ffn 64, vocab 400, random F32
weights from a fixed seed, untied output. make_gguf_fixtures.py retrains the same model (train_spm
here) to compare sentencepiece's own ids with transformers' GGUF tokenizer.

Each written file is read back with gguf.GGUFReader and checked: tensor names, shapes and types,
F32 data bit-identical to the (permuted / offset) source, Q8_0 data within half a quantisation step (plus the
f16 rounding of the block scale), with the permutation undone by transformers' reverse formula.
"""

import io
import json
import math
import pathlib
import sys
import zlib

import gguf
import numpy as np
from safetensors.numpy import load_file

ROOT = pathlib.Path(__file__).resolve().parent.parent
MODELS = ROOT / "tests" / "fixtures" / "models"
OUT = MODELS / "gguf"
ENGINE = ROOT / "tests" / "fixtures" / "engine"

FAMILIES = {
    # family: (general.architecture, tokenizer.ggml.pre, permute q/k like LlamaModel, norms stored +1)
    "llama": ("llama", "llama-bpe", True, False),
    "qwen2": ("qwen2", "qwen2", False, False),
    "mistral": ("llama", "gpt-2", True, False),
    "gemma2": ("gemma2", "gpt-2", False, True),
}
FILE_TYPES = {
    "f32": gguf.LlamaFileType.ALL_F32,
    "q8_0": gguf.LlamaFileType.MOSTLY_Q8_0,
}
Q8_BLOCK = gguf.GGML_QUANT_SIZES[gguf.GGMLQuantizationType.Q8_0][0]  # 32


# ------------------------------------------------------------------------------------------------
# tensors


def permute(w: np.ndarray, n_head: int, n_head_kv: int | None) -> np.ndarray:
    """convert_hf_to_gguf.py LlamaModel.permute (rotate-half rows -> interleaved pairs)."""
    if n_head_kv is not None and n_head != n_head_kv:
        n_head = n_head_kv
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def unpermute(w: np.ndarray, n_head: int, n_head_kv: int | None) -> np.ndarray:
    """transformers' LlamaTensorProcessor._reverse_permute_weights, for the read-back check."""
    if n_head_kv is not None and n_head != n_head_kv:
        n_head = n_head_kv
    dim = w.shape[0] // n_head // 2
    return w.reshape(n_head, dim, 2, *w.shape[1:]).swapaxes(2, 1).reshape(w.shape)


def llama3_rope_factors(cfg: dict) -> np.ndarray | None:
    """LlamaModel.generate_extra_tensors: per-frequency divisors for llama3 rope scaling."""
    params = cfg.get("rope_parameters") or cfg.get("rope_scaling") or {}
    if params.get("rope_type", params.get("type", "")).lower() != "llama3":
        return None
    import torch  # the converter computes the base frequencies in torch f32; do the same

    base = params.get("rope_theta", cfg.get("rope_theta", 10000.0))
    dim = cfg.get("head_dim") or cfg["hidden_size"] // cfg["num_attention_heads"]
    freqs = 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.float32) / dim))
    factor = params.get("factor", 8.0)
    low_freq_factor = params.get("low_freq_factor", 1.0)
    high_freq_factor = params.get("high_freq_factor", 4.0)
    # See the module docstring: llama.cpp reads this from the top level of config.json.
    old_context_len = params.get("original_max_position_embeddings", 8192)
    low_freq_wavelen = old_context_len / low_freq_factor
    high_freq_wavelen = old_context_len / high_freq_factor
    rope_factors = []
    for freq in freqs:
        wavelen = 2 * math.pi / freq
        if wavelen < high_freq_wavelen:
            rope_factors.append(1)
        elif wavelen > low_freq_wavelen:
            rope_factors.append(factor)
        else:
            smooth = (old_context_len / wavelen - low_freq_factor) / (high_freq_factor - low_freq_factor)
            rope_factors.append(1 / ((1 - smooth) / factor + smooth))
    return torch.tensor(rope_factors, dtype=torch.float32).numpy()


def gguf_tensors(family: str, cfg: dict, weights: dict, arch: gguf.MODEL_ARCH) -> list[tuple[str, np.ndarray]]:
    """(gguf name, f32 array) in the order llama.cpp writes them: extra tensors, then the file's."""
    _, _, do_permute, norm_plus_one = FAMILIES[family]
    n_layers = cfg["num_hidden_layers"]
    name_map = gguf.get_tensor_name_map(arch, n_layers)
    out = []
    factors = llama3_rope_factors(cfg)
    if factors is not None:
        out.append((gguf.TENSOR_NAMES[gguf.MODEL_TENSOR.ROPE_FREQS] + ".weight", factors))
    n_head, n_kv = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    for hf_name in sorted(weights):
        data = weights[hf_name].astype(np.float32)
        if do_permute:
            if hf_name.endswith(("q_proj.weight", "q_proj.bias")):
                data = permute(data, n_head, n_head)
            if hf_name.endswith(("k_proj.weight", "k_proj.bias")):
                data = permute(data, n_head, n_kv)
        if norm_plus_one and hf_name.endswith("norm.weight"):
            data = data + 1
        if family == "gemma2" and hf_name == "lm_head.weight":
            continue  # Gemma2Model skips it (tied anyway)
        new_name = name_map.get_name(hf_name, try_suffixes=(".weight", ".bias"))
        if new_name is None:
            sys.exit(f"{family}: no GGUF name for {hf_name}")
        out.append((new_name, np.ascontiguousarray(data, dtype=np.float32)))
    return out


def qtype_for(name: str, data: np.ndarray, ftype: gguf.LlamaFileType) -> gguf.GGMLQuantizationType:
    if data.ndim <= 1 or name.endswith("_norm.weight") or ftype == gguf.LlamaFileType.ALL_F32:
        return gguf.GGMLQuantizationType.F32
    if data.shape[-1] % Q8_BLOCK != 0:
        return gguf.GGMLQuantizationType.F32
    return gguf.GGMLQuantizationType.Q8_0


# ------------------------------------------------------------------------------------------------
# vocabulary


def bpe_vocab(folder: pathlib.Path, vocab_size: int):
    """TextModel.get_vocab_base: tokens in id order and their types."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    assert max(tokenizer.vocab.values()) < vocab_size
    reverse_vocab = {id_: tok for tok, id_ in tokenizer.vocab.items()}
    added_vocab = tokenizer.get_added_vocab()
    added_decoder = tokenizer.added_tokens_decoder
    tokens, toktypes = [], []
    for i in range(vocab_size):
        if i not in reverse_vocab:
            tokens.append(f"[PAD{i}]")
            toktypes.append(gguf.TokenType.UNUSED)
            continue
        token = reverse_vocab[i]
        if token in added_vocab:
            if not added_decoder[i].normalized:
                token = tokenizer.decode(tokenizer.encode(token, add_special_tokens=False))
            if added_decoder[i].special:
                toktypes.append(gguf.TokenType.CONTROL)
            else:
                token = token.replace("\u2581", " ")
                toktypes.append(gguf.TokenType.USER_DEFINED)
        else:
            toktypes.append(gguf.TokenType.NORMAL)
        tokens.append(token)
    return tokens, toktypes


def add_bpe_vocab(w: gguf.GGUFWriter, family: str, folder: pathlib.Path, vocab_size: int) -> None:
    _, pre, _, _ = FAMILIES[family]
    tokens, toktypes = bpe_vocab(folder, vocab_size)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre(pre)
    w.add_token_list(tokens)
    w.add_token_types(toktypes)
    special = gguf.SpecialVocab(folder, load_merges=True)
    special.add_to_gguf(w, quiet=True)
    if family == "gemma2":
        w.add_add_space_prefix(False)


# ------------------------------------------------------------------------------------------------
# model files


def write_family(family: str, ftype_name: str) -> pathlib.Path:
    arch_name, _, _, _ = FAMILIES[family]
    folder = MODELS / f"tiny-{family}"
    cfg = json.loads((folder / "config.json").read_text())
    if "rope_parameters" in cfg:
        rope_theta = cfg["rope_parameters"]["rope_theta"]
    else:
        rope_theta = cfg["rope_theta"]
    weights = load_file(str(folder / "model.safetensors"))
    arch = next(a for a, n in gguf.MODEL_ARCH_NAMES.items() if n == arch_name)
    ftype = FILE_TYPES[ftype_name]
    head_dim = cfg.get("head_dim") or cfg["hidden_size"] // cfg["num_attention_heads"]

    path = OUT / f"tiny-{family}.{ftype_name}.gguf"
    w = gguf.GGUFWriter(path=None, arch=arch_name)

    for name, data in gguf_tensors(family, cfg, weights, arch):
        qtype = qtype_for(name, data, ftype)
        w.add_tensor(name, gguf.quants.quantize(data, qtype), raw_dtype=qtype)

    meta = gguf.Metadata.load(None, folder, None, 0)
    w.add_type(gguf.GGUFType.MODEL)
    w.add_name(meta.name)

    w.add_block_count(cfg["num_hidden_layers"])
    w.add_context_length(cfg["max_position_embeddings"])
    w.add_embedding_length(cfg["hidden_size"])
    w.add_feed_forward_length(cfg["intermediate_size"])
    w.add_head_count(cfg["num_attention_heads"])
    w.add_head_count_kv(cfg["num_key_value_heads"])
    w.add_rope_freq_base(rope_theta)
    w.add_layer_norm_rms_eps(cfg["rms_norm_eps"])
    w.add_key_length(head_dim)
    w.add_value_length(head_dim)
    w.add_file_type(ftype)
    w.add_vocab_size(cfg["vocab_size"])
    if arch_name == "llama":
        w.add_rope_dimension_count(head_dim)
    if family == "mistral":
        w.add_sliding_window(cfg["sliding_window"])
    if family == "gemma2":
        w.add_attn_logit_softcapping(cfg["attn_logit_softcapping"])
        w.add_final_logit_softcapping(cfg["final_logit_softcapping"])
        w.add_sliding_window(cfg["sliding_window"])
        w.add_attention_scale(cfg["query_pre_attn_scalar"] ** -0.5)
    w.add_quantization_version(gguf.GGML_QUANT_VERSION)

    add_bpe_vocab(w, family, folder, cfg["vocab_size"])

    finish(w, path)
    check_family(family, cfg, weights, path, ftype)
    return path


def finish(w: gguf.GGUFWriter, path: pathlib.Path) -> None:
    w.write_header_to_file(path=path)
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


# ------------------------------------------------------------------------------------------------
# read-back checks


def read_tensors(path: pathlib.Path) -> dict:
    reader = gguf.GGUFReader(path)
    out = {}
    for t in reader.tensors:
        values = gguf.quants.dequantize(t.data, t.tensor_type)
        out[t.name] = (t.tensor_type, [int(n) for n in t.shape], np.array(values, dtype=np.float32))
    return out


def check_family(family: str, cfg: dict, weights: dict, path: pathlib.Path, ftype) -> None:
    _, _, do_permute, norm_plus_one = FAMILIES[family]
    n_head, n_kv = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    tensors = read_tensors(path)
    arch = next(a for a, n in gguf.MODEL_ARCH_NAMES.items() if n == FAMILIES[family][0])
    name_map = gguf.get_tensor_name_map(arch, cfg["num_hidden_layers"])
    expected = set(n for n in weights if not (family == "gemma2" and n == "lm_head.weight"))
    seen = set()
    for gname, (qtype, ne, values) in tensors.items():
        if gname == "rope_freqs.weight":
            check_rope_freqs(family, cfg, values)
            continue
        hf_name = next(n for n in expected if name_map.get_name(n, try_suffixes=(".weight", ".bias")) == gname)
        seen.add(hf_name)
        src = weights[hf_name]
        if list(reversed(src.shape)) != ne:
            sys.exit(f"{path.name}: {gname} ne {ne} != reversed {src.shape}")
        values = values.reshape(src.shape)
        if norm_plus_one and hf_name.endswith("norm.weight"):
            values = values - 1  # what transformers' Gemma2TensorProcessor does
        if do_permute and hf_name.endswith("q_proj.weight"):
            values = unpermute(values, n_head, n_head)
        if do_permute and hf_name.endswith("k_proj.weight"):
            values = unpermute(values, n_head, n_kv)
        want_q8 = ftype == gguf.LlamaFileType.MOSTLY_Q8_0 and src.ndim == 2
        if want_q8 != (qtype == gguf.GGMLQuantizationType.Q8_0):
            sys.exit(f"{path.name}: {gname} has type {qtype.name}")
        if qtype == gguf.GGMLQuantizationType.F32:
            if norm_plus_one and hf_name.endswith("norm.weight"):
                ok = np.allclose(values, src, rtol=0, atol=1e-6)  # (w + 1) - 1 rounds
            else:
                ok = np.array_equal(values, src)
        else:
            blocks = np.abs(src.reshape(-1, Q8_BLOCK)).max(axis=1, keepdims=True)
            # d = max|x| / 127 is stored as f16: half a step plus 127 * (f16 rounding of d)
            step = blocks / 127.0
            err = np.abs(values.reshape(-1, Q8_BLOCK) - src.reshape(-1, Q8_BLOCK))
            ok = bool(np.all(err <= step * (0.5 + 127 * 2.0**-11) * 1.001 + 1e-7))
        if not ok:
            sys.exit(f"{path.name}: {gname} does not read back as {hf_name}")
    if seen != expected:
        sys.exit(f"{path.name}: missing {sorted(expected - seen)}")


def check_rope_freqs(family: str, cfg: dict, factors: np.ndarray) -> None:
    """base frequencies / rope_freqs must be transformers' llama3 inv_freq (engine fixture)."""
    engine = json.loads((ENGINE / f"{family}.json").read_text())
    theta = cfg.get("rope_theta") or cfg["rope_parameters"]["rope_theta"]
    dim = cfg.get("head_dim") or cfg["hidden_size"] // cfg["num_attention_heads"]
    base = 1.0 / (theta ** (np.arange(0, dim, 2, dtype=np.float64) / dim))
    inv = base / factors.astype(np.float64)
    ref = np.array(engine["rope_inv_freq"], dtype=np.float64)
    if not np.allclose(inv, ref, rtol=1e-5, atol=0):
        sys.exit(f"{family}: base / rope_freqs {inv} != engine rope_inv_freq {ref}")


# ------------------------------------------------------------------------------------------------
# SentencePiece


SPM_TEXT = """\
The old mill stands beside the river and still grinds flour every autumn.
The library opens at nine in the morning and closes at six in the evening.
Marta planted three apple trees behind the school in 1998, and two of them still bear fruit.
Question: When does the library close? Answer: at six in the evening.
Every morning the baker opens his shop at seven and sells fresh bread to the neighbours.
The children walked along the river to the bridge, where they watched the boats pass by.
In the winter of 2010 the lake froze completely for the first time in forty years.
She wrote a long letter to her brother, who lived in a small town near the mountains.
The museum shows paintings, old maps and a collection of clocks from the last three centuries.
A train leaves the central station every twenty minutes between six and midnight.
Die alte Mühle steht am Fluss und mahlt noch jeden Herbst Mehl.
Die Bibliothek öffnet um neun Uhr morgens und schließt um sechs Uhr abends.
Frage: Wann schließt die Bibliothek? Antwort: um sechs Uhr abends.
Marta pflanzte 1998 drei Apfelbäume hinter der Schule, und zwei davon tragen noch Früchte.
Jeden Morgen öffnet der Bäcker seinen Laden um sieben und verkauft frisches Brot.
Die Kinder gingen am Fluss entlang zur Brücke und sahen den Schiffen zu.
Im Winter 2010 fror der See zum ersten Mal seit vierzig Jahren vollständig zu.
Sie schrieb einen langen Brief an ihren Bruder, der in einer kleinen Stadt nahe den Bergen wohnte.
Das Museum zeigt Gemälde, alte Karten und eine Sammlung von Uhren aus drei Jahrhunderten.
Ein Zug fährt alle zwanzig Minuten zwischen sechs Uhr und Mitternacht vom Hauptbahnhof ab.
Über den Dächern der Stadt kreisen die Möwen, während die Straßen langsam erwachen.
Größere Städte wie München, Köln und Düsseldorf haben viele grüne Parks und breite Straßen.
Tables, chairs and lamps were carried into the new school building before the summer holidays.
The weather report said that it would rain in the north and stay sunny in the south.
"""
SPM_VOCAB = 400
SPM_LAYERS, SPM_HIDDEN, SPM_HEADS, SPM_KV_HEADS, SPM_FFN = 1, 32, 4, 2, 64


def train_spm() -> bytes:
    """The serialized SentencePiece model; the same bytes on every run."""
    import sentencepiece as spm

    lines = [line for line in SPM_TEXT.splitlines() if line.strip()]
    # The corpus is repeated so that the trainer sees enough pairs for 400 pieces; order is fixed.
    corpus = lines * 4
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(corpus),
        model_writer=model,
        model_type="bpe",
        vocab_size=SPM_VOCAB,
        byte_fallback=True,
        split_digits=True,
        character_coverage=1.0,
        normalization_rule_name="identity",
        remove_extra_whitespaces=False,
        add_dummy_prefix=True,
        allow_whitespace_only_pieces=True,
        unk_id=0,
        bos_id=1,
        eos_id=2,
        pad_id=-1,
        num_threads=1,
        input_sentence_size=0,
        shuffle_input_sentence=False,
        hard_vocab_limit=True,
        minloglevel=2,
    )
    return model.getvalue()


def spm_processor(model_bytes: bytes):
    import sentencepiece as spm

    return spm.SentencePieceProcessor(model_proto=model_bytes)


def spm_vocab(sp) -> tuple[list[bytes], list[float], list[int]]:
    """convert_hf_to_gguf.py _create_vocab_sentencepiece."""
    tokens, scores, toktypes = [], [], []
    for token_id in range(sp.vocab_size()):
        piece = sp.IdToPiece(token_id)
        toktype = gguf.TokenType.NORMAL
        if sp.IsUnknown(token_id):
            toktype = gguf.TokenType.UNKNOWN
        elif sp.IsControl(token_id):
            toktype = gguf.TokenType.CONTROL
        elif sp.IsUnused(token_id):
            toktype = gguf.TokenType.UNUSED
        elif sp.IsByte(token_id):
            toktype = gguf.TokenType.BYTE
        tokens.append(piece.encode("utf-8"))
        scores.append(sp.GetScore(token_id))
        toktypes.append(int(toktype))
    return tokens, scores, toktypes


def write_spm() -> pathlib.Path:
    model_bytes = train_spm()
    sp = spm_processor(model_bytes)
    if sp.vocab_size() != SPM_VOCAB:
        sys.exit(f"sentencepiece trained {sp.vocab_size()} pieces, wanted {SPM_VOCAB}")
    tokens, scores, toktypes = spm_vocab(sp)
    head_dim = SPM_HIDDEN // SPM_HEADS

    path = OUT / "tiny-spm-tokenizer.gguf"
    w = gguf.GGUFWriter(path=None, arch="llama")
    shapes = {"model.embed_tokens.weight": (SPM_VOCAB, SPM_HIDDEN), "lm_head.weight": (SPM_VOCAB, SPM_HIDDEN),
              "model.norm.weight": (SPM_HIDDEN,)}
    for i in range(SPM_LAYERS):
        p = f"model.layers.{i}."
        shapes.update({
            p + "input_layernorm.weight": (SPM_HIDDEN,),
            p + "post_attention_layernorm.weight": (SPM_HIDDEN,),
            p + "self_attn.q_proj.weight": (SPM_HEADS * head_dim, SPM_HIDDEN),
            p + "self_attn.k_proj.weight": (SPM_KV_HEADS * head_dim, SPM_HIDDEN),
            p + "self_attn.v_proj.weight": (SPM_KV_HEADS * head_dim, SPM_HIDDEN),
            p + "self_attn.o_proj.weight": (SPM_HIDDEN, SPM_HEADS * head_dim),
            p + "mlp.gate_proj.weight": (SPM_FFN, SPM_HIDDEN),
            p + "mlp.up_proj.weight": (SPM_FFN, SPM_HIDDEN),
            p + "mlp.down_proj.weight": (SPM_HIDDEN, SPM_FFN),
        })
    name_map = gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA, SPM_LAYERS)
    for hf_name in sorted(shapes):
        rng = np.random.default_rng([1, zlib.crc32(f"spm/{hf_name}".encode())])
        shape = shapes[hf_name]
        if len(shape) == 1:
            data = 1.0 + rng.normal(0.0, 0.1, size=shape)
        else:
            data = rng.normal(0.0, 1.0 / math.sqrt(shape[1]), size=shape)
        data = data.astype(np.float32)
        if hf_name.endswith("q_proj.weight"):
            data = permute(data, SPM_HEADS, SPM_HEADS)
        if hf_name.endswith("k_proj.weight"):
            data = permute(data, SPM_HEADS, SPM_KV_HEADS)
        w.add_tensor(name_map.get_name(hf_name, try_suffixes=(".weight",)), np.ascontiguousarray(data))

    w.add_type(gguf.GGUFType.MODEL)
    w.add_name("Tiny SPM Tokenizer")
    w.add_block_count(SPM_LAYERS)
    w.add_context_length(512)
    w.add_embedding_length(SPM_HIDDEN)
    w.add_feed_forward_length(SPM_FFN)
    w.add_head_count(SPM_HEADS)
    w.add_head_count_kv(SPM_KV_HEADS)
    w.add_rope_freq_base(10000.0)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_key_length(head_dim)
    w.add_value_length(head_dim)
    w.add_file_type(gguf.LlamaFileType.ALL_F32)
    w.add_vocab_size(SPM_VOCAB)
    w.add_rope_dimension_count(head_dim)
    w.add_quantization_version(gguf.GGML_QUANT_VERSION)

    w.add_tokenizer_model("llama")
    w.add_tokenizer_pre("default")
    w.add_token_list(tokens)
    w.add_token_scores(scores)
    w.add_token_types(toktypes)
    w.add_bos_token_id(sp.bos_id())
    w.add_eos_token_id(sp.eos_id())
    w.add_unk_token_id(sp.unk_id())
    w.add_add_bos_token(True)
    w.add_add_eos_token(False)
    w.add_add_space_prefix(True)
    finish(w, path)

    reader = gguf.GGUFReader(path)
    if len(reader.tensors) != len(shapes):
        sys.exit(f"{path.name}: {len(reader.tensors)} tensors, wanted {len(shapes)}")
    return path


def describe(path: pathlib.Path) -> str:
    reader = gguf.GGUFReader(path)
    kinds = {}
    for t in reader.tensors:
        kinds[t.tensor_type.name] = kinds.get(t.tensor_type.name, 0) + 1
    return f"{path.relative_to(ROOT)}: {path.stat().st_size} bytes, {len(reader.fields)} keys, tensors {kinds}"


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for family in FAMILIES:
        for ftype_name in FILE_TYPES:
            print(describe(write_family(family, ftype_name)))
    print(describe(write_spm()))


if __name__ == "__main__":
    main()
