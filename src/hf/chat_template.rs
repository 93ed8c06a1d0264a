//! Chat templates, rendered as Hugging Face `apply_chat_template` renders them.
//!
//! The environment mirrors transformers' `_compile_jinja_template`: trim/lstrip blocks, no
//! kept trailing newline, loop controls, Python string/dict/list methods (pycompat),
//! `raise_exception(msg)` and a `tojson` that writes `json.dumps(x, ensure_ascii=False)`.
//! The context is HF's too: `messages`, `tools = None`, `documents = None`,
//! `add_generation_prompt` and the special tokens that are set.
//!
//! Deliberately **no live date**: `strftime_now` is not defined and `date_string` is not passed,
//! so Llama-3.1's template keeps its built-in "26 Jul 2024" and a prompt renders the same on
//! every day (HF would match as long as the template does not call `strftime_now`).

use anyhow::{anyhow, bail, Context, Result};
use minijinja::value::{Kwargs, Value, ValueKind};
use minijinja::{AutoEscape, Environment, Error as JinjaError, ErrorKind};
use serde::Serialize;
use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;

/// The special tokens a template may refer to (`{{ bos_token }}` ...); `None` ones stay undefined.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SpecialTokens {
    pub bos: Option<String>,
    pub eos: Option<String>,
    pub unk: Option<String>,
    pub pad: Option<String>,
}

/// One chat message as templates see it (`message.role`, `message['content']`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Message {
    pub role: String,
    pub content: String,
}

impl Message {
    pub fn new(role: impl Into<String>, content: impl Into<String>) -> Self {
        Self {
            role: role.into(),
            content: content.into(),
        }
    }

    pub fn system(content: impl Into<String>) -> Self {
        Self::new("system", content)
    }

    pub fn user(content: impl Into<String>) -> Self {
        Self::new("user", content)
    }

    pub fn assistant(content: impl Into<String>) -> Self {
        Self::new("assistant", content)
    }
}

/// A single user turn rendered for generation, with where its parts landed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RenderedTurn {
    pub text: String,
    /// Char (code point) range of the user content inside `text`. When the template trims the
    /// content (Llama-3.1, Gemma-2), the range covers the trimmed text it wrote.
    pub content: Range<usize>,
    /// Char range of a caller-given system text, if any (trimmed as the template wrote it).
    pub system: Option<Range<usize>>,
    /// Char range of the template's own default system prompt ("You are Qwen, ..."), when it
    /// writes one and no caller system text replaced it. Everything else the template writes
    /// around the contents (special tokens, role headers, fixed date lines) is markup.
    pub default_system: Option<Range<usize>>,
    /// True when the template has no system role (Gemma-2) and the system text was put at the
    /// start of the user turn instead.
    pub system_in_user_turn: bool,
}

/// Failures a caller may want to tell apart (reach them with `anyhow::Error::downcast_ref`).
#[derive(Debug, thiserror::Error)]
pub enum ChatTemplateError {
    /// The template called `raise_exception(message)`.
    #[error("chat template {template} refused the messages: {message}")]
    Raised { template: String, message: String },
    /// A message part is not in the rendered text, not even trimmed.
    #[error(
        "chat template {template} rewrites the message content: the {part} text cannot be found \
         in the rendered prompt, so token spans cannot be mapped back to it"
    )]
    ContentNotFound {
        template: String,
        part: &'static str,
    },
}

/// The payload of `raise_exception`, carried through minijinja's error as its source.
#[derive(Debug)]
struct RaisedByTemplate(String);

impl std::fmt::Display for RaisedByTemplate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RaisedByTemplate {}

/// End-of-turn markers known from common templates, looked for in the template source.
const KNOWN_END_MARKERS: &[&str] = &[
    "<|im_end|>",
    "<|eot_id|>",
    "<|eom_id|>",
    "<end_of_turn>",
    "<|end|>",
    "<|endoftext|>",
    "</s>",
];

/// Private-use placeholders: no template has a reason to alter them, so they show where
/// each message part is written.
fn placeholder(index: usize) -> String {
    format!("\u{E000}xmrc-part-{index}\u{E001}")
}

/// A compiled chat template with the special tokens it renders with.
#[derive(Clone)]
pub struct ChatTemplate {
    env: Environment<'static>,
    /// Where the template came from (a file name), used as the template name in errors.
    name: String,
    source: String,
    special: SpecialTokens,
}

impl std::fmt::Debug for ChatTemplate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatTemplate")
            .field("name", &self.name)
            .field("source_len", &self.source.len())
            .field("special", &self.special)
            .finish()
    }
}

