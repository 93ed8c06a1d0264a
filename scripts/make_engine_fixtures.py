#!/usr/bin/env python3
"""Outside truth for the decoder: run the tiny model folders through Hugging Face transformers.

Loads tests/fixtures/models/tiny-{llama,qwen2,mistral,gemma2} (written by make_tiny_models.py)
with transformers in float32, attn_implementation="eager" (the sdpa path ignores Gemma-2's
attention soft-cap), model.eval(), torch.no_grad(), one CPU thread, and writes
tests/fixtures/engine/<family>.json. tiny-llama-sharded has no file of its own: this script
checks that it gives bit-identical logits to tiny-llama, and the Rust tests compare it with
llama.json.

Per family, four prompts (raw_en, chat_en, raw_zh, raw_hi): the input ids, top-50 logits at
every position, the full logits of the last position, the L+1 hidden states (mean over
positions and last-position vector), and 16 greedy ids from a manual argmax loop over full
forwards (no KV cache, no stop on EOS) with the top-1/top-2 margin of each step. Two padded
batches (left, right) of three raw prompts give the logits at each row's last real token.
`quirk_effects` records how much each family quirk moves the logits (max |difference| when
switched off), so a fixture that does not exercise a quirk is caught here, not in Rust.

Setup and run from the repository root:
  python -m venv .venv && .venv/bin/pip install -r scripts/requirements.txt
  .venv/bin/python scripts/make_tiny_models.py && .venv/bin/python scripts/make_engine_fixtures.py

------------------------------------------------------------------------------------------------
What our decoder must match: transformers 5.23.0 as installed, read in
  transformers/models/{llama,qwen2,mistral,gemma2}/modeling_*.py, transformers/masking_utils.py,
  transformers/modeling_rope_utils.py, transformers/activations.py,
  transformers/utils/output_capturing.py, transformers/generation/utils.py.

* Hidden states (utils/output_capturing.py `capture_outputs`, `tie_last_hidden_states=True`):
  L+1 tensors; [0] is the input of layer 0 (the embeddings, for Gemma-2 already multiplied by
  the normaliser), [i] the output of layer i-1 for i < L, and [L] is the FINAL-NORMED output
  (the raw output of the last layer is replaced by `last_hidden_state`).
* RMSNorm (all in f32): Llama/Qwen2/Mistral `LlamaRMSNorm.forward`: x.float();
  x * rsqrt(mean(x^2) + eps); cast back to the input dtype; then `weight * x`.
  Gemma-2 `Gemma2RMSNorm.forward`: x.float() normalised the same way, times (1 + w.float()),
  then cast back (the multiply happens in f32 before the cast). eps = rms_norm_eps.
* Gemma-2 embedding normaliser (`Gemma2TextScaledWordEmbedding.forward`):
  embed(ids) * embed_scale.to(weight.dtype) with embed_scale = tensor(hidden_size ** 0.5),
  i.e. sqrt(hidden) rounded to the model dtype (8.0 here; 59.87 -> 59.75 in bf16 for 3584).
* RoPE (`*RotaryEmbedding`): inv_freq = 1 / theta ** (arange(0, d, 2).float() / d) in f32;
  freqs = position_ids.float() * inv_freq (f32); emb = cat(freqs, freqs); cos/sin in f32, cast
  to the model dtype; rotate_half convention (first half / second half, NOT interleaved):
  q*cos + rotate_half(q)*sin with rotate_half(x) = cat(-x[d/2:], x[:d/2]).
  llama3 (`_compute_llama3_parameters`), all f32: wavelen = 2*pi / inv_freq;
  low_wl = orig_max / low_freq_factor, high_wl = orig_max / high_freq_factor;
  inv = where(wavelen > low_wl, inv / factor, inv);
  smooth = (orig_max / wavelen - low_freq_factor) / (high_freq_factor - low_freq_factor);
  medium = !(wavelen < high_wl) & !(wavelen > low_wl);
  inv = where(medium, (1 - smooth) * inv / factor + smooth * inv, inv).
  (The `rope_inv_freq` field of each fixture holds the resulting f32 table.)
* Attention (`eager_attention_forward`, same order in all four families):
  scores = (q @ k^T) * scaling, scaling = head_dim ** -0.5 (Gemma-2: query_pre_attn_scalar
  ** -0.5); Gemma-2 only: scores = tanh(scores / softcap) * softcap; then scores + mask;
  softmax in f32 (`dtype=torch.float32`) then cast to the query dtype; @ v. GQA by
  repeat_kv: kv head j serves query heads j*n_rep .. (j+1)*n_rep - 1. Qwen2: q/k/v have
  bias, o_proj has none.
* Masks (`masking_utils.create_causal_mask`, `create_sliding_window_causal_mask`,
  `sdpa_mask`, `eager_mask`): a boolean mask over ARRAY indices (not position ids) of the
  padded sequence: allowed(q, kv) = kv <= q and attention_mask[b, kv] == 1, and for sliding
  layers additionally kv > q - sliding_window, i.e. a query sees itself and the previous
  sliding_window - 1 keys (sliding_window keys in all). Eager turns it into a float bias
  where(allowed, 0, torch.finfo(dtype).min) that is ADDED (after the soft-cap). A query row
  with no allowed key (a left-pad position) gets min everywhere, so its softmax is uniform:
  pad positions carry garbage that never reaches real tokens; only real positions matter.
  Mistral (`MistralModel.forward`): the sliding mask on EVERY layer when config.sliding_window
  is not null. Gemma-2: config.layer_types, default "sliding_attention" when (i + 1) % 2 == 1,
  so layers 0, 2, ... are local (window 16 here) and 1, 3, ... global. Qwen2 with
  use_sliding_window false: sliding_window is set to null, all layers full.
* Gemma-2 block (`Gemma2DecoderLayer.forward`): h = x + post_attention_layernorm(attn(
  input_layernorm(x))); out = h + post_feedforward_layernorm(mlp(pre_feedforward_layernorm(h))).
* MLP: down(act(gate(x)) * up(x)); act = silu (`nn.functional.silu`) or Gemma-2
  gelu_pytorch_tanh (`nn.functional.gelu(approximate="tanh")`).
* Logits: lm_head(final_norm(h)) (tied: lm_head.weight = embed_tokens.weight, no lm_head
  tensor in the file); Gemma-2 then tanh(logits / final_softcap) * final_softcap.
* Padded batches (`GenerationMixin._prepare_position_ids` style, which we pass explicitly):
  position_ids = cumsum(attention_mask) - 1, with pad positions set to 0.
------------------------------------------------------------------------------------------------
"""

