#!/usr/bin/env python3
"""Transformers side of `xmrc-lens bench`: the same measurements, same model folder, same ids.

Usage:
    python scripts/bench_transformers.py --model DIR --ids ids.json \
        [--threads N] [--dtype f32|bf16|f16] [--device cpu|cuda[:N]] [--new-tokens 32]
        [--attn sdpa|eager]

`ids.json` is written by `xmrc-lens bench` (`{"ids": [...]}`; a plain list works too), so both
sides run exactly the same prompt tokens. Prints one JSON line on stdout with the same field
names as the Rust side:

    attn                 the attention implementation that ran: sdpa (transformers' default)
                         or eager; a model that refuses sdpa (Gemma-2) runs its default and
                         says so in attn_note
    load_s               from_pretrained (that attention, requested dtype) + move to device
    rss_load_mb          resident memory right after loading (VmRSS)
    peak_rss_load_mb     peak resident memory up to then (VmHWM)
    prefill_fast_*       no_grad forward over the prompt into an empty KV cache, logits of the
                         last position only (what `generate` does: logits_to_keep=1)
    decode_*             greedy steps with that KV cache, a fixed count, no early stop
    trace_s              AttnLRP latent relevance trace with LXT (efficient rules): forward
                         over input embeddings that require grad with every decoder layer's
                         output gradient kept, backward from the last position's argmax
                         logit, (h * grad).sum(-1) per layer (weights frozen)
    trace_tok_s          tokens / trace_s
    trace_over_prefill   trace_s / prefill_fast_s
    lens_ms              the logit lens at the last position (METHOD "Language lens"), over
                         hidden states a forward already gave (output_hidden_states, not
                         timed): levels 0..L-1 through model.model.norm, every level through
                         lm_head (and Gemma-2's final soft-cap), softmax in float64, one
                         token's probability per level read back
    lens_over_prefill    lens_ms / 1000 / prefill_fast_s
    peak_rss_gen_mb      peak resident memory after load + fast prefill + decode (VmHWM)
    peak_rss_mb          peak resident memory at the end (VmHWM), the trace included
    cuda_peak_mb         torch.cuda.max_memory_allocated (null on CPU)

Needs `torch`, `transformers` and, for the trace, `lxt` (PyPI). Progress goes to stderr.
"""

import argparse
import json
import resource
import sys
import time


def log(message):
    print(f"[transformers] {message}", file=sys.stderr, flush=True)


def status_mb(field):
    """A /proc/self/status figure in MiB (VmHWM: peak resident, VmRSS: resident now), or None."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None


def peak_rss_mb():
    """VmHWM of this process in MiB (the same figure the Rust side reads); ru_maxrss elsewhere."""
    peak = status_mb("VmHWM")
    if peak is not None:
        return peak
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Kilobytes on Linux, bytes on macOS.
    return rss / (1024.0 * 1024.0) if sys.platform == "darwin" else rss / 1024.0


def attn_softcap_ignored(model, attn):
    """True when the model has an attention logit soft-cap (Gemma-2) that this attention
    implementation does not apply: transformers' sdpa path cannot soft-cap the scores."""
    cap = getattr(model.config, "attn_logit_softcapping", None)
    return bool(cap) and attn != "eager"


def read_ids(path):
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    ids = data["ids"] if isinstance(data, dict) else data
    if not ids or not all(isinstance(i, int) and i >= 0 for i in ids):
        raise SystemExit(f"{path}: expected a non-empty list of token ids")
    return ids


def patch_with_lxt(model, attn):
    """LXT 2.1's efficient AttnLRP on the model's module, bridged to transformers 5.x as
    scripts/make_lxt_fixtures.py explains (a stand-in for a removed BERT helper; the
    attention registry kept, the eager function wrapped). LXT wraps every attention function
    of the registry it replaces; with the registry kept, the sdpa entry is wrapped here the
    same way, so LXT-sdpa applies the same rules at q, k and v. Needs `lxt` (PyPI)."""
    import importlib
    import transformers.pytorch_utils as pu

    if not hasattr(pu, "find_pruneable_heads_and_indices"):
        pu.find_pruneable_heads_and_indices = None
    from lxt.efficient import monkey_patch
    from lxt.efficient.patches import wrap_attention_forward

    module = importlib.import_module(type(model).__module__)
    registry = module.ALL_ATTENTION_FUNCTIONS
    monkey_patch(module, lxt_patch_map(module))
    module.ALL_ATTENTION_FUNCTIONS = registry
    if attn != "eager":
        registry[attn] = wrap_attention_forward(registry[attn])