impl ChatTemplate {
    /// Reads the chat template of a model folder; `None` when it has none (a base model).
    /// Order as HF / mistral.rs: `chat_template.jinja`, then `tokenizer_config.json`
    /// `chat_template` (a string, or a list of `{name, template}`: "default" is taken), then
    /// `chat_template.json`. Special tokens come from `tokenizer_config.json`.
    pub fn from_model_dir(dir: &Path) -> Result<Option<ChatTemplate>> {
        let config_path = dir.join("tokenizer_config.json");
        let config = if config_path.is_file() {
            Some(read_json(&config_path)?)
        } else {
            None
        };
        let special = match &config {
            Some(cfg) => special_tokens_from_config(cfg, &config_path)?,
            None => SpecialTokens::default(),
        };

        let jinja_path = dir.join("chat_template.jinja");
        if jinja_path.is_file() {
            let source = std::fs::read_to_string(&jinja_path).with_context(|| {
                format!("{}: cannot read the chat template", jinja_path.display())
            })?;
            return Self::with_name(jinja_path.display().to_string(), source, special).map(Some);
        }
        if let Some(cfg) = &config {
            if let Some(source) = template_from_json(cfg, &config_path)? {
                let name = format!("{} (chat_template)", config_path.display());
                return Self::with_name(name, source, special).map(Some);
            }
        }
        let json_path = dir.join("chat_template.json");
        if json_path.is_file() {
            let cfg = read_json(&json_path)?;
            let source = template_from_json(&cfg, &json_path)?.ok_or_else(|| {
                anyhow!(
                    "{}: has no \"chat_template\" string; remove the file or add the template",
                    json_path.display()
                )
            })?;
            let name = format!("{} (chat_template)", json_path.display());
            return Self::with_name(name, source, special).map(Some);
        }
        Ok(None)
    }

    /// Compiles `source` once; errors name the template as "chat_template".
    pub fn new(source: impl Into<String>, special: SpecialTokens) -> Result<ChatTemplate> {
        Self::with_name("chat_template", source, special)
    }

