//! What another model changed, over a whole run: for results holding two or more models (a
//! base model and its instruct twin, say), the mean part MRD difference of every other model
//! against the first, over the units both ran (same sample, scenario, language, shots,
//! format and target): the run-level view of `trace --compare`'s per-sample diff.

use super::table::{Cell, Table};
use crate::attribution::relevance::TargetMode;
use crate::batch::UnitRecord;
use crate::data::prompt::{Format, Part, Scenario};
use crate::data::Lang;
use std::collections::BTreeMap;

/// A row of the table: shots, format, target, scenario, language.
type Row = (u8, Format, TargetMode, Scenario, Lang);

/// What a unit is, whichever model ran it.
type Place = (u8, Format, TargetMode, Scenario, Lang, String);

fn place(u: &UnitRecord) -> Place {
    let s = &u.key.setting;
    (
        s.shots,
        s.format,
        u.key.target,
        s.scenario,
        s.lang,
        u.key.sample.clone(),
    )
}

/// One (model pair, setting, scenario, language) row: units both models ran with MRDs, and
/// the mean `MRD_B - MRD_A` per content part over those that have the part.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelDelta {
    pub model_a: String,
    pub model_b: String,
    pub shots: u8,
    pub format: Format,
    pub target: TargetMode,
    pub scenario: Scenario,
    pub lang: Lang,
    pub units: usize,
    pub delta: Vec<(Part, Option<f64>)>,
}

/// Every other model against the first one met in the results, where both have part MRDs.
pub fn model_deltas(units: &[UnitRecord]) -> Vec<ModelDelta> {
    let mut models: Vec<&str> = Vec::new();
    for u in units.iter().filter(|u| u.mrd.is_some()) {
        if !models.contains(&u.key.model.as_str()) {
            models.push(&u.key.model);
        }
    }
    let Some((&first, others)) = models.split_first() else {
        return Vec::new();
    };
    let of = |model: &str| -> BTreeMap<Place, &UnitRecord> {
        units
            .iter()
            .filter(|u| u.key.model == model && u.mrd.is_some())
            .map(|u| (place(u), u))
            .collect()
    };
    let base = of(first);
    let mut out = Vec::new();
    for &other in others {
        let mut sums: BTreeMap<Row, (Vec<(f64, usize)>, usize)> = BTreeMap::new();
        for (p, b) in of(other) {
            let Some(a) = base.get(&p) else {
                continue;
            };
            let (Some(ma), Some(mb)) = (&a.mrd, &b.mrd) else {
                continue;
            };
            // Per part (sum of deltas, units with the part), and the units.
            let entry = sums
                .entry((p.0, p.1, p.2, p.3, p.4))
                .or_insert_with(|| (vec![(0.0, 0); Part::CONTENT.len()], 0));
            entry.1 += 1;
            for (i, part) in Part::CONTENT.iter().enumerate() {
                if let (Some(x), Some(y)) = (ma.get(*part), mb.get(*part)) {
                    entry.0[i].0 += y as f64 - x as f64;
                    entry.0[i].1 += 1;
                }
            }
        }
        for ((shots, format, target, scenario, lang), (parts, n)) in sums {
            out.push(ModelDelta {
                model_a: first.to_string(),
                model_b: other.to_string(),
                shots,
                format,
                target,
                scenario,
                lang,
                units: n,
                delta: Part::CONTENT
                    .iter()
                    .zip(parts)
                    .map(|(&part, (sum, k))| (part, (k > 0).then(|| sum / k as f64)))
                    .collect(),
            });
        }
    }
    out
}

/// The table (None with fewer than two models).
pub fn table(deltas: &[ModelDelta]) -> Option<Table> {
    if deltas.is_empty() {
        return None;
    }
    let mut columns: Vec<String> = [
        "model A", "model B", "shots", "format", "target", "scenario", "lang", "units",
    ]
    .map(String::from)
    .to_vec();
    columns.extend(Part::CONTENT.iter().map(|p| format!("Δ{}", p.name())));
    let mut t = Table::new(
        "mrd_model_diff",
        "What another model changed: part MRD, model B minus model A",
        "Mean over the units both models ran (same sample, scenario, language, shots, format \
         and target) of MRD_B - MRD_A per part; model A is the first model of the results. \
         Per sample and per token, `xmrc-lens trace --model A --compare B` aligns the two \
         prompts and subtracts the relevance itself."
            .to_string(),
        columns,
    );
    for d in deltas {
        let mut cells = vec![
            Cell::text(&d.model_a),
            Cell::text(&d.model_b),
            Cell::Count(usize::from(d.shots)),
            Cell::text(d.format.name()),
            Cell::text(d.target.name()),
            Cell::text(d.scenario.name()),
            Cell::text(d.lang.code()),
            Cell::Count(d.units),
        ];
        cells.extend(d.delta.iter().map(|(_, v)| Cell::Num(*v)));
        t.rows.push(cells);
    }
    Some(t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::synthetic::fixture_shard;

    #[test]
    fn a_second_model_one_layer_deeper_in_the_context_gives_plus_one() {
        let (units, _) = fixture_shard(0..4).unwrap();
        assert!(
            model_deltas(&units).is_empty(),
            "one model: nothing to compare"
        );
        let mut twin = units.clone();
        for u in &mut twin {
            u.key.model = "twin".into();
            if let Some(m) = &mut u.mrd {
                for p in &mut m.parts {
                    if p.part == Part::Context {
                        p.mrd = p.mrd.map(|v| v + 1);
                    }
                }
            }
        }
        // The twin only ran samples 0..2.
        twin.retain(|u| u.index < 2);
        let mut all = units.clone();
        all.extend(twin);
        let deltas = model_deltas(&all);
        assert!(!deltas.is_empty());
        for d in &deltas {
            assert_eq!((d.model_b.as_str(), d.units), ("twin", 2));
            for (part, v) in &d.delta {
                match part {
                    Part::Context => assert_eq!(*v, Some(1.0)),
                    Part::Demo1 | Part::Demo2 | Part::System => {}
                    _ => assert_eq!(*v, Some(0.0), "{part:?}"),
                }
            }
        }
        let t = table(&deltas).unwrap();
        assert_eq!(t.rows.len(), deltas.len());
    }
}