class LxtUnsupported(Exception):
    """LXT has no AttnLRP map for this family, and none can be built from its parts."""


def lxt_patch_map(module):
    """LXT's own AttnLRP map for the family, or for Mistral (no map in LXT 2.1, the same
    parts as Llama) one built as scripts/make_lxt_fixtures.py does. Gemma-2 has none: its
    norm scales by 1 + w, which LXT's RMSNorm patch does not."""
    from functools import partial

    from lxt.efficient.models import get_default_map
    from lxt.efficient.patches import (
        dropout_forward,
        gated_mlp_forward,
        patch_attention,
        patch_method,
        rms_norm_forward,
    )
    from torch.nn import Dropout

    try:
        return get_default_map(module)
    except ValueError:
        pass
    if module.__name__.endswith("modeling_mistral"):
        return {
            module.MistralMLP: partial(patch_method, gated_mlp_forward),
            module.MistralRMSNorm: partial(patch_method, rms_norm_forward),
            Dropout: partial(patch_method, dropout_forward),
            module: patch_attention,
        }
    raise LxtUnsupported(f"LXT 2.1 has no AttnLRP rules for {module.__name__}")


def lens_seconds(model, input_ids, token, sync):
    """The logit lens's own cost, as xmrc-lens measures its own: the hidden states come from a
    forward that is not timed (the lens shares it with relevance), then every level at the last
    position through the final norm (the last level is already normed) and the head, the
    soft-cap where the model has one, softmax in float64, and `token`'s probability per level
    read back to the host."""
    import torch

    with torch.no_grad():
        states = model(input_ids, output_hidden_states=True, use_cache=False).hidden_states
        sync()
        t0 = time.perf_counter()
        last = len(states) - 1
        rows = [h[0, -1:, :] if i == last else model.model.norm(h[0, -1:, :])
                for i, h in enumerate(states)]
        logits = model.lm_head(torch.cat(rows)).float()
        cap = getattr(model.config, "final_logit_softcapping", None)
        if cap:
            logits = torch.tanh(logits / cap) * cap
        probs = torch.softmax(logits.double(), dim=-1)
        _ = probs[:, token].cpu().tolist()
        sync()
        return time.perf_counter() - t0


