//! `xmrc-lens generate`: load a model and answer one sample (scored against its gold
//! answers) or a free text, greedily, printing the answer with each step's top tokens.

use super::model_args::ModelArgs;
use super::sample_args::SampleArgs;
use super::write_out;
use crate::data::prompt::{build_prompt, tokenize_prompt};
use crate::data::Lang;
use crate::eval::extract::extract_answer;
use crate::eval::score::{score_both, Score};
use crate::model::generate::{Generation, DEFAULT_MAX_NEW_TOKENS};
use crate::model::LoadedModel;
use anyhow::Result;
use clap::Args;
use serde_json::json;

#[derive(Debug, Args)]
pub struct GenerateArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub which: SampleArgs,
    /// Answer this text instead of a sample (as a user turn for chat models, else raw).
    #[arg(long)]
    pub text: Option<String>,
    /// Stop after this many new tokens.
    #[arg(long, default_value_t = DEFAULT_MAX_NEW_TOKENS)]
    pub max_new_tokens: usize,
    /// Alternatives shown per step.
    #[arg(long, default_value_t = 5)]
    pub top_k: usize,
    /// Keep generating past the first line break.
    #[arg(long)]
    pub no_newline_stop: bool,
    /// Print each step with its top-k alternatives.
    #[arg(long)]
    pub steps: bool,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// What was asked: the prompt's ids and, for a sample, its gold answers.
struct Asked {
    label: String,
    ids: Vec<u32>,
    gold: Vec<String>,
    answer_lang: Option<Lang>,
}

pub fn run(args: &GenerateArgs) -> Result<()> {
    let model = LoadedModel::load(&args.model.spec())?;
    let asked = match &args.text {
        Some(text) => ask_text(&model, text)?,
        None => ask_sample(&model, &args.which)?,
    };
    let mut options = model.generate_options();
    options.max_new_tokens = args.max_new_tokens;
    options.top_k = args.top_k.max(1);
    options.stop_at_newline = !args.no_newline_stop;
    let generation = model.generate(&asked.ids, &options, None, &mut |_| {})?;
    let extracted = extract_answer(&generation.text);
    let scores = asked
        .answer_lang
        .map(|lang| score_both(&extracted, &asked.gold, lang));
    let out = if args.json {
        serde_json::to_string_pretty(&json!({
            "model": model.name,
            "family": model.config.family,
            "device": model.describe_device(),
            "dtype": format!("{:?}", model.dtype).to_lowercase(),
            "chat": model.is_chat(),
            "asked": asked.label,
            "prompt_tokens": asked.ids.len(),
            "generation": generation,
            "answer": extracted,
            "gold": asked.gold,
            "scores": scores,
            "load_ms": model.load_ms,
        }))? + "\n"
    } else {
        human(
            &model,
            &asked,
            &generation,
            &extracted,
            scores.as_ref(),
            args.steps,
        )
    };
    write_out(&out)
}

fn ask_text(model: &LoadedModel, text: &str) -> Result<Asked> {
    let ids = match &model.chat_template {
        Some(template) => {
            // Rendered text already holds BOS and the turn markers: no special tokens again.
            let rendered = template.render_user_turn(text, None)?;
            model.tokenizer.encode(&rendered.text, false)?.ids
        }
        None => model.tokenizer.encode(text, true)?.ids,
    };
    Ok(Asked {
        label: "text".into(),
        ids,
        gold: Vec::new(),
        answer_lang: None,
    })
}

fn ask_sample(model: &LoadedModel, which: &SampleArgs) -> Result<Asked> {
    let (data, index) = which.load()?;
    let prompt = build_prompt(&data, index, &which.options(), model.chat_template.as_ref())?;
    let ids = tokenize_prompt(&prompt, &model.tokenizer)?
        .iter()
        .map(|t| t.id)
        .collect();
    Ok(Asked {
        label: format!(
            "sample {} · {} · {} shots",
            prompt.sample_id, prompt.options.setting.scenario, prompt.options.setting.shots
        ),
        ids,
        gold: prompt.gold.iter().map(|a| a.text.clone()).collect(),
        answer_lang: Some(prompt.answer_lang),
    })
}

fn human(
    model: &LoadedModel,
    asked: &Asked,
    g: &Generation,
    extracted: &str,
    scores: Option<&[Score; 2]>,
    steps: bool,
) -> String {
    let mut out = format!(
        "# {} · {} · {} · {:?} · {}\n# {} · {} prompt tokens\n",
        model.name,
        model.config.family,
        model.describe_device(),
        model.dtype,
        if model.is_chat() {
            "chat template"
        } else {
            "raw text"
        },
        asked.label,
        asked.ids.len()
    );
    if steps {
        for (i, step) in g.steps.iter().enumerate() {
            let alts: Vec<String> = step
                .top
                .iter()
                .map(|t| format!("{} {:.3}", t.piece, t.prob))
                .collect();
            out.push_str(&format!(
                "{i:>4} {:<16} | {}\n",
                step.piece,
                alts.join(" · ")
            ));
        }
    }
    out.push_str(&format!("generated: {:?}\n", g.text));
    out.push_str(&format!("answer:    {extracted:?}\n"));
    if !asked.gold.is_empty() {
        out.push_str(&format!("gold:      {:?}\n", asked.gold));
    }
    if let Some(scores) = scores {
        for s in scores {
            out.push_str(&format!("{s}\n"));
        }
    }
    out.push_str(&format!(
        "stop: {:?} after {} tokens · load {:.0} ms · prefill {:.0} tok/s · decode {:.1} tok/s\n",
        g.stop,
        g.ids.len(),
        model.load_ms,
        g.timings.prefill_tokens_per_s,
        g.timings.decode_tokens_per_s
    ));
    out
}
