//! House-style checks over the source tree, after rust-analyzer's
//! `xtask/src/tidy.rs`: every Rust file opens with a `//!` paragraph saying
//! what it is for.
use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if path
                .file_name()
                .is_some_and(|n| n == "target" || n == "fixtures")
            {
                continue;
            }
            rust_files(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

#[test]
fn every_rust_file_opens_with_a_module_doc() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut files = Vec::new();
    for folder in ["crates", "fuzz/fuzz_targets"] {
        rust_files(&root.join(folder), &mut files);
    }
    assert!(
        files.len() > 10,
        "found only {} files; is the walk broken?",
        files.len()
    );
    let undocumented: Vec<String> = files
        .iter()
        .filter(|path| {
            let text = std::fs::read_to_string(path).unwrap_or_default();
            !text.trim_start().starts_with("//!")
        })
        .map(|path| path.display().to_string())
        .collect();
    assert!(
        undocumented.is_empty(),
        "files without a `//!` module doc:\n{}",
        undocumented.join("\n")
    );
}

/// A `use crate::...` or `crate::...` reference from one top-level module
/// to another, and where it was first seen.
struct Edge {
    from: String,
    to: String,
    at: String,
}

/// The top-level module a file under `src` belongs to (`pipeline.rs` and
/// `measures/quality.rs` give `pipeline` and `measures`), or `None` for the
/// crate root.
fn top_module(src: &Path, file: &Path) -> Option<String> {
    let relative = file.strip_prefix(src).ok()?;
    let first = relative.components().next()?.as_os_str().to_str()?;
    let name = first.strip_suffix(".rs").unwrap_or(first);
    (!matches!(name, "lib" | "main")).then(|| name.to_string())
}

/// The code of a file that is not a test module or a comment: everything
/// before its `#[cfg(test)]` block, without `//` comments.
fn code_lines(text: &str) -> Vec<(usize, String)> {
    let mut lines = Vec::new();
    for (idx, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("#[cfg(test)]") {
            break;
        }
        let code = match line.find("//") {
            Some(at) => &line[..at],
            None => line,
        };
        lines.push((idx + 1, code.to_string()));
    }
    lines
}

/// The edges between the top-level modules of the crate whose sources are
/// in `src`. A `use crate::{a, b::c}` group counts for each name in it.
fn module_edges(src: &Path) -> (Vec<String>, Vec<Edge>) {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    files.sort();
    let mut modules: Vec<String> = files.iter().filter_map(|f| top_module(src, f)).collect();
    modules.sort();
    modules.dedup();
    let mut edges: Vec<Edge> = Vec::new();
    for file in &files {
        let Some(from) = top_module(src, file) else {
            continue;
        };
        let text = std::fs::read_to_string(file).unwrap_or_default();
        // The code as one string (a `use crate::{...}` may span lines), with
        // the offset at which each line starts.
        let mut code = String::new();
        let mut line_starts: Vec<(usize, usize)> = Vec::new();
        for (number, line) in code_lines(&text) {
            line_starts.push((code.len(), number));
            code.push_str(&line);
            code.push('\n');
        }
        for (offset, target) in crate_references(&code) {
            if target != from
                && modules.contains(&target)
                && !edges.iter().any(|e| e.from == from && e.to == target)
            {
                let line = line_starts
                    .iter()
                    .rev()
                    .find(|(start, _)| *start <= offset)
                    .map_or(0, |(_, number)| *number);
                edges.push(Edge {
                    from: from.clone(),
                    to: target,
                    at: format!("{}:{line}", file.display()),
                });
            }
        }
    }
    (modules, edges)
}

/// The first path segment after every `crate::` in `code`, with the names
/// of a `crate::{a, b::c}` group, each with the offset of its `crate::`.
fn crate_references(code: &str) -> Vec<(usize, String)> {
    let identifier = |text: &str| -> String {
        text.trim()
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    let mut found = Vec::new();
    for (offset, _) in code.match_indices("crate::") {
        let after = &code[offset + "crate::".len()..];
        if let Some(group) = after.strip_prefix('{') {
            // Top-level names of the group: split at commas outside nested braces.
            let mut depth = 0;
            let mut item_start = 0;
            for (idx, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => {
                        found.push((offset, identifier(&group[item_start..idx])));
                        break;
                    }
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        found.push((offset, identifier(&group[item_start..idx])));
                        item_start = idx + 1;
                    }
                    _ => {}
                }
            }
        } else {
            found.push((offset, identifier(after)));
        }
    }
    found.retain(|(_, name)| !name.is_empty());
    found
}

