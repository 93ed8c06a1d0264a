#!/usr/bin/env python3
"""Reference F1/EM for the scoring fixtures, computed the way the official scripts do.

A small re-implementation of
  - SQuAD v1.1 `evaluate-v1.1.py` (normalize_answer, f1_score, exact_match_score,
    metric_max_over_ground_truths), and
  - MLQA `mlqa_evaluation_v1.py` (the same functions with a language argument),
kept in the structure of those scripts so the two can be compared line by line.

MLQA raises "Unknown Language" for el, ro, ru, th, tr. The xmrc-lens project extends it
(marked PROJECT EXTENSION below): no articles and whitespace tokens for el, ro, ru, tr, and
one token per non-space character for th.

Reads  tests/fixtures/scoring/cases.jsonl     ({"id", "lang", "prediction", "answers", ...})
Writes tests/fixtures/scoring/expected.jsonl  ({"id", "squad": {"f1", "em"}, "mlqa": {"f1", "em"}}, x100)

Run from the repository root: python3 scripts/reference_scores.py
The Rust test tests/scoring.rs compares xmrc-lens against expected.jsonl.
"""

import json
import re
import string
import sys
import unicodedata
from collections import Counter
from pathlib import Path

CASES = Path("tests/fixtures/scoring/cases.jsonl")
EXPECTED = Path("tests/fixtures/scoring/expected.jsonl")


# --- SQuAD v1.1 evaluate-v1.1.py -------------------------------------------------------------


def squad_normalize_answer(s):
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


def squad_f1_score(prediction, ground_truth):
    prediction_tokens = squad_normalize_answer(prediction).split()
    ground_truth_tokens = squad_normalize_answer(ground_truth).split()
    common = Counter(prediction_tokens) & Counter(ground_truth_tokens)
    num_same = sum(common.values())
    if num_same == 0:
        return 0
    precision = 1.0 * num_same / len(prediction_tokens)
    recall = 1.0 * num_same / len(ground_truth_tokens)
    f1 = (2 * precision * recall) / (precision + recall)
    return f1


def squad_exact_match_score(prediction, ground_truth):
    return squad_normalize_answer(prediction) == squad_normalize_answer(ground_truth)


# --- MLQA mlqa_evaluation_v1.py --------------------------------------------------------------

PUNCT = {
    chr(i)
    for i in range(sys.maxunicode)
    if unicodedata.category(chr(i)).startswith("P")
}.union(string.punctuation)
WHITESPACE_LANGS = ["en", "es", "hi", "vi", "de", "ar"]
MIXED_SEGMENTATION_LANGS = ["zh"]
# PROJECT EXTENSION: languages MLQA rejects.
EXTENSION_WHITESPACE_LANGS = ["el", "ro", "ru", "tr"]
EXTENSION_CHARACTER_LANGS = ["th"]


def whitespace_tokenize(text):
    return text.split()


def mixed_segmentation(text):
    segs_out = []
    temp_str = ""
    for char in text:
        if re.search(r"[\u4e00-\u9fa5]", char) or char in PUNCT:
            if temp_str != "":
                ss = whitespace_tokenize(temp_str)
                segs_out.extend(ss)
                temp_str = ""
            segs_out.append(char)
        else:
            temp_str += char

    if temp_str != "":
        ss = whitespace_tokenize(temp_str)
        segs_out.extend(ss)

    return segs_out


def character_tokenize(text):
    """PROJECT EXTENSION (th): every non-space character is a token."""
    return [ch for ch in text if not ch.isspace()]


