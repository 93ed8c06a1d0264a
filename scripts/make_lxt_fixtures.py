#!/usr/bin/env python3
"""Outside truth for AttnLRP: LXT's reference relevance on the tiny test models.

For tiny-llama and tiny-qwen2 (LXT's own patch maps) and tiny-mistral (LXT's Llama patch
functions applied to transformers' modeling_mistral, which LXT has no map for: Mistral's
decoder is Llama's with a sliding window, so the same three patches cover every op), this
script runs LXT 2.1's efficient AttnLRP and CP-LRP in float32 with eager attention and writes
tests/fixtures/attribution/<family>.json.

Per family, the four prompts of tests/fixtures/engine/<family>.json (same input ids):
* `step` cases (attn-lrp and cp-lrp): target = the argmax logit at the last position, seeded
  with 1 (`logit.backward()`), so a level's relevances sum to about the logit;
* `sequence` cases (attn-lrp): the first three greedy tokens teacher-forced after the prompt,
  target = the sum of their logits at their positions;
* for tiny-qwen2 (the only one with biases) the step cases again with every bias zeroed,
  under both rule sets: CP-LRP then conserves exactly (every remaining op is linear in the
  relevance path), AttnLRP still only approximately (its softmax rule is not conservative).

Relevance per level, as LXT's latent-feature-attribution tutorial computes it: level 0 =
`(inputs_embeds * inputs_embeds.grad).sum(-1)`, level i = `(out_i * out_i.grad).sum(-1)` for
the output of decoder layer i (a forward hook with retain_grad), all summed in float32.
`conservation[i]` = the level's sum over all input tokens / the target value.

LXT 2.1 predates transformers 5.23 in two places, bridged in `import_lxt` and `patch` (see
there); the rules themselves are LXT's, unchanged.

Monkey patches are global to a process, so each (family, rules, bias) run is a subprocess.
Run from the repository root (see scripts/requirements.txt):
  .venv/bin/python scripts/make_lxt_fixtures.py
"""

import json
import pathlib
import subprocess
import sys
from functools import partial

ROOT = pathlib.Path(__file__).resolve().parent.parent
MODELS = ROOT / "tests" / "fixtures" / "models"
ENGINE = ROOT / "tests" / "fixtures" / "engine"
OUT = ROOT / "tests" / "fixtures" / "attribution"
FAMILIES = ["llama", "qwen2", "mistral"]
SEQUENCE_TOKENS = 3
DIGITS = 7


def rounded(values):
    if isinstance(values, list):
        return [rounded(v) for v in values]
    return float(f"{values:.{DIGITS}g}")


def import_lxt() -> None:
    """LXT 2.1's package import loads its BERT map, which imports a helper that transformers
    5.x removed (`find_pruneable_heads_and_indices`); BERT is not used here, so a stand-in
    that fails if ever called lets the rest of LXT import unchanged."""
    import transformers.pytorch_utils as pu

    if not hasattr(pu, "find_pruneable_heads_and_indices"):
        def unavailable(*_args, **_kwargs):
            raise RuntimeError("find_pruneable_heads_and_indices is gone in transformers 5")

        pu.find_pruneable_heads_and_indices = unavailable
    import lxt.efficient  # noqa: F401


def patch(family: str, rules: str) -> None:
    import_lxt()
    from torch.nn import Dropout
    from lxt.efficient import monkey_patch
    from lxt.efficient.patches import (
        cp_gated_mlp_forward,
        dropout_forward,
        gated_mlp_forward,
        patch_attention,
        patch_cp_attention,
        patch_method,
        rms_norm_forward,
    )

    if family == "mistral":
        from transformers.models.mistral import modeling_mistral as module
        from transformers.models.mistral.modeling_mistral import MistralMLP, MistralRMSNorm

        mlp = cp_gated_mlp_forward if rules == "cp-lrp" else gated_mlp_forward
        attention = patch_cp_attention if rules == "cp-lrp" else patch_attention
        patch_map = {
            MistralMLP: partial(patch_method, mlp),
            MistralRMSNorm: partial(patch_method, rms_norm_forward),
            Dropout: partial(patch_method, dropout_forward),
            module: attention,
        }
    else:
        import importlib

        module = importlib.import_module(f"transformers.models.{family}.modeling_{family}")
        maps = importlib.import_module(f"lxt.efficient.models.{family}")
        patch_map = maps.cp_LRP if rules == "cp-lrp" else maps.attnLRP
    # LXT 2.1 swaps the module's ALL_ATTENTION_FUNCTIONS registry for a plain dict, which
    # transformers 5.x can no longer query (`get_interface`). With eager attention only the
    # module-level `eager_attention_forward` is called, and LXT wraps that one: keep it and
    # put the registry back.
    registry = module.ALL_ATTENTION_FUNCTIONS
    monkey_patch(module, patch_map)
    module.ALL_ATTENTION_FUNCTIONS = registry
    if not module.eager_attention_forward.__module__.startswith("lxt"):
        raise RuntimeError(f"LXT did not wrap {module.__name__}.eager_attention_forward")