/// A cycle among `edges`, as the edges that close it, if there is one.
fn find_cycle<'a>(modules: &[String], edges: &'a [Edge]) -> Option<Vec<&'a Edge>> {
    // Depth-first search with the path on a stack; 0 unseen, 1 on the path, 2 done.
    fn visit<'a>(
        node: &str,
        edges: &'a [Edge],
        state: &mut std::collections::HashMap<String, u8>,
        path: &mut Vec<&'a Edge>,
    ) -> Option<Vec<&'a Edge>> {
        state.insert(node.to_string(), 1);
        for edge in edges.iter().filter(|e| e.from == node) {
            match state.get(&edge.to).copied().unwrap_or(0) {
                1 => {
                    path.push(edge);
                    let start = path.iter().position(|e| e.from == edge.to).unwrap_or(0);
                    return Some(path[start..].to_vec());
                }
                0 => {
                    path.push(edge);
                    if let Some(cycle) = visit(&edge.to, edges, state, path) {
                        return Some(cycle);
                    }
                    path.pop();
                }
                _ => {}
            }
        }
        state.insert(node.to_string(), 2);
        None
    }
    let mut state = std::collections::HashMap::new();
    for module in modules {
        if state.get(module).copied().unwrap_or(0) == 0 {
            let mut path = Vec::new();
            if let Some(cycle) = visit(module, edges, &mut state, &mut path) {
                return Some(cycle);
            }
        }
    }
    None
}

/// The cycle of `src`'s top-level modules, printed one edge a line.
fn cycle_message(src: &Path) -> Option<String> {
    let (modules, edges) = module_edges(src);
    let cycle = find_cycle(&modules, &edges)?;
    Some(
        cycle
            .iter()
            .map(|e| format!("  {} -> {}   ({})", e.from, e.to, e.at))
            .collect::<Vec<_>>()
            .join("\n"),
    )
}

#[test]
fn top_level_modules_import_no_cycle() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut crates: Vec<PathBuf> = std::fs::read_dir(root.join("crates"))
        .map(|entries| entries.flatten().map(|entry| entry.path()).collect())
        .unwrap_or_default();
    crates.sort();
    assert!(crates.len() >= 4, "found only {crates:?}");
    for dir in crates {
        let krate = dir.file_name().unwrap_or_default().to_string_lossy();
        let src = dir.join("src");
        let (modules, edges) = module_edges(&src);
        assert!(modules.len() >= 3, "{krate}: found only {modules:?}");
        if krate == "strata-core" {
            assert!(edges.len() > 20, "{krate}: few edges; is the scan broken?");
        }
        if let Some(cycle) = cycle_message(&src) {
            panic!(
                "{krate}: its top-level modules import each other in a cycle:\n{cycle}\n\
                 move what both sides need into a module below them"
            );
        }
    }
}

#[test]
fn a_planted_cycle_is_found_and_printed() {
    let dir = std::env::temp_dir().join(format!("strata-tidy-{}", std::process::id()));
    let src = dir.join("src");
    std::fs::create_dir_all(src.join("b")).unwrap();
    std::fs::write(
        src.join("lib.rs"),
        "//! root\npub mod a;\npub mod b;\npub mod c;\n",
    )
    .unwrap();
    std::fs::write(
        src.join("a.rs"),
        "//! a\nuse crate::{\n    c,\n    b::{inner, self},\n};\n",
    )
    .unwrap();
    std::fs::write(src.join("b/mod.rs"), "//! b\npub mod inner;\n").unwrap();
    std::fs::write(
        src.join("b/inner.rs"),
        "//! inner\n// crate::c is only a comment\npub fn f() { crate::a::g(); }\n",
    )
    .unwrap();
    std::fs::write(
        src.join("c.rs"),
        "//! c\n#[cfg(test)]\nmod tests { use crate::a; }\n",
    )
    .unwrap();
    let message = cycle_message(&src);
    std::fs::remove_dir_all(&dir).unwrap();
    let message = message.expect("a -> b -> a is a cycle");
    assert!(message.contains("a -> b"), "{message}");
    assert!(message.contains("b -> a"), "{message}");
    assert!(message.contains("b/inner.rs:3"), "{message}");
    // Neither the comment nor the test module adds an edge to c's cycle.
    assert!(!message.contains("c -> a"), "{message}");
}

