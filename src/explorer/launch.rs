//! What `explore` was asked for, and how a reopened session fills in what was not asked.

use super::session::Session;
use super::state::DEMO_MODEL_LABEL;
use super::worker::Slot;
use crate::data::request::DataRequest;
use crate::model::spec::ModelSpec;
use anyhow::{Context, Result};
use std::path::PathBuf;

/// Which model the explorer opens.
#[derive(Clone, Debug)]
pub enum ModelChoice {
    /// `--model`: a failure is shown as an error, never replaced.
    Given(ModelSpec),
    /// No `--model`: the default, or the demo model when it cannot be had.
    Default(ModelSpec),
    /// `--demo`.
    Demo,
}

/// Everything `explore` was asked for.
#[derive(Clone, Debug)]
pub struct Launch {
    pub model: ModelChoice,
    pub compare: Option<ModelSpec>,
    pub data: DataRequest,
    /// `--demo`: the bundled demo set whatever else is there.
    pub demo_data: bool,
    /// `--data` or XMRC_LENS_DATA: a failure is an error, not a reason for the demo set.
    pub data_given: bool,
    pub session: Option<PathBuf>,
    pub cache_entries: usize,
    pub cache_bytes: usize,
}

impl Launch {
    /// A session reopens with its own data source unless `--data`/`--demo` say otherwise;
    /// returns what was taken, for the footer. A folder that is gone makes the data load
    /// fail, and the session then opens in replay mode.
    pub(super) fn take_data_from(&mut self, session: &Session) -> Option<String> {
        if self.data_given || self.demo_data {
            return None;
        }
        let source = session.data_source.as_str();
        if let Some(dir) = source.strip_prefix("local folder ") {
            self.data.data = Some(PathBuf::from(dir));
            self.data_given = true;
        } else if let Some(repo) = source.strip_prefix("hub ") {
            self.data.hub_dataset = repo.to_string();
        } else if source == "demo set" {
            self.demo_data = true;
        } else {
            return None;
        }
        Some(format!("data: the session's {source}"))
    }

    /// A session reopens with its own models unless others are given on the command line.
    /// A saved model that can no longer be named (its folder is gone) is not an error: the
    /// reason is returned and the session opens in replay mode.
    pub(super) fn take_models_from(&mut self, session: &Session) -> Option<String> {
        self.take_saved_models(session)
            .err()
            .map(|e| format!("{e:#}"))
    }

    fn take_saved_models(&mut self, session: &Session) -> Result<()> {
        let template = match &self.model {
            ModelChoice::Given(spec) | ModelChoice::Default(spec) => spec.clone(),
            ModelChoice::Demo => return Ok(()),
        };
        let spec_of = |source: &str| -> Result<ModelSpec> {
            Ok(ModelSpec {
                model: source
                    .parse()
                    .with_context(|| format!("the session's model {source}"))?,
                ..template.clone()
            })
        };
        let saved = |slot: Slot| session.models.iter().find(|m| m.slot == slot);
        if let (ModelChoice::Default(_), Some(m)) = (&self.model, saved(Slot::Primary)) {
            self.model = if m.source == DEMO_MODEL_LABEL {
                ModelChoice::Demo
            } else {
                ModelChoice::Given(spec_of(&m.source)?)
            };
        }
        if self.compare.is_none() {
            if let Some(m) = saved(Slot::Compare) {
                self.compare = Some(spec_of(&m.source)?);
            }
        }
        Ok(())
    }
}
