//! The keymap as data: `assets/keymap.toml` binds every `Action` to keys with a description;
//! a user file in the same format overrides it. The footer hints and the help overlay are
//! generated from it, so they never disagree with what the keys do.

use crate::tui::action::Action;
use anyhow::{anyhow, bail, Context, Result};
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use serde::Deserialize;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

const DEFAULT_TOML: &str = include_str!("../../assets/keymap.toml");

/// Named keys: (config name, display form). Parsing accepts both, case-insensitively.
const NAMES: [(&str, &str, KeyCode); 14] = [
    ("left", "←", KeyCode::Left),
    ("right", "→", KeyCode::Right),
    ("up", "↑", KeyCode::Up),
    ("down", "↓", KeyCode::Down),
    ("home", "Home", KeyCode::Home),
    ("end", "End", KeyCode::End),
    ("pageup", "PgUp", KeyCode::PageUp),
    ("pagedown", "PgDn", KeyCode::PageDown),
    ("tab", "Tab", KeyCode::Tab),
    ("backtab", "S-Tab", KeyCode::BackTab),
    ("enter", "Enter", KeyCode::Enter),
    ("esc", "Esc", KeyCode::Esc),
    ("backspace", "Bksp", KeyCode::Backspace),
    ("delete", "Del", KeyCode::Delete),
];

const ACCEPTED: &str = "a single character (\"q\", \"?\", \"S\" for shift-s), optionally prefixed \
    by ctrl-, alt- or shift-, or a name: left right up down home end pageup pagedown tab \
    backtab enter esc space backspace delete f1..f12";

/// One key with its modifiers, normalised so that it compares equal to what the terminal
/// sends: letters carry their case instead of SHIFT, shift-tab is `BackTab`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct KeySpec {
    pub code: KeyCode,
    /// Only CONTROL, ALT and SHIFT (SHIFT never with `Char` or `BackTab`).
    pub mods: KeyModifiers,
}

impl KeySpec {
    pub fn new(code: KeyCode, mods: KeyModifiers) -> KeySpec {
        let mut mods = mods & (KeyModifiers::CONTROL | KeyModifiers::ALT | KeyModifiers::SHIFT);
        let mut code = code;
        match code {
            KeyCode::Char(c) => {
                // Terminals differ: 'S' with or without SHIFT, or 's' with SHIFT (kitty).
                if mods.contains(KeyModifiers::SHIFT) && c.is_lowercase() {
                    code = KeyCode::Char(c.to_uppercase().next().unwrap_or(c));
                }
                mods.remove(KeyModifiers::SHIFT);
            }
            KeyCode::BackTab => mods.remove(KeyModifiers::SHIFT),
            KeyCode::Tab if mods.contains(KeyModifiers::SHIFT) => {
                code = KeyCode::BackTab;
                mods.remove(KeyModifiers::SHIFT);
            }
            _ => {}
        }
        KeySpec { code, mods }
    }

    /// Does this key event (a press or auto-repeat) match? Releases never do.
    pub fn matches(&self, key: &KeyEvent) -> bool {
        key.kind != KeyEventKind::Release && KeySpec::new(key.code, key.modifiers) == *self
    }

    /// The form a keymap file uses ("ctrl-c", "pageup", "S"); parses back to `self`.
    pub fn config_string(&self) -> String {
        let mut s = self.prefix();
        match self.code {
            KeyCode::Char(' ') => s.push_str("space"),
            KeyCode::Char(c) => s.push(c),
            KeyCode::F(n) => s.push_str(&format!("f{n}")),
            code => match NAMES.iter().find(|(_, _, c)| *c == code) {
                Some((name, _, _)) => s.push_str(name),
                None => s.push_str(&format!("{code:?}").to_lowercase()),
            },
        }
        s
    }

    fn prefix(&self) -> String {
        let mut s = String::new();
        for (m, p) in [
            (KeyModifiers::CONTROL, "ctrl-"),
            (KeyModifiers::ALT, "alt-"),
            (KeyModifiers::SHIFT, "shift-"),
        ] {
            if self.mods.contains(m) {
                s.push_str(p);
            }
        }
        s
    }
}

