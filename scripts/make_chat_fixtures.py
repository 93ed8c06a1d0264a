#!/usr/bin/env python3
"""Outside truth for chat templates: render with Hugging Face transformers.

Loads every synthetic tokenizer under tests/fixtures/tokenizers/<family>/ (written by the
Rust `write_tokenizer_files`) with AutoTokenizer and writes tests/fixtures/chat/expected.json:
for each user message, the text of apply_chat_template(..., tokenize=False,
add_generation_prompt=True), the same with a system message (or the exception text where the
template refuses one, plus the render with the system text opening the user turn), a short conversation, and the token ids of the rendered text
(add_special_tokens=False) and of the plain message (with special tokens, to check BOS).

Setup (no torch needed):  python3 -m venv /tmp/hf && /tmp/hf/bin/pip install transformers jinja2
Run from the repository root:  /tmp/hf/bin/python scripts/make_chat_fixtures.py
"""

import json
import pathlib
import sys

import jinja2
import tokenizers
import transformers
from transformers import AutoTokenizer

ROOT = pathlib.Path(__file__).resolve().parent.parent
FAMILIES = ["chatml", "llama3", "gemma2", "mistral"]
SYSTEM = "You are a careful reader. Answer with words copied from the context."

LONG_PROMPT = (
    "Below is a reading comprehension task. There will be paragraphs of context, each followed by "
    "a question related to its content. You should only present your answer to the last question "
    "by strictly copying the corresponding part of the context. Please provide a direct answer in "
    "English without extra output. Your answer should be in the form of \u201cAnswer: {Your Answer}\u201d\n\n"
    "Context: The old mill stands beside the river and still grinds flour every autumn.\n\n"
    "Question: What does the old mill grind every autumn?\n\n"
    "Answer: flour\n\n"
    "Your task starts here:\n\n"
    "Context: The library opens at nine in the morning and closes at six in the evening.\n\n"
    "Question: \u00bfA qu\u00e9 hora cierra la biblioteca?"
)
MIXED_SCRIPTS = (
    "Context: \u56fe\u4e66\u9986\u6bcf\u5929\u65e9\u4e0a\u4e5d\u70b9\u5f00\u95e8\u3002 "
    "\u062a\u0641\u062a\u062d \u0627\u0644\u0645\u0643\u062a\u0628\u0629 \u0623\u0628\u0648\u0627\u0628\u0647\u0627 "
    "\u092a\u0941\u0938\u094d\u0924\u0915\u093e\u0932\u092f \u0938\u0941\u092c\u0939 \u0916\u0941\u0932\u0924\u093e \u0939\u0948\u0964 "
    "\u0e2b\u0e49\u0e2d\u0e07\u0e2a\u0e21\u0e38\u0e14\u0e40\u0e1b\u0e34\u0e14\u0e40\u0e27\u0e25\u0e32\u0e40\u0e01\u0e49\u0e32\u0e42\u0e21\u0e07\u0e40\u0e0a\u0e49\u0e32\n"
    "Question: \u9f98 \u2014 \u0645\u062a\u0649\u061f \u0915\u092c? \u0e40\u0e21\u0e37\u0e48\u0e2d\u0e44\u0e23"
)
PADDED = "  \n Question: Where does the old mill stand?  \n\n"

CASES = [("long_prompt", LONG_PROMPT), ("mixed_scripts", MIXED_SCRIPTS), ("padded_whitespace", PADDED)]


def render(tok, messages, add_generation_prompt=True):
    return tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=add_generation_prompt)


def ids(tok, text, add_special_tokens):
    return tok(text, add_special_tokens=add_special_tokens)["input_ids"]


def family_cases(tok):
    cases = []
    for name, content in CASES:
        user = [{"role": "user", "content": content}]
        rendered = render(tok, user)
        case = {
            "name": name,
            "content": content,
            "rendered": rendered,
            "rendered_ids": ids(tok, rendered, False),
            "plain_ids": ids(tok, content, True),
            "system": SYSTEM,
        }
        try:
            with_system = render(tok, [{"role": "system", "content": SYSTEM}] + user)
            case["rendered_with_system"] = with_system
            case["rendered_with_system_ids"] = ids(tok, with_system, False)
            case["system_error"] = None
        except jinja2.exceptions.TemplateError as err:
            case["rendered_with_system"] = None
            case["rendered_with_system_ids"] = None
            case["system_error"] = str(err)
            # What xmrc-lens does then: the system text opens the user turn.
            merged = [{"role": "user", "content": SYSTEM + "\n\n" + content}]
            case["rendered_system_in_user"] = render(tok, merged)
        cases.append(case)
    return cases


def main():
    out = {
        "generator": "scripts/make_chat_fixtures.py",
        "versions": {
            "transformers": transformers.__version__,
            "tokenizers": tokenizers.__version__,
            "jinja2": jinja2.__version__,
        },
        "families": {},
    }
    conversation = [
        {"role": "user", "content": "Context: A ferry crosses the strait.\n\nQuestion: What crosses the strait?"},
        {"role": "assistant", "content": " Answer: A ferry "},
        {"role": "user", "content": "Question: \u00bfQu\u00e9 cruza el estrecho?"},
    ]
    for family in FAMILIES:
        tok = AutoTokenizer.from_pretrained(str(ROOT / "tests/fixtures/tokenizers" / family))
        rendered = render(tok, conversation)
        out["families"][family] = {
            "cases": family_cases(tok),
            "conversation": {
                "messages": conversation,
                "rendered": rendered,
                "rendered_ids": ids(tok, rendered, False),
            },
        }
    path = ROOT / "tests/fixtures/chat/expected.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
