#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Chat templates and synthetic tokenizers against outside truth: the committed tokenizer
//! fixtures (written by `write_tokenizer_files`) and `tests/fixtures/chat/expected.json`
//! (written by `scripts/make_chat_fixtures.py` with Hugging Face transformers).

use std::path::{Path, PathBuf};
use xmrc_lens::synth::tokenizer::{write_tokenizer_files, ChatFamily};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn family_dir(family: ChatFamily) -> PathBuf {
    fixtures().join("tokenizers").join(family.name())
}

/// With `XMRC_LENS_REGEN=1` rewrites the committed tokenizer fixtures; otherwise checks they
/// still equal a fresh generation, so a change in training or layout cannot pass unnoticed.
#[test]
fn tokenizer_fixtures_match_a_fresh_generation() {
    let regen = std::env::var("XMRC_LENS_REGEN").is_ok_and(|v| v == "1");
    for family in ChatFamily::ALL {
        if regen {
            write_tokenizer_files(&family_dir(family), family, true).unwrap();
            continue;
        }
        let fresh = tempfile::tempdir().unwrap();
        write_tokenizer_files(fresh.path(), family, true).unwrap();
        for file in ["tokenizer.json", "tokenizer_config.json"] {
            let committed =
                std::fs::read_to_string(family_dir(family).join(file)).unwrap_or_else(|e| {
                    panic!("{}/{file}: {e}; run with XMRC_LENS_REGEN=1", family.name())
                });
            let generated = std::fs::read_to_string(fresh.path().join(file)).unwrap();
            assert!(
                committed == generated,
                "{}/{file} differs from a fresh generation; regenerate with XMRC_LENS_REGEN=1 \
                 and rerun scripts/make_chat_fixtures.py",
                family.name()
            );
        }
    }
}

use serde_json::Value;
use xmrc_lens::hf::chat_template::{ChatTemplate, ChatTemplateError, Message, RenderedTurn};
use xmrc_lens::hf::tokenizer::Tokenizer;

fn expected() -> Value {
    let path = fixtures().join("chat/expected.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn load(family: ChatFamily) -> (ChatTemplate, Tokenizer) {
    let dir = family_dir(family);
    let template = ChatTemplate::from_model_dir(&dir)
        .unwrap()
        .expect("fixture has a template");
    let tokenizer = Tokenizer::from_file(&dir.join("tokenizer.json")).unwrap();
    (template, tokenizer)
}

fn ids(v: &Value) -> Vec<u32> {
    serde_json::from_value(v.clone()).unwrap()
}

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} is not a string"))
}

fn slice(text: &str, range: &std::ops::Range<usize>) -> String {
    text.chars().skip(range.start).take(range.len()).collect()
}

fn messages(v: &Value) -> Vec<Message> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|m| Message::new(str_of(m, "role"), str_of(m, "content")))
        .collect()
}

/// The user content as the template writes it: Llama-3.1 and Gemma-2 trim it.
fn written(family: ChatFamily, content: &str) -> String {
    match family {
        ChatFamily::Llama3 | ChatFamily::Gemma2 => content.trim().to_string(),
        ChatFamily::ChatMl | ChatFamily::Mistral => content.to_string(),
    }
}

#[test]
fn rendering_and_ids_match_transformers() {
    let expected = expected();
    for family in ChatFamily::ALL {
        let (template, tokenizer) = load(family);
        let fam = &expected["families"][family.name()];
        for case in fam["cases"].as_array().unwrap() {
            let label = format!("{}/{}", family.name(), str_of(case, "name"));
            let content = str_of(case, "content");
            let rendered = template.render(&[Message::user(content)], true).unwrap();
            assert_eq!(rendered, str_of(case, "rendered"), "{label}");
            let enc = tokenizer.encode(&rendered, false).unwrap();
            assert_eq!(enc.ids, ids(&case["rendered_ids"]), "{label}: rendered ids");
            let plain = tokenizer.encode(content, true).unwrap();
            assert_eq!(plain.ids, ids(&case["plain_ids"]), "{label}: plain ids");

            let with_system = [
                Message::system(str_of(case, "system")),
                Message::user(content),
            ];
            match case["system_error"].as_str() {
                None => {
                    let text = template.render(&with_system, true).unwrap();
                    assert_eq!(text, str_of(case, "rendered_with_system"), "{label}");
                    let enc = tokenizer.encode(&text, false).unwrap();
                    assert_eq!(enc.ids, ids(&case["rendered_with_system_ids"]), "{label}");
                }
                Some(message) => {
                    let err = template.render(&with_system, true).unwrap_err();
                    match err.downcast_ref::<ChatTemplateError>() {
                        Some(ChatTemplateError::Raised {
                            message: ours,
                            template: name,
                        }) => {
                            assert_eq!(ours, message, "{label}");
                            assert!(
                                name.ends_with("tokenizer_config.json (chat_template)"),
                                "{name}"
                            );
                        }
                        other => {
                            panic!("{label}: expected the template's exception, got {other:?}")
                        }
                    }
                    assert!(err.to_string().contains(message), "{err}");
                }
            }
        }
        let conv = &fam["conversation"];
        let text = template.render(&messages(&conv["messages"]), true).unwrap();
        assert_eq!(
            text,
            str_of(conv, "rendered"),
            "{}: conversation",
            family.name()
        );
        let enc = tokenizer.encode(&text, false).unwrap();
        assert_eq!(
            enc.ids,
            ids(&conv["rendered_ids"]),
            "{}: conversation ids",
            family.name()
        );
    }
}