def lxt_trace(model, input_ids, sync, attn):
    """LXT's latent relevance trace (its tutorial's recipe): hooks keep every decoder
    layer's output gradient, one backward from the last position's argmax logit, relevance
    (h * grad).sum(-1) in f32 per layer. Returns the seconds from forward to relevance."""
    import torch

    patch_with_lxt(model, attn)
    model.requires_grad_(False)
    outputs = []

    def keep(_module, _inputs, output):
        out = output[0] if isinstance(output, tuple) else output
        out.retain_grad()
        outputs.append(out)

    handles = [layer.register_forward_hook(keep) for layer in model.model.layers]
    t0 = time.perf_counter()
    embeds = model.get_input_embeddings()(input_ids).detach().requires_grad_(True)
    logits = model(inputs_embeds=embeds, use_cache=False, logits_to_keep=1).logits[0, -1]
    logits[logits.argmax()].backward()
    trace = [(h * h.grad).float().sum(-1) for h in [embeds] + outputs]
    sync()
    seconds = time.perf_counter() - t0
    for h in handles:
        h.remove()
    if len(trace) != len(model.model.layers) + 1:
        raise SystemExit("LXT trace is missing layers")
    return seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="model folder (HF layout, or the folder of --gguf-file)")
    parser.add_argument("--gguf-file", default=None, help="a GGUF file in --model (transformers dequantizes it)")
    parser.add_argument("--ids", required=True, help="JSON file with the prompt ids")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--dtype", default="f32", choices=["f32", "bf16", "f16"])
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    parser.add_argument("--new-tokens", type=int, default=32)
    parser.add_argument(
        "--attn",
        default="sdpa",
        choices=["sdpa", "eager"],
        help="attention implementation (sdpa: transformers' default)",
    )
    parser.add_argument("--skip-diff", action="store_true", help="skip the AttnLRP trace")
    args = parser.parse_args()

    import torch
    import transformers
    from transformers import AutoModelForCausalLM

    if args.threads > 0:
        torch.set_num_threads(args.threads)
    dtype = {"f32": torch.float32, "bf16": torch.bfloat16, "f16": torch.float16}[args.dtype]
    device = torch.device(args.device)
    cuda = device.type == "cuda"

    def sync():
        if cuda:
            torch.cuda.synchronize(device)

    ids = read_ids(args.ids)
    tokens = len(ids)

    # transformers >= 4.56 takes `dtype`; older versions only `torch_dtype`.
    major, minor = (int(x) for x in transformers.__version__.split(".")[:2])
    dtype_kw = "dtype" if (major, minor) >= (4, 56) else "torch_dtype"

    log(f"loading {args.model} ({args.dtype}, {device}, {args.attn}, {torch.get_num_threads()} threads)")
    t0 = time.perf_counter()
    extra = {"gguf_file": args.gguf_file} if args.gguf_file else {}
    attn_used, attn_note = args.attn, None
    try:
        model = AutoModelForCausalLM.from_pretrained(
            args.model, attn_implementation=args.attn, **{dtype_kw: dtype}, **extra
        )
    except ValueError as refused:
        # Some families refuse sdpa (transformers 5.x: Gemma-2, whose attention soft-cap sdpa
        # cannot apply). The peer a user gets then is the model's default: load that, say so.
        if args.attn == "eager" or "attention implementation" not in str(refused):
            raise
        log(f"{args.attn} refused for this model ({refused}); loading the model's default")
        model = AutoModelForCausalLM.from_pretrained(args.model, **{dtype_kw: dtype}, **extra)
        attn_used = model.config._attn_implementation
        attn_note = f"transformers refuses {args.attn} for this model; its default ({attn_used}) ran"
    model.to(device)
    model.eval()
    sync()
    load_s = time.perf_counter() - t0
    rss_load = status_mb("VmRSS")
    peak_load = peak_rss_mb()

    input_ids = torch.tensor([ids], dtype=torch.long, device=device)

    # Warm-up on a few tokens (first-call allocations and kernel selection), not timed.
    with torch.no_grad():
        model(input_ids[:, :8], use_cache=True, logits_to_keep=1)
    sync()

    log(f"prefill (fast path) over {tokens} tokens")
    with torch.no_grad():
        t0 = time.perf_counter()
        out = model(input_ids, use_cache=True, logits_to_keep=1)
        sync()
        prefill_fast_s = time.perf_counter() - t0
        cache = out.past_key_values
        next_id = out.logits[:, -1, :].argmax(dim=-1, keepdim=True)
        first_id = int(next_id[0, 0])
        del out

        log(f"decode {args.new_tokens} tokens")
        t0 = time.perf_counter()
        for _ in range(args.new_tokens):
            out = model(next_id, past_key_values=cache, use_cache=True)
            cache = out.past_key_values
            next_id = out.logits[:, -1, :].argmax(dim=-1, keepdim=True)
        sync()
        decode_s = time.perf_counter() - t0
        del out, cache
    peak_gen = peak_rss_mb()

    result = {
        "impl": "transformers",
        "attn": attn_used,
        "attn_requested": args.attn,
        "attn_note": attn_note,
        "attn_softcap_ignored": attn_softcap_ignored(model, attn_used),
        "transformers": transformers.__version__,
        "torch": torch.__version__,
        "model_dir": args.model,
        "device": str(device),
        "dtype": args.dtype,
        "threads": torch.get_num_threads(),
        "tokens": tokens,
        "new_tokens": args.new_tokens,
        "load_s": load_s,
        "rss_load_mb": rss_load,
        "peak_rss_load_mb": peak_load,
        "prefill_fast_s": prefill_fast_s,
        "prefill_fast_tok_s": tokens / prefill_fast_s,
        "decode_s": decode_s,
        "decode_tok_s": args.new_tokens / decode_s if decode_s > 0 else None,
        "trace_s": None,
        "trace_tok_s": None,
        "trace_over_prefill": None,
        "peak_rss_gen_mb": peak_gen,
    }

    log("language lens at the last position (every level through the head)")
    result["lens_ms"] = lens_seconds(model, input_ids, first_id, sync) * 1e3
    result["lens_over_prefill"] = result["lens_ms"] / 1e3 / prefill_fast_s

    result["trace_note"] = None
    if not args.skip_diff:
        log(f"AttnLRP trace with LXT over {tokens} tokens (forward + backward)")
        try:
            trace_s = lxt_trace(model, input_ids, sync, attn_used)
        except LxtUnsupported as unsupported:
            log(f"no trace: {unsupported}")
            result["trace_note"] = str(unsupported)
        else:
            result.update(
                {
                    "trace_s": trace_s,
                    "trace_tok_s": tokens / trace_s,
                    "trace_over_prefill": trace_s / prefill_fast_s,
                }
            )

    result["peak_rss_mb"] = peak_rss_mb()
    result["cuda_peak_mb"] = torch.cuda.max_memory_allocated(device) / 2**20 if cuda else None
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
