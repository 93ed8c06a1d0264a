//! `xmrc-lens eval`: many samples x languages x scenarios x shots x formats x models through
//! the trace pipeline, one JSON line per finished unit (see README "`xmrc-lens eval`").
//! Re-running the same command resumes; `--shard i/n` splits the work over n processes.

use super::analysis_args::AnalysisArgs;
use super::data_args::DataArgs;
use super::model_args::RunArgs;
use super::sample_args::{flag, PromptExtraArgs};
use crate::batch::runner::{run_eval, EvalJob, EvalObserver, EvalSummary};
use crate::batch::units::{Plan, SampleSelection, Shard, Unit};
use crate::batch::{Analyses, RunSettings, UnitKey, UnitRecord};
use crate::data::prompt::{Format, Scenario};
use crate::data::Lang;
use crate::model::source::ModelRef;
use crate::model::LoadedModel;
use anyhow::{bail, Context, Result};
use clap::Args;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::{BTreeMap, HashSet};
use std::io::IsTerminal;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Models to evaluate, comma-separated (hub ids `org/name[@rev]` or local folders); each
    /// is loaded in turn. The name as given keys its results.
    #[arg(
        long,
        env = "XMRC_LENS_MODEL",
        value_delimiter = ',',
        required = true,
        value_name = "ID|DIR,..."
    )]
    pub models: Vec<ModelRef>,
    #[command(flatten)]
    pub run: RunArgs,
    #[command(flatten)]
    pub data: DataArgs,
    /// Samples: all, the first N, a range a..b (0-based, b excluded), or a file with one
    /// question id per line.
    #[arg(long, default_value = "all", value_name = "all|N|a..b|FILE")]
    pub samples: SampleSelection,
    /// Languages x of en-x and x-x, comma-separated (default: the 11 besides English).
    #[arg(long, value_delimiter = ',', value_name = "LANG,...")]
    pub langs: Vec<Lang>,
    /// Scenarios, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "en-en,en-x,x-x")]
    pub scenarios: Vec<Scenario>,
    /// Numbers of demonstrations, comma-separated (0 and/or 2; the paper's tables are 2-shot).
    #[arg(long, value_delimiter = ',', default_value = "2")]
    pub shots: Vec<u8>,
    /// Prompt formats, comma-separated (v1, v2).
    #[arg(long, value_delimiter = ',', default_value = "v1")]
    pub formats: Vec<Format>,
    /// What runs besides the answer and its labels: relevance (AttnLRP + MRD), similarity,
    /// oracle, lens (the language lens), or all; comma-separated.
    #[arg(long, default_value = "answer")]
    pub analyses: Analyses,
    #[command(flatten)]
    pub analysis: AnalysisArgs,
    #[command(flatten)]
    pub prompt: PromptExtraArgs,
    /// The results file (JSON Lines), appended to and resumed; the reference pools of
    /// similarity go beside it in FILE.pool.json.
    #[arg(long, default_value = "results.jsonl", value_name = "FILE")]
    pub out: PathBuf,
    /// Run shard i of n (0-based): the k-th selected sample goes to shard k mod n. Give
    /// every shard its own --out.
    #[arg(long, value_name = "i/n")]
    pub shard: Option<Shard>,
    /// Rewrite the reference-pool file after this many units.
    #[arg(long, default_value_t = 50, value_name = "N")]
    pub pool_every: usize,
    /// Log a unit that fails and go on (default: stop at the first failure).
    #[arg(long)]
    pub keep_going: bool,
    /// Generate the answers of this many consecutive units together (one left-padded
    /// batch per decoding step); the analyses then run unit by unit. Worth it on a GPU.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub batch: usize,
    /// Print the plan (units per model, language and scenario; already done) and exit.
    #[arg(long)]
    pub dry_run: bool,
}

impl EvalArgs {
    fn settings(&self) -> RunSettings {
        let a = &self.analysis;
        RunSettings {
            analyses: self.analyses,
            max_new_tokens: a.max_new_tokens,
            stop: a.stop,
            rules: a.rules,
            mrd_threshold: a.mrd_threshold,
            mrd_layers: a.mrd_layers,
            ablation: a.ablation(),
            seed: self.prompt.seed,
            answer_cue: flag(self.prompt.answer_cue, self.prompt.no_answer_cue),
            system: self.prompt.system.clone(),
            judge: a.judge.clone(),
            device: self.run.device.to_string(),
            dtype: self.run.dtype.to_string(),
            chat: format!("{:?}", self.run.chat_mode()).to_lowercase(),
            explain: a.explain,
        }
    }

