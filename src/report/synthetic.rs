//! Seeded synthetic results files: the committed test fixture (small, with figures chosen so
//! that means and groups can be checked by hand) and large files for `bench --report`.
//!
//! Units carry every analysis (`eval --analyses all`): scores, labels, part MRD, per-level
//! cosine to the en-en run, oracle verdict; each results file gets its pool sidecar, built
//! with the real [`ReferencePool`] from made-up hidden-state summaries.

use crate::attribution::mrd::{PartDepth, PartMrd};
use crate::attribution::relevance::TargetMode;
use crate::batch::record::{F1Em, LensSummary, OracleVerdict, UnitScores};
use crate::batch::results_file::write_pool;
use crate::batch::{
    Analyses, PoolFile, PoolKey, ResultLine, RunHeader, RunSettings, UnitKey, UnitRecord,
    RESULTS_VERSION,
};
use crate::data::prompt::Setting;
use crate::data::prompt::{Format, Part, Scenario};
use crate::data::Lang;
use crate::eval::gen_error::{GenerationError, GenerationLabel, Judge};
use crate::pipeline::{Labels, ModelIdentity, StageTimings};
use crate::similarity::{HiddenSummary, PerPart, SimPart};
use anyhow::{Context, Result};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// The settings every synthetic file shares (so shards merge without `--allow-mixed`).
pub fn settings() -> RunSettings {
    RunSettings {
        analyses: Analyses {
            relevance: true,
            similarity: true,
            oracle: true,
            lens: true,
        },
        device: "cpu".into(),
        dtype: "f32".into(),
        ..RunSettings::default()
    }
}

fn header(shard: Option<String>) -> RunHeader {
    RunHeader {
        version: RESULTS_VERSION,
        settings: settings(),
        shard,
        tool: "xmrc-lens synthetic".into(),
    }
}

/// What one synthetic unit looks like; the rest is filled in by [`unit`].
struct Spec<'a> {
    model: &'a str,
    layers: usize,
    sample: usize,
    scenario: Scenario,
    lang: Lang,
    shots: u8,
    format: Format,
    f1: f64,
    language_error: Option<bool>,
    error: Option<GenerationError>,
    /// Token MRD per part in `Part::ALL` order.
    mrd: [usize; 7],
    /// Cosine to en-en per part and level (None in en-en).
    similarity: Option<PerPart<Vec<f64>>>,
    oracle: Option<(bool, bool)>,
    lens: Option<LensSummary>,
}

pub fn sample_id(k: usize) -> String {
    format!("q{k:04}")
}

fn unit(s: Spec) -> UnitRecord {
    let answer = match s.error {
        Some(GenerationError::Blank) => String::new(),
        Some(GenerationError::Refusal) => "I cannot answer that.".into(),
        Some(GenerationError::Gibberish) => "zq zq zq zq".into(),
        None => format!("answer {}", s.f1),
    };
    let pair = F1Em {
        f1: s.f1,
        em: if s.f1 >= 100.0 { 100.0 } else { 0.0 },
    };
    let question_lang = if s.scenario == Scenario::EnEn {
        Lang::En
    } else {
        s.lang
    };
    let answer_lang = if s.scenario == Scenario::XX {
        s.lang
    } else {
        Lang::En
    };
    UnitRecord {
        key: UnitKey {
            model: s.model.into(),
            sample: sample_id(s.sample),
            setting: Setting {
                scenario: s.scenario,
                lang: s.lang,
                shots: s.shots,
                format: s.format,
            },
            target: TargetMode::Step,
        },
        index: s.sample,
        title: format!("Article {}", s.sample / 5),
        question_lang,
        answer_lang,
        generation: format!("Answer: {answer}"),
        answer,
        gold: vec!["gold answer".into()],
        scores: UnitScores {
            squad: pair,
            mlqa: pair,
        },
        labels: Labels {
            detected_lang: None,
            language_error: s.language_error,
            generation: GenerationLabel {
                error: s.error,
                judge: Judge::Rules,
                reason: s.error.map_or("answer".into(), |e| e.name().to_string()),
            },
            judge: None,
        },
        mrd: Some(PartMrd {
            parts: Part::ALL
                .iter()
                .zip(s.mrd)
                .filter(|(p, _)| s.shots > 0 || !matches!(p, Part::Demo1 | Part::Demo2))
                .map(|(&part, mrd)| PartDepth {
                    part,
                    tokens: 10,
                    mrd: Some(mrd),
                })
                .collect(),
            counted_layers: s.layers - 1,
        }),
        similarity: s.similarity,
        oracle: s.oracle.map(|(step, sequence)| OracleVerdict {
            sentences: 5,
            gold_sentence: Some(0),
            step_rank_of_gold: Some(if step { 1 } else { 2 }),
            sequence_rank_of_gold: Some(if sequence { 1 } else { 2 }),
            step_correct: Some(step),
            sequence_correct: Some(sequence),
        }),
        model: ModelIdentity {
            name: s.model.into(),
            family: "llama".into(),
            architecture: "LlamaForCausalLM".into(),
            layers: s.layers,
            hidden_size: 2,
            vocab_size: 128_256,
            device: "cpu".into(),
            dtype: "f32".into(),
            chat: true,
            weight_bytes: 0,
            gguf: None,
        },
        prompt_tokens: 900,
        timings: StageTimings::default(),
        target: None,
        lens: s.lens,
    }
}

