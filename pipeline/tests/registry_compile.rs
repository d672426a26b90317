//! Incremental compilation of the registry: a tenant compiled on top of `main`'s compiled
//! registry, and a registry compiled from the one it replaces, must classify exactly as a
//! registry compiled from scratch.

use std::path::Path;

use volcano_pipeline::classify::{Classification, classify};
use volcano_pipeline::registry::{
    CompiledRegistry, Definitions, compile, compile_overlay, compile_reusing, load_files,
    load_tenant_files, load_tree, overlay, read_tree,
};
use volcano_pipeline::tools::{ToolContext, ToolServices};

fn repos() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../repos")
}

/// What a classification says, by name, so registries with different rule layouts compare.
fn outcome(registry: &CompiledRegistry, text: &str) -> Option<(String, String, String)> {
    match classify(registry, text) {
        Classification::Matched { rule, target, .. } => {
            let source = match target {
                volcano_pipeline::registry::Target::Tool(i) => {
                    registry.tool(i).unwrap().source.clone()
                }
                volcano_pipeline::registry::Target::Workflow(i) => {
                    registry.workflow(i).unwrap().source.clone()
                }
            };
            Some((rule, registry.target_name(target).to_string(), source))
        }
        _ => None,
    }
}

fn texts(definitions: &Definitions) -> Vec<String> {
    let mut texts: Vec<String> = definitions
        .tools
        .iter()
        .flat_map(|t| t.examples.clone())
        .chain(
            definitions
                .workflows
                .iter()
                .flat_map(|w| w.examples.clone()),
        )
        .collect();
    texts.extend(
        [
            "Calculate 42 + 58",
            "convert 5 km to miles",
            "convert 5 florps to miles",
            "process customer data and generate report",
            "what is the price of the acme widget",
            "quote shipping for 3 parcels to Berlin",
            "hello there",
            "",
        ]
        .map(String::from),
    );
    texts
}

fn tool(name: &str, pattern: &str, priority: i32, answer: &str) -> String {
    format!(
        "version: 1\nname: {name}\npatterns:\n  - '{pattern}'\npriority: {priority}\ntool:\n  kind: template\n  template: \"{answer}\"\n"
    )
}

fn files(list: &[(&str, String)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(p, c)| (p.to_string(), c.clone()))
        .collect()
}

#[test]
fn tenants_compiled_on_main_classify_as_a_full_compile() {
    let main = load_tree(&repos().join("main")).unwrap();
    let main_compiled = compile(&main, "main", "m1").unwrap();
    for tenant in ["acme-corp", "globex-inc"] {
        let own = load_tenant_files(
            &main,
            read_tree(&repos().join("customer").join(tenant)).unwrap(),
        )
        .unwrap();
        let full = compile(&overlay(&main, &own), tenant, "m1+t1").unwrap();
        let layered = compile_overlay(
            &main_compiled,
            &own,
            tenant,
            "t1",
            &ToolServices::default(),
            None,
        )
        .unwrap();
        assert_eq!(layered.commit, "m1+t1");
        assert_eq!(layered.definitions, full.definitions);
        let texts = texts(&full.definitions);
        assert!(texts.len() > 40, "{} texts", texts.len());
        for text in &texts {
            assert_eq!(
                outcome(&layered, text),
                outcome(&full, text),
                "{tenant}: {text:?}"
            );
        }
    }
}

#[test]
fn a_tenant_definition_hides_mains_patterns_and_keeps_mains_place_in_ties() {
    let main = load_files(files(&[
        (
            "tools/a-first.yaml",
            tool("first", "^same words$", 5, "main first"),
        ),
        (
            "tools/b-greet.yaml",
            tool("greet", "^hello$", 5, "main greet"),
        ),
        (
            "tools/c-second.yaml",
            tool("second", "^same words$", 5, "main second"),
        ),
    ]))
    .unwrap();
    let own = load_tenant_files(
        &main,
        files(&[
            ("tools/greet.yaml", tool("greet", "^hi$", 5, "tenant greet")),
            // Replaces `second` in place: it still loses the tie to `first`...
            (
                "tools/second.yaml",
                tool("second", "^same words$", 5, "tenant second"),
            ),
            // ...as a new definition, appended, loses it too.
            (
                "tools/third.yaml",
                tool("third", "^same words$", 5, "tenant third"),
            ),
        ]),
    )
    .unwrap();
    let main_compiled = compile(&main, "main", "m").unwrap();
    let tenant = compile_overlay(
        &main_compiled,
        &own,
        "t",
        "t",
        &ToolServices::default(),
        None,
    )
    .unwrap();
    // Main's pattern for `greet` is gone with main's definition.
    assert_eq!(outcome(&tenant, "hello"), None);
    assert_eq!(
        outcome(&tenant, "hi"),
        Some(("greet:0".into(), "greet".into(), "tools/greet.yaml".into()))
    );
    assert_eq!(outcome(&tenant, "same words").unwrap().1, "first");
    // Main itself is untouched.
    assert_eq!(
        outcome(&main_compiled, "hello").unwrap().2,
        "tools/b-greet.yaml"
    );
    assert_eq!(outcome(&main_compiled, "hi"), None);
}

