//! The house rules a reviewer would otherwise check by hand: no source
//! file over 600 lines, and no module that imports a sibling which imports
//! it back (a cycle hides which of the two is the lower layer).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Source roots of the workspace's crates.
const ROOTS: &[&str] = &["src", "storage/src", "wal/src", "query/src"];

const MAX_LINES: usize = 600;

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

/// The module path of a file under its crate root (`engine/fused/acc.rs` →
/// `["engine", "fused", "acc"]`; `mod.rs`, `lib.rs` and `main.rs` name
/// their directory).
fn module_of(root: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(root).unwrap().with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts
}

/// Every `crate::…` and `super::…` path in `text`, with `a::{b, c}` groups
/// spelled out one path each.
fn paths_in(text: &str) -> Vec<Vec<String>> {
    let group = regex::Regex::new(r"((?:crate|super)(?:::\w+)*)::\{([^{}]*)\}").unwrap();
    let expanded = group.replace_all(text, |c: &regex::Captures<'_>| {
        c[2].split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| format!("{}::{s} ", &c[1]))
            .collect::<String>()
    });
    let path = regex::Regex::new(r"\b(?:crate|super)(?:::\w+)+").unwrap();
    path.find_iter(&expanded)
        .map(|m| m.as_str().split("::").map(str::to_string).collect())
        .collect()
}

/// Resolves `path`, written in module `from`, to a module path.
fn resolve(from: &[String], path: &[String]) -> Vec<String> {
    if path[0] == "crate" {
        return path[1..].to_vec();
    }
    let mut at = from.to_vec();
    let mut rest = path;
    while rest.first().is_some_and(|p| p == "super") {
        at.pop();
        rest = &rest[1..];
    }
    at.extend_from_slice(rest);
    at
}

#[test]
fn no_source_file_is_over_six_hundred_lines() {
    let mut long = Vec::new();
    for root in ROOTS {
        let mut files = Vec::new();
        rust_files(Path::new(root), &mut files);
        for f in files {
            let lines = std::fs::read_to_string(&f).unwrap().lines().count();
            if lines > MAX_LINES {
                long.push(format!("{} ({lines} lines)", f.display()));
            }
        }
    }
    assert!(long.is_empty(), "files over {MAX_LINES} lines: {long:#?}");
}

#[test]
fn no_module_imports_a_sibling_that_imports_it_back() {
    let mut cycles = Vec::new();
    for root in ROOTS {
        let root = Path::new(root);
        let mut files = Vec::new();
        rust_files(root, &mut files);
        // (importer, imported) at the level where the two paths part.
        let mut edges: BTreeMap<(String, String), String> = BTreeMap::new();
        for f in files {
            let from = module_of(root, &f);
            let text = std::fs::read_to_string(&f).unwrap();
            for path in paths_in(&text) {
                let to = resolve(&from, &path);
                let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
                if common < from.len() && common < to.len() {
                    let a = from[..=common].join("::");
                    let b = to[..=common].join("::");
                    edges
                        .entry((a, b))
                        .or_insert_with(|| f.display().to_string());
                }
            }
        }
        let mut seen = BTreeSet::new();
        for ((a, b), file) in &edges {
            if let Some(back) = edges.get(&(b.clone(), a.clone()))
                && seen.insert((a.min(b).clone(), a.max(b).clone()))
            {
                cycles.push(format!("{}: {a} ↔ {b} ({file} and {back})", root.display()));
            }
        }
    }
    assert!(
        cycles.is_empty(),
        "modules importing each other: {cycles:#?}"
    );
}