import json
import pathlib
import sys

import tokenizers
import torch
import transformers
from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

ROOT = pathlib.Path(__file__).resolve().parent.parent
MODELS = ROOT / "tests" / "fixtures" / "models"
OUT = ROOT / "tests" / "fixtures" / "engine"
FAMILIES = ["llama", "qwen2", "mistral", "gemma2"]
GREEDY_STEPS = 16
TOP_K = 50
DIGITS = 7  # significant digits kept for floats (f32 carries about 7.2)

RAW_PROMPTS = {
    "raw_en": (
        "Context: The old mill stands beside the river and still grinds flour every autumn. "
        "The library opens at nine in the morning and closes at six in the evening.\n"
        "Question: When does the library close?\nAnswer:"
    ),
    "raw_zh": "这座城市位于一条大河的岸边。图书馆每天早上九点开门。问题：图书馆几点开门？答案：",
    "raw_hi": (
        "यह शहर एक बड़ी नदी के किनारे बसा है। पुस्तकालय सुबह नौ बजे खुलता है। "
        "प्रश्न: पुस्तकालय कब खुलता है? उत्तर:"
    ),
}
CHAT_USER = (
    "Context: Marta planted three apple trees behind the school in 1998.\n"
    "Question: How many apple trees did Marta plant?"
)
BATCH_PROMPTS = ["raw_en", "raw_zh", "raw_hi"]


def rounded(values) -> list:
    """Floats (nested lists allowed) rounded to DIGITS significant digits."""
    if isinstance(values, torch.Tensor):
        values = values.tolist()
    if isinstance(values, list):
        return [rounded(v) for v in values]
    return float(f"{values:.{DIGITS}g}")


def load(folder: pathlib.Path, config=None):
    kwargs = {"config": config} if config is not None else {}
    model = AutoModelForCausalLM.from_pretrained(
        folder, dtype=torch.float32, attn_implementation="eager", **kwargs
    )
    return model.eval()


def forward(model, ids: torch.Tensor, hidden: bool = False):
    """One full forward over [1, T] ids, no cache, an explicit all-ones attention mask."""
    return model(
        input_ids=ids,
        attention_mask=torch.ones_like(ids),
        use_cache=False,
        output_hidden_states=hidden,
    )