    fn langs(&self) -> Vec<Lang> {
        if self.langs.is_empty() {
            Lang::ALL.into_iter().filter(|&l| l != Lang::En).collect()
        } else {
            self.langs.clone()
        }
    }
}

pub fn run(args: &EvalArgs) -> Result<()> {
    let data = args.data.load()?;
    let samples = args.samples.resolve(&data)?;
    let plan = Plan {
        models: args.models.iter().map(ToString::to_string).collect(),
        samples,
        scenarios: args.scenarios.clone(),
        langs: args.langs(),
        shots: args.shots.clone(),
        formats: args.formats.clone(),
        target: args.analysis.target,
        shard: args.shard,
    };
    plan.check(&data)?;
    if args.dry_run {
        return print_plan(&plan, &data, args);
    }
    let cancel = super::cancel_on_ctrl_c("[eval] stopping after the current unit");
    let judge = match &args.analysis.judge {
        Some(name) => {
            eprintln!("[eval] loading the judge {name}");
            let spec = args.run.spec_for(name.parse()?);
            Some(LoadedModel::load(&spec).context("loading the judge model")?)
        }
        None => None,
    };
    let job = EvalJob {
        data: &data,
        plan: &plan,
        settings: args.settings(),
        trace: args.analysis.trace_options(args.analyses),
        prompt: args.prompt.base(),
        out: args.out.clone(),
        pool_every: args.pool_every,
        keep_going: args.keep_going,
        batch: args.batch.max(1),
        cancel: &cancel,
    };
    let mut load = |name: &str| -> Result<LoadedModel> {
        let model: ModelRef = name.parse()?;
        LoadedModel::load(&args.run.spec_for(model))
    };
    let mut progress = Progress::new();
    let summary = run_eval(&job, &mut load, judge.as_ref(), &mut progress)?;
    progress.finish();
    eprintln!("[eval] {}", describe(&summary, &args.out));
    if summary.cancelled {
        bail!(
            "interrupted: {} unit(s) saved in {}; run the same command again to resume",
            summary.ran,
            args.out.display()
        );
    }
    for (model, error) in &summary.failed_models {
        eprintln!("[eval] model {model} did not load: {error}");
    }
    if summary.failed > 0 {
        bail!(
            "{} unit(s) failed{} (see above); run the same command again to retry them",
            summary.failed,
            match summary.failed_models.len() {
                0 => String::new(),
                n => format!(", {n} model(s) did not load"),
            }
        );
    }
    Ok(())
}

/// The closing line: what ran, how fast, and the loop's overhead beyond the engine.
fn describe(s: &EvalSummary, out: &std::path::Path) -> String {
    let mut line = format!(
        "{} unit(s) run, {} already in {}, {} planned",
        s.ran,
        s.already_done,
        out.display(),
        s.planned
    );
    if s.ran > 0 {
        line.push_str(&format!(
            "; {:.1} s in the loop, {:.1} s in the engine",
            s.loop_ms / 1e3,
            s.engine_ms / 1e3
        ));
        if let Some(o) = s.overhead() {
            line.push_str(&format!(" (eval overhead {:.2} %)", o * 100.0));
        }
        line.push_str(&format!(", {:.1} s loading models", s.load_ms / 1e3));
    }
    if s.pool_repaired > 0 {
        line.push_str(&format!("; {} pooled state(s) recomputed", s.pool_repaired));
    }
    line
}

/// `--dry-run`: units per model x scenario x language, and how many are done.
fn print_plan(plan: &Plan, data: &crate::data::Dataset, args: &EvalArgs) -> Result<()> {
    let done: HashSet<UnitKey> = crate::batch::results_file::read_results(&args.out)?
        .units
        .into_iter()
        .map(|u| u.key)
        .collect();
    let units = plan.units(data);
    let mut counts: BTreeMap<(String, Scenario, Lang), (usize, usize)> = BTreeMap::new();
    for u in &units {
        let c = counts
            .entry((
                u.key.model.clone(),
                u.key.setting.scenario,
                u.key.setting.lang,
            ))
            .or_default();
        c.0 += 1;
        c.1 += usize::from(done.contains(&u.key));
    }
    let mut text = format!(
        "{} unit(s) in this {}: {} sample(s) x shots {:?} x formats {:?}; analyses {}\n",
        units.len(),
        plan.shard
            .map_or("run".to_string(), |s| format!("shard {s}")),
        plan.shard_samples().len(),
        plan.shots,
        plan.formats.iter().map(|f| f.name()).collect::<Vec<_>>(),
        args.analyses
    );
    for ((model, scenario, lang), (n, d)) in counts {
        text.push_str(&format!("{model}\t{scenario}\t{lang}\t{n}\t{d} done\n"));
    }
    super::write_out(&text)
}

