#!/usr/bin/env python3
"""Outside truth for the answer-span target on the real instruct model (SmolLM2-135M-Instruct,
Q4_1 GGUF): relevance and the sentence oracle with the answer prefix teacher-forced.

Writes tests/fixtures/real/smollm2-target.json: for a few chat-templated XQuAD units traced by
xmrc-lens itself (some where the model wrote an answer prefix, the `Answer:` marker or a lead-in
line, before the answer span; some where it wrote none), what Hugging Face transformers and
LXT 2.1 compute on the same GGUF file for METHOD's "Oracle retrieval" and "Latent relevance":

* `relevance`: LXT's efficient AttnLRP per level on input = `input_ids` ++ `prefix_ids`
  (prompt, then the answer prefix, teacher-forced), seeded with 1 on the logit of
  `span_ids[0]` at the last input position (step mode); `target_logit` is that logit.
* `oracle`: for each sentence of the test context (xmrc-lens' own `prompt_range`, characters
  of the prompt text), the prompt token indices ablated (`removed`, computed here with the rule
  of `sentence_tokens` in src/attribution/oracle.rs from the trace's token character ranges),
  and transformers' `step_drop` / `sequence_drop` for that ablation, with `base_step` /
  `base_sequence`: step = log p(span_ids[0] | prompt ++ prefix), sequence = the sum of
  log p over all span tokens, teacher-forced; drop = unperturbed minus ablated.

Run from the repository root, after building the CLI (see scripts/make_real_model_fixtures.py
for the virtual environment):
  cargo build --release --locked --bin xmrc-lens
  .venv/bin/python scripts/make_real_model_target_fixture.py
Environment: the same as scripts/make_real_model_fixtures.py (XMRC_LENS_BIN, XMRC_LENS_DATA,
XMRC_LENS_MODEL_CACHE). Runtime: about 2 minutes on two CPU cores (the LXT pass runs in a
second process, in parallel with the oracle's forwards; one torch thread each, so a rerun on
the same machine writes a byte-identical file).

Method (tests/real_model_target.rs relies on each point):
* Each unit is first traced by xmrc-lens: `xmrc-lens trace --model M --data D --sample N
  --scenario S --lang L --shots K --format F --device cpu --dtype f32 --no-similarity`; its
  greedy generation gives the answer prefix and span (`target.prefix`, `target.span_ids`), its
  `tokens[]` the prompt ids and their character ranges in `text`, `oracle.sentences[]` the
  sentences. Transformers is fed these ids as they are (its GGUF tokenizer ignores the file's
  `smollm` pre-tokenizer and may split spaces before digits differently, see
  scripts/make_real_model_fixtures.py); this fixture compares the computations, not the
  tokenizers or the generation.
* Model: `make_real_model_fixtures.load_model` (from_pretrained(dir, gguf_file=..., float32,
  eager)). LXT: `make_lxt_fixtures.patch("llama", "attn-lrp")` and `relevance_run`, reused as
  is, in a subprocess (LXT's patches are global).
* Oracle rows: ablated prompt ++ prefix ++ span[:-1], one unbatched forward each (no padding);
  log-softmax in float32 over the vocabulary; the sequence sum and the drops in float64.
  Removed tokens: a token with an empty character range is never removed; otherwise its
  anchor is its first character that is not a space (Rust's `char::is_whitespace` plus
  U+200B, U+200E, U+200F, U+2060, U+FEFF, as src/attribution/sentences.rs `is_space`), or its
  start when it is all spaces; it is removed with the sentence whose range holds the anchor.
All floats are rounded to 7 significant digits; compact JSON, one line per unit.
"""

import json
import math
import pathlib
import subprocess
import sys
import tempfile

SCRIPTS = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(SCRIPTS))

import make_real_model_fixtures as base  # noqa: E402  (sets TQDM_DISABLE first)

ROOT = base.ROOT
OUT = ROOT / "tests" / "fixtures" / "real" / "smollm2-target.json"
THREADS = 1
rounded = base.rounded

# name, sample index, scenario, lang, shots, format; all chat-templated, 0-shot. What the model
# writes before its answer (xmrc-lens' greedy generation, default stop rule) in the comment.
UNITS = [
    ("en-de_v1_30", 30, "en-x", "de", 0, "v1"),    # "Answer:" then a long sentence
    ("en-de_v2_30", 30, "en-x", "de", 0, "v2"),    # lead-in 'The answer to the question "..." is:'
    ("en-zh_v1_331", 331, "en-x", "zh", 0, "v1"),  # "Answer:" then a 7-token name
    ("en-de_v1_836", 836, "en-x", "de", 0, "v1"),  # "Answer:"
    ("en-en_v1_235", 235, "en-en", "en", 0, "v1"),  # no prefix (the answer line itself)
    ("de-de_v1_30", 30, "x-x", "de", 0, "v1"),     # no prefix, 64 span tokens (max-new-tokens)
]