/// Each module's layer: the length of its longest chain of imports (a
/// module that imports no other strata module is 0). Needs an acyclic graph.
fn layers(modules: &[String], edges: &[Edge]) -> std::collections::BTreeMap<String, usize> {
    fn layer(
        module: &str,
        edges: &[Edge],
        known: &mut std::collections::BTreeMap<String, usize>,
    ) -> usize {
        if let Some(&layer_idx) = known.get(module) {
            return layer_idx;
        }
        let layer_idx = edges
            .iter()
            .filter(|e| e.from == module)
            .map(|e| 1 + layer(&e.to, edges, known))
            .max()
            .unwrap_or(0);
        known.insert(module.to_string(), layer_idx);
        layer_idx
    }
    let mut known = std::collections::BTreeMap::new();
    for module in modules {
        layer(module, edges, &mut known);
    }
    known
}

#[test]
fn architecture_lists_every_module_at_its_layer() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let (modules, edges) = module_edges(&root.join("crates/strata-core/src"));
    if find_cycle(&modules, &edges).is_some() {
        return; // top_level_modules_import_no_cycle reports it
    }
    let computed = layers(&modules, &edges);
    let text = std::fs::read_to_string(root.join("ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    let table = text
        .split("## Layers")
        .nth(1)
        .and_then(|section| section.split("```text\n").nth(1))
        .and_then(|block| block.split("```").next())
        .expect("ARCHITECTURE.md has a ## Layers section with a ```text table");
    let mut documented = std::collections::BTreeMap::new();
    for line in table.lines() {
        let code = line.split('#').next().unwrap_or_default();
        let mut words = code.split_whitespace();
        let Some(layer_idx) = words.next().and_then(|w| w.parse::<usize>().ok()) else {
            continue;
        };
        for module in words {
            documented.insert(module.to_string(), layer_idx);
        }
    }
    let mut wrong: Vec<String> = Vec::new();
    for (module, layer_idx) in &computed {
        match documented.get(module) {
            Some(listed) if listed == layer_idx => {}
            Some(listed) => wrong.push(format!("{module}: listed at {listed}, is at {layer_idx}")),
            None => wrong.push(format!("{module}: missing, is at {layer_idx}")),
        }
    }
    for module in documented.keys() {
        if !computed.contains_key(module) {
            wrong.push(format!("{module}: listed, but there is no such module"));
        }
    }
    assert!(
        wrong.is_empty(),
        "ARCHITECTURE.md's ## Layers table is out of date:\n  {}",
        wrong.join("\n  ")
    );
}

#[test]
fn every_crate_is_in_the_crate_map() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let text = std::fs::read_to_string(root.join("ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    let table = text
        .split("## Crates")
        .nth(1)
        .and_then(|section| section.split("```text\n").nth(1))
        .and_then(|block| block.split("```").next())
        .expect("ARCHITECTURE.md has a ## Crates section with a ```text table");
    let listed: Vec<&str> = table
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .filter(|word| word.starts_with("strata-"))
        .collect();
    let mut on_disk: Vec<String> = std::fs::read_dir(root.join("crates"))
        .map(|entries| {
            entries
                .flatten()
                .filter(|entry| entry.path().join("Cargo.toml").is_file())
                .map(|entry| entry.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    on_disk.sort();
    let missing: Vec<&String> = on_disk
        .iter()
        .filter(|c| !listed.contains(&c.as_str()))
        .collect();
    let stale: Vec<&&str> = listed
        .iter()
        .filter(|c| !on_disk.iter().any(|d| d == **c))
        .collect();
    assert!(
        missing.is_empty() && stale.is_empty(),
        "ARCHITECTURE.md's ## Crates table is out of date: missing {missing:?}, no such crate {stale:?}"
    );
    assert!(on_disk.len() >= 5, "found only {on_disk:?}");
}