fn check_ranges(family: ChatFamily, turn: &RenderedTurn, content: &str, system: Option<&str>) {
    let content = if turn.system_in_user_turn {
        // Gemma trims the merged "system\n\ncontent", so only the content's end is cut.
        content.trim_end().to_string()
    } else {
        written(family, content)
    };
    assert_eq!(slice(&turn.text, &turn.content), content, "{family:?}");
    match (system, &turn.system) {
        (None, None) => {}
        (Some(sys), Some(range)) => {
            // Llama-3.1 trims the system message; the others write it as given.
            let sys = if family == ChatFamily::Llama3 {
                sys.trim()
            } else {
                sys
            };
            assert_eq!(slice(&turn.text, range), sys, "{family:?}");
            assert!(
                range.end <= turn.content.start,
                "{family:?}: system after content"
            );
        }
        (want, got) => panic!("{family:?}: system {want:?} but range {got:?}"),
    }
}

#[test]
fn user_turns_locate_content_and_system_exactly() {
    let expected = expected();
    for family in ChatFamily::ALL {
        let (template, _) = load(family);
        for case in expected["families"][family.name()]["cases"]
            .as_array()
            .unwrap()
        {
            let content = str_of(case, "content");
            let system = str_of(case, "system");

            let turn = template.render_user_turn(content, None).unwrap();
            assert_eq!(turn.text, str_of(case, "rendered"));
            assert!(!turn.system_in_user_turn);
            check_ranges(family, &turn, content, None);

            let turn = template.render_user_turn(content, Some(system)).unwrap();
            if case["system_error"].is_null() {
                assert_eq!(turn.text, str_of(case, "rendered_with_system"));
                assert!(!turn.system_in_user_turn);
            } else {
                // Gemma-2: the system text opens the user turn, as transformers renders it.
                assert_eq!(turn.text, str_of(case, "rendered_system_in_user"));
                assert!(turn.system_in_user_turn);
            }
            check_ranges(family, &turn, content, Some(system));
        }
    }
}

#[test]
fn gemma_system_fallback_keeps_both_ranges_with_padding() {
    let (template, _) = load(ChatFamily::Gemma2);
    let turn = template
        .render_user_turn("  Question: 什么?\n", Some("\n Be brief."))
        .unwrap();
    assert!(turn.system_in_user_turn);
    assert_eq!(
        turn.text,
        "<bos><start_of_turn>user\nBe brief.\n\n  Question: 什么?<end_of_turn>\n<start_of_turn>model\n"
    );
    assert_eq!(
        slice(&turn.text, turn.system.as_ref().unwrap()),
        "Be brief."
    );
    assert_eq!(slice(&turn.text, &turn.content), "  Question: 什么?");
}

#[test]
fn rendered_prompts_carry_exactly_one_bos() {
    for family in ChatFamily::ALL {
        let (template, tokenizer) = load(family);
        let turn = template.render_user_turn("Question: Where?", None).unwrap();
        let without = tokenizer.encode(&turn.text, false).unwrap();
        let with = tokenizer.encode(&turn.text, true).unwrap();
        match family.bos() {
            Some(bos) => {
                let bos = tokenizer.token_to_id(bos).unwrap();
                assert_eq!(without.ids[0], bos, "{family:?}");
                assert_eq!(
                    without.ids.iter().filter(|id| **id == bos).count(),
                    1,
                    "{family:?}"
                );
                // Adding special tokens again would double it (the known Llama-3 pitfall).
                assert_eq!(&with.ids[..2], &[bos, bos], "{family:?}");
            }
            None => assert_eq!(with.ids, without.ids, "{family:?}"),
        }
    }
}