def mlqa_normalize_answer(s, lang):
    """Lower text and remove punctuation, articles and extra whitespace."""

    def remove_articles(text, lang):
        if lang == "en":
            return re.sub(r"\b(a|an|the)\b", " ", text)
        elif lang == "es":
            return re.sub(r"\b(un|una|unos|unas|el|la|los|las)\b", " ", text)
        elif lang == "hi":
            return text  # Hindi does not have formal articles
        elif lang == "vi":
            return re.sub(r"\b(của|là|cái|chiếc|những)\b", " ", text)
        elif lang == "de":
            return re.sub(
                r"\b(ein|eine|einen|einem|eines|einer|der|die|das|den|dem|des)\b", " ", text
            )
        elif lang == "ar":
            return re.sub("\\sال^|ال", " ", text)
        elif lang == "zh":
            return text  # Chinese does not have formal articles
        elif lang in EXTENSION_WHITESPACE_LANGS or lang in EXTENSION_CHARACTER_LANGS:
            return text  # PROJECT EXTENSION: no articles
        else:
            raise Exception("Unknown Language {}".format(lang))

    def white_space_fix(text, lang):
        if lang in WHITESPACE_LANGS:
            tokens = whitespace_tokenize(text)
        elif lang in MIXED_SEGMENTATION_LANGS:
            tokens = mixed_segmentation(text)
        elif lang in EXTENSION_WHITESPACE_LANGS:
            tokens = whitespace_tokenize(text)  # PROJECT EXTENSION
        elif lang in EXTENSION_CHARACTER_LANGS:
            tokens = character_tokenize(text)  # PROJECT EXTENSION
        else:
            raise Exception("Unknown Language {}".format(lang))
        return " ".join([t for t in tokens if t.strip() != ""])

    def remove_punc(text):
        return "".join(ch for ch in text if ch not in PUNCT)

    def lower(text):
        return text.lower()

    return white_space_fix(remove_articles(remove_punc(lower(s)), lang), lang)


def mlqa_f1_score(prediction, ground_truth, lang):
    prediction_tokens = mlqa_normalize_answer(prediction, lang).split()
    ground_truth_tokens = mlqa_normalize_answer(ground_truth, lang).split()
    common = Counter(prediction_tokens) & Counter(ground_truth_tokens)
    num_same = sum(common.values())
    if num_same == 0:
        return 0
    precision = 1.0 * num_same / len(prediction_tokens)
    recall = 1.0 * num_same / len(ground_truth_tokens)
    f1 = (2 * precision * recall) / (precision + recall)
    return f1


def mlqa_exact_match_score(prediction, ground_truth, lang):
    return mlqa_normalize_answer(prediction, lang) == mlqa_normalize_answer(ground_truth, lang)


# --- shared ----------------------------------------------------------------------------------


def metric_max_over_ground_truths(metric_fn, prediction, ground_truths, *args):
    scores_for_ground_truths = []
    for ground_truth in ground_truths:
        score = metric_fn(prediction, ground_truth, *args)
        scores_for_ground_truths.append(score)
    # The official scripts call max() on a non-empty list; no golds score 0 here.
    return max(scores_for_ground_truths, default=0)


def score_case(case):
    prediction, golds, lang = case["prediction"], case["answers"], case["lang"]
    squad_f1 = metric_max_over_ground_truths(squad_f1_score, prediction, golds)
    squad_em = metric_max_over_ground_truths(squad_exact_match_score, prediction, golds)
    mlqa_f1 = metric_max_over_ground_truths(mlqa_f1_score, prediction, golds, lang)
    mlqa_em = metric_max_over_ground_truths(mlqa_exact_match_score, prediction, golds, lang)
    return {
        "id": case["id"],
        "squad": {"f1": 100.0 * squad_f1, "em": 100.0 * squad_em},
        "mlqa": {"f1": 100.0 * mlqa_f1, "em": 100.0 * mlqa_em},
    }


def main():
    with CASES.open(encoding="utf-8") as f:
        cases = [json.loads(line) for line in f if line.strip()]
    with EXPECTED.open("w", encoding="utf-8") as out:
        for case in cases:
            out.write(json.dumps(score_case(case), ensure_ascii=False) + "\n")
    print(
        "wrote {} ({} cases, Python {}, Unicode {})".format(
            EXPECTED, len(cases), sys.version.split()[0], unicodedata.unidata_version
        )
    )


if __name__ == "__main__":
    main()
