//! Tests of loading, validation, overlay and compilation, on the example config repository
//! (`repos/`) and on small broken files.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::*;
use crate::classify::{Classification, classify};

fn repos() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../repos")
}

/// A branch directory's definition files as (path, content), as the git registry feeds them.
fn branch_files(dir: &Path) -> Vec<(String, String)> {
    let mut files = Vec::new();
    for sub in ["tools", "workflows", "configs"] {
        let Ok(entries) = std::fs::read_dir(dir.join(sub)) else {
            continue;
        };
        for entry in entries.flatten() {
            let content = std::fs::read_to_string(entry.path()).unwrap();
            files.push((
                format!("{sub}/{}", entry.file_name().to_string_lossy()),
                content,
            ));
        }
    }
    files
}

fn show(diagnostics: &[Diagnostic]) -> String {
    diagnostics
        .iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

fn main_definitions() -> Definitions {
    load_tree(&repos().join("main")).unwrap_or_else(|d| panic!("repos/main:\n{}", show(&d)))
}

/// The compiled registry of `tenant` ("main", "acme-corp", "globex-inc") from `repos/`.
fn registry(tenant: &str) -> CompiledRegistry {
    let main = main_definitions();
    let definitions = if tenant == "main" {
        main
    } else {
        let dir = repos().join("customer").join(tenant);
        let own = load_tenant_files(&main, branch_files(&dir))
            .unwrap_or_else(|d| panic!("repos/customer/{tenant}:\n{}", show(&d)));
        overlay(&main, &own)
    };
    compile(&definitions, tenant, "0123abcd").unwrap_or_else(|d| panic!("{}", show(&d)))
}

fn matched_name(registry: &CompiledRegistry, text: &str) -> Option<String> {
    match classify(registry, text) {
        Classification::Matched { target, .. } => Some(registry.target_name(target).to_string()),
        Classification::Unclassified { .. } => None,
    }
}

/// Loads one file and returns its diagnostics (the load must fail).
fn diagnostics_of(path: &str, content: &str) -> Vec<Diagnostic> {
    load_files([(path.to_string(), content.to_string())])
        .err()
        .unwrap_or_else(|| panic!("{path} should not load"))
}

const TOOL: &str = "\
version: 1
name: adder
description: Adds numbers.
patterns:
  - '^add\\s+\\d'
examples:
  - add 1 and 2
tool:
  kind: calculator
";

#[test]
fn example_repository_loads_and_compiles_for_every_tenant() {
    let main = main_definitions();
    assert!(main.tools.len() >= 20, "{} tools", main.tools.len());
    assert_eq!(main.workflows.len(), 3);
    assert!(main.routing.is_some() && main.security.is_some());
    let kinds: std::collections::BTreeSet<&str> =
        main.tools.iter().map(|t| t.tool.kind.as_str()).collect();
    assert_eq!(
        kinds.len(),
        TOOL_KINDS.len(),
        "every kind in use: {kinds:?}"
    );
    for tenant in ["main", "acme-corp", "globex-inc"] {
        let registry = registry(tenant);
        assert_eq!(registry.tenant, tenant);
        assert_eq!(registry.commit, "0123abcd");
    }
}

/// The example tools' `tool:` mappings are valid for the tool kinds themselves (checked
/// here until the registry parses `tools::ToolSpec` directly).
#[test]
fn example_tool_bodies_build_with_the_tool_kinds() {
    let mut failures = Vec::new();
    for tenant in ["main", "acme-corp", "globex-inc"] {
        for tool in &registry(tenant).definitions.tools {
            let built = serde_json::from_value::<crate::tools::ToolSpec>(tool.tool.to_value())
                .map_err(|e| e.to_string())
                .and_then(|spec| crate::tools::build(&spec).map_err(|e| e.to_string()));
            if let Err(e) = built {
                failures.push(format!("[{tenant}] {}: {e}", tool.source));
            }
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn load_tree_and_load_files_agree() {
    let from_files = load_files(branch_files(&repos().join("main"))).unwrap();
    assert_eq!(from_files, main_definitions());
}

/// The key quality test: every example of every tool and workflow classifies to it, for
/// every tenant (so a tenant's additions steal nothing from `main`'s definitions).
#[test]
fn every_example_classifies_to_its_definition() {
    let mut failures = Vec::new();
    let mut checked = 0;
    for tenant in ["main", "acme-corp", "globex-inc"] {
        let registry = registry(tenant);
        let definitions = &registry.definitions;
        let tools = definitions.tools.iter().map(|t| (&t.name, &t.examples));
        let workflows = definitions.workflows.iter().map(|w| (&w.name, &w.examples));
        for (name, examples) in tools.chain(workflows) {
            for example in examples {
                checked += 1;
                let got = matched_name(&registry, example);
                if got.as_deref() != Some(name.as_str()) {
                    failures.push(format!(
                        "[{tenant}] {example:?}: expected {name}, got {got:?}"
                    ));
                }
            }
        }
    }
    assert!(checked > 150, "only {checked} examples");
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn requests_from_the_design_classify_as_intended() {
    let main = registry("main");
    let cases = [
        ("Calculate 42 + 58", "arithmetic"),
        ("what is 7 times 8 minus 6", "arithmetic"),
        ("add 19.99 and 5.01 then multiply by 3", "arithmetic"),
        (
            "subtract 250 from 1000 and divide the result by 5",
            "arithmetic",
        ),
        ("multiply that by 2", "arithmetic"),
        (
            "convert 5 km to miles and round to 2 decimals",
            "length-convert",
        ),
        ("convert 100 pounds to euros", "currency-convert"),
        ("convert 100 pounds to kg", "mass-convert"),
        (
            "process customer data and generate report",
            "customer-report",
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(
            matched_name(&main, text).as_deref(),
            Some(expected),
            "{text}"
        );
    }
    match classify(&main, "Calculate 42 + 58") {
        Classification::Matched {
            rule,
            priority,
            rule_index,
            ..
        } => {
            assert_eq!(rule, "arithmetic:0");
            assert_eq!(priority, 0);
            assert_eq!(main.rules()[rule_index].id, rule);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn tenants_see_only_their_own_additions() {
    let (main, acme, globex) = (
        registry("main"),
        registry("acme-corp"),
        registry("globex-inc"),
    );
    let discount = "what is the acme discount for gold members";
    let shipping = "shipping quote to Europe";
    assert_eq!(
        matched_name(&acme, discount).as_deref(),
        Some("acme-discount")
    );
    assert_eq!(matched_name(&main, discount), None);
    assert_eq!(matched_name(&globex, discount), None);
    assert_eq!(
        matched_name(&globex, shipping).as_deref(),
        Some("globex-shipping-quote")
    );
    assert_eq!(matched_name(&main, shipping), None);
    assert_eq!(matched_name(&acme, shipping), None);
    assert!(acme.definitions.tool("globex-shipping-quote").is_none());
    assert!(globex.definitions.tool("acme-discount").is_none());
    assert!(main.definitions.tool("acme-discount").is_none());

    // acme's product-prices replaces main's, in main's position; the others keep main's.
    let position = |r: &CompiledRegistry| r.find("product-prices");
    assert_eq!(position(&acme), position(&main));
    let table = |r: &CompiledRegistry| r.definitions.tool("product-prices").unwrap().source.clone();
    assert_eq!(table(&acme), "tools/product-prices.yaml");
    let acme_prices = &acme.definitions.tool("product-prices").unwrap().tool.params["table"];
    assert!(acme_prices.get("anvil").is_some());
    let main_prices = &globex
        .definitions
        .tool("product-prices")
        .unwrap()
        .tool
        .params["table"];
    assert!(main_prices.get("anvil").is_none());

    // Configs: a tenant's file replaces main's; globex has its own keys only.
    assert_eq!(acme.security.api_keys[0].id, "acme-prod");
    assert!(!acme.security.signing.require_signed);
    assert_eq!(acme.security.signing.allowed_signers.len(), 2);
    assert_eq!(globex.security.api_keys.len(), 1);
    assert_eq!(main.security.api_keys[0].id, "main-ingress");
    // A field left out of a tenant's file takes the default, not main's value.
    assert_eq!(globex.routing.max_fast_path_steps, 10);
    assert_eq!(
        globex.routing.fast_path_timeout_ms,
        RoutingConfig::default().fast_path_timeout_ms
    );
}

#[test]
fn unclassified_text_lists_close_candidates() {
    let main = registry("main");
    match classify(&main, "I need a report about customer churn") {
        Classification::Unclassified { candidates } => {
            assert!(
                !candidates.is_empty() && candidates.len() <= 3,
                "{candidates:?}"
            );
            assert_eq!(candidates[0], "customer-report", "{candidates:?}");
        }
        other => panic!("{other:?}"),
    }
    match classify(&main, "zzz qqq") {
        Classification::Unclassified { candidates } => assert!(candidates.is_empty()),
        other => panic!("{other:?}"),
    }
    match classify(&main, "") {
        Classification::Unclassified { candidates } => assert!(candidates.is_empty()),
        other => panic!("{other:?}"),
    }
}

#[test]
fn patterns_that_unroll_into_millions_of_states_are_refused_before_compiling() {
    let content = "\
version: 1
name: slow
patterns:
  - '^(?:a{1000}){1000}$'
  - '^\\d{1,3}(?:,\\d{3}){0,6} items$'
tool:
  kind: calculator
";
    let started = std::time::Instant::now();
    let diagnostics = diagnostics_of("tools/slow.yaml", content);
    // Refused from the syntax alone: nothing was compiled.
    assert!(started.elapsed() < std::time::Duration::from_secs(1));
    assert_eq!(diagnostics.len(), 1, "{}", show(&diagnostics));
    let d = &diagnostics[0];
    assert_eq!(d.line, 4, "{d}");
    assert!(d.message.contains("pattern 0 does not compile"), "{d}");
    assert!(d.message.contains("expand to about"), "{d}");
    // Ordinary counted repetitions are fine.
    let fine = content.replace("^(?:a{1000}){1000}$", "^[a-z]{2,32}-\\d{4}$");
    let loaded = crate::registry::load_file("tools/slow.yaml", &fine);
    assert!(loaded.diagnostics.is_empty(), "{:?}", loaded.diagnostics);
}

#[test]
fn broken_pattern_is_reported_at_its_line() {
    let content = "\
version: 1
name: broken
patterns:
  - '^fine\\s+pattern'
  - '^unclosed (group'
tool:
  kind: calculator
";
    let diagnostics = diagnostics_of("tools/broken.yaml", content);
    assert_eq!(diagnostics.len(), 1, "{}", show(&diagnostics));
    let d = &diagnostics[0];
    assert_eq!(
        (d.path.as_str(), d.line, d.column),
        ("tools/broken.yaml", 5, 6)
    );
    assert!(d.message.contains("pattern 1 does not compile"), "{d}");
    assert!(d.message.contains("unclosed group"), "{d}");
    assert!(
        d.to_string()
            .starts_with("tools/broken.yaml:5:6: pattern 1")
    );
}

#[test]
fn unknown_field_is_reported_with_the_parser_location() {
    let content = TOOL
        .replace("priority", "x")
        .replace("examples:", "colour: red\nexamples:");
    let diagnostics = diagnostics_of("tools/adder.yaml", &content);
    assert_eq!(diagnostics.len(), 1, "{}", show(&diagnostics));
    let d = &diagnostics[0];
    assert_eq!(d.line, 6, "{d}");
    assert!(d.message.contains("unknown field `colour`"), "{d}");
    assert!(!d.message.contains("at line"), "location not repeated: {d}");
}

#[test]
fn yaml_syntax_error_is_reported_with_its_location() {
    let content = "version: 1\nname: adder\npatterns: [unclosed\n";
    let diagnostics = diagnostics_of("tools/adder.yaml", content);
    assert_eq!(diagnostics.len(), 1, "{}", show(&diagnostics));
    assert!(diagnostics[0].line >= 3, "{}", diagnostics[0]);
}

#[test]
fn wrong_or_missing_version_is_rejected_clearly() {
    let diagnostics = diagnostics_of(
        "tools/adder.yaml",
        &TOOL.replace("version: 1", "version: 2"),
    );
    assert_eq!(diagnostics.len(), 1, "{}", show(&diagnostics));
    assert_eq!(
        diagnostics[0].to_string(),
        "tools/adder.yaml:1:10: unsupported version 2: this Volcano reads version 1"
    );
    let diagnostics = diagnostics_of("tools/adder.yaml", &TOOL.replace("version: 1\n", ""));
    assert!(
        diagnostics[0].message.contains("missing `version: 1`"),
        "{}",
        show(&diagnostics)
    );
    let diagnostics = diagnostics_of("configs/routing.yaml", "version: 3\n");
    assert!(
        diagnostics[0].message.contains("unsupported version 3"),
        "{}",
        show(&diagnostics)
    );
}

#[test]
fn duplicate_names_across_files_are_reported() {
    let diagnostics = load_files([
        ("tools/a.yaml".to_string(), TOOL.to_string()),
        ("tools/b.yaml".to_string(), TOOL.to_string()),
    ])
    .unwrap_err();
    assert_eq!(diagnostics.len(), 1, "{}", show(&diagnostics));
    assert_eq!(
        diagnostics[0].to_string(),
        "tools/b.yaml:2:7: duplicate name `adder`: already defined at tools/a.yaml:2"
    );
}

#[test]
fn workflow_step_with_a_missing_tool_is_reported() {
    let workflow = "\
version: 1
name: flow
steps:
  - name: first
    tool: adder
  - name: second
    tool: missing-tool
    compensation: also-missing
";
    let diagnostics = load_files([
        ("tools/adder.yaml".to_string(), TOOL.to_string()),
        ("workflows/flow.yaml".to_string(), workflow.to_string()),
    ])
    .unwrap_err();
    let text = show(&diagnostics);
    assert_eq!(diagnostics.len(), 2, "{text}");
    assert!(
        text.contains(
            "workflows/flow.yaml:7:11: step `second` uses tool `missing-tool`, which is not defined"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "workflows/flow.yaml:8:19: step `second` is compensated by tool `also-missing`"
        ),
        "{text}"
    );
}

#[test]
fn a_tenant_workflow_may_use_main_tools() {
    let main = load_files([("tools/adder.yaml".to_string(), TOOL.to_string())]).unwrap();
    let workflow = "version: 1\nname: flow\nsteps:\n  - name: one\n    tool: adder\n";
    let files = [("workflows/flow.yaml".to_string(), workflow.to_string())];
    assert!(load_files(files.clone()).is_err());
    let tenant = load_tenant_files(&main, files).unwrap();
    assert!(compile(&overlay(&main, &tenant), "t", "c").is_ok());
    // Compiling the tenant's own definitions without main is caught too.
    assert!(compile(&tenant, "t", "c").is_err());
}

#[test]
fn parameters_out_of_range_and_bad_names_are_reported() {
    let tool = TOOL
        .replace("name: adder", "name: Adder!")
        .replace("examples:", "priority: 5000\nexamples:")
        .replace("kind: calculator", "kind: abacus");
    let text = show(&diagnostics_of("tools/adder.yaml", &tool));
    assert!(
        text.contains("tools/adder.yaml:2:7: tool name `Adder!` is not valid"),
        "{text}"
    );
    assert!(
        text.contains("tools/adder.yaml:6:11: priority 5000 is out of range"),
        "{text}"
    );
    assert!(
        text.contains("tools/adder.yaml:10:9: unknown tool kind `abacus`"),
        "{text}"
    );

    let workflow = "\
version: 1
name: flow
steps:
  - name: first
    tool: adder
    timeout_ms: 0
    retry:
      max_attempts: 0
      backoff: 0.5
  - name: first
    tool: adder
    heartbeat_ms: 60000
    local: true
    wait_for_signal:
      name: ok
      timeout_ms: 0
";
    let diagnostics = load_files([
        ("tools/adder.yaml".to_string(), TOOL.to_string()),
        ("workflows/flow.yaml".to_string(), workflow.to_string()),
    ])
    .unwrap_err();
    let text = show(&diagnostics);
    for expected in [
        "workflows/flow.yaml:6:17: step `first`: timeout_ms must be greater than 0",
        "workflows/flow.yaml:8:21: step `first`: retry.max_attempts must be at least 1",
        "workflows/flow.yaml:9:16: step `first`: retry.backoff must be between 1 and 100",
        "duplicate step name `first`",
        "heartbeat_ms (60000) is longer than timeout_ms (30000)",
        "step `first`: a local activity cannot heartbeat",
        "wait_for_signal.timeout_ms must be greater than 0",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in\n{text}");
    }
}

#[test]
fn security_config_is_checked() {
    let security = "\
version: 1
api_keys:
  - id: prod
    sha256: not-a-hash
allowed_hosts: [https://example.com/path]
signing:
  require_signed: true
";
    let text = show(&diagnostics_of("configs/security.yaml", security));
    assert!(
        text.contains("configs/security.yaml:4:13: api key `prod`: sha256 must be 64"),
        "{text}"
    );
    assert!(
        text.contains("allowed host `https://example.com/path` is not a host name"),
        "{text}"
    );
    assert!(
        text.contains("require_signed is on but no allowed_signers"),
        "{text}"
    );
    let text = show(&diagnostics_of("configs/other.yaml", "version: 1\n"));
    assert!(text.contains("unknown config file"), "{text}");
}

#[test]
fn classification_prefers_priority_then_length_then_order() {
    let tool = |name: &str, pattern: &str, priority: i32| {
        format!(
            "version: 1\nname: {name}\npatterns: ['{pattern}']\npriority: {priority}\ntool: {{kind: template, template: x}}\n"
        )
    };
    let definitions = load_files([
        ("tools/a.yaml".to_string(), tool("a", "convert", 0)),
        ("tools/b.yaml".to_string(), tool("b", "convert \\d+ km", 0)),
        ("tools/c.yaml".to_string(), tool("c", "km", 5)),
        ("tools/d.yaml".to_string(), tool("d", "miles", 0)),
        ("tools/e.yaml".to_string(), tool("e", "miles", 0)),
    ])
    .unwrap();
    let registry = compile(&definitions, "main", "c").unwrap();
    // Case-insensitive by default.
    assert_eq!(
        matched_name(&registry, "CONVERT 5 KM").as_deref(),
        Some("c")
    );
    assert_eq!(matched_name(&registry, "convert 5 m").as_deref(), Some("a"));
    assert_eq!(
        matched_name(&registry, "convert 5 kg and 5 km").as_deref(),
        Some("c")
    );
    let longest = compile(
        &Definitions {
            tools: definitions.tools[..2].to_vec(),
            ..Definitions::default()
        },
        "main",
        "c",
    )
    .unwrap();
    assert_eq!(matched_name(&longest, "convert 5 km").as_deref(), Some("b"));
    assert_eq!(matched_name(&registry, "five miles").as_deref(), Some("d"));
}

#[test]
fn handle_falls_back_to_main_and_swaps_atomically() {
    let main = Arc::new(registry("main"));
    let handle = RegistryHandle::new(Arc::clone(&main));
    assert_eq!(handle.load("acme-corp").tenant, "main");
    let snapshot = handle.load("acme-corp");
    handle.store("acme-corp", Arc::new(registry("acme-corp")));
    assert_eq!(handle.load("acme-corp").tenant, "acme-corp");
    assert_eq!(handle.load("globex-inc").tenant, "main");
    // A request's snapshot is unaffected by the swap.
    assert_eq!(snapshot.tenant, "main");
    assert_eq!(handle.tenants(), ["acme-corp", "main"]);
    handle.remove("acme-corp");
    handle.remove("main");
    assert_eq!(handle.load("acme-corp").tenant, "main");
}

/// A registry the size of a large tenant: 1,000 tools of three patterns each.
fn large_registry_files(tools: usize) -> Vec<(String, String)> {
    (0..tools)
        .map(|i| {
            let content = format!(
                "version: 1\nname: tool-{i}\ndescription: Tool number {i}.\npatterns:\n  \
                 - '^\\s*(?:please\\s+)?run\\s+tool\\s+{i}\\b'\n  \
                 - '\\bwidget-{i}\\s+(?:price|stock)\\s+in\\s+\\w+'\n  \
                 - '\\b(?:show|list)\\s+item{i}s?\\s+\\d+'\npriority: {}\nexamples: [run tool {i}]\n\
                 tool: {{kind: lookup, table: {{a: b}}}}\n",
                i % 7
            );
            (format!("tools/tool-{i:04}.yaml"), content)
        })
        .collect()
}

#[test]
fn a_thousand_tool_registry_compiles_and_classifies() {
    let definitions = load_files(large_registry_files(1000)).unwrap();
    let registry = compile(&definitions, "main", "c").unwrap();
    assert_eq!(registry.rules().len(), 3000);
    assert_eq!(
        matched_name(&registry, "please run tool 737").as_deref(),
        Some("tool-737")
    );
    assert_eq!(
        matched_name(&registry, "widget-12 stock in Paris").as_deref(),
        Some("tool-12")
    );
}

/// Prints how long compiling and classifying take; a measurement, not a check:
/// `cargo test --release -p volcano-pipeline registry::tests::timings -- --ignored --nocapture`
#[test]
#[ignore]
fn timings() {
    use std::time::Instant;
    let files = large_registry_files(1000);
    let definitions = load_files(files).unwrap();
    let start = Instant::now();
    let large = compile(&definitions, "main", "c").unwrap();
    println!("compile 1000 tools (3000 patterns): {:?}", start.elapsed());
    let main = registry("main");
    println!("example registry: {} rules", main.rules().len());
    let texts = [
        "Calculate 42 + 58",
        "convert 5 km to miles and round to 2 decimals",
        "process customer data and generate report",
        "what time is it in Tokyo",
        "I need a report about customer churn",
    ];
    for (name, registry) in [("example", &main), ("1000 tools", &large)] {
        for text in texts {
            let rounds = 20_000;
            classify(registry, text);
            let start = Instant::now();
            for _ in 0..rounds {
                std::hint::black_box(classify(registry, std::hint::black_box(text)));
            }
            println!("{name}: classify {text:?}: {:?}", start.elapsed() / rounds);
        }
    }
}

#[test]
fn deeply_nested_collections_are_refused_before_parsing() {
    // 10,000 levels would take the YAML scanner minutes (it is quadratic in flow depth).
    let content = format!(
        "version: 1\nname: deep\ntool:\n  kind: lookup\n  table: {}1{}\n",
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    let started = std::time::Instant::now();
    let diagnostics = diagnostics_of("tools/deep.yaml", &content);
    assert!(started.elapsed() < std::time::Duration::from_secs(1));
    assert_eq!(diagnostics.len(), 1, "{}", show(&diagnostics));
    assert_eq!((diagnostics[0].line, diagnostics[0].column), (5, 74));
    assert!(diagnostics[0].message.contains("nest more than 64 deep"));
    // Brackets inside quotes and comments are text, not nesting.
    let quoted = format!(
        "version: 1\nname: quoted\npatterns: ['{}x']  # {}\ntool:\n  kind: template\n  template: \"{}\"\n",
        "\\[".repeat(100),
        "{".repeat(100),
        "{".repeat(100)
    );
    let loaded = load_files([("tools/quoted.yaml".to_string(), quoted)]);
    assert!(
        loaded
            .err()
            .unwrap_or_default()
            .iter()
            .all(|d| !d.message.contains("nest"))
    );
}

#[test]
fn nesting_is_refused_past_the_limit_not_at_it() {
    // Files with few brackets skip the nesting scan: the edge of the limit must not move.
    let nested = |depth: usize| {
        format!(
            "version: 1\nname: edge\ntool:\n  kind: lookup\n  table: {}1{}\n",
            "[".repeat(depth),
            "]".repeat(depth)
        )
    };
    let nests = |depth| {
        diagnostics_of("tools/edge.yaml", &nested(depth))
            .iter()
            .any(|d| d.message.contains("nest more than 64 deep"))
    };
    assert!(!nests(64));
    assert!(nests(65));
}

#[test]
fn a_step_runs_local_when_its_tool_is_in_process_and_nothing_heartbeats() {
    let step = |extra: serde_json::Value| -> Step {
        let mut v = serde_json::json!({"name": "a", "tool": "t"});
        v.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        serde_json::from_value(v).unwrap()
    };
    let plain = step(serde_json::json!({}));
    assert!(plain.runs_local(Some("template")));
    assert!(plain.runs_local(Some("transform")));
    assert!(
        !plain.runs_local(Some("http")),
        "an external call is a regular activity"
    );
    let beating = step(serde_json::json!({"heartbeat_ms": 1000}));
    assert!(!beating.runs_local(Some("template")));
    assert!(!step(serde_json::json!({"local": false})).runs_local(Some("template")));
    assert!(step(serde_json::json!({"local": true})).runs_local(Some("http")));
}

#[test]
fn a_language_file_with_an_unknown_unit_is_rejected_at_its_line() {
    let diagnostics = diagnostics_of(
        "configs/language.yaml",
        "version: 1\nunits:\n  furlong: 201.168 metre\n  smoot: 1.7 florps\n",
    );
    assert_eq!(diagnostics.len(), 1, "{diagnostics:?}");
    assert_eq!((diagnostics[0].line, diagnostics[0].column), (4, 3));
    assert!(
        diagnostics[0]
            .message
            .contains("'florps' is not a known unit"),
        "{}",
        diagnostics[0].message
    );
    let empty = diagnostics_of("configs/language.yaml", "version: 1\nfillers: [\"\"]\n");
    assert!(empty[0].message.contains("is empty"), "{empty:?}");
}

#[test]
fn a_tenant_language_file_extends_mains() {
    let main = load_files([(
        "configs/language.yaml".to_string(),
        "version: 1\nunits: {furlong: 201.168 metre}\nsynonyms: {calc: calculate}\n".to_string(),
    )])
    .unwrap();
    let tenant = load_files([(
        "configs/language.yaml".to_string(),
        "version: 1\nunits: {hand: 4 inch}\nsynonyms: {calc: compute}\n".to_string(),
    )])
    .unwrap();
    let seen = overlay(&main, &tenant);
    let registry = compile(&seen, "acme", "c1").unwrap();
    assert!(registry.language.unit("furlongs").is_some());
    assert!(registry.language.unit("hands").is_some());
    // The tenant's entry wins where both define the phrase.
    assert!(
        registry
            .language
            .synonyms
            .contains(&("calc".to_string(), "compute".to_string()))
    );
    let main_only = compile(&main, "main", "c1").unwrap();
    assert!(main_only.language.unit("hand").is_none());
}
