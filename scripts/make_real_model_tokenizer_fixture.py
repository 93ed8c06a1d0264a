#!/usr/bin/env python3
"""Outside truth for the real model's tokenizer pre-tokenizer (`tokenizer.ggml.pre = smollm`).

transformers 5.23 builds the tokenizer of a GGUF file from its vocabulary and merges, but its
table of pre-tokenizer types has no `smollm`, so it falls back to plain GPT-2 byte-level
splitting: it does not isolate digits first. llama.cpp (`LLAMA_VOCAB_PRE_TYPE_SMOLLM`: the
regex `\\p{N}`, then the GPT-2 rule) and SmolLM2's own tokenizer.json
(`Sequence[Digits(individual_digits=True), ByteLevel(use_regex=True)]`) do. The two agree
except where a run of spaces stands before a digit: "Context:  2008" is `ĠĠ`,`2`... for
SmolLM2 and llama.cpp, `Ġ`,`Ġ`,`2`... for transformers' GGUF loader.

This script rebuilds SmolLM2's real pre-tokenizer with the `tokenizers` library over the GGUF
file's own vocabulary and merges (read with the `gguf` package) and writes, for every prompt
of tests/fixtures/real/smollm2.json and for a few probe strings, the ids under both rules:
tests/fixtures/real/smollm2-tokens.json. tests/real_model.rs checks that xmrc-lens encodes as
SmolLM2/llama.cpp do, and that transformers differs only where this file says.

Run from the repository root (see scripts/requirements.txt):
  .venv/bin/python scripts/make_real_model_tokenizer_fixture.py "$(scripts/fetch_real_model.sh)"
"""

import json
import pathlib
import sys

import gguf
import tokenizers
from tokenizers import Tokenizer, decoders, models, pre_tokenizers

ROOT = pathlib.Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "tests" / "fixtures" / "real" / "smollm2.json"
OUT = ROOT / "tests" / "fixtures" / "real" / "smollm2-tokens.json"

PROBES = [
    "Context:  2008 was a year.",
    "In 1876, about 3.14 percent of 1,000,000 people.",
    "  12  34\n\n56",
    "Answer: 308",
    "Super Bowl 50 was an American football game.",
]


def field_strings(reader, key):
    field = reader.fields[key]
    return [bytes(field.parts[i]).decode("utf-8") for i in field.data]


def field_ints(reader, key):
    field = reader.fields[key]
    return [int(field.parts[i][0]) for i in field.data]


def smollm_tokenizer(path):
    reader = gguf.GGUFReader(path)
    tokens = field_strings(reader, "tokenizer.ggml.tokens")
    types = field_ints(reader, "tokenizer.ggml.token_type")
    merges = [tuple(m.split(" ", 1)) for m in field_strings(reader, "tokenizer.ggml.merges")]
    vocab = {t: i for i, t in reversed(list(enumerate(tokens)))}
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges, fuse_unk=False))
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Digits(individual_digits=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    special = [
        tokenizers.AddedToken(t, special=True, normalized=False)
        for t, ty in zip(tokens, types)
        if ty == 3
    ]
    tok.add_special_tokens(special)
    return tok


def main():
    model = sys.argv[1]
    from transformers import AutoTokenizer

    ours = smollm_tokenizer(model)
    folder = str(pathlib.Path(model).parent)
    theirs = AutoTokenizer.from_pretrained(folder, gguf_file=pathlib.Path(model).name)
    fixture = json.loads(FIXTURE.read_text())
    cases = []
    texts = [(p["name"], p["chat_text"]) for p in fixture["prompts"]]
    texts += [(f"probe {i}", t) for i, t in enumerate(PROBES)]
    for name, text in texts:
        smollm_ids = ours.encode(text, add_special_tokens=False).ids
        transformers_ids = theirs(text, add_special_tokens=False).input_ids
        cases.append(
            {
                "name": name,
                "text": text,
                "smollm_ids": smollm_ids,
                "transformers_ids": transformers_ids,
                "agree": smollm_ids == transformers_ids,
            }
        )
    out = {
        "model": pathlib.Path(model).name,
        "versions": {
            "tokenizers": tokenizers.__version__,
            "transformers": __import__("transformers").__version__,
        },
        "smollm_pre_tokenizer": "Sequence[Digits(individual_digits=True), ByteLevel(add_prefix_space=False, use_regex=True)]",
        "cases": cases,
    }
    OUT.write_text(json.dumps(out, ensure_ascii=False, indent=1) + "\n")
    print(f"wrote {OUT}: {sum(c['agree'] for c in cases)}/{len(cases)} agree")


if __name__ == "__main__":
    main()