/// Writes a results file (header, then units) and its pool sidecar.
pub fn write_file(
    path: &Path,
    shard: Option<String>,
    units: &[UnitRecord],
    pool: &PoolFile,
) -> Result<()> {
    let file =
        std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut w = BufWriter::new(file);
    for line in std::iter::once(ResultLine::Run(Box::new(header(shard))))
        .chain(units.iter().map(|u| ResultLine::Unit(Box::new(u.clone()))))
    {
        serde_json::to_writer(&mut w, &line)?;
        w.write_all(b"\n")?;
    }
    w.flush()
        .with_context(|| format!("writing {}", path.display()))?;
    write_pool(path, pool)
}

// ---- The fixture ----------------------------------------------------------------------------

/// The fixture's model: the paper's LLaMA-3.1-Instruct-8B by hub id, 8 layers.
pub const FIXTURE_MODEL: &str = "meta-llama/Llama-3.1-8B-Instruct";
const FIXTURE_LAYERS: usize = 8;
/// en-x / x-x languages of the fixture.
pub const FIXTURE_LANGS: [Lang; 3] = [Lang::De, Lang::Zh, Lang::Ar];
/// v1 F1 per sample: en-en, then en-x de, zh, ar. Samples 0 and 3 are balanced, 1 and 2
/// en-superior.
pub const FIXTURE_EN_X_F1: [[f64; 4]; 4] = [
    [100.0, 80.0, 60.0, 100.0],
    [100.0, 0.0, 0.0, 30.0],
    [80.0, 60.0, 0.0, 20.0],
    [60.0, 100.0, 100.0, 75.0],
];
/// x-x F1 per sample: de, zh, ar.
pub const FIXTURE_X_X_F1: [[f64; 3]; 4] = [
    [90.0, 70.0, 50.0],
    [40.0, 20.0, 0.0],
    [100.0, 50.0, 0.0],
    [70.0, 60.0, 80.0],
];

/// Index of a fixture language (en 0, de 1, zh 2, ar 3).
fn lang_index(lang: Lang) -> usize {
    FIXTURE_LANGS
        .iter()
        .position(|&l| l == lang)
        .map_or(0, |i| i + 1)
}

/// The fixture's cosine to en-en: 0.3 + 0.05 k + 0.04 level + 0.02 lang index, +0.1 for the
/// context, -0.1 for the last token, -0.1 in x-x.
pub fn fixture_cosine(
    k: usize,
    lang: Lang,
    scenario: Scenario,
    part: SimPart,
    level: usize,
) -> f64 {
    let part_offset = match part {
        SimPart::Question => 0.0,
        SimPart::Context => 0.1,
        SimPart::Last => -0.1,
    };
    let scenario_offset = if scenario == Scenario::XX { -0.1 } else { 0.0 };
    0.3 + 0.05 * k as f64
        + 0.04 * level as f64
        + 0.02 * lang_index(lang) as f64
        + part_offset
        + scenario_offset
}

