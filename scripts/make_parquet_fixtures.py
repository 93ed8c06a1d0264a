#!/usr/bin/env python3
"""Write the xquad-mini fixture as Hugging Face-style parquet files.

The layout and schema copy what the hub dataset `google/xquad` holds:
`xquad.<lang>/validation-00000-of-00001.parquet` with columns id, context, question and
answers, where the `Sequence({text, answer_start})` feature is stored as a *struct of lists*
and the file is snappy-compressed. Two variants exercise the other shapes the loader accepts:
answers as a *list of structs* (German), and an extra `title` column (English).

Usage (from the repository root): pip install pyarrow && python3 scripts/make_parquet_fixtures.py
"""
import json
import pathlib

import pyarrow as pa
import pyarrow.parquet as pq

ROOT = pathlib.Path(__file__).resolve().parent.parent
SOURCE = ROOT / "tests" / "fixtures" / "xquad-mini"
TARGET = ROOT / "tests" / "fixtures" / "parquet"
LANGS = "en de es vi zh hi ar el ro ru th tr".split()
FILE = "validation-00000-of-00001.parquet"

STRUCT_OF_LISTS = pa.struct(
    [("text", pa.list_(pa.string())), ("answer_start", pa.list_(pa.int32()))]
)
LIST_OF_STRUCTS = pa.list_(pa.struct([("text", pa.string()), ("answer_start", pa.int32())]))


def rows(lang):
    squad = json.loads((SOURCE / f"xquad.{lang}.json").read_text(encoding="utf-8"))
    for article in squad["data"]:
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                yield article["title"], paragraph["context"], qa


def table(lang, answers_type=STRUCT_OF_LISTS, with_title=False):
    titles, ids, contexts, questions, answers = [], [], [], [], []
    for title, context, qa in rows(lang):
        titles.append(title)
        ids.append(qa["id"])
        contexts.append(context)
        questions.append(qa["question"])
        if answers_type == STRUCT_OF_LISTS:
            answers.append(
                {
                    "text": [a["text"] for a in qa["answers"]],
                    "answer_start": [a["answer_start"] for a in qa["answers"]],
                }
            )
        else:
            answers.append(
                [{"text": a["text"], "answer_start": a["answer_start"]} for a in qa["answers"]]
            )
    columns = {
        "id": pa.array(ids, pa.string()),
        "context": pa.array(contexts, pa.string()),
        "question": pa.array(questions, pa.string()),
        "answers": pa.array(answers, answers_type),
    }
    if with_title:
        columns = {"title": pa.array(titles, pa.string()), **columns}
    return pa.table(columns)


def write(folder, tbl):
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(tbl, folder / FILE, compression="snappy")


def main():
    for lang in LANGS:
        write(TARGET / f"xquad.{lang}", table(lang))
    variants = TARGET / "variants"
    write(variants / "list-of-structs" / "xquad.de", table("de", answers_type=LIST_OF_STRUCTS))
    write(variants / "with-title" / "xquad.en", table("en", with_title=True))


if __name__ == "__main__":
    main()
