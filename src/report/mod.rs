//! `xmrc-lens report`: the paper's tables and figures from `xmrc-lens eval` results files.
//!
//! [`merge`] reads the shards and adds them up, [`aggregate`], [`mrd_groups`] and
//! [`similarity`] and [`lens`] count, [`tables`] lays the counts out in the paper's shapes, [`plots`] draws
//! Figures 3-6, [`paper`] sets the paper's published figures beside ours. [`synthetic`] makes
//! seeded results files for tests and the benchmark; [`bench`] times the report on them.

pub mod aggregate;
pub mod bench;
pub mod lens;
pub mod merge;
pub mod model_diff;
pub mod mrd_groups;
pub mod paper;
pub mod plots;
pub mod similarity;
pub mod synthetic;
pub mod table;
pub mod tables;

use crate::eval::normalize::Normalizer;
use aggregate::{Incorrect, JudgeChoice};
use anyhow::{Context, Result};
use merge::Merged;
use std::path::{Path, PathBuf};
use table::Table;
use tables::{Labelling, RowLabels};

/// What to report and where. The rule for incorrect responses (the error rates' denominator)
/// is [`build_with`]'s argument; [`build`] uses the default, EM = 0.
#[derive(Clone, Debug)]
pub struct ReportOptions {
    pub normalizer: Normalizer,
    /// `None`: the LLM judge when every unit has its label, else the rules.
    pub judge: Option<JudgeChoice>,
    pub paper: bool,
    pub plots: bool,
}

/// The report in memory: report.md's text and every table (one CSV each).
#[derive(Clone, Debug)]
pub struct Report {
    pub markdown: String,
    pub tables: Vec<Table>,
    /// The `--paper` section alone (also inside `markdown`), for stdout.
    pub paper: Option<String>,
    pub groups: Vec<mrd_groups::GroupMrd>,
    pub series: Vec<similarity::SimSeries>,
    pub lens: Vec<lens::LensSeries>,
}

fn normalizer_note(normalizer: Normalizer) -> String {
    match normalizer {
        Normalizer::Squad => {
            "F1/EM under the squad normaliser (the official SQuAD v1.1 rules for every \
             language, the paper's protocol)"
                .to_string()
        }
        Normalizer::Mlqa => "F1/EM under the mlqa normaliser (MLQA rules keyed by the answer \
                              language; el, ro, ru, th and tr follow the project's extension \
                              of them)"
            .to_string(),
    }
}

/// The rule for incorrect responses in words, for every error table's caption.
pub fn incorrect_note(incorrect: Incorrect, normalizer: Normalizer) -> String {
    let rule = format!("{} under the {normalizer} normaliser", incorrect.rule());
    match incorrect {
        Incorrect::Em0 => format!("{rule}: the paper's W set"),
        Incorrect::F1Below(_) => {
            format!("{rule}, by --incorrect {incorrect}; the paper's W set is EM = 0")
        }
    }
}

/// Builds every table from merged results; error rates divide by the incorrect responses
/// under the default rule, EM = 0.
pub fn build(merged: &Merged, options: &ReportOptions) -> Result<Report> {
    build_with(merged, options, Incorrect::default())
}