/// Progress on stderr: an overall bar and one per language on a terminal; one line per
/// finished unit otherwise (batch logs, e.g. Slurm's).
struct Progress {
    bars: Option<Bars>,
    total: usize,
    finished: usize,
}

struct Bars {
    multi: MultiProgress,
    overall: ProgressBar,
    per_lang: BTreeMap<Lang, ProgressBar>,
}

impl Progress {
    fn new() -> Self {
        Progress {
            bars: None,
            total: 0,
            finished: 0,
        }
    }

    fn finish(&mut self) {
        if let Some(bars) = &self.bars {
            bars.overall.finish();
            for bar in bars.per_lang.values() {
                bar.finish();
            }
        }
    }

    fn println(&self, line: &str) {
        match &self.bars {
            Some(bars) => {
                let _ = bars.multi.println(line);
            }
            None => eprintln!("{line}"),
        }
    }
}

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar())
}

impl EvalObserver for Progress {
    fn planned(&mut self, units: &[Unit], done: &HashSet<UnitKey>) {
        self.total = units.len();
        self.finished = units.iter().filter(|u| done.contains(&u.key)).count();
        eprintln!(
            "[eval] {} unit(s) planned, {} already done",
            self.total, self.finished
        );
        if !std::io::stderr().is_terminal() {
            return;
        }
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
        let overall = multi.add(ProgressBar::new(self.total as u64));
        overall.set_style(style(
            "{prefix:>5} [{bar:40}] {pos}/{len} · {per_sec} · ETA {eta} · {msg}",
        ));
        overall.set_prefix("all");
        overall.set_position(self.finished as u64);
        overall.reset_eta();
        let mut per_lang: BTreeMap<Lang, (u64, u64)> = BTreeMap::new();
        for u in units {
            let c = per_lang.entry(u.key.setting.lang).or_default();
            c.0 += 1;
            c.1 += u64::from(done.contains(&u.key));
        }
        let per_lang = per_lang
            .into_iter()
            .map(|(lang, (n, d))| {
                let bar = multi.add(ProgressBar::new(n));
                bar.set_style(style("{prefix:>5} [{bar:40}] {pos}/{len} · {per_sec}"));
                bar.set_prefix(lang.code());
                bar.set_position(d);
                (lang, bar)
            })
            .collect();
        self.bars = Some(Bars {
            multi,
            overall,
            per_lang,
        });
    }

    fn model_loading(&mut self, model: &str) {
        self.println(&format!("[eval] loading {model}"));
    }

    fn model_loaded(&mut self, model: &LoadedModel) {
        self.println(&format!(
            "[eval] {} · {} layers · {} · {:.0} ms",
            model.name,
            model.config.num_layers,
            model.describe_device(),
            model.load_ms
        ));
    }

    fn unit_finished(&mut self, unit: &Unit, record: &UnitRecord) {
        self.finished += 1;
        let f1 = record.scores.squad.f1;
        match &self.bars {
            Some(bars) => {
                bars.overall.inc(1);
                bars.overall.set_message(format!(
                    "{} {} F1 {f1:.0}",
                    unit.key.setting.scenario, unit.key.setting.lang
                ));
                if let Some(bar) = bars.per_lang.get(&unit.key.setting.lang) {
                    bar.inc(1);
                }
            }
            None => eprintln!(
                "[eval] {}/{} {} · F1 {f1:.1} · {:.0} ms",
                self.finished, self.total, unit.key, record.timings.total_ms
            ),
        }
    }

    fn unit_failed(&mut self, unit: &Unit, error: &anyhow::Error) {
        self.println(&format!("[eval] FAILED {}: {error:#}", unit.key));
    }

    fn note(&mut self, message: &str) {
        self.println(&format!("[eval] {message}"));
    }
}
