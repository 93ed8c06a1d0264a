//! `xmrc-lens prompt`: build one sample's prompt and show its parts (and tokens).

use super::sample_args::{flag, SampleArgs};
use super::{use_colour, write_out};
use crate::data::prompt::{build_prompt, tokenize_prompt, Part, Prompt};
use crate::hf::chat_template::ChatTemplate;
use crate::hf::tokenizer::Tokenizer;
use crate::model::gguf::GgufModel;
use crate::model::source::is_gguf_path;
use anyhow::{Context, Result};
use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct PromptArgs {
    #[command(flatten)]
    pub which: SampleArgs,
    /// A local model folder (its chat template, from tokenizer_config.json /
    /// chat_template.jinja, wraps the prompt, and its tokenizer.json gives the tokens), or a
    /// GGUF file (its `tokenizer.chat_template` and vocabulary).
    #[arg(long, value_name = "DIR|FILE.gguf")]
    pub model: Option<PathBuf>,
    /// Force the chat template on (instruct) or off (base model, raw text).
    #[arg(long, overrides_with = "no_chat")]
    pub chat: bool,
    #[arg(long, overrides_with = "chat")]
    pub no_chat: bool,
    /// Also list the tokens with their parts (needs --model or --tokenizer).
    #[arg(long)]
    pub tokens: bool,
    /// A tokenizer.json to use instead of the model folder's.
    #[arg(long, value_name = "FILE")]
    pub tokenizer: Option<PathBuf>,
    /// Print only the exact prompt text.
    #[arg(long, conflicts_with = "json")]
    pub plain: bool,
    /// Print the prompt, its part spans and (with --tokens) its tokens as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: &PromptArgs) -> Result<()> {
    let (data, index) = args.which.load()?;
    let template = load_template(args)?;
    let opts = args.which.options();
    let prompt = build_prompt(&data, index, &opts, template.as_ref())?;
    let tokenizer = load_tokenizer(args)?;
    let tokens = match (&tokenizer, args.tokens || args.json) {
        (Some(tok), true) => Some(tokenize_prompt(&prompt, tok)?),
        (None, _) if args.tokens => {
            anyhow::bail!("--tokens needs a tokenizer: pass --model DIR or --tokenizer FILE")
        }
        _ => None,
    };
    let out = if args.plain {
        prompt.text.clone()
    } else if args.json {
        let mut value = serde_json::to_value(&prompt)?;
        if let (Some(map), Some(tokens)) = (value.as_object_mut(), &tokens) {
            map.insert("tokens".into(), serde_json::to_value(tokens)?);
        }
        serde_json::to_string_pretty(&value)? + "\n"
    } else {
        let mut text = annotated(&prompt, use_colour());
        if let Some(tokens) = &tokens {
            text.push_str(&format!("\n── tokens ({}) ──\n", tokens.len()));
            for (i, t) in tokens.iter().enumerate() {
                text.push_str(&format!(
                    "{i:>5} {:>7}  {:<8} {}\n",
                    t.id,
                    t.part.label(),
                    t.piece
                ));
            }
        }
        text
    };
    write_out(&out)
}

fn load_template(args: &PromptArgs) -> Result<Option<ChatTemplate>> {
    let wants = flag(args.chat, args.no_chat);
    if wants == Some(false) {
        return Ok(None);
    }
    let template = match &args.model {
        Some(file) if is_gguf_path(file) => GgufModel::open(file)?.chat_template()?,
        Some(dir) => ChatTemplate::from_model_dir(dir)
            .with_context(|| format!("reading the chat template of {}", dir.display()))?,
        None => None,
    };
    if wants == Some(true) && template.is_none() {
        anyhow::bail!(
            "--chat needs a chat template: pass --model DIR of a folder whose tokenizer_config.json has \
             `chat_template` (or that holds chat_template.jinja)"
        );
    }
    Ok(template)
}

fn load_tokenizer(args: &PromptArgs) -> Result<Option<Tokenizer>> {
    let path = match (&args.tokenizer, &args.model) {
        (Some(file), _) => file.clone(),
        (None, Some(file)) if is_gguf_path(file) => {
            return GgufModel::open(file)?.tokenizer().map(Some);
        }
        (None, Some(dir)) => dir.join("tokenizer.json"),
        (None, None) => return Ok(None),
    };
    if !path.exists() && args.tokenizer.is_none() && !args.tokens && !args.json {
        return Ok(None);
    }
    Tokenizer::from_file(&path).map(Some)
}

/// The prompt with a header line before every part and the gold answer marked. Blank lines
/// at a part's edges are left out (the headers separate the parts), and a markup span of
/// blank lines only is not shown at all.
pub fn annotated(prompt: &Prompt, colour: bool) -> String {
    let mut out = format!(
        "# sample {} · {} · {} shots · {} · answer in {}{}\n",
        prompt.sample_id,
        prompt.options.setting.scenario,
        prompt.options.setting.shots,
        prompt.options.setting.format,
        prompt.answer_lang.english_name(),
        if prompt.chat {
            " · chat template"
        } else {
            " · raw text"
        }
    );
    let chars: Vec<char> = prompt.text.chars().collect();
    let gold = prompt
        .gold
        .first()
        .map(|a| (a.start, a.start + a.text.chars().count()));
    for span in &prompt.spans {
        let (on, off) = if colour {
            (part_colour(span.part), "\x1b[0m")
        } else {
            ("", "")
        };
        let blank = chars[span.start.min(chars.len())..span.end.min(chars.len())]
            .iter()
            .all(|c| c.is_whitespace());
        if blank && span.part == Part::Markup {
            continue;
        }
        out.push_str(&format!("{on}── {} ──{off}\n", span.part.label()));
        let mut text = String::new();
        for (i, c) in chars.iter().enumerate().take(span.end).skip(span.start) {
            if let Some((g0, g1)) = gold {
                if i == g0 {
                    text.push_str(if colour { "\x1b[7m" } else { "" });
                }
                if i == g1 && colour {
                    text.push_str("\x1b[27m");
                }
            }
            text.push(*c);
        }
        let text = text.trim_matches(['\n', '\r']);
        out.push_str(text);
        if !text.ends_with('\n') {
            out.push('\n');
        }
    }
    out
}

fn part_colour(part: Part) -> &'static str {
    match part {
        Part::System => "\x1b[2m",
        Part::Task => "\x1b[36m",
        Part::Demo1 | Part::Demo2 => "\x1b[35m",
        Part::Context => "\x1b[32m",
        Part::Question => "\x1b[33m",
        Part::Trailer => "\x1b[34m",
        Part::Markup => "\x1b[90m",
        Part::AnswerPrefix => "\x1b[31m",
    }
}