/// The fixture's lens over `levels` levels: `P_en(l) = 0.01 (k + 1) + 0.08 l / L`, and,
/// outside en-en, `P_x(l) = 0.02 + 0.05 l / L` times the language index; sample 3 in de
/// begins both gold answers with the same token (no `P_x`). Decision level `L - k`.
pub fn fixture_lens(k: usize, lang: Lang, scenario: Scenario, levels: usize) -> LensSummary {
    let last = (levels - 1).max(1) as f32;
    let p_en: Vec<f32> = (0..levels)
        .map(|l| 0.01 * (k + 1) as f32 + 0.08 * l as f32 / last)
        .collect();
    let same = scenario != Scenario::EnEn && lang == Lang::De && k == 3;
    let p_x: Option<Vec<f32>> = (scenario != Scenario::EnEn && !same).then(|| {
        (0..levels)
            .map(|l| (0.02 + 0.05 * l as f32 / last) * lang_index(lang) as f32)
            .collect()
    });
    let decision_level = (levels - 1).saturating_sub(k);
    let ranks =
        |p: &[f32]| -> Vec<usize> { p.iter().map(|&v| if v > 0.1 { 1 } else { 5 }).collect() };
    LensSummary {
        decision_level,
        generated_rank: (0..levels)
            .map(|l| if l >= decision_level { 1 } else { 3 })
            .collect(),
        rank_en: Some(ranks(&p_en)),
        rank_x: p_x.as_deref().map(ranks),
        p_en: Some(p_en),
        p_x,
        same_first_token: same,
    }
}

/// Sample k's pooled vector: the unit vector at k x 30 degrees (so the pool's mean pairwise
/// cosine over samples 0-3 is (3 cos 30 + 2 cos 60 + cos 90) / 6).
fn fixture_summary(k: usize, levels: usize) -> HiddenSummary {
    let angle = (k as f32 * 30.0).to_radians();
    let v = vec![angle.cos(), angle.sin()];
    HiddenSummary {
        layers: vec![PerPart::from_fn(|_| v.clone()); levels],
    }
}

/// The fixture units and pools of samples `samples`, both formats (v2 answers en-x worse).
pub fn fixture_shard(samples: std::ops::Range<usize>) -> Result<(Vec<UnitRecord>, PoolFile)> {
    let levels = FIXTURE_LAYERS + 1;
    let mut units = Vec::new();
    let mut pool = PoolFile::new();
    for format in Format::ALL {
        for k in samples.clone() {
            let f1 = FIXTURE_EN_X_F1[k];
            let mut cases = vec![(Scenario::EnEn, Lang::En, f1[0])];
            for (i, &lang) in FIXTURE_LANGS.iter().enumerate() {
                let x = if format == Format::V2 {
                    f1[i + 1] / 2.0
                } else {
                    f1[i + 1]
                };
                cases.push((Scenario::EnX, lang, x));
            }
            for (i, &lang) in FIXTURE_LANGS.iter().enumerate() {
                cases.push((Scenario::XX, lang, FIXTURE_X_X_F1[k][i]));
            }
            for (scenario, lang, f1) in cases {
                let li = lang_index(lang);
                let error = match (scenario, lang, k) {
                    (Scenario::EnX, Lang::Zh, 1) => Some(GenerationError::Blank),
                    (Scenario::EnX, Lang::Zh, 2) => Some(GenerationError::Refusal),
                    (Scenario::EnX, Lang::Ar, 1) => Some(GenerationError::Gibberish),
                    _ => None,
                };
                let similarity = (scenario != Scenario::EnEn).then(|| {
                    PerPart::from_fn(|part| {
                        (0..levels)
                            .map(|l| fixture_cosine(k, lang, scenario, part, l))
                            .collect()
                    })
                });
                if scenario != Scenario::EnEn {
                    let key = PoolKey {
                        model: FIXTURE_MODEL.into(),
                        scenario,
                        shots: 2,
                        format,
                    };
                    pool.entry(&key)
                        .add(lang, &sample_id(k), &fixture_summary(k, levels))?;
                }
                units.push(unit(Spec {
                    model: FIXTURE_MODEL,
                    layers: FIXTURE_LAYERS,
                    sample: k,
                    scenario,
                    lang,
                    shots: 2,
                    format,
                    f1,
                    language_error: (scenario == Scenario::EnX).then_some(f1 == 0.0),
                    error,
                    // Context deeper in later samples and languages, so that the groups differ.
                    mrd: [1, 2, 3, 3, (1 + k * k / 2 + li).min(7), 7 - (k % 2), 7],
                    similarity,
                    oracle: (scenario != Scenario::XX).then_some((f1 >= 50.0, f1 > 0.0)),
                    lens: Some(fixture_lens(k, lang, scenario, levels)),
                }));
            }
        }
    }
    Ok((units, pool))
}