# Rust's char::is_whitespace (Unicode White_Space) and the extra invisible characters of
# src/attribution/sentences.rs `is_space`.
WHITE_SPACE = set(chr(c) for c in [*range(0x09, 0x0E), 0x20, 0x85, 0xA0, 0x1680,
                                   *range(0x2000, 0x200B), 0x2028, 0x2029, 0x202F, 0x205F,
                                   0x3000])
EXTRA_SPACE = {"\u200b", "\u200e", "\u200f", "\u2060", "\ufeff"}


def is_space(c: str) -> bool:
    return c in WHITE_SPACE or c in EXTRA_SPACE


def sentence_tokens(tokens: list, text: str, ranges: list) -> list:
    """Prompt token indices per sentence range [start, end) of characters (the rule of
    src/attribution/oracle.rs `sentence_tokens`)."""
    members = [[] for _ in ranges]
    for i, t in enumerate(tokens):
        start, end = t["start"], min(t["end"], len(text))
        if t["end"] <= start:
            continue
        anchor = next((c for c in range(start, end) if not is_space(text[c])), start)
        for s, (lo, hi) in enumerate(ranges):
            if lo <= anchor < hi:
                members[s].append(i)
                break
    return members


def trace(model_path: pathlib.Path, sample: int, scenario: str, lang: str, shots: int,
          fmt: str) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = pathlib.Path(tmp) / "trace.json"
        args = [base.cli_binary(), "trace", "--model", str(model_path), "--data",
                str(base.data_dir()), "--sample", str(sample), "--scenario", scenario,
                "--lang", lang, "--shots", str(shots), "--format", fmt, "--device", "cpu",
                "--dtype", "f32", "--no-similarity", "--out", str(out)]
        subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return json.loads(out.read_text(encoding="utf-8"))


def lxt_worker(model_path: str) -> None:
    """Reads [{"name", "input_ids", "target_id"}] on stdin, writes the relevance on stdout."""
    import torch

    from make_lxt_fixtures import patch, relevance_run

    jobs = json.loads(sys.stdin.read())
    torch.set_num_threads(THREADS)
    patch("llama", "attn-lrp")
    model = base.load_model(pathlib.Path(model_path))
    cases = []
    for item in jobs:
        ids = item["input_ids"]
        case = relevance_run(model, ids, [(len(ids) - 1, item["target_id"])])
        cases.append({"name": item["name"], **case})
        print(f"  lxt {item['name']}: target logit {case['target_logit']:.4f}", file=sys.stderr,
              flush=True)
    print(json.dumps(cases))


def answer_score(model, row: list, span: list):
    """(log p(span[0] | row), sum_j log p(span[j] | row, span[:j]), logit of span[0])."""
    import torch

    ids = row + span[:-1]
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([ids]), use_cache=False).logits[0]
    first = len(row) - 1
    logp = torch.log_softmax(logits[first:first + len(span)], dim=-1)
    values = [float(logp[j, tok]) for j, tok in enumerate(span)]
    return values[0], math.fsum(values), float(logits[first, span[0]])


def oracle_case(model, unit: dict, trace_json: dict) -> dict:
    prompt, prefix, span = unit["input_ids"], unit["prefix_ids"], unit["span_ids"]
    text = trace_json["text"]
    ours = trace_json["oracle"]["sentences"]
    ranges = [(s["prompt_range"]["start"], s["prompt_range"]["end"]) for s in ours]
    members = sentence_tokens(trace_json["tokens"], text, ranges)
    base_step, base_seq, logit = answer_score(model, prompt + prefix, span)
    sentences = []
    for s, removed in zip(ours, members):
        if len(removed) != s["tokens"]:
            raise SystemExit(f"{unit['name']} sentence {s['index']}: {len(removed)} tokens "
                             f"removed here, xmrc-lens removes {s['tokens']}")
        if removed:
            gone = set(removed)
            row = [t for i, t in enumerate(prompt) if i not in gone] + prefix
            step, seq, _ = answer_score(model, row, span)
            step_drop, seq_drop = base_step - step, base_seq - seq
        else:
            step_drop, seq_drop = 0.0, 0.0
        sentences.append({"index": s["index"], "prompt_range": list(ranges[s["index"]]),
                          "removed": removed, "step_drop": rounded(step_drop),
                          "sequence_drop": rounded(seq_drop)})
    return {"base_step": rounded(base_step), "base_sequence": rounded(base_seq),
            "sentences": sentences}, logit


