//! Explorer sessions: models, options, bookmarks and every finished trace, saved as one
//! versioned JSON file under `sessions/`. A session reopens live (with its models) or, when
//! they cannot be had, in replay mode over the saved traces and the samples they came from.

use crate::atomic_file::write_atomically;
use crate::attribution::relevance::TargetMode;
use crate::data::prompt::Setting;

use crate::data::sample::{Dataset, Sample};
use crate::data::Lang;
use crate::explorer::worker::{Slot, TraceKey};
use crate::pipeline::{ModelIdentity, SampleTrace};
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Version of the session layout; unknown versions are refused with a message, never misread.
/// Version 2 sessions hold version-3 traces (markup labelled, answer-span targets); a
/// version-1 session still opens, its traces shown with the labels and targets they were
/// computed with.
pub const SESSION_VERSION: u32 = 2;

/// The oldest session version this xmrc-lens opens.
pub const OLDEST_SESSION_VERSION: u32 = 1;

/// Where `w` saves sessions, relative to the working directory.
pub const SESSIONS_DIR: &str = "sessions";

/// What the explorer shows: the sample and the prompt options.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Selection {
    /// Index into the data set.
    pub sample: usize,
    /// Scenario, language x (ignored in en-en), shots and format.
    #[serde(flatten)]
    pub setting: Setting,
    pub target: TargetMode,
}

impl Default for Selection {
    fn default() -> Self {
        Selection {
            sample: 0,
            setting: Setting::default(),
            target: TargetMode::Step,
        }
    }
}

/// A model of the session: what was asked for, and what it turned out to be.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SessionModel {
    pub slot: Slot,
    /// Hub id or folder, as given on the command line.
    pub source: String,
    pub identity: Option<ModelIdentity>,
}

/// A marked sample with the user's note.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bookmark {
    pub sample: usize,
    pub sample_id: String,
    /// The setting it was marked in (sessions before shots and format were kept read them
    /// as 0-shot v1).
    #[serde(flatten)]
    pub setting: Setting,
    pub note: String,
}

/// A sample the session refers to, kept so that replay needs no data set.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedSample {
    pub index: usize,
    /// Typed in the explorer's form rather than taken from XQuAD.
    pub custom: bool,
    pub sample: Sample,
}

/// A finished trace; shared with the app's cache, so saving copies no matrices.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SavedTrace {
    pub key: TraceKey,
    pub trace: Arc<SampleTrace>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Session {
    pub version: u32,
    pub name: String,
    /// Seconds since the Unix epoch.
    pub saved_at: u64,
    /// Where the samples came from ("local folder ...", "hub ...", "demo set").
    pub data_source: String,
    pub models: Vec<SessionModel>,
    pub selection: Selection,
    pub bookmarks: Vec<Bookmark>,
    pub samples: Vec<SavedSample>,
    pub traces: Vec<SavedTrace>,
}

/// A session opened without its models: a data set of the saved samples and the traces
/// and bookmarks re-indexed into it.
pub struct Replay {
    pub data: Dataset,
    pub traces: Vec<SavedTrace>,
    pub bookmarks: Vec<Bookmark>,
    pub selection: Selection,
    /// Positions of custom samples in `data`.
    pub custom: Vec<usize>,
}

impl Session {
    /// The path `w` writes for `name`: `sessions/<name>.json`, the name reduced to
    /// characters safe in a file name.
    pub fn path_for(name: &str) -> PathBuf {
        Path::new(SESSIONS_DIR).join(format!("{}.json", file_stem(name)))
    }

    /// `path` when no file is there, else the first free `<stem>-2.json`, `<stem>-3.json`...:
    /// saving never silently replaces another session.
    pub fn unused_path(path: &Path) -> PathBuf {
        if !path.exists() {
            return path.to_path_buf();
        }
        let stem = path
            .file_stem()
            .map_or_else(|| "session".into(), |s| s.to_string_lossy().into_owned());
        (2u32..)
            .map(|n| path.with_file_name(format!("{stem}-{n}.json")))
            .find(|p| !p.exists())
            .unwrap_or_else(|| path.to_path_buf())
    }

