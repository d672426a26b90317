//! The bodies of Volcano's fuzz targets, shared by the cargo-fuzz binaries in `fuzz/` and by
//! the corpus replay test `pipeline/tests/fuzz_corpus.rs` (which includes this file with
//! `#[path]`), so the two cannot drift apart.
//!
//! Each body takes one input and panics when the stage panics or breaks an invariant that is
//! cheap to check. Everything here depends on `volcano_pipeline` and std only.

use std::path::Path;
use std::sync::{Arc, OnceLock};

use chrono::DateTime;
use volcano_pipeline::calc::{self, CalcOptions};
use volcano_pipeline::classify::classify;
use volcano_pipeline::decompose;
use volcano_pipeline::extract::{self, ExtractOptions};
use volcano_pipeline::fast_path::FastPath;
use volcano_pipeline::model::{Request, Status};
use volcano_pipeline::registry::{
    CompiledRegistry, Definitions, RegistryHandle, compile, load_files, load_tenant_files,
    load_tree, overlay,
};

/// The example config repository's `main` branch (`repos/main`), found from the crate being
/// built: both `fuzz/` and `pipeline/` sit one level below the repository root.
fn example_branch() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../repos/main"))
}

/// Fixed options, so that a reproducer behaves the same on every run: a reference time on the
/// night Berlin's clocks go forward, in Berlin's zone.
fn extract_options() -> &'static ExtractOptions {
    static OPTIONS: OnceLock<ExtractOptions> = OnceLock::new();
    OPTIONS.get_or_init(|| ExtractOptions {
        reference_time: DateTime::parse_from_rfc3339("2024-03-31T01:30:00+01:00").unwrap(),
        tz: chrono_tz::Europe::Berlin,
        dims: None,
    })
}

/// Text targets read the input as UTF-8 and skip anything else: the decoder in front of the
/// pipeline rejects invalid UTF-8 before a stage sees it.
fn text(data: &[u8]) -> Option<&str> {
    std::str::from_utf8(data).ok()
}

/// Entity extraction: every entity lies inside the text, in character offsets, its body is
/// the text it covers, entities come left to right without overlapping, and each serializes.
pub fn extract_target(data: &[u8]) {
    let Some(text) = text(data) else { return };
    let chars: Vec<char> = text.chars().collect();
    let entities = extract::extract(text, extract_options());
    let mut previous_end = 0;
    for e in &entities {
        assert!(
            e.start < e.end && e.end <= chars.len(),
            "entity {e:?} outside the text of {} chars",
            chars.len()
        );
        let covered: String = chars[e.start..e.end].iter().collect();
        assert_eq!(e.body, covered, "body of {e:?} is not the text it covers");
        assert!(
            e.start >= previous_end,
            "entity {e:?} overlaps the one before"
        );
        previous_end = e.end;
        serde_json::to_string(e).expect("an entity serializes");
    }
}

/// The calculator, and the decomposer that reads multi-step requests with it: no panic, a
/// result has at most the configured scale, and every error can be printed.
pub fn calc_target(data: &[u8]) {
    let Some(text) = text(data) else { return };
    let opts = CalcOptions::default();
    match calc::evaluate_text(text, &opts) {
        Ok(value) => assert!(
            value.scale() <= opts.scale,
            "{value} has more than {} decimals",
            opts.scale
        ),
        Err(e) => drop(e.to_string()),
    }
    match decompose::decompose(text) {
        Ok(plan) => {
            for step in &plan.steps {
                let _ = decompose::describe(step);
            }
            if let Ok(values) = decompose::execute_arithmetic(&plan, Some(1.into()), &opts) {
                assert!(values.len() <= plan.steps.len());
                for value in values {
                    assert!(value.scale() <= opts.scale, "{value} has too many decimals");
                }
            }
        }
        Err(e) => drop((e.kind(), e.to_string())),
    }
}

/// The example registry's definitions, loaded once.
fn example_definitions() -> &'static Definitions {
    static DEFINITIONS: OnceLock<Definitions> = OnceLock::new();
    DEFINITIONS.get_or_init(|| load_tree(example_branch()).expect("the example branch loads"))
}

