//! The house rules of the source tree, checked by a scan of `src/`: the terminal crates stay
//! in the front ends, every top-level module imports only the layers below it, `data` and
//! `model` never import each other, and no two files (or folders) import each other in a
//! circle. The README's Architecture section draws the same layers.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layers, bottom first. A module may import the modules of lower layers only; modules
/// of one layer do not import each other.
const LAYERS: &[&[&str]] = &[
    &["atomic_file", "hf"],
    &["data", "synth"],
    // Text rules (normalisation, extraction, scores, labels): no model.
    &["eval"],
    &["model"],
    &["attribution", "similarity", "lens"],
    &["pipeline"],
    &["batch", "bench", "diff"],
    &["report", "export"],
    &["explorer"],
    &["tui"],
    &["cli"],
];

/// Where the terminal crates may be named.
const FRONT_ENDS: &[&str] = &["tui", "cli"];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `explorer::worker::runner` for src/explorer/worker/runner.rs (`mod.rs` names its folder;
/// lib.rs and main.rs are the root, "").
fn module_of(file: &Path) -> String {
    let rel = file.strip_prefix(src()).unwrap().with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    if parts.len() == 1 && (parts[0] == "lib" || parts[0] == "main") {
        parts.clear();
    }
    parts.join("::")
}

/// The source without comments (a doc comment may name any module).
fn code_of(text: &str) -> String {
    text.lines()
        .map(|line| match line.find("//") {
            Some(at) if !line[..at].contains('"') => &line[..at],
            _ => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every `crate::a::b`, `super::x` and `self::y` path in the code, as written.
fn paths_in(code: &str) -> Vec<String> {
    let bytes = code.as_bytes();
    let mut out = Vec::new();
    for start in ["crate::", "super::", "self::"] {
        let mut from = 0;
        while let Some(at) = code[from..].find(start) {
            let begin = from + at;
            from = begin + start.len();
            // Only a path's start: not `xmrc_lens::self::` or `my_crate::`.
            if begin > 0 && (bytes[begin - 1].is_ascii_alphanumeric() || bytes[begin - 1] == b'_') {
                continue;
            }
            if begin > 1 && &code[begin - 2..begin] == "::" {
                continue;
            }
            let end = code[begin..]
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
                .map_or(code.len(), |e| begin + e);
            out.push(code[begin..end].trim_end_matches(':').to_string());
        }
    }
    out
}

/// The module (file) a path lands in: the longest known module prefix.
fn resolve(current: &str, path: &str, modules: &BTreeSet<String>) -> Option<String> {
    let mut parts: Vec<&str> = path.split("::").collect();
    let mut base: Vec<&str> = match parts.first() {
        Some(&"crate") => Vec::new(),
        Some(&"super") | Some(&"self") if current.is_empty() => Vec::new(),
        Some(&"super") | Some(&"self") => current.split("::").collect(),
        _ => return None,
    };
    match parts[0] {
        "crate" | "self" => {
            parts.remove(0);
        }
        _ => {
            while parts.first() == Some(&"super") {
                base.pop();
                parts.remove(0);
            }
        }
    }
    let mut best = None;
    for i in 0..=parts.len() {
        let candidate = base
            .iter()
            .chain(&parts[..i])
            .copied()
            .collect::<Vec<_>>()
            .join("::");
        if modules.contains(&candidate) {
            best = Some(candidate);
        }
    }
    best
}

struct Tree {
    /// Module -> its code (comments removed).
    code: BTreeMap<String, String>,
}

impl Tree {
    fn scan() -> Tree {
        let mut files = Vec::new();
        rust_files(&src(), &mut files);
        let code = files
            .iter()
            .map(|f| (module_of(f), code_of(&std::fs::read_to_string(f).unwrap())))
            .collect();
        Tree { code }
    }

    fn modules(&self) -> BTreeSet<String> {
        self.code.keys().cloned().collect()
    }

    /// File -> the files it imports (its own ancestors and descendants left out: a folder's
    /// `mod.rs` and its files belong together).
    fn edges(&self) -> BTreeMap<String, BTreeSet<String>> {
        let modules = self.modules();
        let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (module, code) in &self.code {
            for path in paths_in(code) {
                let Some(target) = resolve(module, &path, &modules) else {
                    continue;
                };
                let related = target.is_empty()
                    || module.is_empty()
                    || &target == module
                    || module.starts_with(&format!("{target}::"))
                    || target.starts_with(&format!("{module}::"));
                if !related {
                    edges.entry(module.clone()).or_default().insert(target);
                }
            }
        }
        edges
    }
}

fn top(module: &str) -> &str {
    module.split("::").next().unwrap_or(module)
}

fn layer_of(top: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&top))
}

#[test]
fn every_top_level_module_has_a_layer() {
    let tree = Tree::scan();
    let missing: BTreeSet<&str> = tree
        .code
        .keys()
        .map(|m| top(m))
        .filter(|t| !t.is_empty() && layer_of(t).is_none())
        .collect();
    assert!(
        missing.is_empty(),
        "modules without a layer in tests/layering.rs (and the README's diagram): {missing:?}"
    );
}

#[test]
fn only_the_front_ends_name_the_terminal_crates() {
    let tree = Tree::scan();
    let offenders: Vec<&String> = tree
        .code
        .iter()
        .filter(|(module, _)| !FRONT_ENDS.contains(&top(module)) && !module.is_empty())
        .filter(|(_, code)| code.contains("ratatui") || code.contains("crossterm"))
        .map(|(module, _)| module)
        .collect();
    assert!(
        offenders.is_empty(),
        "ratatui/crossterm outside tui and cli: {offenders:?}"
    );
}

#[test]
fn no_module_imports_one_above_it() {
    let tree = Tree::scan();
    let mut wrong = Vec::new();
    for (from, targets) in tree.edges() {
        let (Some(from_layer), from_top) = (layer_of(top(&from)), top(&from)) else {
            continue;
        };
        for to in targets {
            let to_top = top(&to);
            if to_top == from_top {
                continue;
            }
            match layer_of(to_top) {
                Some(to_layer) if to_layer < from_layer => {}
                _ => wrong.push(format!("{from} -> {to}")),
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports of the same or a higher layer:\n{}",
        wrong.join("\n")
    );
}

/// The import graph at every depth: an import of `a::b::c` by `a::d` is also one of the
/// folder `a::b` by `a::d`, so a circle between folders shows as well as one between files.
fn edges_at_every_depth(
    edges: &BTreeMap<String, BTreeSet<String>>,
) -> BTreeMap<String, BTreeSet<String>> {
    let prefix = |m: &str, depth: usize| m.split("::").take(depth).collect::<Vec<_>>().join("::");
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (from, targets) in edges {
        for to in targets {
            let depth = from.split("::").count().max(to.split("::").count());
            for d in 1..=depth {
                let (a, b) = (prefix(from, d), prefix(to, d));
                if a != b {
                    out.entry(a).or_default().insert(b);
                    // Below the first difference the two sides are in different folders.
                    break;
                }
            }
        }
    }
    out
}

#[test]
fn no_files_or_folders_import_each_other_in_a_circle() {
    let edges = edges_at_every_depth(&Tree::scan().edges());
    // Depth-first search for a back edge; the circle is reported as found.
    fn visit(
        node: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        done: &mut BTreeSet<String>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = stack.iter().position(|n| n == node) {
            let mut circle = stack[at..].to_vec();
            circle.push(node.to_string());
            return Some(circle);
        }
        if done.contains(node) {
            return None;
        }
        stack.push(node.to_string());
        for next in edges.get(node).into_iter().flatten() {
            if let Some(circle) = visit(next, edges, done, stack) {
                return Some(circle);
            }
        }
        stack.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    for node in edges.keys() {
        if let Some(circle) = visit(node, &edges, &mut done, &mut Vec::new()) {
            panic!(
                "files or folders import each other in a circle: {}",
                circle.join(" -> ")
            );
        }
    }
}

/// The scan itself: it must see the imports it is there to police.
#[test]
fn the_scan_finds_imports_and_circles() {
    let modules: BTreeSet<String> = ["", "a", "a::x", "a::y", "b"]
        .into_iter()
        .map(String::from)
        .collect();
    assert_eq!(
        resolve("a::x", "super::y::Thing", &modules).as_deref(),
        Some("a::y")
    );
    assert_eq!(
        resolve("a::x", "crate::b::f", &modules).as_deref(),
        Some("b")
    );
    assert_eq!(
        resolve("a", "self::x::T", &modules).as_deref(),
        Some("a::x")
    );
    let code = code_of("use crate::b::f; // crate::a::y\nlet s = \"//\"; other::crate::z");
    assert_eq!(paths_in(&code), ["crate::b::f"]);
    // A file of one folder importing a file of another is an import between the folders.
    let edges: BTreeMap<String, BTreeSet<String>> = [
        ("a::x::p".to_string(), ["a::y::q".to_string()].into()),
        ("a::y::r".to_string(), ["a::x::s".to_string()].into()),
    ]
    .into();
    let folders = edges_at_every_depth(&edges);
    assert!(folders["a::x"].contains("a::y") && folders["a::y"].contains("a::x"));
}