def dump(fixture: dict) -> str:
    head = {k: v for k, v in fixture.items() if k != "units"}
    lines = [json.dumps(u, ensure_ascii=False, separators=(",", ":")) for u in fixture["units"]]
    body = json.dumps(head, ensure_ascii=False, indent=1)[:-2]
    return body + ',\n "units": [\n' + ",\n".join(lines) + "\n ]\n}\n"


def main() -> None:
    import torch

    torch.set_num_threads(THREADS)
    model_path = base.fetch_model()
    tokenizer = base.load_tokenizer(model_path)
    units, traces = [], []
    for name, sample, scenario, lang, shots, fmt in UNITS:
        t = trace(model_path, sample, scenario, lang, shots, fmt)
        target = t["target"]
        if target["basis"] != "answer-span":
            raise SystemExit(f"{name}: target basis {target['basis']}")
        prefix = [p["id"] for p in target["prefix"]]
        unit = {
            "name": name, "sample": sample, "id": t["prompt"]["sample_id"], "scenario": scenario,
            "lang": lang, "shots": shots, "format": fmt,
            "input_ids": [tok["id"] for tok in t["tokens"]],
            "prefix_ids": prefix, "span_ids": target["span_ids"],
            "prefix_text": tokenizer.decode(prefix),
            "span_text": tokenizer.decode(target["span_ids"]),
        }
        units.append(unit)
        traces.append(t)
        print(f"{name}: {len(unit['input_ids'])} prompt tokens, prefix {unit['prefix_text']!r}, "
              f"{len(unit['span_ids'])} span tokens", file=sys.stderr, flush=True)

    worker = subprocess.Popen([sys.executable, __file__, "--lxt-worker", str(model_path)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    jobs = [{"name": u["name"], "input_ids": u["input_ids"] + u["prefix_ids"],
             "target_id": u["span_ids"][0]} for u in units]
    worker.stdin.write(json.dumps(jobs))
    worker.stdin.close()

    model = base.load_model(model_path)
    logits = []
    for u, t in zip(units, traces):
        u["oracle"], logit = oracle_case(model, u, t)
        logits.append(logit)
        ours = t["oracle"]
        worst = max(abs(a["step_drop"] - b["step_drop"]) for a, b in
                    zip(ours["sentences"], u["oracle"]["sentences"]))
        print(f"  oracle {u['name']}: base step {u['oracle']['base_step']} (xmrc-lens "
              f"{ours['base_step']}), sequence {u['oracle']['base_sequence']} (xmrc-lens "
              f"{ours['base_sequence']}), worst step-drop diff {worst:.2e}", file=sys.stderr,
              flush=True)

    relevance = json.loads(worker.stdout.read())
    if worker.wait() != 0:
        raise SystemExit("the LXT worker failed")
    for u, case, logit in zip(units, relevance, logits):
        assert case["name"] == u["name"]
        if abs(case["target_logit"] - logit) > 1e-3:
            raise SystemExit(f"{u['name']}: LXT target logit {case['target_logit']} != "
                             f"forward {logit}")
        u["relevance"] = {"target_logit": rounded(case["target_logit"]),
                          "levels": case["relevance"]}

    data = base.data_dir()
    langs = sorted({"en"} | {u["lang"] for u in units})
    fixture = {
        "model": "SmolLM2-135M-Instruct.Q4_1.gguf",
        "gguf_sha256": base.sha256_file(model_path),
        "versions": base.versions(),
        "dtype": "float32",
        "attn_implementation": "eager",
        "torch_threads": THREADS,
        "lxt_rules": "lxt.efficient.models.llama.attnLRP",
        "target": "step: logit of span_ids[0] after input_ids ++ prefix_ids",
        "oracle_ablation": "remove",
        "data_sha256": {f"xquad.{lang}.json": base.sha256_file(data / f"xquad.{lang}.json")
                        for lang in langs},
        "units": units,
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(dump(fixture), encoding="utf-8")
    print(f"wrote {OUT.relative_to(ROOT)} ({OUT.stat().st_size} bytes)", file=sys.stderr)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--lxt-worker":
        lxt_worker(sys.argv[2])
    else:
        main()