    /// Like [`ChatTemplate::new`], with a name (usually the file it came from) for errors.
    pub fn with_name(
        name: impl Into<String>,
        source: impl Into<String>,
        special: SpecialTokens,
    ) -> Result<ChatTemplate> {
        let name = name.into();
        let source = source.into();
        let mut env = hf_environment();
        env.add_template_owned(name.clone(), source.clone())
            .map_err(|e| anyhow!("chat template {name} does not compile: {e}"))?;
        Ok(ChatTemplate {
            env,
            name,
            source,
            special,
        })
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn special_tokens(&self) -> &SpecialTokens {
        &self.special
    }

    /// Renders `messages` exactly as HF `apply_chat_template(..., tokenize=False)` would.
    pub fn render(&self, messages: &[Message], add_generation_prompt: bool) -> Result<String> {
        let template = self
            .env
            .get_template(&self.name)
            .map_err(|e| anyhow!("chat template {} is not loaded: {e}", self.name))?;
        let mut ctx: BTreeMap<&str, Value> = BTreeMap::new();
        ctx.insert("messages", Value::from_serialize(messages));
        ctx.insert("add_generation_prompt", Value::from(add_generation_prompt));
        // HF passes these as None when unused; templates test `tools is not none`.
        ctx.insert("tools", Value::from(()));
        ctx.insert("documents", Value::from(()));
        let tokens = [
            ("bos_token", &self.special.bos),
            ("eos_token", &self.special.eos),
            ("unk_token", &self.special.unk),
            ("pad_token", &self.special.pad),
        ];
        for (key, token) in tokens {
            if let Some(token) = token {
                ctx.insert(key, Value::from(token.as_str()));
            }
        }
        template
            .render(Value::from_serialize(&ctx))
            .map_err(|e| self.render_error(e))
    }

    /// One user turn with `add_generation_prompt = true` and the template's default system
    /// prompt. A caller-given `system` text goes in as a system message or, when the template
    /// raises on a system role (Gemma-2), at the start of the user turn
    /// (`system + "\n\n" + content`).
    pub fn render_user_turn(&self, content: &str, system: Option<&str>) -> Result<RenderedTurn> {
        let Some(system) = system else {
            let build = |parts: &[&str]| vec![Message::user(parts[0])];
            let (text, spans) = self.render_located(build, &[content], &["user"])?;
            let default_system = self.default_system(&text[..spans[0].emitted.start]);
            let mut turn = turn(text, spans[0].emitted.clone(), None, false);
            turn.default_system = default_system
                .map(|r| char_index(&turn.text, r.start)..char_index(&turn.text, r.end));
            return Ok(turn);
        };

        let with_system = |parts: &[&str]| vec![Message::system(parts[0]), Message::user(parts[1])];
        match self.render_located(with_system, &[system, content], &["system", "user"]) {
            Ok((text, spans)) => {
                let (sys, user) = (spans[0].emitted.clone(), spans[1].emitted.clone());
                Ok(turn(text, user, Some(sys), false))
            }
            Err(err) if self.rejects_system_role(&err, content) => {
                let merged = format!("{system}\n\n{content}");
                let build = |parts: &[&str]| vec![Message::user(parts[0])];
                let (text, spans) = self.render_located(build, &[&merged], &["user"])?;
                let span = &spans[0];
                let sys = span.map_sub(0..system.len());
                let user = span.map_sub(system.len() + 2..merged.len());
                Ok(turn(text, user, Some(sys), true))
            }
            Err(err) => Err(err),
        }
    }

    /// The byte range of the default system prompt in `head` (the text a user-only render
    /// writes before the user content): what the template writes where a system message's
    /// content would go. Found by rendering a system message made of a placeholder: the text
    /// before and after it must frame `head`; a template that writes no default system prompt
    /// (Mistral, Gemma-2, Llama-3.1's empty one) gives `None`.
    fn default_system(&self, head: &str) -> Option<Range<usize>> {
        let holders = [placeholder(0), placeholder(1)];
        let probe = self
            .render(
                &[
                    Message::system(holders[0].as_str()),
                    Message::user(holders[1].as_str()),
                ],
                true,
            )
            .ok()?;
        let gaps = split_skeleton(&probe, &[holders[0].as_str(), holders[1].as_str()])?;
        let (before, between) = (gaps[0], gaps[1]);
        let end = head.len().checked_sub(between.len())?;
        let found = head.starts_with(before) && head.ends_with(between) && before.len() < end;
        found.then_some(before.len()..end)
    }

    /// End-of-turn markers the template emits (`<|im_end|>`, `<|eot_id|>`, `<end_of_turn>`,
    /// `</s>`...), then the EOS token: the strings that end an assistant reply.
    pub fn end_of_turn_markers(&self) -> Vec<String> {
        let mut markers: Vec<String> = Vec::new();
        let mut push = |m: &str| {
            if !m.is_empty() && !markers.iter().any(|have| have == m) {
                markers.push(m.to_string());
            }
        };
        // What the template writes right after an assistant reply is the marker that matters.
        let reply = placeholder(0);
        let probe = [Message::user("?"), Message::assistant(reply.as_str())];
        if let Ok(text) = self.render(&probe, false) {
            if let Some((_, after)) = text.split_once(&reply) {
                push(leading_marker(after));
            }
        }
        for marker in KNOWN_END_MARKERS {
            if self.source.contains(marker) {
                push(marker);
            }
        }
        if let Some(eos) = &self.special.eos {
            push(eos);
        }
        markers
    }

    /// True when `err` came from the template refusing a system role: it raised, and the
    /// same turn without the system message renders.
    fn rejects_system_role(&self, err: &anyhow::Error, content: &str) -> bool {
        matches!(
            err.downcast_ref::<ChatTemplateError>(),
            Some(ChatTemplateError::Raised { .. })
        ) && self.render(&[Message::user(content)], true).is_ok()
    }

    /// Renders the messages `build(parts)` and finds where each part was written.
    fn render_located(
        &self,
        build: impl Fn(&[&str]) -> Vec<Message>,
        parts: &[&str],
        part_names: &[&'static str],
    ) -> Result<(String, Vec<PartSpan>)> {
        let text = self.render(&build(parts), true)?;
        let holders: Vec<String> = (0..parts.len()).map(placeholder).collect();
        let holder_refs: Vec<&str> = holders.iter().map(String::as_str).collect();
        let probe = self.render(&build(&holder_refs), true).ok();
        let spans = probe
            .as_deref()
            .and_then(|probe| split_skeleton(probe, &holder_refs))
            .and_then(|gaps| match_skeleton(&text, &gaps, parts))
            .map(Ok)
            .unwrap_or_else(|| self.search_parts(&text, parts, part_names))?;
        Ok((text, spans))
    }

    /// Fallback when the placeholder render does not line up: the last occurrence of each
    /// part (verbatim, else trimmed), parts in order from the end.
    fn search_parts(
        &self,
        text: &str,
        parts: &[&str],
        part_names: &[&'static str],
    ) -> Result<Vec<PartSpan>> {
        let mut spans = Vec::with_capacity(parts.len());
        let mut limit = text.len();
        for (i, part) in parts.iter().enumerate().rev() {
            let found = trim_variants(part).into_iter().find_map(|(lead, variant)| {
                text[..limit].rfind(variant).map(|at| PartSpan {
                    emitted: at..at + variant.len(),
                    lead,
                })
            });
            let span = found.ok_or_else(|| ChatTemplateError::ContentNotFound {
                template: self.name.clone(),
                part: part_names.get(i).copied().unwrap_or("message"),
            })?;
            limit = span.emitted.start;
            spans.push(span);
        }
        spans.reverse();
        Ok(spans)
    }

    fn render_error(&self, err: JinjaError) -> anyhow::Error {
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&err);
        while let Some(e) = source {
            if let Some(raised) = e.downcast_ref::<RaisedByTemplate>() {
                return ChatTemplateError::Raised {
                    template: self.name.clone(),
                    message: raised.0.clone(),
                }
                .into();
            }
            source = e.source();
        }
        anyhow!("chat template {} failed to render: {err}", self.name)
    }
}

/// Where one message part landed: `emitted` is its byte range in the rendered text, `lead`
/// how many bytes the template trimmed off its front.
#[derive(Clone, Debug, PartialEq, Eq)]
struct PartSpan {
    emitted: Range<usize>,
    lead: usize,
}

impl PartSpan {
    /// Maps a byte range of the original part onto the rendered text, clipped to what the
    /// template kept.
    fn map_sub(&self, sub: Range<usize>) -> Range<usize> {
        let kept = self.emitted.len();
        let clip = |x: usize| x.saturating_sub(self.lead).min(kept) + self.emitted.start;
        clip(sub.start)..clip(sub.end)
    }
}

fn turn(
    text: String,
    content: Range<usize>,
    system: Option<Range<usize>>,
    system_in_user_turn: bool,
) -> RenderedTurn {
    let to_chars = |r: Range<usize>| char_index(&text, r.start)..char_index(&text, r.end);
    let content = to_chars(content);
    let system = system.map(to_chars);
    RenderedTurn {
        text,
        content,
        system,
        default_system: None,
        system_in_user_turn,
    }
}

fn char_index(text: &str, byte: usize) -> usize {
    text.get(..byte).map_or(0, |head| head.chars().count())
}

/// The ways a template may write a part: verbatim or trimmed, with the bytes cut at the front.
fn trim_variants(part: &str) -> Vec<(usize, &str)> {
    let front_cut = part.len() - part.trim_start().len();
    let candidates = [
        (0, part),
        (front_cut, part.trim()),
        (front_cut, part.trim_start()),
        (0, part.trim_end()),
    ];
    let mut out: Vec<(usize, &str)> = Vec::with_capacity(candidates.len());
    for (lead, variant) in candidates {
        if !out.iter().any(|(_, v)| *v == variant) {
            out.push((lead, variant));
        }
    }
    out
}

/// Splits the placeholder render into the literal text between parts; `None` unless every
/// placeholder occurs exactly once and in order.
fn split_skeleton<'a>(probe: &'a str, holders: &[&str]) -> Option<Vec<&'a str>> {
    let mut gaps = Vec::with_capacity(holders.len() + 1);
    let mut rest = probe;
    for holder in holders {
        if probe.matches(holder).count() != 1 {
            return None;
        }
        let (before, after) = rest.split_once(holder)?;
        gaps.push(before);
        rest = after;
    }
    gaps.push(rest);
    Some(gaps)
}