def relevance_run(model, ids: list, seeds: list) -> dict:
    """seeds: (position, token) pairs; target = sum of those logits."""
    import torch

    outputs = []

    def hook(_module, _inputs, output):
        out = output[0] if isinstance(output, tuple) else output
        out.retain_grad()
        outputs.append(out)

    handles = [layer.register_forward_hook(hook) for layer in model.model.layers]
    ids_t = torch.tensor([ids])
    embeds = model.get_input_embeddings()(ids_t).detach().requires_grad_()
    logits = model(inputs_embeds=embeds, use_cache=False).logits[0]
    target = sum(logits[p, t] for p, t in seeds)
    target.backward()
    for h in handles:
        h.remove()
    levels = [embeds] + outputs
    relevance = [(h * h.grad).float().sum(-1)[0] for h in levels]
    value = float(target.detach())
    return {
        "target_logit": value,
        "relevance": [rounded(r.tolist()) for r in relevance],
        "conservation": [rounded(float(r.sum()) / value) for r in relevance],
    }


def worker(family: str, rules: str, zero_bias: bool) -> dict:
    import torch
    from transformers import AutoModelForCausalLM

    torch.set_num_threads(1)
    patch(family, rules)
    model = AutoModelForCausalLM.from_pretrained(
        MODELS / f"tiny-{family}", dtype=torch.float32, attn_implementation="eager"
    ).eval()
    for p in model.parameters():
        p.requires_grad_(False)
    if zero_bias:
        for name, p in model.named_parameters():
            if name.endswith(".bias"):
                p.zero_()
    engine = json.loads((ENGINE / f"{family}.json").read_text())
    cases = []
    for prompt in engine["prompts"]:
        ids = prompt["input_ids"]
        with torch.no_grad():
            last = model(input_ids=torch.tensor([ids]), use_cache=False).logits[0, -1]
        step_token = int(torch.argmax(last))
        case = relevance_run(model, ids, [(len(ids) - 1, step_token)])
        cases.append({"prompt": prompt["name"], "target": "step", "input_ids": ids,
                      "answer_ids": [step_token], **case})
        if rules == "attn-lrp" and not zero_bias:
            answer = prompt["greedy_ids"][:SEQUENCE_TOKENS]
            full = ids + answer[:-1]
            seeds = [(len(ids) - 1 + k, tok) for k, tok in enumerate(answer)]
            case = relevance_run(model, full, seeds)
            cases.append({"prompt": prompt["name"], "target": "sequence", "input_ids": ids,
                          "answer_ids": answer, **case})
    return {"rules": rules, "zero_bias": zero_bias, "cases": cases}


def main() -> None:
    import_lxt()  # fail early when missing
    import torch
    import transformers
    from importlib.metadata import version

    OUT.mkdir(parents=True, exist_ok=True)
    for family in FAMILIES:
        runs = []
        configs = [("attn-lrp", False), ("cp-lrp", False)]
        if family == "qwen2":
            configs += [("attn-lrp", True), ("cp-lrp", True)]
        for rules, zero_bias in configs:
            args = [sys.executable, __file__, "--worker", family, rules, str(int(zero_bias))]
            done = subprocess.run(args, check=True, capture_output=True, text=True)
            runs.append(json.loads(done.stdout))
        fixture = {
            "family": family,
            "model_dir": f"tests/fixtures/models/tiny-{family}",
            "versions": {"lxt": version("lxt"), "torch": torch.__version__,
                         "transformers": transformers.__version__},
            "dtype": "float32",
            "attn_implementation": "eager",
            "patches": "LXT llama patch functions on modeling_mistral" if family == "mistral"
            else f"lxt.efficient.models.{family}",
            "runs": runs,
        }
        path = OUT / f"{family}.json"
        path.write_text(json.dumps(fixture, indent=1) + "\n")
        print(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--worker":
        print(json.dumps(worker(sys.argv[2], sys.argv[3], sys.argv[4] == "1")))
    else:
        main()
