//! `xmrc-lens samples`: list samples in one language.

use super::data_args::DataArgs;
use super::write_out;
use crate::data::Lang;
use anyhow::{Context, Result};
use clap::Args;
use serde::Serialize;
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

#[derive(Debug, Args)]
pub struct SamplesArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// Language to show the question and answer in.
    #[arg(long, default_value = "en")]
    pub lang: Lang,
    /// How many samples to list.
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
    /// Index of the first sample to list.
    #[arg(long, default_value_t = 0)]
    pub offset: usize,
    /// One JSON object per line instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Serialize)]
struct Row<'a> {
    index: usize,
    id: &'a str,
    article: usize,
    title: &'a str,
    lang: Lang,
    question: &'a str,
    answers: Vec<&'a str>,
}

pub fn run(args: &SamplesArgs) -> Result<()> {
    let data = args.data.load()?;
    if !data.has_lang(args.lang) {
        anyhow::bail!(
            "language {} is not in {} (it has: {})",
            args.lang,
            data.source,
            data.langs
                .iter()
                .map(|l| l.code())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let mut out = String::new();
    if !args.json {
        out.push_str(&format!(
            "{} samples in {} ({}); showing {} from index {}\n",
            data.len(),
            data.source,
            args.lang.english_name(),
            args.limit.min(data.len().saturating_sub(args.offset)),
            args.offset
        ));
    }
    for (index, sample) in data
        .samples
        .iter()
        .enumerate()
        .skip(args.offset)
        .take(args.limit)
    {
        let entry = sample
            .entry(args.lang)
            .with_context(|| format!("sample {} has no {} entry", sample.id, args.lang))?;
        let row = Row {
            index,
            id: &sample.id,
            article: sample.article,
            title: &sample.title,
            lang: args.lang,
            question: &entry.question,
            answers: entry.answers.iter().map(|a| a.text.as_str()).collect(),
        };
        if args.json {
            out.push_str(&serde_json::to_string(&row)?);
        } else {
            out.push_str(&format!(
                "{:>5}  {}  {}  {}  → {}",
                row.index,
                row.id,
                pad(&fit(row.title, 24), 24),
                pad(&fit(row.question, 60), 60),
                fit(&row.answers.join(" | "), 30)
            ));
        }
        out.push('\n');
    }
    write_out(&out)
}

/// Cuts `text` to at most `width` terminal columns (wide CJK characters count twice),
/// on one line, with an ellipsis when cut.
pub fn fit(text: &str, width: usize) -> String {
    let one_line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if UnicodeWidthStr::width(one_line.as_str()) <= width {
        return one_line;
    }
    let mut used = 0;
    let mut out = String::new();
    for c in one_line.chars() {
        let w = c.width().unwrap_or(0);
        if used + w + 1 > width {
            break;
        }
        used += w;
        out.push(c);
    }
    out.push('…');
    out
}

/// Pads to `width` terminal columns (`format!`'s padding counts chars, not columns).
fn pad(text: &str, width: usize) -> String {
    let used = UnicodeWidthStr::width(text);
    format!("{text}{}", " ".repeat(width.saturating_sub(used)))
}

#[cfg(test)]
mod tests {
    use super::{fit, pad};

    #[test]
    fn pad_counts_columns() {
        assert_eq!(pad("ab", 4), "ab  ");
        assert_eq!(pad("中", 4), "中  ");
        assert_eq!(pad("toolong", 3), "toolong");
    }

    #[test]
    fn fit_counts_columns_not_chars() {
        assert_eq!(fit("short", 10), "short");
        assert_eq!(fit("abcdefghij", 5), "abcd…");
        // Each Han character takes two columns.
        assert_eq!(fit("一二三四五", 6), "一二…");
        assert_eq!(fit("line\nbreak", 20), "line break");
    }
}
