//! `xmrc-lens score FILE.jsonl`: score predictions stored one JSON object per line.
//!
//! Input line: `{"prediction": "...", "answers": [...], "lang": "de", ...}` where `answers` is a
//! list of strings or SQuAD-style `{"text": ..., "answer_start": ...}` objects and `lang` is the
//! *answer* language (it picks the MLQA rules). Every other field is kept, in its order.
//! Output line: the same object plus `"squad": {"f1", "em"}` and `"mlqa": {"f1", "em"}` (x100;
//! a field of that name already present is replaced in place), and `"extracted"` when the
//! prediction is first passed through [`extract_answer`]. For el, ro, ru, th and tr the `mlqa`
//! object also carries `"extension": true`: MLQA has no rules for them and the project's
//! extension applies. Blank lines are skipped; a malformed line stops the run with an error
//! that names the line.

use super::extract::extract_answer;
use super::normalize::Normalizer;
use super::score::{score_both, Score};
use crate::data::Lang;
use anyhow::{anyhow, bail, Context};
use serde::Serialize;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::fmt;
use std::io::{BufRead, Write};

/// How a prediction file is scored.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScoreFileOptions {
    /// Apply [`extract_answer`] to each prediction first (raw generations in the file).
    pub extract: bool,
}

/// Mean F1 and EM (x100) of a group of lines under one normaliser.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct MeanScore {
    pub f1: f64,
    pub em: f64,
}

/// Count and mean scores of a group of lines, under both normalisers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct GroupSummary {
    pub count: usize,
    pub squad: MeanScore,
    pub mlqa: MeanScore,
}

/// What a scored file adds up to: all lines, and per answer language.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ScoreSummary {
    pub overall: GroupSummary,
    pub per_lang: BTreeMap<Lang, GroupSummary>,
}

/// Scores every line of `input` and writes the scored objects to `output`, one per line.
pub fn score_jsonl(
    input: impl BufRead,
    mut output: impl Write,
    opts: &ScoreFileOptions,
) -> anyhow::Result<ScoreSummary> {
    let mut overall = Totals::default();
    let mut per_lang: BTreeMap<Lang, Totals> = BTreeMap::new();
    for (index, line) in input.lines().enumerate() {
        let line_no = index + 1;
        let line = line.with_context(|| format!("line {line_no}: cannot be read as UTF-8 text"))?;
        if line.trim().is_empty() {
            continue;
        }
        let (scored, lang, scores) =
            score_line(&line, opts).with_context(|| format!("line {line_no}"))?;
        serde_json::to_writer(&mut output, &Value::Object(scored))
            .and_then(|()| writeln!(output).map_err(serde_json::Error::io))
            .with_context(|| format!("writing the scored line {line_no}"))?;
        overall.add(&scores);
        per_lang.entry(lang).or_default().add(&scores);
    }
    output.flush().context("flushing the scored output")?;
    Ok(ScoreSummary {
        overall: overall.summary(),
        per_lang: per_lang
            .into_iter()
            .map(|(lang, totals)| (lang, totals.summary()))
            .collect(),
    })
}

/// The scored object of one input line, its answer language and its scores.
fn score_line(
    line: &str,
    opts: &ScoreFileOptions,
) -> anyhow::Result<(Map<String, Value>, Lang, [Score; 2])> {
    let value: Value = serde_json::from_str(line).context("not valid JSON")?;
    let Value::Object(mut object) = value else {
        bail!(
            "expected a JSON object with `prediction`, `answers` and `lang`, found {}",
            describe(&value)
        );
    };
    let prediction = string_field(&object, "prediction")?;
    let golds = gold_answers(&object)?;
    let lang: Lang = string_field(&object, "lang")?
        .parse()
        .context("field `lang` must be the answer language's code")?;
    let scored_text = if opts.extract {
        let extracted = extract_answer(&prediction);
        object.insert("extracted".to_string(), Value::String(extracted.clone()));
        extracted
    } else {
        prediction
    };
    let scores = score_both(&scored_text, &golds, lang);
    for score in &scores {
        let mut fields = json!({ "f1": score.f1, "em": score.em });
        if score.normalizer.is_project_extension(lang) {
            fields["extension"] = Value::Bool(true);
        }
        object.insert(score.normalizer.name().to_string(), fields);
    }
    Ok((object, lang, scores))
}