/// Builds every table from merged results; error rates divide by the responses `incorrect`
/// calls incorrect (`report --incorrect`).
pub fn build_with(
    merged: &Merged,
    options: &ReportOptions,
    incorrect: Incorrect,
) -> Result<Report> {
    let judge = aggregate::resolve_judge(&merged.units, options.judge)?;
    let how = Labelling {
        scores: normalizer_note(options.normalizer),
        judge: format!("generation errors judged by {}", judge.description),
        incorrect: incorrect_note(incorrect, options.normalizer),
    };
    let rows = aggregate::rows(&merged.units, options.normalizer, judge.choice, incorrect);
    let labels = RowLabels::new(rows.iter().map(|r| &r.key));
    let groups = mrd_groups::group_mrds(&merged.units, options.normalizer);
    let series =
        similarity::similarity_series(&merged.units, &merged.pools).context("computing S(en,x)")?;
    let lens = lens::lens_series(&merged.units);

    let units = tables::unit_counts(&rows, &labels);
    let mut shown = vec![
        tables::summary(&rows, &labels, &how, false),
        tables::summary(&rows, &labels, &how, true),
    ];
    shown.extend(tables::scores_per_language(&rows, &labels, &how, false));
    shown.extend(tables::scores_per_language(&rows, &labels, &how, true));
    shown.push(tables::incorrect_counts(&rows, &labels, &how));
    shown.extend(tables::errors_per_language(&rows, &labels, &how));
    shown.extend(tables::oracle(&rows, &labels));
    shown.extend(tables::mrd(&groups, &labels, &how));
    shown.extend(tables::similarity_markdown(&series, &labels));
    shown.extend(tables::lens_decisions(&lens, &labels));
    shown.extend(model_diff::table(&model_diff::model_deltas(&merged.units)));

    let mut md = header(merged, &how);
    md.push_str(&units.markdown());
    md.push_str("## Tables\n\n");
    for t in &shown {
        md.push_str(&t.markdown());
    }
    let paper = if options.paper {
        let comparison = paper::compare(&rows, &how, incorrect)?;
        let mut text = String::from("## Beside the paper\n\n");
        for note in &comparison.notes {
            text.push_str(&format!("- {note}\n"));
        }
        if !comparison.notes.is_empty() {
            text.push('\n');
        }
        if !comparison.table.rows.is_empty() {
            text.push_str(&comparison.table.markdown());
        }
        md.push_str(&text);
        shown.push(comparison.table);
        Some(text)
    } else {
        None
    };
    let mut all = vec![units];
    all.extend(shown);
    all.extend(tables::similarity_csv(&series, &labels));
    all.extend(tables::lens_csv(&lens, &labels));
    Ok(Report {
        markdown: md,
        tables: all,
        paper,
        groups,
        series,
        lens,
    })
}

fn header(merged: &Merged, how: &Labelling) -> String {
    let mut md = String::from("# xmrc-lens report\n\n## Inputs\n\n");
    for input in &merged.inputs {
        let mut notes = vec![format!("{} units", input.units)];
        if let Some(shard) = input.header.as_ref().and_then(|h| h.shard.as_ref()) {
            notes.push(format!("shard {shard}"));
        }
        if input.duplicates > 0 {
            notes.push(format!("{} duplicates dropped", input.duplicates));
        }
        if let Some(torn) = &input.torn {
            notes.push(format!(
                "torn last line {} ({} bytes) dropped",
                torn.line, torn.bytes
            ));
        }
        notes.push(match input.pool {
            None => "no pool sidecar".to_string(),
            Some(p) if p.skipped > 0 => format!(
                "pool sidecar: {} pools merged, {} skipped (all their samples already counted)",
                p.merged, p.skipped
            ),
            Some(p) => format!("pool sidecar: {} pools merged", p.merged),
        });
        md.push_str(&format!(
            "- `{}`: {}\n",
            input.path.display(),
            notes.join(", ")
        ));
    }
    md.push_str(&format!(
        "\n{} units after merging; {} duplicates (same unit, same outcome) dropped.\n\n",
        merged.units.len(),
        merged.duplicates
    ));
    for mixed in &merged.mixed_settings {
        md.push_str(&format!("- Mixed settings (--allow-mixed): {mixed}\n"));
    }
    if !merged.mixed_settings.is_empty() {
        md.push('\n');
    }
    md.push_str(&format!(
        "Scores: {}. Labels: {}. Error rates: shares of {}; \"–\" where a setting has none.\n\n",
        how.scores,
        how.judge,
        how.denominator()
    ));
    md
}

/// Writes report.md, one CSV per table and (with `plots`) the figures under `out`; returns
/// the paths written.
pub fn write(report: &Report, out: &Path, plots: bool) -> Result<Vec<PathBuf>> {
    if out.exists() && !out.is_dir() {
        anyhow::bail!(
            "--out {} is a file; --out names a folder (report.md, one CSV per table and the \
             plots go into it)",
            out.display()
        );
    }
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let mut written = Vec::new();
    let md = out.join("report.md");
    let write = |path: &Path, text: &str| {
        crate::atomic_file::write_atomically(path, |w| Ok(w.write_all(text.as_bytes())?))
    };
    write(&md, &report.markdown)?;
    written.push(md);
    for t in &report.tables {
        let path = out.join(format!("{}.csv", t.id));
        write(&path, &t.csv())?;
        written.push(path);
    }
    if plots {
        written.extend(plots::write_plots(
            out,
            &report.groups,
            &report.series,
            &report.lens,
        )?);
    }
    Ok(written)
}
