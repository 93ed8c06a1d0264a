#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Loading a model folder end to end (LoadedModel) and the generation stop rules.

mod common;

use common::tiny_model_dir;
use std::sync::atomic::AtomicBool;
use xmrc_lens::model::chat_mode::ChatMode;
use xmrc_lens::model::generate::StopReason;
use xmrc_lens::model::source::ModelRef;
use xmrc_lens::model::spec::ModelSpec;
use xmrc_lens::model::LoadedModel;

fn load(family: &str, chat: ChatMode) -> LoadedModel {
    let mut spec = ModelSpec::new(ModelRef::Local(tiny_model_dir(family)));
    spec.chat = chat;
    LoadedModel::load(&spec).unwrap()
}

#[test]
fn stop_ids_hold_eos_and_the_templates_end_of_turn() {
    for (family, marker) in [
        ("llama", "<|eot_id|>"),
        ("qwen2", "<|im_end|>"),
        ("gemma2", "<end_of_turn>"),
        ("mistral", "</s>"),
    ] {
        let m = load(family, ChatMode::Auto);
        assert!(m.is_chat(), "{family} has a chat template");
        let id = m.tokenizer.token_to_id(marker).unwrap();
        assert!(
            m.stop_ids.contains(&id),
            "{family}: {marker} ({id}) not a stop id"
        );
        for eos in &m.special.eos {
            assert!(m.stop_ids.contains(eos));
        }
        let raw = load(family, ChatMode::Off);
        assert!(!raw.is_chat());
    }
}

#[test]
fn generation_stops_on_a_stop_id_and_when_cancelled() {
    let m = load("llama", ChatMode::Off);
    let prompt = m
        .tokenizer
        .encode("The river flows to the", true)
        .unwrap()
        .ids;
    let mut free = m.generate_options();
    free.stop_ids.clear();
    free.stop_at_newline = false;
    free.max_new_tokens = 8;
    let g = m.generate(&prompt, &free, None, &mut |_| {}).unwrap();
    assert_eq!(g.ids.len(), 8);
    assert_eq!(g.stop, StopReason::MaxTokens);

    // Make the 4th greedy token a stop id: three tokens come out, the stop id does not.
    let mut stopping = free.clone();
    stopping.stop_ids.insert(g.ids[3]);
    let first = g.ids.iter().position(|&id| id == g.ids[3]).unwrap();
    let mut streamed = Vec::new();
    let s = m
        .generate(&prompt, &stopping, None, &mut |step| streamed.push(step.id))
        .unwrap();
    assert_eq!(s.ids, g.ids[..first].to_vec());
    assert_eq!(s.stop, StopReason::Eos(g.ids[3]));
    assert_eq!(streamed, s.ids, "every step is reported as it comes");
    assert!(s
        .steps
        .iter()
        .all(|st| st.top.len() == 5 && st.top[0].id == st.id));

    let cancel = AtomicBool::new(true);
    let c = m
        .generate(&prompt, &free, Some(&cancel), &mut |_| {})
        .unwrap();
    assert_eq!(c.stop, StopReason::Cancelled);
    assert!(c.ids.is_empty());
}

#[test]
fn chat_prompts_carry_one_bos() {
    let m = load("llama", ChatMode::Auto);
    let template = m.chat_template.as_ref().unwrap();
    let turn = template.render_user_turn("Where?", None).unwrap();
    let ids = m.tokenizer.encode(&turn.text, false).unwrap().ids;
    let bos = m.special.bos.unwrap();
    assert_eq!(ids[0], bos);
    assert_eq!(ids.iter().filter(|&&id| id == bos).count(), 1, "{ids:?}");
}

#[test]
fn unsupported_architectures_are_named_with_the_supported_ones() {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(tiny_model_dir("llama")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.path().join(entry.file_name())).unwrap();
    }
    let config = dir.path().join("config.json");
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("LlamaForCausalLM", "Phi3ForCausalLM");
    std::fs::write(&config, text).unwrap();
    let spec = ModelSpec::new(ModelRef::Local(dir.path().to_path_buf()));
    let err = format!("{:#}", LoadedModel::load(&spec).err().unwrap());
    assert!(
        err.contains("unsupported architecture Phi3ForCausalLM"),
        "{err}"
    );
    assert!(
        err.contains("Qwen2ForCausalLM, MistralForCausalLM, Gemma2ForCausalLM"),
        "{err}"
    );
}

/// Batched greedy decoding gives every row what it gets alone, and a usable prompt cache.
#[test]
fn batched_generation_equals_one_prompt_at_a_time() {
    let texts = [
        "The river flows to the",
        "Velmora is a small river town on the east bank of the Sarn. It was founded in 1372 by \
         salt traders from the coast, and about 8,400 people live there today. Question: when",
        "Numbers:",
    ];
    for family in ["llama", "qwen2", "mistral", "gemma2"] {
        let m = load(family, ChatMode::Off);
        let prompts: Vec<Vec<u32>> = texts
            .iter()
            .map(|t| m.tokenizer.encode(t, true).unwrap().ids)
            .collect();
        for stop_at_newline in [true, false] {
            let mut options = m.generate_options();
            options.max_new_tokens = 12;
            options.stop_at_newline = stop_at_newline;
            let refs: Vec<&[u32]> = prompts.iter().map(Vec::as_slice).collect();
            let batch = xmrc_lens::model::generate::generate_batch(
                &m.decoder,
                &m.tokenizer,
                &refs,
                &options,
                None,
            )
            .unwrap();
            assert_eq!(batch.len(), prompts.len());
            for (prompt, (g, cache)) in prompts.iter().zip(&batch) {
                let (alone, alone_cache) = xmrc_lens::model::generate::generate_cached(
                    &m.decoder,
                    &m.tokenizer,
                    prompt,
                    &options,
                    None,
                    &mut |_| {},
                )
                .unwrap();
                assert_eq!(g.ids, alone.ids, "{family}: {:?}", alone.text);
                assert_eq!(g.text, alone.text, "{family}");
                assert_eq!(g.stop, alone.stop, "{family}");
                // The prompt's top logits: 20, best first, the first answer token on top.
                assert_eq!(alone.prompt_top.len(), 20);
                if let Some(first) = alone.ids.first() {
                    assert_eq!(alone.prompt_top[0].id, *first, "{family}");
                }
                let top_ids = |g: &xmrc_lens::model::generate::Generation| {
                    g.prompt_top.iter().map(|t| t.id).collect::<Vec<_>>()
                };
                assert_eq!(top_ids(g), top_ids(&alone), "{family}");
                for (a, b) in g.steps.iter().zip(&alone.steps) {
                    for (x, y) in a.top.iter().zip(&b.top) {
                        assert_eq!(x.id, y.id, "{family}");
                        assert!((x.logit - y.logit).abs() < 1e-4, "{family}: {x:?} {y:?}");
                    }
                }
                // The row's cache holds exactly its prompt: continuing from it matches.
                assert_eq!(cache.len(), prompt.len());
                let mut a = cache.clone();
                let mut b = alone_cache.truncated(prompt.len()).unwrap();
                let la = m.decoder.forward_fast(&[prompt[0]], &mut a).unwrap();
                let lb = m.decoder.forward_fast(&[prompt[0]], &mut b).unwrap();
                let diff = common::max_abs_diff(
                    &la.to_vec1::<f32>().unwrap(),
                    &lb.to_vec1::<f32>().unwrap(),
                );
                assert!(diff < 1e-4, "{family}: {diff}");
            }
        }
    }
}