fn string_field(object: &Map<String, Value>, name: &str) -> anyhow::Result<String> {
    match object.get(name) {
        Some(Value::String(text)) => Ok(text.clone()),
        Some(other) => bail!("field `{name}` must be a string, found {}", describe(other)),
        None => bail!("missing field `{name}` (a string)"),
    }
}

/// `answers` as a list of strings or of `{text, answer_start}` objects.
fn gold_answers(object: &Map<String, Value>) -> anyhow::Result<Vec<String>> {
    let items = match object.get("answers") {
        Some(Value::Array(items)) => items,
        Some(other) => bail!(
            "field `answers` must be a list of strings or of {{text, answer_start}} objects, found {}",
            describe(other)
        ),
        None => bail!("missing field `answers` (a list of gold answer strings)"),
    };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| match item {
            Value::String(text) => Ok(text.clone()),
            Value::Object(answer) => match answer.get("text") {
                Some(Value::String(text)) => Ok(text.clone()),
                _ => Err(anyhow!(
                    "field `answers` item {} is an object without a string `text`",
                    i + 1
                )),
            },
            other => Err(anyhow!(
                "field `answers` item {} must be a string or a {{text, answer_start}} object, found {}",
                i + 1,
                describe(other)
            )),
        })
        .collect()
}

/// A JSON value's kind, for error messages.
fn describe(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// Running sums, in [`Normalizer::ALL`] order.
#[derive(Default)]
struct Totals {
    count: usize,
    f1: [f64; 2],
    em: [f64; 2],
}

impl Totals {
    fn add(&mut self, scores: &[Score; 2]) {
        self.count += 1;
        for (i, score) in scores.iter().enumerate() {
            self.f1[i] += score.f1;
            self.em[i] += score.em;
        }
    }

    fn summary(&self) -> GroupSummary {
        let mean = |i: usize| {
            if self.count == 0 {
                return MeanScore::default();
            }
            let n = self.count as f64;
            MeanScore {
                f1: self.f1[i] / n,
                em: self.em[i] / n,
            }
        };
        GroupSummary {
            count: self.count,
            squad: mean(0),
            mlqa: mean(1),
        }
    }
}

impl fmt::Display for ScoreSummary {
    /// A small table: one row per answer language, then all lines; a star marks the languages
    /// whose `mlqa` scores follow the project's extension.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.overall.count == 0 {
            return writeln!(f, "no lines scored");
        }
        writeln!(
            f,
            "{:<5} {:>6} {:>9} {:>9} {:>9} {:>9}",
            "lang", "n", "squad F1", "squad EM", "mlqa F1", "mlqa EM"
        )?;
        let mut any_extension = false;
        for (lang, group) in &self.per_lang {
            let extension = Normalizer::Mlqa.is_project_extension(*lang);
            any_extension |= extension;
            let label = format!("{}{}", lang.code(), if extension { "*" } else { "" });
            write_row(f, &label, group)?;
        }
        write_row(f, "all", &self.overall)?;
        if any_extension {
            writeln!(
                f,
                "* mlqa has no rules for el, ro, ru, th, tr: project extension (no articles; th one token per character)"
            )?;
        }
        Ok(())
    }
}

