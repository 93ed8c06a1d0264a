//! Session conversion: the explorer's state as a session file, and a saved session put
//! back over freshly loaded data.

use super::effect::Effect;
use super::session::SESSION_VERSION;
use super::session::{now_unix, Bookmark, SavedSample, SavedTrace, Session, SessionModel};
use super::state::Explorer;
use std::collections::BTreeSet;
use std::sync::Arc;

/// Puts a saved session back over freshly loaded data: samples found by id (custom ones
/// appended), the selection, bookmarks and every saved trace whose sample is there.
pub fn restore_session(ex: &mut Explorer, session: &Session) -> Vec<Effect> {
    let mut effects = Vec::new();
    let mut data = (*ex.data).clone();
    let mut added = false;
    let mut index_of = std::collections::HashMap::new();
    for saved in &session.samples {
        let at = match data.position_of(&saved.sample.id) {
            Some(at) => at,
            None if saved.custom => {
                // Sessions written before samples carried the flag: say it again.
                let mut sample = saved.sample.clone();
                sample.custom = true;
                data.samples.push(sample);
                added = true;
                data.samples.len() - 1
            }
            None => continue,
        };
        if saved.custom && !ex.custom.contains(&at) {
            ex.custom.push(at);
        }
        index_of.insert(saved.index, at);
    }
    if added {
        let data = Arc::new(data);
        ex.data = Arc::clone(&data);
        effects.push(Effect::SetData(data));
    }
    let mut missing = 0;
    for saved in &session.traces {
        match index_of.get(&saved.key.sample) {
            Some(&at) if saved.key.slot.index() < ex.models.len() => {
                let mut key = saved.key.clone();
                key.sample = at;
                ex.cache.insert(key, Arc::clone(&saved.trace));
            }
            _ => missing += 1,
        }
    }
    ex.bookmarks = session
        .bookmarks
        .iter()
        .filter_map(|b| {
            index_of.get(&b.sample).map(|&at| Bookmark {
                sample: at,
                ..b.clone()
            })
        })
        .collect();
    if let Some(&at) = index_of.get(&session.selection.sample) {
        ex.selection = super::session::Selection {
            sample: at,
            ..session.selection.clone()
        };
    }
    ex.session_name = session.name.clone();
    let restored = session.traces.len() - missing;
    ex.notify(
        if missing == 0 {
            format!("session '{}': {restored} traces restored", session.name)
        } else {
            format!(
                "session '{}': {restored} traces restored, {missing} of samples this data set lacks",
                session.name
            )
        },
        missing > 0,
    );
    effects
}

/// The session as it stands: every cached trace, the samples they and the bookmarks name.
pub fn session_of(ex: &Explorer) -> Session {
    let mut traces: Vec<SavedTrace> = ex
        .cache
        .iter()
        .map(|(key, trace)| SavedTrace {
            key: key.clone(),
            trace: Arc::clone(trace),
        })
        .collect();
    traces.sort_by(|a, b| a.key.cmp(&b.key));
    let indices: BTreeSet<usize> = traces
        .iter()
        .map(|t| t.key.sample)
        .chain(ex.bookmarks.iter().map(|b| b.sample))
        .chain(ex.custom.iter().copied())
        .chain(std::iter::once(ex.selection.sample))
        .filter(|i| *i < ex.data.len())
        .collect();
    let samples = indices
        .into_iter()
        .filter_map(|index| {
            ex.data.get(index).map(|s| SavedSample {
                index,
                custom: ex.is_custom(index),
                sample: s.clone(),
            })
        })
        .collect();
    Session {
        version: SESSION_VERSION,
        name: ex.session_name.clone(),
        saved_at: now_unix(),
        data_source: ex.data.source.clone(),
        models: ex
            .slots()
            .filter_map(|slot| {
                ex.model(slot).map(|m| SessionModel {
                    slot,
                    source: m.source.clone(),
                    identity: m.identity().cloned(),
                })
            })
            .collect(),
        selection: ex.selection.clone(),
        bookmarks: ex.bookmarks.clone(),
        samples,
        traces,
    }
}
