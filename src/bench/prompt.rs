//! The bench prompt: a 2-shot XQuAD prompt made by the project's prompt builder and
//! tokenizer, cut or repeated to an exact length so every implementation runs the same ids.

use crate::data::loader::{self, align, parse_squad, IdPolicy, LangRecords, LoadOptions};
use crate::data::prompt::Setting;
use crate::data::prompt::{build_prompt, tokenize_prompt, Format, PromptOptions, Scenario};
use crate::data::{Dataset, Lang};
use crate::hf::tokenizer::Tokenizer;
use crate::model::load::LoadedModel;
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

/// A small parallel sample (English and German) for the prompt when no `--data` is given.
const SAMPLE_EN: &str = include_str!("../../tests/fixtures/xquad-mini/xquad.en.json");
const SAMPLE_DE: &str = include_str!("../../tests/fixtures/xquad-mini/xquad.de.json");

/// The sample the prompt is built from: `data` (a folder with English and German files) or the bundled
/// sample.
pub fn prompt_data(data: Option<&Path>) -> Result<Dataset> {
    match data {
        Some(dir) => loader::load_dir(
            dir,
            &LoadOptions {
                langs: Some(vec![Lang::En, Lang::De]),
                id_policy: IdPolicy::Identical,
            },
        )
        .with_context(|| format!("loading the prompt data from {}", dir.display())),
        None => {
            let file = |lang: Lang, text: &str| -> Result<LangRecords> {
                let path = PathBuf::from(format!("bundled/xquad.{}.json", lang.code()));
                let records = parse_squad(text.as_bytes(), &path)?;
                Ok(LangRecords {
                    lang,
                    path,
                    records,
                })
            };
            let files = vec![file(Lang::En, SAMPLE_EN)?, file(Lang::De, SAMPLE_DE)?];
            Ok(align(files, IdPolicy::Identical, "the bundled sample")?.dataset)
        }
    }
}

/// The prompt ids: the first sample's 2-shot en-x (German question) prompt in the model's chat
/// template, tokenised, then cut or repeated (its BOS kept once) to exactly `tokens` ids.
/// Also returns the built prompt's own length.
pub fn prompt_ids(
    model: &LoadedModel,
    tokens: usize,
    data: Option<&Path>,
) -> Result<(Vec<u32>, usize)> {
    let data = prompt_data(data)?;
    let opts = PromptOptions {
        setting: Setting {
            scenario: Scenario::EnX,
            lang: Lang::De,
            shots: 2,
            format: Format::V1,
        },
        seed: 0,
        answer_cue: None,
        system: None,
    };
    let prompt = build_prompt(&data, 0, &opts, model.chat_template.as_ref())?;
    let ids: Vec<u32> = tokenize_prompt(&prompt, &model.tokenizer)?
        .iter()
        .map(|t| t.id)
        .collect();
    Ok((fit_to_length(&ids, tokens, &model.tokenizer), ids.len()))
}

/// `ids` cut to `len`, or repeated until `len` (a leading special token such as BOS once).
fn fit_to_length(ids: &[u32], len: usize, tokenizer: &Tokenizer) -> Vec<u32> {
    let keep_first = ids.first().is_some_and(|&id| tokenizer.is_special(id)) && ids.len() > 1;
    let (head, body) = if keep_first {
        ids.split_at(1)
    } else {
        (&ids[..0], ids)
    };
    head.iter()
        .chain(body.iter().cycle())
        .take(len)
        .copied()
        .collect()
}
