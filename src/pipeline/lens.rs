//! The lens stage (METHOD.md, "Language lens"): every level read through the model's head
//! at the step target's position (the last prompt token, or the last token of the answer
//! prefix fed back as input), with `P_en` / `P_x` of the gold answers' first tokens.

use super::run::{elapsed_ms, Run};
use super::{SampleTrace, Stage, TraceInput};
use crate::data::prompt::Scenario;
use crate::data::Lang;
use crate::lens::{gold_first_token, starts_with_space, GoldCurve, LensRows, LensTrace};
use crate::model::decoder::Recording;
use anyhow::Result;
use std::time::Instant;

/// Top tokens kept per level.
pub const LENS_TOP_K: usize = 5;

impl Run<'_, '_> {
    pub(super) fn lens(&mut self, trace: &mut SampleTrace) -> Result<()> {
        if !self.options.lens {
            return Ok(());
        }
        let Some(target) = &trace.target else {
            return Ok(());
        };
        let Some(step) = target.step_id() else {
            return Ok(());
        };
        self.check_cancel()?;
        self.stage(Stage::Lens);
        let t = Instant::now();
        let mut input = self.ids.clone();
        input.extend(target.prefix_ids());
        let position = input.len() - 1;
        let rec = self.recording_of(&input)?;
        let forward_ms = elapsed_ms(t);
        let read = Instant::now();
        let decoder = &self.ctx.model.decoder;
        let rows = LensRows::new(&decoder.lens_logits(&rec, position)?)?;
        // Relevance and the hidden states start from this forward: nothing runs twice.
        self.recording = Some(rec);
        let tokenizer = &self.ctx.model.tokenizer;
        let lens = rows.read(step, LENS_TOP_K, tokenizer)?;
        let leading_space = starts_with_space(&lens.generated_piece);
        let curve = |lang: Lang, answer: &str| -> Result<Option<GoldCurve>> {
            let Some(token) = gold_first_token(tokenizer, answer, leading_space)? else {
                return Ok(None);
            };
            let (prob, rank) = rows.curve(token)?;
            Ok(Some(GoldCurve {
                lang,
                answer: answer.trim().to_string(),
                token,
                piece: tokenizer.display_piece(token),
                prob,
                rank,
            }))
        };
        let (en, x) = gold_answers(self.input);
        let p_en = match &en {
            Some(answer) => curve(Lang::En, answer)?,
            None => None,
        };
        let mut p_x = match &x {
            Some((lang, answer)) => curve(*lang, answer)?,
            None => None,
        };
        let same_first_token = matches!((&p_en, &p_x), (Some(e), Some(x)) if e.token == x.token);
        if same_first_token {
            p_x = None;
        }
        trace.lens = Some(LensTrace {
            position,
            lens,
            p_en,
            p_x,
            same_first_token,
            forward_ms,
            read_ms: elapsed_ms(read),
        });
        trace.timings.lens_ms = Some(elapsed_ms(t));
        self.partial(trace);
        Ok(())
    }

    /// A recording of `input`: the one at hand when it covers `input` (or extended when it
    /// holds its start), else a new forward.
    fn recording_of(&mut self, input: &[u32]) -> Result<Recording> {
        let decoder = &self.ctx.model.decoder;
        let cancel = self.ctx.cancel;
        match self.recording.take() {
            Some(rec) if rec.ids.starts_with(input) => Ok(rec),
            Some(rec) if input.starts_with(&rec.ids) => {
                let seen = rec.len();
                decoder.record_extend(rec, &input[seen..], cancel)
            }
            _ => decoder.record_until(input, cancel),
        }
    }
}

/// The sample's first English gold answer and, in en-x and x-x, its first gold answer in
/// language x (XQuAD is parallel: every sample has both). None for free text.
fn gold_answers(input: &TraceInput) -> (Option<String>, Option<(Lang, String)>) {
    let TraceInput::Sample {
        data,
        index,
        options,
    } = input
    else {
        return (None, None);
    };
    let Some(sample) = data.get(*index) else {
        return (None, None);
    };
    let first = |lang: Lang| {
        sample
            .entry(lang)
            .and_then(|e| e.answers.first())
            .map(|a| a.text.clone())
    };
    let lang = options.setting.lang;
    let x = match options.setting.scenario {
        Scenario::EnEn => None,
        _ if lang == Lang::En => None,
        _ => first(lang).map(|answer| (lang, answer)),
    };
    (first(Lang::En), x)
}