/// Why a key string was refused; says what is accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad key \"{key}\": {why}; expected {ACCEPTED}")]
pub struct KeyParseError {
    pub key: String,
    pub why: &'static str,
}

impl FromStr for KeySpec {
    type Err = KeyParseError;

    fn from_str(s: &str) -> Result<KeySpec, KeyParseError> {
        let err = |why| KeyParseError {
            key: s.to_owned(),
            why,
        };
        let mut mods = KeyModifiers::NONE;
        let mut rest = s;
        loop {
            let lower = rest.to_ascii_lowercase();
            let found = [
                ("ctrl-", KeyModifiers::CONTROL),
                ("alt-", KeyModifiers::ALT),
                ("shift-", KeyModifiers::SHIFT),
            ]
            .into_iter()
            .find(|(p, _)| lower.starts_with(p) && rest.len() > p.len());
            match found {
                Some((p, m)) => {
                    mods |= m;
                    rest = &rest[p.len()..];
                }
                None => break,
            }
        }
        let mut chars = rest.chars();
        let code = match (chars.next(), chars.next()) {
            (None, _) => return Err(err("empty")),
            (Some(c), None) => {
                // The arrows' display forms ("←") name keys, not characters.
                if let Some((_, _, code)) = NAMES.iter().find(|(_, shown, _)| *shown == rest) {
                    return Ok(KeySpec::new(*code, mods));
                }
                if mods.contains(KeyModifiers::SHIFT) && !c.is_alphabetic() {
                    return Err(err("shift- applies to letters and named keys only; write the shifted character itself"));
                }
                KeyCode::Char(c)
            }
            _ => {
                let lower = rest.to_lowercase();
                if lower == "space" {
                    KeyCode::Char(' ')
                } else if let Some(n) = lower.strip_prefix('f').and_then(|n| n.parse::<u8>().ok()) {
                    if !(1..=12).contains(&n) {
                        return Err(err("function keys go from f1 to f12"));
                    }
                    KeyCode::F(n)
                } else {
                    NAMES
                        .iter()
                        .find(|(name, shown, _)| lower == *name || lower == shown.to_lowercase())
                        .map(|(_, _, code)| *code)
                        .ok_or_else(|| err("unknown key name"))?
                }
            }
        };
        Ok(KeySpec::new(code, mods))
    }
}

/// The compact human form the footer and help show ("ctrl-c", "←", "PgUp", "S-Tab").
impl fmt::Display for KeySpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.prefix())?;
        match self.code {
            KeyCode::Char(' ') => f.write_str("Space"),
            KeyCode::Char(c) => write!(f, "{c}"),
            KeyCode::F(n) => write!(f, "F{n}"),
            code => match NAMES.iter().find(|(_, _, c)| *c == code) {
                Some((_, shown, _)) => f.write_str(shown),
                None => write!(f, "{code:?}"),
            },
        }
    }
}

/// One action with its keys and the words the help and footer show for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Binding {
    pub keys: Vec<KeySpec>,
    pub action: Action,
    pub desc: String,
    /// Shown in the footer.
    pub hint: bool,
}

impl Binding {
    /// The keys as the footer and help show them: "n/]".
    pub fn keys_label(&self) -> String {
        self.keys
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("/")
    }
}

/// A help line: the keys of one binding, its action and description.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HelpRow {
    pub keys: String,
    pub action: Action,
    pub desc: String,
}

/// Bindings in file order (the footer's order of hints).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Keymap {
    pub bindings: Vec<Binding>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    bind: Vec<RawBinding>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBinding {
    keys: Vec<toml::Spanned<String>>,
    action: toml::Spanned<String>,
    desc: Option<String>,
    hint: Option<bool>,
}

/// A parsed entry before defaults are applied: a user entry may leave `desc`/`hint` out.
struct Entry {
    keys: Vec<KeySpec>,
    action: Action,
    desc: Option<String>,
    hint: Option<bool>,
}

fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset).map_or(0, |t| t.matches('\n').count()) + 1
}

