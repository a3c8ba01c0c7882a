//! `touched-keys PROFILE.mm_profdata CRATE...`: the items of the named crates that the
//! compile's executed queries were keyed on, from a profile written with
//! `-Zself-profile -Zself-profile-events=query-provider,query-keys`, as JSON
//! `{"names": {crate: [path segment names]}, "paths": {crate: [paths]}, "impls": {crate:
//! [trait names]}}`.
//!
//! Every query rustc executed for an item of another crate (its type, signature, MIR, the
//! impls it considered, its layout) names the item by its definition path in the key
//! (`syntax::ast::edit_in_place::{{impl}}[12]::add_predicate`, or `DefId(3:17 ~
//! hir_def[8a1f]::nameres::DefMap)` inside a larger key). Every segment name of such a path
//! counts as touched: a superset of what the compile observed of that crate. `impls` lists,
//! per crate, the traits whose impls in that crate the compile looked at
//! (`implementations_of_trait((crate, trait))`: trait selection, method probing, coherence),
//! by the trait's last path segment. `paths` are the definition paths themselves, without the
//! crate and with impls as `{{impl}}` (`ast::edit_in_place::{{impl}}::add_predicate`).

use std::collections::{BTreeMap, BTreeSet};

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(profile) = args.next() else {
        eprintln!("usage: touched-keys PROFILE.mm_profdata CRATE...");
        std::process::exit(2);
    };
    let crates: BTreeSet<String> = args.collect();
    let stem = profile.trim_end_matches(".mm_profdata");
    let data = match analyzeme::ProfilingData::new(std::path::Path::new(stem)) {
        Ok(data) => data,
        Err(e) => {
            eprintln!("{profile}: cannot read the profile: {e}");
            std::process::exit(1);
        }
    };
    // A crate name (with the hash rustc's debug form adds), then `::segment` repeated.
    let path = regex::Regex::new(
        r"\b([a-z_][a-z0-9_]*)(?:\[[0-9a-f]{4}\])?((?:::(?:[A-Za-z_][A-Za-z0-9_]*|\{\{[a-z_]+\}\}(?:\[\d+\])?|\{[a-z_]+#\d+\}))+)",
    )
    .expect("a valid pattern");
    let mut touched: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    let mut impls: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    let mut paths: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    let mut seen: BTreeSet<String> = BTreeSet::new();
    for event in data.iter_full() {
        if event.event_kind != "Query" {
            continue;
        }
        for key in &event.additional_data {
            if !seen.insert(format!("{}\0{key}", event.label)) {
                continue;
            }
            if event.label == "implementations_of_trait" {
                // `(crate,path::of::Trait)`
                let pair = key.trim_start_matches('(').trim_end_matches(')');
                if let Some((krate, trait_path)) = pair.split_once(',') {
                    if let Some(krate) = crates.get(krate.trim()) {
                        let name = trait_path.rsplit("::").next().unwrap_or(trait_path);
                        impls.entry(krate.as_str()).or_default().insert(name.trim().to_string());
                    }
                }
            }
            for m in path.captures_iter(key) {
                let Some(krate) = crates.get(&m[1]) else { continue };
                let segments: Vec<&str> = m[2].trim_start_matches("::").split("::").collect();
                let normal: Vec<&str> =
                    segments.iter().map(|s| if s.starts_with("{{impl}}") { "{{impl}}" } else { s }).collect();
                paths.entry(krate.as_str()).or_default().insert(normal.join("::"));
                let names = touched.entry(krate.as_str()).or_default();
                for segment in
                    m[2].split("::").filter(|s| s.chars().next().is_some_and(|c| c.is_alphabetic() || c == '_'))
                {
                    names.insert(segment.to_string());
                }
            }
        }
    }
    let out = serde_json::json!({ "names": touched, "paths": paths, "impls": impls });
    println!("{out}");
}