def greedy(model, ids: torch.Tensor) -> tuple[list, list]:
    """16 argmax steps, each a full forward of the whole sequence; never stops on EOS."""
    out, margins = [], []
    for _ in range(GREEDY_STEPS):
        logits = forward(model, ids).logits[0, -1]
        top2 = torch.topk(logits, 2)
        nxt = int(top2.indices[0])
        out.append(nxt)
        margins.append(float(top2.values[0] - top2.values[1]))
        ids = torch.cat([ids, torch.tensor([[nxt]])], dim=1)
    return out, margins


def greedy_with_cache(model, ids: torch.Tensor) -> tuple[list, float]:
    """The same greedy run through transformers' own KV cache: ids and the worst logit gap."""
    out, worst = [], 0.0
    full = ids
    result = model(input_ids=ids, use_cache=True)
    cache = result.past_key_values
    logits = result.logits[0, -1]
    for _ in range(GREEDY_STEPS):
        reference = forward(model, full).logits[0, -1]
        worst = max(worst, float((logits - reference).abs().max()))
        nxt = int(torch.argmax(logits))
        out.append(nxt)
        step = torch.tensor([[nxt]])
        full = torch.cat([full, step], dim=1)
        result = model(input_ids=step, past_key_values=cache, use_cache=True)
        cache = result.past_key_values
        logits = result.logits[0, -1]
    return out, worst


def prompt_inputs(tokenizer) -> list[dict]:
    prompts = []
    for name in ["raw_en", "chat_en", "raw_zh", "raw_hi"]:
        if name == "chat_en":
            messages = [{"role": "user", "content": CHAT_USER}]
            text = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
            add_special = False
        else:
            messages = None
            text = RAW_PROMPTS[name]
            add_special = True
        ids = tokenizer(text, add_special_tokens=add_special).input_ids
        entry = {"name": name, "text": text, "add_special_tokens": add_special, "input_ids": ids}
        if messages is not None:
            entry["messages"] = messages
        prompts.append(entry)
    return prompts


def run_prompt(model, entry: dict) -> tuple[dict, torch.Tensor]:
    """The fixture entry of one prompt, and its unrounded last-position logits."""
    ids = torch.tensor([entry["input_ids"]])
    out = forward(model, ids, hidden=True)
    logits = out.logits[0]
    top = torch.topk(logits, TOP_K, dim=-1)
    hidden = out.hidden_states
    if len(hidden) != model.config.num_hidden_layers + 1:
        sys.exit(f"expected L+1 hidden states, got {len(hidden)}")
    greedy_ids, margins = greedy(model, ids)
    cached_ids, cache_gap = greedy_with_cache(model, ids)
    if cached_ids != greedy_ids:
        sys.exit(f"{entry['name']}: KV-cache greedy {cached_ids} != full-forward greedy {greedy_ids}")
    if len(set(greedy_ids)) < 4:
        sys.exit(f"{entry['name']}: greedy ids nearly constant: {greedy_ids}")
    result = dict(
        entry,
        top50={"ids": top.indices.tolist(), "values": rounded(top.values)},
        last_logits=rounded(logits[-1]),
        hidden_mean=[rounded(h[0].mean(dim=0)) for h in hidden],
        hidden_last=[rounded(h[0, -1]) for h in hidden],
        greedy_ids=greedy_ids,
        greedy_margins=rounded(margins),
        kv_cache_max_abs_diff=cache_gap,
    )
    return result, logits[-1]


def run_batch(model, prompts: dict, unbatched: dict, side: str, pad_id: int) -> dict:
    """A padded batch of BATCH_PROMPTS; `unbatched` holds each prompt's own last logits."""
    rows = [prompts[name]["input_ids"] for name in BATCH_PROMPTS]
    width = max(len(r) for r in rows)
    input_ids, mask = [], []
    for r in rows:
        pad = [pad_id] * (width - len(r))
        ones, zeros = [1] * len(r), [0] * (width - len(r))
        input_ids.append(pad + r if side == "left" else r + pad)
        mask.append(zeros + ones if side == "left" else ones + zeros)
    ids_t = torch.tensor(input_ids)
    mask_t = torch.tensor(mask)
    positions = (mask_t.cumsum(-1) - 1).masked_fill(mask_t == 0, 0)
    out = model(input_ids=ids_t, attention_mask=mask_t, position_ids=positions, use_cache=False)
    last_index = [width - 1 if side == "left" else len(r) - 1 for r in rows]
    last = torch.stack([out.logits[b, i] for b, i in enumerate(last_index)])
    # The same rows alone must give the same logits (up to float noise).
    single = torch.stack([unbatched[n] for n in BATCH_PROMPTS])
    return {
        "padding_side": side,
        "prompt_names": BATCH_PROMPTS,
        "pad_id": pad_id,
        "input_ids": input_ids,
        "attention_mask": mask,
        "position_ids": positions.tolist(),
        "last_index": last_index,
        "last_logits": rounded(last),
        "max_abs_diff_vs_unbatched": float((last - single).abs().max()),
    }