/// Matches `text` against `gaps[0] part0 gaps[1] part1 ... gaps[n]`, each part verbatim or
/// trimmed.
fn match_skeleton(text: &str, gaps: &[&str], parts: &[&str]) -> Option<Vec<PartSpan>> {
    fn go(text: &str, at: usize, gaps: &[&str], parts: &[&str], out: &mut Vec<PartSpan>) -> bool {
        let Some(rest) = text.get(at..) else {
            return false;
        };
        let Some(after_gap) = rest.strip_prefix(gaps[0]) else {
            return false;
        };
        let at = at + gaps[0].len();
        let Some((part, more_parts)) = parts.split_first() else {
            return after_gap.is_empty();
        };
        for (lead, variant) in trim_variants(part) {
            if after_gap.starts_with(variant) {
                out.push(PartSpan {
                    emitted: at..at + variant.len(),
                    lead,
                });
                if go(text, at + variant.len(), &gaps[1..], more_parts, out) {
                    return true;
                }
                out.pop();
            }
        }
        false
    }
    let mut out = Vec::with_capacity(parts.len());
    go(text, 0, gaps, parts, &mut out).then_some(out)
}

/// The special-token-like run at the start of `after` (`<|im_end|>`, `</s>`, `[/INST]`).
fn leading_marker(after: &str) -> &str {
    let close = match after.chars().next() {
        Some('<') => '>',
        Some('[') => ']',
        _ => return "",
    };
    after.find(close).map_or("", |end| &after[..=end])
}