/// Writes the fixture as two shards, `results.1.jsonl` (samples 0-1) and `results.2.jsonl`
/// (samples 2-3), with their sidecars.
pub fn write_fixture(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut paths = Vec::new();
    for (i, samples) in [(1, 0..2), (2, 2..4)] {
        let (units, pool) = fixture_shard(samples)?;
        let path = dir.join(format!("results.{i}.jsonl"));
        write_file(&path, Some(format!("{i}/2")), &units, &pool)?;
        paths.push(path);
    }
    Ok(paths)
}

// ---- Benchmark files ------------------------------------------------------------------------

/// Levels of the benchmark's model (24 decoder layers, as Qwen2.5-0.5B).
pub const BENCH_LEVELS: usize = 25;
/// Hidden size of the benchmark's pool vectors (kept small: the sidecar's size grows with it,
/// the unit lines do not).
pub const BENCH_HIDDEN: usize = 64;

/// Writes `lines` unit lines (2 models x 2 formats x up to 1190 samples x 23 units) with
/// random but plausible figures into one results file under `dir`, with its pool sidecar.
pub fn write_bench(dir: &Path, lines: usize, seed: u64) -> Result<PathBuf> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let path = dir.join("bench.jsonl");
    let file =
        std::fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?;
    let mut w = BufWriter::new(file);
    serde_json::to_writer(&mut w, &ResultLine::Run(Box::new(header(None))))?;
    w.write_all(b"\n")?;
    let mut pool = PoolFile::new();
    let langs = &Lang::ALL[1..];
    let mut written = 0;
    'all: for model in ["bench/model-a", "bench/model-b"] {
        for format in Format::ALL {
            for k in 0..1190 {
                let skill: f64 = rng.random_range(0.0..1.0);
                let mut cases = vec![(Scenario::EnEn, Lang::En)];
                cases.extend(langs.iter().map(|&l| (Scenario::EnX, l)));
                cases.extend(langs.iter().map(|&l| (Scenario::XX, l)));
                for (scenario, lang) in cases {
                    if written == lines {
                        break 'all;
                    }
                    let f1 = if rng.random_bool(skill) {
                        rng.random_range(50.0..=100.0)
                    } else {
                        rng.random_range(0.0..50.0)
                    };
                    let error = match rng.random_range(0..100) {
                        0 => Some(GenerationError::Blank),
                        1 => Some(GenerationError::Refusal),
                        2 => Some(GenerationError::Gibberish),
                        _ => None,
                    };
                    let similarity = (scenario != Scenario::EnEn).then(|| {
                        PerPart::from_fn(|_| {
                            (0..BENCH_LEVELS)
                                .map(|l| 0.5 + 0.015 * l as f64 + rng.random_range(-0.1..0.1))
                                .collect()
                        })
                    });
                    if scenario != Scenario::EnEn {
                        let key = PoolKey {
                            model: model.into(),
                            scenario,
                            shots: 2,
                            format,
                        };
                        let summary = HiddenSummary {
                            layers: (0..BENCH_LEVELS)
                                .map(|_| {
                                    PerPart::from_fn(|_| {
                                        (0..BENCH_HIDDEN)
                                            .map(|_| rng.random_range(-1.0f32..1.0))
                                            .collect()
                                    })
                                })
                                .collect(),
                        };
                        pool.entry(&key).add(lang, &sample_id(k), &summary)?;
                    }
                    let mut mrd = [0usize; 7];
                    for m in &mut mrd {
                        *m = rng.random_range(1..BENCH_LEVELS - 1);
                    }
                    let record = unit(Spec {
                        model,
                        layers: BENCH_LEVELS - 1,
                        sample: k,
                        scenario,
                        lang,
                        shots: 2,
                        format,
                        f1,
                        language_error: (scenario == Scenario::EnX).then(|| rng.random_bool(0.05)),
                        error,
                        mrd,
                        similarity,
                        oracle: (scenario != Scenario::XX)
                            .then(|| (rng.random_bool(0.8), rng.random_bool(0.85))),
                        lens: Some(fixture_lens(k % 4, lang, scenario, BENCH_LEVELS)),
                    });
                    serde_json::to_writer(&mut w, &ResultLine::Unit(Box::new(record)))?;
                    w.write_all(b"\n")?;
                    written += 1;
                }
            }
        }
    }
    w.flush()
        .with_context(|| format!("writing {}", path.display()))?;
    write_pool(&path, &pool)?;
    Ok(path)
}