    /// Writes the session atomically (temporary file, then rename), creating its folder.
    pub fn save(&self, path: &Path) -> Result<()> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("creating the sessions folder {}", dir.display()))?;
        }
        write_atomically(path, |w| {
            serde_json::to_writer(&mut *w, self)?;
            writeln!(w)?;
            Ok(())
        })
        .with_context(|| format!("saving the session to {}", path.display()))
    }

    pub fn load(path: &Path) -> Result<Session> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the session {}", path.display()))?;
        Self::parse(&text).with_context(|| format!("session {}", path.display()))
    }

    /// Parses a session, checking the version before the layout so an old or newer file
    /// gets a clear message rather than a field error.
    pub fn parse(text: &str) -> Result<Session> {
        let value: serde_json::Value =
            serde_json::from_str(text).context("not a JSON session file")?;
        match value.get("version").and_then(serde_json::Value::as_u64) {
            Some(v)
                if (u64::from(OLDEST_SESSION_VERSION)..=u64::from(SESSION_VERSION))
                    .contains(&v) => {}
            Some(v) => {
                bail!(
                    "session format version {v}; this xmrc-lens reads versions \
                     {OLDEST_SESSION_VERSION} to {SESSION_VERSION}"
                )
            }
            None => bail!("no session format version: not an xmrc-lens session"),
        }
        let session: Session = serde_json::from_value(value).context("damaged session")?;
        session.check()?;
        Ok(session)
    }

    /// Every trace and bookmark must name a saved sample, or replay could not show it.
    fn check(&self) -> Result<()> {
        let known: BTreeMap<usize, &SavedSample> =
            self.samples.iter().map(|s| (s.index, s)).collect();
        for t in &self.traces {
            if !known.contains_key(&t.key.sample) {
                bail!(
                    "trace {} names sample #{} which the session does not hold",
                    t.key,
                    t.key.sample
                );
            }
        }
        for b in &self.bookmarks {
            if !known.contains_key(&b.sample) {
                bail!(
                    "bookmark on sample #{} which the session does not hold",
                    b.sample
                );
            }
        }
        Ok(())
    }

    /// The session as a self-contained data set for replay mode.
    pub fn into_replay(self) -> Replay {
        let mut samples = self.samples;
        samples.sort_by_key(|s| s.index);
        samples.dedup_by_key(|s| s.index);
        let position: BTreeMap<usize, usize> = samples
            .iter()
            .enumerate()
            .map(|(pos, s)| (s.index, pos))
            .collect();
        let at = |index: usize| position.get(&index).copied().unwrap_or(0);
        let custom = samples
            .iter()
            .enumerate()
            .filter(|(_, s)| s.custom)
            .map(|(pos, _)| pos)
            .collect();
        let mut langs: Vec<Lang> = Lang::ALL.to_vec();
        for s in &samples {
            langs.retain(|l| s.sample.entries.contains_key(l));
        }
        let data = Dataset {
            source: format!("session {} (replay)", self.name),
            langs,
            samples: samples.into_iter().map(|s| s.sample).collect(),
        };
        let traces = self
            .traces
            .into_iter()
            .map(|mut t| {
                t.key.sample = at(t.key.sample);
                t
            })
            .collect();
        let bookmarks = self
            .bookmarks
            .into_iter()
            .map(|mut b| {
                b.sample = at(b.sample);
                b
            })
            .collect();
        let selection = Selection {
            sample: at(self.selection.sample),
            ..self.selection
        };
        Replay {
            data,
            traces,
            bookmarks,
            selection,
            custom,
        }
    }
}

/// Keeps letters, digits, `-`, `_` and `.`; anything else becomes `_`; never empty.
/// File names are limited to 255 bytes on common file systems: a longer session name is cut
/// (on a character boundary) so that saving cannot fail on the name's length.
const MAX_STEM_BYTES: usize = 120;

fn file_stem(name: &str) -> String {
    let stem: String = name
        .trim()
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut stem = stem.trim_start_matches('.').to_string();
    if stem.len() > MAX_STEM_BYTES {
        let mut cut = MAX_STEM_BYTES;
        while !stem.is_char_boundary(cut) {
            cut -= 1;
        }
        stem.truncate(cut);
    }
    if stem.is_empty() {
        "session".to_string()
    } else {
        stem
    }
}