#[test]
fn a_registry_compiled_from_the_one_it_replaces_follows_every_change() {
    let services = ToolServices::default();
    let v1 = load_files(files(&[
        ("tools/a.yaml", tool("alpha", "^alpha$", 1, "one")),
        ("tools/b.yaml", tool("beta", "^beta$", 1, "two")),
    ]))
    .unwrap();
    let r1 = compile(&v1, "main", "c1").unwrap();
    // A changed pattern: the old one no longer matches, the new one does.
    let v2 = load_files(files(&[
        ("tools/a.yaml", tool("alpha", "^alef$", 1, "one")),
        ("tools/b.yaml", tool("beta", "^beta$", 1, "two")),
    ]))
    .unwrap();
    let r2 = compile_reusing(&v2, "main", "c2", &services, Some(&r1)).unwrap();
    assert_eq!(outcome(&r2, "alpha"), None);
    assert_eq!(outcome(&r2, "alef").unwrap().1, "alpha");
    // Same patterns, a changed answer: the new answer is what runs.
    let v3 = load_files(files(&[
        ("tools/a.yaml", tool("alpha", "^alef$", 1, "uno")),
        ("tools/b.yaml", tool("beta", "^beta$", 1, "two")),
    ]))
    .unwrap();
    let r3 = compile_reusing(&v3, "main", "c3", &services, Some(&r2)).unwrap();
    assert_eq!(outcome(&r3, "alef").unwrap().1, "alpha");
    let context = ToolContext::new("alef", chrono::Utc::now().fixed_offset());
    let output = r3
        .runnable(0)
        .unwrap()
        .run(&context)
        .expect("the template runs");
    assert_eq!(output.answer, "uno");
    // A tenant compiled from its previous registry over a new main.
    let own = load_tenant_files(
        &v3,
        files(&[("tools/g.yaml", tool("gamma", "^gamma$", 1, "three"))]),
    )
    .unwrap();
    let t1 = compile_overlay(&r2, &own, "t", "t1", &services, None).unwrap();
    let t2 = compile_overlay(&r3, &own, "t", "t1", &services, Some(&t1)).unwrap();
    assert_eq!(t2.commit, "c3+t1");
    assert_eq!(outcome(&t2, "gamma").unwrap().1, "gamma");
    assert_eq!(outcome(&t2, "alef").unwrap().1, "alpha");
    assert_eq!(outcome(&t2, "alpha"), None);
}

/// A small deterministic generator (xorshift), so the edit sequence is the same every run.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

#[test]
fn a_long_history_of_edits_compiled_incrementally_classifies_as_from_scratch() {
    let services = ToolServices::default();
    let mut rng = Rng(0x5eed_cafe);
    // tool name → (pattern word, priority)
    let mut tools: std::collections::BTreeMap<String, (usize, i32)> = (0..20)
        .map(|i| (format!("tool-{i:02}"), (i % 12, (i % 3) as i32)))
        .collect();
    let texts: Vec<String> = (0..14).map(|w| format!("please word{w} now")).collect();
    let definitions = |tools: &std::collections::BTreeMap<String, (usize, i32)>| {
        let files: Vec<(String, String)> = tools
            .iter()
            .map(|(name, (word, priority))| {
                (
                    format!("tools/{name}.yaml"),
                    tool(name, &format!("word{word}\\\\b"), *priority, name),
                )
            })
            .collect();
        load_files(files).unwrap()
    };
    let own = load_tenant_files(
        &definitions(&tools),
        files(&[
            ("tools/tool-03.yaml", tool("tool-03", "word13", 9, "tenant")),
            ("tools/extra.yaml", tool("extra", "word1\\\\b", 1, "tenant")),
        ]),
    )
    .unwrap();
    let mut main = compile(&definitions(&tools), "main", "c0").unwrap();
    let mut tenant = compile_overlay(&main, &own, "t", "t", &services, None).unwrap();
    let mut most_sets = 0;
    for step in 1..=300 {
        let names: Vec<String> = tools.keys().cloned().collect();
        match rng.below(4) {
            0 => {
                let name = &names[rng.below(names.len())];
                tools.get_mut(name).unwrap().0 = rng.below(14);
            }
            1 => {
                let name = &names[rng.below(names.len())];
                tools.get_mut(name).unwrap().1 = rng.below(3) as i32;
            }
            2 if tools.len() > 5 => {
                tools.remove(&names[rng.below(names.len())]);
            }
            _ => {
                tools.insert(format!("tool-{}", 20 + step), (rng.below(14), 1));
            }
        }
        let defs = definitions(&tools);
        let commit = format!("c{step}");
        main = compile_reusing(&defs, "main", &commit, &services, Some(&main)).unwrap();
        tenant = compile_overlay(&main, &own, "t", "t", &services, Some(&tenant)).unwrap();
        // Small sets for what changed, never more than 4 beyond what a fresh compile makes.
        most_sets = most_sets.max(main.pattern_sets());
        assert!(
            main.pattern_sets() <= 1 + 4,
            "step {step}: {}",
            main.pattern_sets()
        );
        assert!(tenant.pattern_sets() <= main.pattern_sets() + 1 + 4);
        let fresh = compile(&defs, "main", &commit).unwrap();
        let fresh_tenant = compile(&overlay(&defs, &own), "t", "x").unwrap();
        for text in &texts {
            assert_eq!(
                outcome(&main, text),
                outcome(&fresh, text),
                "step {step}: {text}"
            );
            assert_eq!(
                outcome(&tenant, text),
                outcome(&fresh_tenant, text),
                "tenant, step {step}: {text}"
            );
        }
    }
    assert!(most_sets > 1, "the history never compiled incrementally");
}