def quirk_effects(family: str, folder: pathlib.Path, model, ids: torch.Tensor) -> dict:
    """Max |logit difference| over all positions when each quirk of the family is switched off."""
    base = forward(model, ids).logits

    def without(**changes) -> float:
        config = AutoConfig.from_pretrained(folder)
        for key, value in changes.items():
            setattr(config, key, value)
        other = load(folder, config)
        return float((forward(other, ids).logits - base).abs().max())

    effects = {}
    if family == "llama":
        theta = model.config.rope_parameters["rope_theta"]
        effects["rope_llama3_scaling"] = without(
            rope_parameters={"rope_type": "default", "rope_theta": theta}
        )
    if family == "qwen2":
        state = {k: v.clone() for k, v in model.state_dict().items()}
        for name in state:
            if name.endswith("_proj.bias"):
                state[name].zero_()
        other = load(folder)
        other.load_state_dict(state)
        effects["qkv_bias"] = float((forward(other, ids).logits - base).abs().max())
    if family == "mistral":
        effects["sliding_window"] = without(sliding_window=None)
    if family == "gemma2":
        n = model.config.num_hidden_layers
        effects["attn_logit_softcapping"] = without(attn_logit_softcapping=None)
        effects["final_logit_softcapping"] = without(final_logit_softcapping=None)
        effects["sliding_window_alternating"] = without(layer_types=["full_attention"] * n)
        effects["query_pre_attn_scalar"] = without(query_pre_attn_scalar=model.config.head_dim)
    return effects


def fixture(family: str) -> dict:
    folder = MODELS / f"tiny-{family}"
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = load(folder)
    config = model.config
    prompts, unbatched = [], {}
    with torch.no_grad():
        for entry in prompt_inputs(tokenizer):
            result, last = run_prompt(model, entry)
            prompts.append(result)
            unbatched[entry["name"]] = last
        by_name = {p["name"]: p for p in prompts}
        pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        batches = [run_batch(model, by_name, unbatched, side, pad_id) for side in ("left", "right")]
        effects = quirk_effects(family, folder, model, torch.tensor([prompts[0]["input_ids"]]))
        inv_freq = model.model.rotary_emb.inv_freq
    return {
        "family": family,
        "model_dir": f"tests/fixtures/models/tiny-{family}",
        "versions": {
            "torch": torch.__version__.split("+")[0],
            "transformers": transformers.__version__,
            "tokenizers": tokenizers.__version__,
        },
        "dtype": "float32",
        "attn_implementation": "eager",
        "num_hidden_layers": config.num_hidden_layers,
        "vocab_size": config.vocab_size,
        "hidden_size": config.hidden_size,
        "rope_inv_freq": [float(x) for x in inv_freq.tolist()],
        "quirk_effects": effects,
        "prompts": prompts,
        "batches": batches,
    }


def check_sharded_equals_single() -> None:
    ids = torch.tensor([[0, 273, 82, 621, 389, 308, 810, 12, 400]])
    with torch.no_grad():
        a = forward(load(MODELS / "tiny-llama"), ids).logits
        b = forward(load(MODELS / "tiny-llama-sharded"), ids).logits
    if not torch.equal(a, b):
        sys.exit("tiny-llama-sharded does not give the same logits as tiny-llama")


def main() -> None:
    torch.set_num_threads(1)
    torch.manual_seed(0)
    OUT.mkdir(parents=True, exist_ok=True)
    check_sharded_equals_single()
    for family in FAMILIES:
        data = fixture(family)
        path = OUT / f"{family}.json"
        path.write_text(json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n")
        print(f"{path.relative_to(ROOT)}: {path.stat().st_size} bytes")
        for p in data["prompts"]:
            print(
                f"  {p['name']:8s} {len(p['input_ids']):3d} tokens, greedy {len(set(p['greedy_ids']))} distinct,"
                f" min margin {min(p['greedy_margins']):.4f}, kv-cache gap {p['kv_cache_max_abs_diff']:.2e}"
            )
        for b in data["batches"]:
            print(f"  batch {b['padding_side']:5s} max |diff| vs unbatched {b['max_abs_diff_vs_unbatched']:.2e}")
        print(f"  quirk effects: {data['quirk_effects']}")


if __name__ == "__main__":
    main()