/// Seconds since the Unix epoch (0 if the clock is before it).
pub fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::sample::{Answer, Entry};

    fn sample(id: &str) -> Sample {
        let entry = Entry {
            context: "Paris is in France.".into(),
            question: "Where is Paris?".into(),
            answers: vec![Answer {
                text: "France".into(),
                start: 12,
            }],
        };
        Sample {
            id: id.into(),
            article: 0,
            title: "Paris".into(),
            entries: [(Lang::En, entry.clone()), (Lang::De, entry)].into(),
            custom: false,
        }
    }

    fn session() -> Session {
        Session {
            version: SESSION_VERSION,
            name: "t".into(),
            saved_at: 1,
            data_source: "test".into(),
            models: vec![],
            selection: Selection {
                sample: 40,
                ..Selection::default()
            },
            bookmarks: vec![Bookmark {
                sample: 40,
                sample_id: "b".into(),
                setting: Setting::default(),
                note: "look".into(),
            }],
            samples: vec![
                SavedSample {
                    index: 40,
                    custom: false,
                    sample: sample("b"),
                },
                SavedSample {
                    index: 3,
                    custom: true,
                    sample: sample("a"),
                },
            ],
            traces: vec![],
        }
    }

    #[test]
    fn bookmarks_without_shots_and_format_read_as_the_main_setting() {
        let old =
            r#"{"sample": 3, "sample_id": "x", "scenario": "x-x", "lang": "zh", "note": "n"}"#;
        let b: Bookmark = serde_json::from_str(old).unwrap();
        assert_eq!(b.setting.scenario, crate::data::prompt::Scenario::XX);
        assert_eq!(b.setting.lang, crate::data::Lang::Zh);
        assert_eq!(
            (b.setting.shots, b.setting.format),
            (0, crate::data::prompt::Format::V1)
        );
        // Written flat, as before, now with shots and format.
        let json = serde_json::to_string(&b).unwrap();
        assert_eq!(
            json,
            r#"{"sample":3,"sample_id":"x","scenario":"x-x","lang":"zh","shots":0,"format":"v1","note":"n"}"#
        );
    }

    #[test]
    fn names_become_safe_paths() {
        assert_eq!(
            Session::path_for("my run"),
            Path::new("sessions/my_run.json")
        );
        assert_eq!(Session::path_for("../x"), Path::new("sessions/_x.json"));
        assert_eq!(Session::path_for("  "), Path::new("sessions/session.json"));
        assert_eq!(Session::path_for("德语"), Path::new("sessions/德语.json"));
    }

    #[test]
    fn save_and_load_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/s.json");
        let s = session();
        s.save(&path).unwrap();
        assert_eq!(Session::load(&path).unwrap(), s);
        // Saving again replaces the file whole; no temporary file is left behind.
        s.save(&path).unwrap();
        let entries = std::fs::read_dir(path.parent().unwrap()).unwrap().count();
        assert_eq!(entries, 1);
    }

    #[test]
    fn other_versions_are_refused_clearly() {
        let mut v = serde_json::to_value(session()).unwrap();
        v["version"] = 99.into();
        let err = Session::parse(&v.to_string()).unwrap_err();
        assert!(format!("{err:#}").contains("version 99"), "{err:#}");
        assert!(format!("{err:#}").contains("versions 1 to 2"), "{err:#}");
        v["version"] = 0.into();
        assert!(Session::parse(&v.to_string()).is_err());
        let err = Session::parse("{}").unwrap_err();
        assert!(format!("{err:#}").contains("not an xmrc-lens session"));
        let err = Session::parse("[1,").unwrap_err();
        assert!(format!("{err:#}").contains("not a JSON"));
    }

    #[test]
    fn an_existing_session_file_is_never_the_unused_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kenya.json");
        assert_eq!(Session::unused_path(&path), path);
        std::fs::write(&path, "{}").unwrap();
        assert_eq!(Session::unused_path(&path), dir.path().join("kenya-2.json"));
        std::fs::write(dir.path().join("kenya-2.json"), "{}").unwrap();
        assert_eq!(Session::unused_path(&path), dir.path().join("kenya-3.json"));
    }

    #[test]
    fn a_very_long_name_still_gives_a_file_name_that_can_be_written() {
        let dir = tempfile::tempdir().unwrap();
        let name = "ü".repeat(300);
        let path = dir.path().join(Session::path_for(&name));
        let stem = path.file_stem().unwrap().to_str().unwrap();
        assert!(stem.len() <= MAX_STEM_BYTES && stem.chars().all(|c| c == 'ü'));
        session().save(&path).unwrap();
        assert!(path.exists());
    }

    #[test]
    fn version_one_sessions_still_open() {
        let mut v = serde_json::to_value(session()).unwrap();
        v["version"] = 1.into();
        let parsed = Session::parse(&v.to_string()).unwrap();
        assert_eq!(parsed.version, 1);
    }

    #[test]
    fn a_bookmark_on_a_missing_sample_is_refused() {
        let mut s = session();
        s.bookmarks[0].sample = 7;
        let err = Session::parse(&serde_json::to_string(&s).unwrap()).unwrap_err();
        assert!(format!("{err:#}").contains("#7"), "{err:#}");
    }

    #[test]
    fn replay_reindexes_samples_in_order() {
        let replay = session().into_replay();
        let ids: Vec<&str> = replay.data.samples.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, ["a", "b"]);
        assert_eq!(replay.selection.sample, 1);
        assert_eq!(replay.bookmarks[0].sample, 1);
        assert_eq!(replay.custom, [0]);
        assert_eq!(replay.data.langs, [Lang::En, Lang::De]);
    }
}
