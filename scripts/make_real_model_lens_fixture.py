#!/usr/bin/env python3
"""Outside truth for the language lens on the real instruct model (SmolLM2-135M-Instruct,
Q4_1 GGUF): the logit lens as Hugging Face transformers computes it on the same GGUF file.

Writes tests/fixtures/real/smollm2-lens.json: for a few chat-templated XQuAD units traced by
xmrc-lens itself (`xmrc-lens trace ... --device cpu --dtype f32 --no-relevance
--no-similarity --no-oracle`: the prompt ids, the answer prefix, the step target and the first
tokens of the English and language-x gold answers as xmrc-lens picks them), what transformers
reads at the step target's position (the last token of prompt ++ prefix) from every level
through the model's own head (METHOD.md, "Language lens"):

* levels: transformers' `output_hidden_states` (embeddings, then each decoder layer's output);
  levels 0..L-1 go through `model.model.norm`, level L is already final-normed there; then
  `lm_head`; softmax in float64.
* per level: `top` = the 5 most probable [id, prob] (ties by lower id), `step_prob` and
  `step_rank` of the step target (rank 1 = argmax, ties by lower id), `entropy` (nats),
  `kl_to_last` = KL(p_level || p_L) (nats), and for the gold first tokens xmrc-lens chose
  (`en_token`, `x_token`) their prob and rank; `decision_level` = the lowest level from which
  the last level's top-1 stays top-1.

Transformers is fed xmrc-lens' ids as they are (its GGUF tokenizer differs on spaces before
digits, see scripts/make_real_model_fixtures.py); this fixture checks the lens arithmetic on
real weights, not the tokenizers. Model: `make_real_model_fixtures.load_model` (float32,
eager). Run from the repository root after building the CLI (environment as in
scripts/make_real_model_fixtures.py):
  cargo build --release --locked --bin xmrc-lens
  .venv/bin/python scripts/make_real_model_lens_fixture.py
Runtime: under a minute on two CPU cores. Floats rounded to 7 significant digits.
"""

import json
import pathlib
import subprocess
import sys
import tempfile

SCRIPTS = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(SCRIPTS))

import make_real_model_fixtures as base  # noqa: E402  (sets TQDM_DISABLE first)

ROOT = base.ROOT
OUT = ROOT / "tests" / "fixtures" / "real" / "smollm2-lens.json"
THREADS = 1
TOP = 5
rounded = base.rounded

# name, sample index, scenario, lang, shots, format; all chat-templated.
UNITS = [
    ("en-en_v1_55", 55, "en-en", "en", 0, "v1"),    # answers "Marlee Matlin", the gold
    ("en-de_v1_30", 30, "en-x", "de", 0, "v1"),     # "Answer:" prefix, then a sentence
    ("en-zh_v1_331", 331, "en-x", "zh", 0, "v1"),   # P_en and P_x on different scripts
    ("ru-ru_v1_55", 55, "x-x", "ru", 0, "v1"),      # Cyrillic context and question
]


def trace(model_path: pathlib.Path, sample: int, scenario: str, lang: str, shots: int,
          fmt: str) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = pathlib.Path(tmp) / "trace.json"
        args = [base.cli_binary(), "trace", "--model", str(model_path), "--data",
                str(base.data_dir()), "--sample", str(sample), "--scenario", scenario,
                "--lang", lang, "--shots", str(shots), "--format", fmt, "--device", "cpu",
                "--dtype", "f32", "--no-relevance", "--no-similarity", "--no-oracle",
                "--out", str(out)]
        subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return json.loads(out.read_text(encoding="utf-8"))


def rank_of(logits, token: int) -> int:
    """1 + the logits above `token`'s, ties ranked by the lower id first (argmax's order)."""
    import torch

    v = logits[token]
    above = int((logits > v).sum())
    ties_before = int((logits[:token] == v).sum())
    return 1 + above + ties_before


def lens_levels(model, ids: list) -> list:
    """[levels, vocab] float64 logits at the last position of `ids`, as the logit lens reads."""
    import torch

    with torch.no_grad():
        out = model(input_ids=torch.tensor([ids]), output_hidden_states=True, use_cache=False)
        states = out.hidden_states
        last = len(states) - 1
        rows = []
        for i, h in enumerate(states):
            x = h[0, -1:, :]
            if i < last:
                x = model.model.norm(x)
            rows.append(model.lm_head(x)[0])
        # The model's own logits at that position equal the last level's.
        gap = float((out.logits[0, -1] - rows[-1]).abs().max())
        if gap > 1e-4:
            raise SystemExit(f"the last lens level differs from the model's logits by {gap}")
    return rows


