#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The LLM judge end to end on the tiny chat model (its replies are random: only the plumbing
//! and the label's provenance are checked).

mod common;

use common::tiny_model_dir;
use xmrc_lens::eval::gen_error::Judge;
use xmrc_lens::model::chat_mode::ChatMode;
use xmrc_lens::model::source::ModelRef;
use xmrc_lens::model::spec::ModelSpec;
use xmrc_lens::model::LoadedModel;
use xmrc_lens::pipeline::judge::judge_with_model;

fn load(chat: ChatMode) -> LoadedModel {
    let mut spec = ModelSpec::new(ModelRef::Local(tiny_model_dir("qwen2")));
    spec.chat = chat;
    LoadedModel::load(&spec).unwrap()
}

#[test]
fn the_tiny_chat_model_judges_and_is_named() {
    let judge = load(ChatMode::Auto);
    let label =
        judge_with_model(&judge, "Who won Super Bowl 50?", "Answer: Denver Broncos").unwrap();
    assert_eq!(
        label.judge,
        Judge::Llm {
            model: judge.name.clone()
        }
    );
    assert!(label.reason.starts_with("judge "), "{}", label.reason);
}

#[test]
fn a_model_without_chat_template_is_refused() {
    let raw = load(ChatMode::Off);
    let err = judge_with_model(&raw, "q", "a").unwrap_err();
    assert!(err.to_string().contains("no chat template"), "{err}");
}