/// The minijinja environment with Hugging Face's settings.
fn hf_environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    env.set_keep_trailing_newline(false);
    // Names like `tokenizer_config.json` would otherwise switch on JSON auto-escaping.
    env.set_auto_escape_callback(|_| AutoEscape::None);
    env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
    env.add_function("raise_exception", raise_exception);
    env.add_filter("tojson", tojson);
    env
}

fn raise_exception(message: Value) -> Result<Value, JinjaError> {
    let text = match message.as_str() {
        Some(s) => s.to_string(),
        None => message.to_string(),
    };
    Err(JinjaError::new(
        ErrorKind::InvalidOperation,
        "the template raised an exception",
    )
    .with_source(RaisedByTemplate(text)))
}

/// HF's `tojson`: `json.dumps(x, ensure_ascii=False, indent=indent, sort_keys=sort_keys)`,
/// so no HTML escaping and Python's separators (`", "`, `": "`).
fn tojson(value: &Value, indent: Option<Value>, kwargs: Kwargs) -> Result<Value, JinjaError> {
    let indent = match kwargs.get::<Option<Value>>("indent")? {
        Some(v) => Some(v),
        None => indent,
    };
    let sort_keys = kwargs.get::<Option<bool>>("sort_keys")?.unwrap_or(false);
    let ensure_ascii = kwargs.get::<Option<bool>>("ensure_ascii")?.unwrap_or(false);
    kwargs.assert_all_used()?;
    let indent = match indent {
        None => None,
        Some(v) if v.is_none() => None,
        Some(v) => Some(match v.as_str() {
            Some(s) => s.to_string(),
            None => {
                let n = i64::try_from(v.clone()).map_err(|_| {
                    JinjaError::new(ErrorKind::InvalidOperation, "tojson indent must be an int")
                })?;
                " ".repeat(usize::try_from(n).unwrap_or(0))
            }
        }),
    };
    let style = JsonStyle {
        indent,
        sort_keys,
        ensure_ascii,
    };
    let mut out = String::new();
    style.write(&mut out, value, 0)?;
    Ok(Value::from(out))
}

struct JsonStyle {
    indent: Option<String>,
    sort_keys: bool,
    ensure_ascii: bool,
}

impl JsonStyle {
    fn write(&self, out: &mut String, value: &Value, level: usize) -> Result<(), JinjaError> {
        match value.kind() {
            ValueKind::None => out.push_str("null"),
            ValueKind::Bool => out.push_str(if value.is_true() { "true" } else { "false" }),
            ValueKind::Number => out.push_str(&python_number(value)),
            ValueKind::String => self.write_str(out, value.as_str().unwrap_or_default()),
            ValueKind::Seq | ValueKind::Iterable => {
                let items: Vec<Value> = value.try_iter()?.collect();
                self.write_container(out, '[', ']', &items, level, |out, item, lvl| {
                    self.write(out, item, lvl)
                })?;
            }
            ValueKind::Map => {
                let mut keys: Vec<Value> = value.try_iter()?.collect();
                if self.sort_keys {
                    keys.sort();
                }
                self.write_container(out, '{', '}', &keys, level, |out, key, lvl| {
                    match key.as_str() {
                        Some(k) => self.write_str(out, k),
                        None => self.write_str(out, &key.to_string()),
                    }
                    out.push_str(": ");
                    self.write(out, &value.get_item(key)?, lvl)
                })?;
            }
            other => {
                return Err(JinjaError::new(
                    ErrorKind::InvalidOperation,
                    format!("tojson cannot serialize a value of kind {other}"),
                ))
            }
        }
        Ok(())
    }