def lens_case(model, ids: list, step: int, en_token, x_token) -> dict:
    import torch

    rows = lens_levels(model, ids)
    probs = [torch.softmax(r.double(), dim=-1) for r in rows]
    p_last = probs[-1]
    levels, top1 = [], []
    for logits, p in zip(rows, probs):
        order = sorted(range(len(logits)), key=lambda t: (-float(logits[t]), t))[:TOP]
        top1.append(order[0])
        nz = p > 0
        entropy = float(-(p[nz] * p[nz].log()).sum())
        kl = float((p[nz] * (p[nz].log() - p_last[nz].clamp_min(sys.float_info.min).log())).sum())
        level = {
            "top": [[t, rounded(float(p[t]))] for t in order],
            "top_gap": rounded(float(p[order[0]] - p[order[1]])),
            "step_prob": rounded(float(p[step])),
            "step_rank": rank_of(logits, step),
            "entropy": rounded(entropy),
            "kl_to_last": rounded(max(kl, 0.0)),
        }
        for name, token in (("en", en_token), ("x", x_token)):
            if token is not None:
                level[f"{name}_prob"] = rounded(float(p[token]))
                level[f"{name}_rank"] = rank_of(logits, token)
        levels.append(level)
    last = top1[-1]
    decision = 0
    for i, t in enumerate(top1):
        if t != last:
            decision = i + 1
    return {"levels": levels, "decision_level": decision}


def main() -> None:
    import torch

    torch.set_num_threads(THREADS)
    model_path = base.fetch_model()
    model = base.load_model(model_path)
    units = []
    for name, sample, scenario, lang, shots, fmt in UNITS:
        t = trace(model_path, sample, scenario, lang, shots, fmt)
        lens = t.get("lens")
        if lens is None:
            raise SystemExit(f"{name}: the trace has no lens")
        target = t["target"]
        prefix = [p["id"] for p in target["prefix"]]
        ids = [tok["id"] for tok in t["tokens"]] + prefix
        step = target["span_ids"][0]
        en = lens["p_en"]["token"] if lens.get("p_en") else None
        x = lens["p_x"]["token"] if lens.get("p_x") else None
        case = lens_case(model, ids, step, en, x)
        units.append({
            "name": name, "sample": sample, "id": t["prompt"]["sample_id"],
            "scenario": scenario, "lang": lang, "shots": shots, "format": fmt,
            "input_ids": ids, "position": len(ids) - 1, "step": step,
            "en_token": en, "x_token": x, "same_first_token": lens["same_first_token"],
            **case,
        })
        print(f"{name}: {len(ids)} ids, step {step}, decision level {case['decision_level']} "
              f"(xmrc-lens {lens['decision_level']})", file=sys.stderr, flush=True)
    data = base.data_dir()
    langs = sorted({"en"} | {u["lang"] for u in units})
    fixture = {
        "model": "SmolLM2-135M-Instruct.Q4_1.gguf",
        "gguf_sha256": base.sha256_file(model_path),
        "versions": base.versions(),
        "dtype": "float32",
        "attn_implementation": "eager",
        "torch_threads": THREADS,
        "lens": "levels 0..L-1 through model.model.norm, level L as given (already normed), "
                "then lm_head; softmax in float64; at the last position of input_ids",
        "data_sha256": {f"xquad.{lang}.json": base.sha256_file(data / f"xquad.{lang}.json")
                        for lang in langs},
        "units": units,
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    head = {k: v for k, v in fixture.items() if k != "units"}
    lines = [json.dumps(u, ensure_ascii=False, separators=(",", ":")) for u in units]
    body = json.dumps(head, ensure_ascii=False, indent=1)[:-2]
    OUT.write_text(body + ',\n "units": [\n' + ",\n".join(lines) + "\n ]\n}\n", encoding="utf-8")
    print(f"wrote {OUT.relative_to(ROOT)} ({OUT.stat().st_size} bytes)", file=sys.stderr)


if __name__ == "__main__":
    main()