fn parse_entries(text: &str, source: &str) -> Result<Vec<Entry>> {
    let raw: RawFile = toml::from_str(text).map_err(|e| anyhow!("{source}: {e}"))?;
    let valid = || {
        Action::ALL
            .iter()
            .map(|a| a.name())
            .collect::<Vec<_>>()
            .join(", ")
    };
    raw.bind
        .into_iter()
        .map(|b| {
            let name = b.action.get_ref();
            let action = Action::ALL
                .into_iter()
                .find(|a| a.name() == *name)
                .ok_or_else(|| {
                    anyhow!(
                        "{source}:{}: unknown action \"{name}\"; valid actions: {}",
                        line_of(text, b.action.span().start),
                        valid()
                    )
                })?;
            let mut keys: Vec<KeySpec> = Vec::new();
            for k in &b.keys {
                let spec = k
                    .get_ref()
                    .parse::<KeySpec>()
                    .with_context(|| format!("{source}:{}", line_of(text, k.span().start)))?;
                if !keys.contains(&spec) {
                    keys.push(spec);
                }
            }
            Ok(Entry {
                keys,
                action,
                desc: b.desc,
                hint: b.hint,
            })
        })
        .collect()
}

impl Keymap {
    /// The built-in keymap (`assets/keymap.toml`).
    pub fn default_map() -> Result<Keymap> {
        let map = Keymap::parse(DEFAULT_TOML, "default keymap")?;
        map.check()?;
        Ok(map)
    }

    /// Parses a keymap file; `source` names it in errors. A missing `desc` is the action name.
    pub fn parse(text: &str, source: &str) -> Result<Keymap> {
        let bindings = parse_entries(text, source)?
            .into_iter()
            .map(|e| Binding {
                desc: e.desc.unwrap_or_else(|| e.action.name()),
                hint: e.hint.unwrap_or(false),
                keys: e.keys,
                action: e.action,
            })
            .collect();
        Ok(Keymap { bindings })
    }