/// One definition file, as a tool, as a routing and as a security config of a branch of its
/// own, and as a workflow of a tenant branch over the example `main` (so its steps can name
/// real tools). Whatever the loader accepts must compile, and a compiled tool must answer its
/// own examples without panicking. Bytes that are not UTF-8 are read lossily.
pub fn definition_target(data: &[u8]) {
    let content = String::from_utf8_lossy(data).into_owned();
    for path in [
        "tools/fuzz.yaml",
        "configs/routing.yaml",
        "configs/security.yaml",
    ] {
        let Ok(definitions) = load_files([(path.to_string(), content.clone())]) else {
            continue;
        };
        let Some(registry) = compile_loaded(&definitions, "main") else {
            continue;
        };
        // A jq program that loops without output is a documented known limit of the
        // `transform` kind (tools/transform.rs), so transforms are compiled but not run here.
        let examples = definitions
            .tools
            .iter()
            .filter(|t| t.tool.kind != "transform")
            .flat_map(|t| &t.examples);
        answer_all(registry, examples.take(4).map(String::as_str));
    }
    let main = example_definitions();
    let file = ("workflows/fuzz.yaml".to_string(), content);
    if let Ok(tenant) = load_tenant_files(main, [file]) {
        let definitions = overlay(main, &tenant);
        let Some(registry) = compile_loaded(&definitions, "fuzz") else {
            return;
        };
        for example in tenant.workflows.iter().flat_map(|w| &w.examples).take(4) {
            let _ = classify(&registry, example);
        }
    }
}

/// Compiles definitions the loader accepted. The loader checks each pattern on its own, so the
/// one failure allowed here is a pattern set too large to compile together.
fn compile_loaded(definitions: &Definitions, tenant: &str) -> Option<CompiledRegistry> {
    match compile(definitions, tenant, "fuzz") {
        Ok(registry) => Some(registry),
        Err(d) if d.len() == 1 && d[0].message.contains("do not compile together") => None,
        Err(d) => panic!("definitions loaded but do not compile: {d:?}"),
    }
}

/// Runs each text through a fresh fast path over `registry`; every result names the request.
fn answer_all<'t>(registry: CompiledRegistry, texts: impl Iterator<Item = &'t str>) {
    let mut fast_path = FastPath::new(RegistryHandle::new(Arc::new(registry)), 4);
    for text in texts {
        check_result(&mut fast_path, &request(text));
    }
}

fn request(text: &str) -> Request {
    Request {
        id: "fuzz".into(),
        tenant: "main".into(),
        session_id: Some("fuzz".into()),
        text: text.into(),
        submitted_at: 0,
        reply_topic: None,
        headers: Default::default(),
    }
}

fn check_result(fast_path: &mut FastPath, request: &Request) {
    let result = fast_path.process(request);
    assert_eq!(result.request_id, request.id);
    assert_eq!(
        result.status == Status::Error,
        result.error_kind.is_some(),
        "an error result, and only one, names its kind: {result:?}"
    );
    serde_json::to_string(&result).expect("a result serializes");
}

/// The example registry, compiled once.
fn example_registry() -> &'static Arc<CompiledRegistry> {
    static REGISTRY: OnceLock<Arc<CompiledRegistry>> = OnceLock::new();
    REGISTRY.get_or_init(|| {
        Arc::new(compile(example_definitions(), "main", "fuzz").expect("the example compiles"))
    })
}

/// The whole chain on the example registry. The text is sent twice in one session, so the
/// second request can refer to the first one's answer ("multiply that by 2"); a fresh chain
/// per input keeps a reproducer independent of the inputs before it.
pub fn fast_path_target(data: &[u8]) {
    let Some(text) = text(data) else { return };
    let handle = RegistryHandle::new(Arc::clone(example_registry()));
    let mut fast_path = FastPath::new(handle, 4);
    let request = request(text);
    check_result(&mut fast_path, &request);
    check_result(&mut fast_path, &request);
}