fn write_row(f: &mut fmt::Formatter<'_>, label: &str, group: &GroupSummary) -> fmt::Result {
    writeln!(
        f,
        "{:<5} {:>6} {:>9.2} {:>9.2} {:>9.2} {:>9.2}",
        label, group.count, group.squad.f1, group.squad.em, group.mlqa.f1, group.mlqa.em
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(input: &str, opts: &ScoreFileOptions) -> anyhow::Result<(Vec<Value>, ScoreSummary)> {
        let mut out = Vec::new();
        let summary = score_jsonl(input.as_bytes(), &mut out, opts)?;
        let text = String::from_utf8(out)?;
        let lines = text
            .lines()
            .map(serde_json::from_str)
            .collect::<Result<Vec<Value>, _>>()?;
        Ok((lines, summary))
    }

    #[test]
    fn round_trip_keeps_every_field_in_order() {
        let input = concat!(
            r#"{"id":"q1","prediction":"The Rhine","meta":{"k":[1,2]},"answers":["Rhine"],"lang":"en","z":null}"#,
            "\n\n",
            r#"{"lang":"de","answers":[{"text":"der Rhein","answer_start":4}],"prediction":"Rhein","id":"q2"}"#,
            "\n"
        );
        let (lines, summary) = run(input, &ScoreFileOptions::default()).unwrap();
        assert_eq!(lines.len(), 2);
        let keys: Vec<&str> = lines[0]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            [
                "id",
                "prediction",
                "meta",
                "answers",
                "lang",
                "z",
                "squad",
                "mlqa"
            ]
        );
        assert_eq!(lines[0]["meta"], json!({"k": [1, 2]}));
        assert_eq!(lines[0]["squad"], json!({"f1": 100.0, "em": 100.0}));
        // German articles only count under mlqa.
        let squad_f1 = lines[1]["squad"]["f1"].as_f64().unwrap();
        assert!((squad_f1 - 100.0 * 2.0 / 3.0).abs() < 1e-9, "{squad_f1}");
        assert_eq!(lines[1]["squad"]["em"], 0.0);
        assert_eq!(lines[1]["mlqa"], json!({"f1": 100.0, "em": 100.0}));
        assert_eq!(lines[1]["answers"][0]["answer_start"], 4);
        assert_eq!(summary.overall.count, 2);
        assert_eq!(
            summary.overall.mlqa,
            MeanScore {
                f1: 100.0,
                em: 100.0
            }
        );
        assert_eq!(summary.per_lang[&Lang::De].squad.em, 0.0);
        assert!(lines[0].get("extracted").is_none());
    }

    #[test]
    fn extraction_is_applied_and_shown() {
        let input =
            r#"{"prediction":"Answer: **1876**\nQuestion: next?","answers":["1876"],"lang":"th"}"#;
        let opts = ScoreFileOptions { extract: true };
        let (lines, summary) = run(input, &opts).unwrap();
        assert_eq!(lines[0]["extracted"], "1876");
        assert_eq!(lines[0]["squad"], json!({"f1": 100.0, "em": 100.0}));
        assert_eq!(lines[0]["mlqa"]["extension"], true);
        let table = summary.to_string();
        assert!(table.contains("th*"), "{table}");
        assert!(table.contains("project extension"), "{table}");
        assert!(
            table
                .lines()
                .any(|l| l.starts_with("all") && l.contains("100.00")),
            "{table}"
        );
    }

    #[test]
    fn malformed_lines_name_the_line_and_the_problem() {
        let good = r#"{"prediction":"a","answers":["a"],"lang":"en"}"#;
        let cases = [
            ("{not json", "not valid JSON"),
            ("[1, 2]", "expected a JSON object"),
            (
                r#"{"answers":["a"],"lang":"en"}"#,
                "missing field `prediction`",
            ),
            (
                r#"{"prediction":3,"answers":["a"],"lang":"en"}"#,
                "`prediction` must be a string, found a number",
            ),
            (
                r#"{"prediction":"a","answers":"a","lang":"en"}"#,
                "`answers` must be a list",
            ),
            (
                r#"{"prediction":"a","answers":["a",{"answer_start":1}],"lang":"en"}"#,
                "item 2 is an object without a string `text`",
            ),
            (
                r#"{"prediction":"a","answers":[null],"lang":"en"}"#,
                "item 1 must be a string",
            ),
            (
                r#"{"prediction":"a","answers":["a"],"lang":"fr"}"#,
                "unknown language 'fr'",
            ),
            (
                r#"{"prediction":"a","answers":["a"]}"#,
                "missing field `lang`",
            ),
        ];
        for (bad, expected) in cases {
            let input = format!("{good}\n\n{bad}\n{good}\n");
            let err = run(&input, &ScoreFileOptions::default()).unwrap_err();
            let message = format!("{err:#}");
            assert!(message.starts_with("line 3: "), "{message}");
            assert!(message.contains(expected), "{message}");
        }
    }

    #[test]
    fn empty_input_summarises_to_nothing() {
        let (lines, summary) = run("\n  \n", &ScoreFileOptions::default()).unwrap();
        assert!(lines.is_empty());
        assert_eq!(summary.overall, GroupSummary::default());
        assert_eq!(summary.to_string(), "no lines scored\n");
    }
}