    fn write_container(
        &self,
        out: &mut String,
        open: char,
        close: char,
        items: &[Value],
        level: usize,
        mut item: impl FnMut(&mut String, &Value, usize) -> Result<(), JinjaError>,
    ) -> Result<(), JinjaError> {
        out.push(open);
        if items.is_empty() {
            out.push(close);
            return Ok(());
        }
        for (i, v) in items.iter().enumerate() {
            match &self.indent {
                Some(ind) => {
                    out.push_str(if i == 0 { "\n" } else { ",\n" });
                    out.push_str(&ind.repeat(level + 1));
                }
                None if i > 0 => out.push_str(", "),
                None => {}
            }
            item(out, v, level + 1)?;
        }
        if let Some(ind) = &self.indent {
            out.push('\n');
            out.push_str(&ind.repeat(level));
        }
        out.push(close);
        Ok(())
    }

    fn write_str(&self, out: &mut String, s: &str) {
        out.push('"');
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                '\u{08}' => out.push_str("\\b"),
                '\u{0C}' => out.push_str("\\f"),
                c if (c as u32) < 0x20 || (self.ensure_ascii && !c.is_ascii()) => {
                    let mut buf = [0u16; 2];
                    for unit in c.encode_utf16(&mut buf) {
                        out.push_str(&format!("\\u{unit:04x}"));
                    }
                }
                c => out.push(c),
            }
        }
        out.push('"');
    }
}

/// Numbers as Python's `json.dumps` writes them (`1.0` stays `1.0`, infinities by name).
fn python_number(value: &Value) -> String {
    if value.is_integer() {
        return value.to_string();
    }
    match f64::try_from(value.clone()) {
        Ok(f) if f.is_nan() => "NaN".to_string(),
        Ok(f) if f.is_infinite() => if f > 0.0 { "Infinity" } else { "-Infinity" }.to_string(),
        Ok(f) => format!("{f:?}"),
        Err(_) => value.to_string(),
    }
}

fn read_json(path: &Path) -> Result<serde_json::Value> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("{}: cannot read the file", path.display()))?;
    serde_json::from_str(&text).with_context(|| {
        format!(
            "{}: not valid JSON; re-download the model files",
            path.display()
        )
    })
}

/// The `chat_template` of a tokenizer_config.json / chat_template.json: a string, or a list of
/// `{name, template}` of which "default" is used.
fn template_from_json(cfg: &serde_json::Value, path: &Path) -> Result<Option<String>> {
    match cfg.get("chat_template") {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(s)) => Ok(Some(s.clone())),
        Some(serde_json::Value::Array(named)) => {
            let mut names = Vec::new();
            for entry in named {
                let name = entry.get("name").and_then(|n| n.as_str());
                let template = entry.get("template").and_then(|t| t.as_str());
                match (name, template) {
                    (Some("default"), Some(t)) => return Ok(Some(t.to_string())),
                    (Some(n), Some(_)) => names.push(n.to_string()),
                    _ => bail!(
                        "{}: a \"chat_template\" list entry lacks a string \"name\" or \"template\"",
                        path.display()
                    ),
                }
            }
            bail!(
                "{}: \"chat_template\" names templates {names:?} but none is called \"default\"",
                path.display()
            )
        }
        Some(_) => bail!(
            "{}: \"chat_template\" must be a string or a list of {{name, template}}",
            path.display()
        ),
    }
}

