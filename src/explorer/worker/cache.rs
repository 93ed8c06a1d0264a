//! `TraceCache`: the app's finished traces, least-recently-used first out, bounded both in
//! entries and in approximate bytes (a long-context trace's relevance matrix alone can weigh
//! megabytes, so a count alone would not bound memory).

use super::job::TraceKey;
use crate::pipeline::SampleTrace;
use std::collections::{BTreeMap, HashMap};
use std::mem::size_of;
use std::sync::Arc;

struct Entry {
    trace: Arc<SampleTrace>,
    bytes: usize,
    /// When last used; also the entry's key in `order`.
    tick: u64,
}

pub struct TraceCache {
    capacity: usize,
    max_bytes: usize,
    entries: HashMap<TraceKey, Entry>,
    /// Recency order: the smallest tick is the least recently used.
    order: BTreeMap<u64, TraceKey>,
    tick: u64,
    bytes: usize,
}

impl TraceCache {
    /// At most `capacity` traces and about `max_bytes` (the newest entry is always kept,
    /// even alone over the budget: it is the one on screen).
    pub fn new(capacity: usize, max_bytes: usize) -> Self {
        TraceCache {
            capacity: capacity.max(1),
            max_bytes,
            entries: HashMap::new(),
            order: BTreeMap::new(),
            tick: 0,
            bytes: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Estimated bytes of all entries.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    pub fn contains(&self, key: &TraceKey) -> bool {
        self.entries.contains_key(key)
    }

    /// The trace without marking it used (for drawing, which must not reorder the cache).
    pub fn peek(&self, key: &TraceKey) -> Option<&Arc<SampleTrace>> {
        self.entries.get(key).map(|e| &e.trace)
    }

    /// Every cached trace, in no particular order (for saving a session).
    pub fn iter(&self) -> impl Iterator<Item = (&TraceKey, &Arc<SampleTrace>)> {
        self.entries.iter().map(|(k, e)| (k, &e.trace))
    }

    fn next_tick(&mut self) -> u64 {
        self.tick += 1;
        self.tick
    }

    /// The trace, now the most recently used.
    pub fn get(&mut self, key: &TraceKey) -> Option<Arc<SampleTrace>> {
        let tick = self.next_tick();
        let entry = self.entries.get_mut(key)?;
        self.order.remove(&entry.tick);
        entry.tick = tick;
        self.order.insert(tick, key.clone());
        Some(Arc::clone(&entry.trace))
    }

    /// Adds (or replaces) a trace and evicts the least recently used until within both
    /// limits. Returns the evicted keys, oldest first.
    pub fn insert(&mut self, key: TraceKey, trace: Arc<SampleTrace>) -> Vec<TraceKey> {
        self.remove(&key);
        let bytes = estimate_bytes(&trace);
        let tick = self.next_tick();
        self.order.insert(tick, key.clone());
        self.entries.insert(key, Entry { trace, bytes, tick });
        self.bytes += bytes;
        let mut evicted = Vec::new();
        while self.entries.len() > 1
            && (self.entries.len() > self.capacity || self.bytes > self.max_bytes)
        {
            let Some((_, oldest)) = self.order.pop_first() else {
                break;
            };
            if let Some(entry) = self.entries.remove(&oldest) {
                self.bytes -= entry.bytes;
            }
            evicted.push(oldest);
        }
        evicted
    }

    pub fn remove(&mut self, key: &TraceKey) -> Option<Arc<SampleTrace>> {
        let entry = self.entries.remove(key)?;
        self.order.remove(&entry.tick);
        self.bytes -= entry.bytes;
        Some(entry.trace)
    }

    /// Keeps only the entries `keep` accepts (e.g. drop a slot whose model was replaced).
    pub fn retain(&mut self, mut keep: impl FnMut(&TraceKey, &SampleTrace) -> bool) {
        let gone: Vec<TraceKey> = self
            .entries
            .iter()
            .filter(|(k, e)| !keep(k, &e.trace))
            .map(|(k, _)| k.clone())
            .collect();
        for key in gone {
            self.remove(&key);
        }
    }
}

/// Approximate heap bytes of a trace: the matrices and vectors that dominate it.
pub fn estimate_bytes(trace: &SampleTrace) -> usize {
    let f32s = |rows: &[Vec<f32>]| rows.iter().map(Vec::len).sum::<usize>() * size_of::<f32>();
    let mut bytes = size_of::<SampleTrace>() + trace.text.len();
    bytes += trace
        .tokens
        .iter()
        .map(|t| size_of_val(t) + t.piece.len())
        .sum::<usize>();
    if let Some(rel) = &trace.relevance {
        // raw and its display form share one shape.
        bytes += f32s(&rel.relevance.raw) + f32s(&rel.display);
        bytes += rel.token_mrd.len() * size_of::<Option<usize>>();
    }
    if let Some(hidden) = &trace.hidden {
        bytes += hidden
            .layers
            .iter()
            .map(|l| (l.question.len() + l.context.len() + l.last.len()) * size_of::<f32>())
            .sum::<usize>();
    }
    if let Some(dump) = &trace.hidden_dump {
        bytes += dump
            .iter()
            .map(|d| (d.mean.len() + d.last.len()) * size_of::<f32>())
            .sum::<usize>();
    }
    bytes += trace.generation.text.len() + trace.generation.ids.len() * 8;
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::prompt::Setting;
    use crate::eval::gen_error::classify_by_rules;
    use crate::explorer::worker::job::Slot;
    use crate::model::generate::{GenTimings, Generation, StopReason};
    use crate::pipeline::{Labels, ModelIdentity, StageTimings};

    fn key(sample: usize) -> TraceKey {
        TraceKey {
            slot: Slot::Primary,
            sample,
            setting: Setting::default(),
            target: None,
        }
    }

    /// A trace whose size is dominated by a `text` of `len` bytes.
    fn trace(len: usize) -> Arc<SampleTrace> {
        let model = ModelIdentity {
            name: "m".into(),
            family: "llama".into(),
            architecture: "LlamaForCausalLM".into(),
            layers: 1,
            hidden_size: 1,
            vocab_size: 1,
            device: "cpu".into(),
            dtype: "f32".into(),
            chat: false,
            weight_bytes: 0,
            gguf: None,
        };
        Arc::new(SampleTrace {
            version: 1,
            model,
            prompt: None,
            text: "x".repeat(len),
            tokens: Vec::new(),
            top_logits: Vec::new(),
            generation: Generation {
                prompt_top: Vec::new(),
                ids: Vec::new(),
                steps: Vec::new(),
                text: String::new(),
                stop: StopReason::MaxTokens,
                timings: GenTimings::default(),
            },
            greedy_ids: Vec::new(),
            answer: String::new(),
            gold: Vec::new(),
            scores: None,
            labels: Labels {
                detected_lang: None,
                language_error: None,
                generation: classify_by_rules("", ""),
                judge: None,
            },
            relevance: None,
            hidden: None,
            hidden_dump: None,
            lens: None,
            similarity: None,
            oracle: None,
            target: None,
            timings: StageTimings::default(),
        })
    }

    #[test]
    fn evicts_least_recent_by_count_and_get_refreshes() {
        let mut c = TraceCache::new(3, usize::MAX);
        for i in 0..3 {
            assert!(c.insert(key(i), trace(10)).is_empty());
        }
        // 0 becomes the most recent, so 1 goes first.
        assert!(c.get(&key(0)).is_some());
        assert_eq!(c.insert(key(3), trace(10)), vec![key(1)]);
        assert_eq!(c.insert(key(4), trace(10)), vec![key(2)]);
        assert_eq!(c.len(), 3);
        assert!(c.contains(&key(0)) && c.contains(&key(3)) && c.contains(&key(4)));
        assert!(c.get(&key(1)).is_none());
    }

    #[test]
    fn byte_budget() {
        let one = estimate_bytes(&trace(10_000));
        assert!(one >= 10_000);
        let mut c = TraceCache::new(100, one * 2 + one / 2);
        c.insert(key(0), trace(10_000));
        c.insert(key(1), trace(10_000));
        assert_eq!(c.bytes(), one * 2);
        assert_eq!(c.insert(key(2), trace(10_000)), vec![key(0)]);
        assert_eq!(c.bytes(), one * 2);
        // One huge trace pushes out all others but stays itself.
        assert_eq!(c.insert(key(3), trace(100_000)), vec![key(1), key(2)]);
        assert_eq!(c.len(), 1);
        // Replacing a key does not count it twice.
        c.insert(key(3), trace(10));
        c.insert(key(3), trace(10));
        assert_eq!(c.len(), 1);
        assert_eq!(c.bytes(), estimate_bytes(&trace(10)));
        c.retain(|_, _| false);
        assert!(c.is_empty());
        assert_eq!(c.bytes(), 0);
    }
}