    /// Applies a user file: each of its entries replaces the keys of its action, and the keys
    /// it names are taken away from every other action, so the user wins conflicts.
    pub fn with_user_file(self, path: &Path) -> Result<Keymap> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        self.with_user_text(&text, &path.display().to_string())
    }

    /// `with_user_file` on text already read.
    pub fn with_user_text(mut self, text: &str, source: &str) -> Result<Keymap> {
        let entries = parse_entries(text, source)?;
        let taken: Vec<KeySpec> = entries.iter().flat_map(|e| e.keys.clone()).collect();
        for b in &mut self.bindings {
            b.keys.retain(|k| !taken.contains(k));
        }
        let mut touched: Vec<Action> = Vec::new();
        for e in entries {
            let first = !touched.contains(&e.action);
            touched.push(e.action);
            match self.bindings.iter_mut().find(|b| b.action == e.action) {
                Some(b) => {
                    if first {
                        b.keys.clear();
                    }
                    for k in e.keys {
                        if !b.keys.contains(&k) {
                            b.keys.push(k);
                        }
                    }
                    if let Some(desc) = e.desc {
                        b.desc = desc;
                    }
                    if let Some(hint) = e.hint {
                        b.hint = hint;
                    }
                }
                None => self.bindings.push(Binding {
                    desc: e.desc.unwrap_or_else(|| e.action.name()),
                    hint: e.hint.unwrap_or(false),
                    keys: e.keys,
                    action: e.action,
                }),
            }
        }
        self.check().with_context(|| source.to_owned())?;
        Ok(self)
    }

    /// Where the user keymap lives (`~/.config/xmrc-lens/keymap.toml` on Linux).
    pub fn user_path() -> Option<PathBuf> {
        directories::ProjectDirs::from("", "", "xmrc-lens")
            .map(|d| d.config_dir().join("keymap.toml"))
    }

    /// The keymap to start with: defaults plus the user file when there is one. Never fails:
    /// a broken user file gives the defaults and a warning to show.
    pub fn load() -> (Keymap, Option<String>) {
        Keymap::load_from(Keymap::user_path().as_deref())
    }

    /// `load` with an explicit user file path (tests, `--keymap`).
    pub fn load_from(user: Option<&Path>) -> (Keymap, Option<String>) {
        let default = match Keymap::default_map() {
            Ok(map) => map,
            Err(e) => return (Keymap::default(), Some(format!("{e:#}"))),
        };
        match user {
            Some(path) if path.exists() => match default.clone().with_user_file(path) {
                Ok(map) => (map, None),
                Err(e) => (
                    default,
                    Some(format!("keymap ignored, using the default keys: {e:#}")),
                ),
            },
            _ => (default, None),
        }
    }

    /// The action a key press asks for, if any.
    pub fn action_for(&self, key: &KeyEvent) -> Option<Action> {
        self.bindings
            .iter()
            .find(|b| b.keys.iter().any(|k| k.matches(key)))
            .map(|b| b.action)
    }

    /// No key may be bound twice (the second binding could never fire).
    pub fn check(&self) -> Result<()> {
        for (i, a) in self.bindings.iter().enumerate() {
            for k in &a.keys {
                if let Some(b) = self.bindings[i + 1..].iter().find(|b| b.keys.contains(k)) {
                    bail!(
                        "key \"{}\" is bound to both {} and {}",
                        k.config_string(),
                        a.action,
                        b.action
                    );
                }
            }
        }
        Ok(())
    }

    pub fn keys_for(&self, action: Action) -> Vec<&KeySpec> {
        self.bindings
            .iter()
            .filter(|b| b.action == action)
            .flat_map(|b| &b.keys)
            .collect()
    }

    /// Footer hints in file order: ("n/]", "next sample").
    pub fn hints(&self) -> Vec<(String, String)> {
        self.bindings
            .iter()
            .filter(|b| b.hint && !b.keys.is_empty())
            .map(|b| (b.keys_label(), b.desc.clone()))
            .collect()
    }

    /// Help lines in `Action::ALL` order; unbound actions are left out.
    pub fn help_rows(&self) -> Vec<HelpRow> {
        Action::ALL
            .iter()
            .flat_map(|&action| {
                self.bindings
                    .iter()
                    .filter(move |b| b.action == action && !b.keys.is_empty())
            })
            .map(|b| HelpRow {
                keys: b.keys_label(),
                action: b.action,
                desc: b.desc.clone(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn press(code: KeyCode, mods: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, mods)
    }

    fn key(s: &str) -> KeySpec {
        s.parse().unwrap()
    }

    #[test]
    fn default_map_binds_every_action_once_without_duplicates() {
        let map = Keymap::default_map().unwrap();
        map.check().unwrap();
        for action in Action::ALL {
            let n = map.bindings.iter().filter(|b| b.action == action).count();
            assert_eq!(n, 1, "{action} bound {n} times");
            assert!(!map.keys_for(action).is_empty(), "{action} has no key");
        }
        assert!(map.bindings.iter().all(|b| !b.desc.is_empty()));
        let rows = map.help_rows();
        assert_eq!(rows.len(), Action::ALL.len());
        assert_eq!(rows[0].action, Action::ALL[0]);
        assert_eq!(rows[0].keys, "n/]");
    }

    #[test]
    fn default_keys_fire_their_actions() {
        let map = Keymap::default_map().unwrap();
        let cases = [
            (press(KeyCode::Char('q'), KeyModifiers::NONE), Action::Quit),
            (
                press(KeyCode::Char('c'), KeyModifiers::CONTROL),
                Action::Quit,
            ),
            (press(KeyCode::Char('?'), KeyModifiers::SHIFT), Action::Help),
            (
                press(KeyCode::Char('n'), KeyModifiers::NONE),
                Action::NextSample,
            ),
            (
                press(KeyCode::Char(']'), KeyModifiers::NONE),
                Action::NextSample,
            ),
            (
                press(KeyCode::Char('}'), KeyModifiers::SHIFT),
                Action::NextSamplePage,
            ),
            (press(KeyCode::Right, KeyModifiers::NONE), Action::LayerUp),
            (press(KeyCode::Tab, KeyModifiers::NONE), Action::FocusNext),
            (
                press(KeyCode::BackTab, KeyModifiers::SHIFT),
                Action::FocusPrev,
            ),
            (press(KeyCode::Tab, KeyModifiers::SHIFT), Action::FocusPrev),
            (
                press(KeyCode::PageDown, KeyModifiers::NONE),
                Action::PageDown,
            ),
            (press(KeyCode::Esc, KeyModifiers::NONE), Action::Back),
            (
                press(KeyCode::Char('s'), KeyModifiers::NONE),
                Action::NextScenario,
            ),
            (press(KeyCode::Char('S'), KeyModifiers::NONE), Action::Sweep),
            (
                press(KeyCode::Char('S'), KeyModifiers::SHIFT),
                Action::Sweep,
            ),
            (
                press(KeyCode::Char('s'), KeyModifiers::SHIFT),
                Action::Sweep,
            ),
            (
                press(KeyCode::Char('R'), KeyModifiers::SHIFT),
                Action::Retry,
            ),
        ];
        for (ev, want) in cases {
            assert_eq!(map.action_for(&ev), Some(want), "{ev:?}");
        }
        assert_eq!(
            map.action_for(&press(KeyCode::Char('x'), KeyModifiers::NONE)),
            None
        );
        // ctrl-q is not q.
        assert_eq!(
            map.action_for(&press(KeyCode::Char('q'), KeyModifiers::CONTROL)),
            None
        );
    }

    #[test]
    fn release_is_ignored_repeat_counts() {
        let map = Keymap::default_map().unwrap();
        let mut ev = press(KeyCode::Char('n'), KeyModifiers::NONE);
        ev.kind = KeyEventKind::Release;
        assert_eq!(map.action_for(&ev), None);
        ev.kind = KeyEventKind::Repeat;
        assert_eq!(map.action_for(&ev), Some(Action::NextSample));
    }

    #[test]
    fn key_strings_roundtrip() {
        for s in [
            "q",
            "?",
            "S",
            "]",
            "{",
            ".",
            ",",
            "2",
            "é",
            "ctrl-c",
            "alt-x",
            "ctrl-alt-d",
            "left",
            "right",
            "up",
            "down",
            "home",
            "end",
            "pageup",
            "pagedown",
            "tab",
            "backtab",
            "enter",
            "esc",
            "space",
            "backspace",
            "delete",
            "f1",
            "f12",
            "shift-up",
            "ctrl-left",
            "-",
            "ctrl--",
        ] {
            let k = key(s);
            assert_eq!(k.config_string(), s, "config form of {s}");
            assert_eq!(key(&k.config_string()), k);
            assert_eq!(key(&k.to_string()), k, "display form {k} of {s}");
        }
    }

    #[test]
    fn display_is_compact() {
        let shown: Vec<String> = ["ctrl-c", "left", "right", "up", "down", "pageup", "tab"]
            .iter()
            .chain(&["backtab", "esc", "enter", "space", "f5", "S"])
            .map(|s| key(s).to_string())
            .collect();
        assert_eq!(
            shown,
            [
                "ctrl-c", "←", "→", "↑", "↓", "PgUp", "Tab", "S-Tab", "Esc", "Enter", "Space",
                "F5", "S"
            ]
        );
    }

    #[test]
    fn shift_and_case() {
        assert_eq!(key("shift-s"), key("S"));
        assert_eq!(key("SHIFT-s"), key("S"));
        assert_eq!(key("shift-tab"), key("backtab"));
        assert_eq!(key("Ctrl-C").mods, KeyModifiers::CONTROL);
        assert_ne!(key("s"), key("S"));
        assert_eq!(key("PageUp"), key("pageup"));
        assert!("shift-1".parse::<KeySpec>().is_err());
    }

    #[test]
    fn bad_keys_say_what_is_accepted() {
        for s in ["", "pgupp", "f13", "ctrl-"] {
            let e = s.parse::<KeySpec>().unwrap_err().to_string();
            assert!(e.contains(&format!("\"{s}\"")), "{e}");
            assert!(e.contains("pagedown"), "{e}");
        }
    }

    #[test]
    fn unknown_action_lists_the_valid_ones_with_the_line() {
        let text = "[[bind]]\nkeys = [\"x\"]\naction = \"nxt-sample\"\n";
        let e = format!("{:#}", Keymap::parse(text, "my.toml").unwrap_err());
        assert!(e.contains("my.toml:3"), "{e}");
        assert!(e.contains("\"nxt-sample\""), "{e}");
        assert!(
            e.contains("next-sample") && e.contains("toggle-shading"),
            "{e}"
        );
        let e = format!(
            "{:#}",
            Keymap::parse("[[bind]]\nkeys = [\"zz\"]\naction = \"quit\"\n", "u").unwrap_err()
        );
        assert!(e.contains("u:2") && e.contains("\"zz\""), "{e}");
        let e = format!("{:#}", Keymap::parse("[[bind]\n", "u").unwrap_err());
        assert!(e.contains("line 1"), "{e}");
        let e = format!(
            "{:#}",
            Keymap::parse("[[bind]]\nkey = [\"x\"]\naction = \"quit\"\n", "u").unwrap_err()
        );
        assert!(e.contains("key"), "{e}");
    }

    #[test]
    fn user_entry_replaces_keys_and_steals_conflicts() {
        let user = "[[bind]]\nkeys = [\"n\", \"ctrl-n\"]\naction = \"jump\"\n\n\
                    [[bind]]\nkeys = [\"x\"]\naction = \"quit\"\ndesc = \"leave\"\n\n\
                    [[bind]]\nkeys = []\naction = \"save\"\n";
        let map = Keymap::default_map()
            .unwrap()
            .with_user_text(user, "user")
            .unwrap();
        assert_eq!(map.keys_for(Action::Jump), [&key("n"), &key("ctrl-n")]);
        // "n" moved from next-sample, which keeps "]".
        assert_eq!(map.keys_for(Action::NextSample), [&key("]")]);
        assert_eq!(map.keys_for(Action::Quit), [&key("x")]);
        assert!(map.keys_for(Action::Save).is_empty());
        assert_eq!(
            map.action_for(&press(KeyCode::Char('q'), KeyModifiers::NONE)),
            None
        );
        let quit = map
            .bindings
            .iter()
            .find(|b| b.action == Action::Quit)
            .unwrap();
        assert_eq!(quit.desc, "leave");
        assert!(quit.hint, "hint kept from the default");
        let jump = map
            .bindings
            .iter()
            .find(|b| b.action == Action::Jump)
            .unwrap();
        assert_eq!(jump.desc, "jump to a sample index or id", "desc kept");
        assert!(!map.hints().iter().any(|(_, d)| d == "save session"));
        map.check().unwrap();
    }

    #[test]
    fn bad_user_file_warns_and_keeps_the_default() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keymap.toml");
        std::fs::write(&path, "[[bind]]\nkeys = [\"q\"]\naction = \"quitt\"\n").unwrap();
        let (map, warning) = Keymap::load_from(Some(&path));
        assert_eq!(map, Keymap::default_map().unwrap());
        let warning = warning.unwrap();
        assert!(
            warning.contains("quitt") && warning.contains("keymap.toml"),
            "{warning}"
        );

        // Two user entries on one key: a conflict inside the user file is an error too.
        std::fs::write(&path, "[[bind]]\nkeys = [\"z\"]\naction = \"quit\"\n[[bind]]\nkeys = [\"z\"]\naction = \"save\"\n").unwrap();
        let (_, warning) = Keymap::load_from(Some(&path));
        assert!(warning.unwrap().contains("\"z\""));

        let (map, warning) = Keymap::load_from(Some(&dir.path().join("absent.toml")));
        assert!(warning.is_none());
        assert_eq!(map, Keymap::default_map().unwrap());
    }

    #[test]
    fn duplicate_default_keys_are_an_error() {
        let text = "[[bind]]\nkeys = [\"a\"]\naction = \"quit\"\n[[bind]]\nkeys = [\"a\"]\naction = \"help\"\n";
        let e = Keymap::parse(text, "t")
            .unwrap()
            .check()
            .unwrap_err()
            .to_string();
        assert!(e.contains("quit") && e.contains("help"), "{e}");
    }

    #[test]
    fn hints_in_file_order() {
        let map = Keymap::default_map().unwrap();
        let hints = map.hints();
        assert_eq!(hints[0], ("n/]".to_owned(), "next sample".to_owned()));
        assert!(hints.contains(&("?".to_owned(), "help".to_owned())));
        assert!(hints.contains(&("q/ctrl-c".to_owned(), "quit".to_owned())));
    }
}