fn special_tokens_from_config(cfg: &serde_json::Value, path: &Path) -> Result<SpecialTokens> {
    let token = |key: &str| -> Result<Option<String>> {
        match cfg.get(key) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::String(s)) => Ok(Some(s.clone())),
            // An AddedToken object: {"content": "<s>", "lstrip": false, ...}.
            Some(obj @ serde_json::Value::Object(_)) => match obj.get("content") {
                Some(serde_json::Value::String(s)) => Ok(Some(s.clone())),
                _ => bail!(
                    "{}: \"{key}\" is an object without a string \"content\"",
                    path.display()
                ),
            },
            Some(_) => bail!(
                "{}: \"{key}\" must be a string, null or {{\"content\": ...}}",
                path.display()
            ),
        }
    };
    Ok(SpecialTokens {
        bos: token("bos_token")?,
        eos: token("eos_token")?,
        unk: token("unk_token")?,
        pad: token("pad_token")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHATML: &str = include_str!("../../assets/synth/templates/chatml.jinja");
    const LLAMA3: &str = include_str!("../../assets/synth/templates/llama3.jinja");
    const GEMMA2: &str = include_str!("../../assets/synth/templates/gemma2.jinja");
    const MISTRAL: &str = include_str!("../../assets/synth/templates/mistral.jinja");

    fn specials(bos: Option<&str>, eos: &str) -> SpecialTokens {
        SpecialTokens {
            bos: bos.map(str::to_string),
            eos: Some(eos.to_string()),
            unk: None,
            pad: None,
        }
    }

    fn chars(text: &str, r: &Range<usize>) -> String {
        text.chars().skip(r.start).take(r.len()).collect()
    }

    #[test]
    fn chatml_user_turn_has_default_system_and_exact_range() {
        let t = ChatTemplate::new(CHATML, specials(None, "<|im_end|>")).unwrap();
        let turn = t.render_user_turn("Question: wo?\n", None).unwrap();
        assert_eq!(
            turn.text,
            "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful \
             assistant.<|im_end|>\n<|im_start|>user\nQuestion: wo?\n<|im_end|>\n\
             <|im_start|>assistant\n"
        );
        assert_eq!(chars(&turn.text, &turn.content), "Question: wo?\n");
        assert_eq!(turn.system, None);
        assert!(!turn.system_in_user_turn);
    }

    #[test]
    fn content_equal_to_template_words_is_located_by_position_not_search() {
        // "user" also occurs in the role header: only the placeholder render can tell them apart.
        let t = ChatTemplate::new(CHATML, specials(None, "<|im_end|>")).unwrap();
        let turn = t.render_user_turn("user", Some("system")).unwrap();
        let start = turn.text.find("user\nuser").unwrap() + "user\n".len();
        let start_chars = turn.text[..start].chars().count();
        assert_eq!(turn.content, start_chars..start_chars + 4);
        assert_eq!(turn.system, Some(19..25));
    }

    #[test]
    fn llama3_trims_content_and_keeps_fixed_date() {
        let t =
            ChatTemplate::new(LLAMA3, specials(Some("<|begin_of_text|>"), "<|eot_id|>")).unwrap();
        let turn = t
            .render_user_turn("  hi there \n", Some(" Be brief. "))
            .unwrap();
        assert!(turn.text.starts_with(
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n\
             Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\nBe brief.<|eot_id|>"
        ));
        assert_eq!(chars(&turn.text, &turn.content), "hi there");
        assert_eq!(
            chars(&turn.text, turn.system.as_ref().unwrap()),
            "Be brief."
        );
        assert!(turn
            .text
            .ends_with("<|start_header_id|>assistant<|end_header_id|>\n\n"));
    }

    #[test]
    fn gemma_raises_on_system_and_falls_back_to_user_turn() {
        let t = ChatTemplate::new(GEMMA2, specials(Some("<bos>"), "<eos>")).unwrap();
        let err = t
            .render(&[Message::system("S"), Message::user("U")], true)
            .unwrap_err();
        match err.downcast_ref::<ChatTemplateError>() {
            Some(ChatTemplateError::Raised { message, .. }) => {
                assert_eq!(message, "System role not supported")
            }
            other => panic!("expected a raised error, got {other:?}"),
        }
        assert!(err.to_string().contains("System role not supported"));

        let turn = t
            .render_user_turn("Question: 什么?", Some("Answer briefly."))
            .unwrap();
        assert_eq!(
            turn.text,
            "<bos><start_of_turn>user\nAnswer briefly.\n\nQuestion: 什么?<end_of_turn>\n<start_of_turn>model\n"
        );
        assert!(turn.system_in_user_turn);
        assert_eq!(chars(&turn.text, &turn.content), "Question: 什么?");
        assert_eq!(
            chars(&turn.text, turn.system.as_ref().unwrap()),
            "Answer briefly."
        );
    }

    #[test]
    fn mistral_puts_system_into_last_user_turn() {
        let t = ChatTemplate::new(MISTRAL, specials(Some("<s>"), "</s>")).unwrap();
        let turn = t.render_user_turn("Q", Some("S")).unwrap();
        assert_eq!(turn.text, "<s>[INST] S\n\nQ[/INST]");
        assert_eq!(turn.system, Some(10..11));
        assert_eq!(turn.content, 13..14);
        assert!(!turn.system_in_user_turn);
    }

    #[test]
    fn end_of_turn_markers_per_family() {
        let cases = [
            (CHATML, specials(None, "<|im_end|>"), vec!["<|im_end|>"]),
            (
                LLAMA3,
                specials(Some("<|begin_of_text|>"), "<|eot_id|>"),
                vec!["<|eot_id|>", "<|eom_id|>"],
            ),
            (
                GEMMA2,
                specials(Some("<bos>"), "<eos>"),
                vec!["<end_of_turn>", "<eos>"],
            ),
            (MISTRAL, specials(Some("<s>"), "</s>"), vec!["</s>"]),
        ];
        for (source, special, expected) in cases {
            let t = ChatTemplate::new(source, special).unwrap();
            assert_eq!(t.end_of_turn_markers(), expected);
        }
    }

    #[test]
    fn tojson_writes_python_json_without_html_escapes() {
        let t = ChatTemplate::new(
            "{{ messages | tojson }}|{{ {'b': [1, 2.0, none, true], 'a': '<é\"\\n>'} | tojson(indent=2, sort_keys=true) }}",
            SpecialTokens::default(),
        )
        .unwrap();
        let out = t.render(&[Message::user("<&'>")], false).unwrap();
        assert_eq!(
            out,
            "[{\"role\": \"user\", \"content\": \"<&'>\"}]|{\n  \"a\": \"<é\\\"\\n>\",\n  \"b\": [\n    1,\n    2.0,\n    null,\n    true\n  ]\n}"
        );
    }

    #[test]
    fn syntax_error_names_the_template() {
        let err = ChatTemplate::with_name(
            "dir/chat_template.jinja",
            "{% if x %}oops",
            SpecialTokens::default(),
        )
        .unwrap_err();
        let text = format!("{err:#}");
        assert!(text.contains("dir/chat_template.jinja"), "{text}");
        assert!(text.contains("does not compile"), "{text}");
    }

    #[test]
    fn rewritten_content_is_reported() {
        let t = ChatTemplate::new(
            "{% for m in messages %}{{ m.content | upper }}{% endfor %}",
            SpecialTokens::default(),
        )
        .unwrap();
        let err = t.render_user_turn("abc", None).unwrap_err();
        assert!(matches!(
            err.downcast_ref::<ChatTemplateError>(),
            Some(ChatTemplateError::ContentNotFound { part: "user", .. })
        ));
        assert!(err.to_string().contains("rewrites the message content"));
    }

    #[test]
    fn python_string_methods_and_loop_controls_work() {
        let t = ChatTemplate::new(
            "{% for m in messages %}{% if loop.index > 1 %}{% break %}{% endif %}{{ m.content.strip().upper() }}{% endfor %}",
            SpecialTokens::default(),
        )
        .unwrap();
        let out = t
            .render(&[Message::user("  ab "), Message::user("cd")], false)
            .unwrap();
        assert_eq!(out, "AB");
    }

    #[test]
    fn model_dir_resolution_order_and_added_token_objects() {
        let dir = tempfile::tempdir().unwrap();
        assert!(ChatTemplate::from_model_dir(dir.path()).unwrap().is_none());

        std::fs::write(
            dir.path().join("chat_template.json"),
            r#"{"chat_template": "json:{{ bos_token }}"}"#,
        )
        .unwrap();
        let t = ChatTemplate::from_model_dir(dir.path()).unwrap().unwrap();
        assert_eq!(t.source(), "json:{{ bos_token }}");

        std::fs::write(
            dir.path().join("tokenizer_config.json"),
            r#"{"bos_token": {"content": "<s>", "lstrip": false}, "eos_token": "</s>", "pad_token": null,
                "chat_template": [{"name": "tool_use", "template": "tools"}, {"name": "default", "template": "config:{{ bos_token }}"}]}"#,
        )
        .unwrap();
        let t = ChatTemplate::from_model_dir(dir.path()).unwrap().unwrap();
        assert_eq!(t.render(&[], false).unwrap(), "config:<s>");
        assert_eq!(t.special_tokens().eos.as_deref(), Some("</s>"));
        assert_eq!(t.special_tokens().pad, None);

        std::fs::write(
            dir.path().join("chat_template.jinja"),
            "jinja:{{ eos_token }}\n",
        )
        .unwrap();
        let t = ChatTemplate::from_model_dir(dir.path()).unwrap().unwrap();
        assert_eq!(t.render(&[], false).unwrap(), "jinja:</s>");
        assert!(t.name().ends_with("chat_template.jinja"));
    }

    #[test]
    fn named_templates_without_default_are_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("tokenizer_config.json"),
            r#"{"chat_template": [{"name": "rag", "template": "x"}]}"#,
        )
        .unwrap();
        let err = ChatTemplate::from_model_dir(dir.path())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("tokenizer_config.json") && err.contains("\"rag\""),
            "{err}"
        );
    }
}