#[test]
fn end_of_turn_markers_per_family() {
    let cases = [
        (ChatFamily::ChatMl, vec!["<|im_end|>"]),
        (ChatFamily::Llama3, vec!["<|eot_id|>", "<|eom_id|>"]),
        (ChatFamily::Gemma2, vec!["<end_of_turn>", "<eos>"]),
        (ChatFamily::Mistral, vec!["</s>"]),
    ];
    for (family, want) in cases {
        let (template, tokenizer) = load(family);
        assert_eq!(template.end_of_turn_markers(), want, "{family:?}");
        for marker in want {
            assert!(
                tokenizer.token_to_id(marker).is_some(),
                "{family:?}: {marker} not a token"
            );
        }
    }
}

#[test]
fn model_dir_resolution_order() {
    let dir = tempfile::tempdir().unwrap();
    let config: Value = serde_json::from_str(
        &std::fs::read_to_string(family_dir(ChatFamily::Mistral).join("tokenizer_config.json"))
            .unwrap(),
    )
    .unwrap();
    let mut bare = config.clone();
    bare.as_object_mut().unwrap().remove("chat_template");
    let write_config = |v: &Value| {
        std::fs::write(dir.path().join("tokenizer_config.json"), v.to_string()).unwrap();
    };

    // A base model: no template anywhere.
    write_config(&bare);
    assert!(ChatTemplate::from_model_dir(dir.path()).unwrap().is_none());

    // chat_template.json is the last resort.
    std::fs::write(
        dir.path().join("chat_template.json"),
        r#"{"chat_template": "json {{ bos_token }}"}"#,
    )
    .unwrap();
    let t = ChatTemplate::from_model_dir(dir.path()).unwrap().unwrap();
    assert_eq!(t.render(&[Message::user("x")], false).unwrap(), "json <s>");

    // tokenizer_config.json wins over chat_template.json.
    write_config(&config);
    let t = ChatTemplate::from_model_dir(dir.path()).unwrap().unwrap();
    assert_eq!(
        t.render(&[Message::user("x")], false).unwrap(),
        "<s>[INST] x[/INST]"
    );

    // chat_template.jinja wins over both.
    std::fs::write(
        dir.path().join("chat_template.jinja"),
        "jinja {{ eos_token }}\n",
    )
    .unwrap();
    let t = ChatTemplate::from_model_dir(dir.path()).unwrap().unwrap();
    assert_eq!(
        t.render(&[Message::user("x")], false).unwrap(),
        "jinja </s>"
    );
}

#[test]
fn template_syntax_error_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("chat_template.jinja"),
        "{% for m in messages %}\n{{ m.content }\n{% endfor %}",
    )
    .unwrap();
    let err = format!(
        "{:#}",
        ChatTemplate::from_model_dir(dir.path()).unwrap_err()
    );
    assert!(err.contains("chat_template.jinja"), "{err}");
    assert!(err.contains("does not compile"), "{err}");
    assert!(err.contains(":2"), "line number missing: {err}");
}

#[test]
fn raise_exception_text_reaches_the_user() {
    let (template, _) = load(ChatFamily::Mistral);
    let err = template
        .render(&[Message::user("a"), Message::user("b")], true)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "chat template {} refused the messages: After the optional system message, \
             conversation roles must alternate user/assistant/user/assistant/...",
            template.name()
        )
    );
}

mod never_panics {
    use super::*;
    use proptest::prelude::*;
    use xmrc_lens::hf::chat_template::SpecialTokens;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Any template text compiles or fails with an error; rendering never panics.
        #[test]
        fn arbitrary_templates(source in "[{}%#a-z ()'\\[\\]|.=+-]{0,40}") {
            if let Ok(t) = ChatTemplate::new(source, SpecialTokens::default()) {
                let _ = t.render_user_turn("content", Some("system"));
                let _ = t.end_of_turn_markers();
            }
        }

        /// Whatever the message, every family locates it (verbatim or as the template trimmed it).
        #[test]
        fn arbitrary_content_is_located(content in "\\PC{0,30}", system in "\\PC{0,10}") {
            for family in ChatFamily::ALL {
                let (template, _) = load(family);
                let turn = template.render_user_turn(&content, Some(&system)).unwrap();
                let got = slice(&turn.text, &turn.content);
                prop_assert!(content.contains(got.as_str()), "{family:?}: {got:?} not in {content:?}");
                prop_assert!(got.trim() == content.trim(), "{family:?}: {got:?} vs {content:?}");
            }
        }
    }
}
