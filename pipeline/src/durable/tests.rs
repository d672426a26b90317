use std::collections::BTreeMap;

use serde_json::json;

use super::*;
use crate::registry::{compile, load_files};

fn scope() -> Value {
    let mut scope = job().scope();
    scope.record(
        "lookup",
        &StepOutput {
            output: json!({"id": "A-1009", "amount": 250, "lines": [{"sku": "x"}]}),
            answer: "order A-1009".into(),
            attempts: 1,
        },
    );
    scope.value().clone()
}

fn request(text: &str) -> Request {
    Request {
        id: "r-1".into(),
        tenant: "main".into(),
        session_id: None,
        text: text.into(),
        // 2026-11-26T10:00:00Z
        submitted_at: 1_795_687_200_000,
        reply_topic: None,
        headers: BTreeMap::new(),
    }
}

fn job() -> DurableJob {
    DurableJob {
        request: request("refund order A-1009 for 250 dollars"),
        definition: "refund".into(),
        registry_commit: "c1".into(),
        matched_rule: "refund:0".into(),
        route: "the definition is a workflow".into(),
        steps: Vec::new(),
        tools: BTreeMap::new(),
        captures: [("order".to_string(), "A-1009".to_string())].into(),
        allowed_hosts: Vec::new(),
    }
}

#[test]
fn placeholders_resolve_against_the_request_entities_captures_and_earlier_steps() {
    let scope = scope();
    let input: BTreeMap<String, Value> = [
        ("order", json!("{{ captures.order }}")),
        ("amount", json!("{{ steps.lookup.output.amount }}")),
        ("sku", json!("{{ steps.lookup.output.lines.0.sku }}")),
        ("money", json!("{{ entities.amount-of-money.value }}")),
        (
            "line",
            json!("Refund {{ captures.order }} of {{ steps.lookup.output.amount }}"),
        ),
        ("date", json!("{{ request.date }}")),
        ("missing", json!("{{ steps.lookup.output.nothing }}")),
        ("nested", json!({"list": ["{{ request.id }}", 3]})),
        ("literal", json!(7)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let out = render_input(&input, &scope).unwrap();
    assert_eq!(out["order"], json!("A-1009"));
    // A whole-string placeholder keeps its JSON type.
    assert_eq!(out["amount"], json!(250));
    assert_eq!(out["sku"], json!("x"));
    assert_eq!(out["money"], json!(250));
    assert_eq!(out["line"], json!("Refund A-1009 of 250"));
    assert_eq!(out["date"], json!("2026-11-26"));
    assert_eq!(out["missing"], Value::Null);
    assert_eq!(out["nested"], json!({"list": ["r-1", 3]}));
    assert_eq!(out["literal"], json!(7));
}

#[test]
fn conditions_compare_numbers_strings_and_truthiness() {
    let scope = scope();
    let holds = |c: &str| Condition::parse(c).unwrap().holds(&scope).unwrap();
    assert!(holds("steps.lookup.output.amount > 100"));
    assert!(!holds("steps.lookup.output.amount > 250"));
    assert!(holds("steps.lookup.output.amount >= 250"));
    assert!(holds("steps.lookup.output.amount <= 250.0"));
    assert!(!holds("steps.lookup.output.amount < 10"));
    assert!(holds("steps.lookup.output.id == 'A-1009'"));
    assert!(holds("steps.lookup.output.id != \"B-1\""));
    assert!(holds("steps.lookup.output.lines"));
    assert!(!holds("steps.lookup.output.refunded"));
    assert!(holds("steps.lookup.output.refunded == null"));
    // Ordering needs numbers on both sides.
    let err = Condition::parse("steps.lookup.output.id > 3")
        .unwrap()
        .holds(&scope)
        .unwrap_err();
    assert!(err.0.contains("cannot be compared"), "{err}");
    assert!(Condition::parse("steps.lookup.output.amount > lots").is_err());
    assert!(Condition::parse("secrets.key").is_err());
}

#[test]
fn mappings_may_only_refer_to_earlier_steps_and_known_roots() {
    let step = |input: Value, when: Option<&str>| Step {
        name: "refund".into(),
        tool: "issue-refund".into(),
        input: serde_json::from_value(input).unwrap(),
        retry: RetryPolicy::default(),
        timeout_ms: 1000,
        heartbeat_ms: None,
        local: None,
        compensation: None,
        wait_for_signal: None,
        when: when.map(str::to_string),
        tool_at: (0, 0),
        compensation_at: (0, 0),
    };
    let fine = step(
        json!({"a": "{{ steps.lookup.output }}"}),
        Some("steps.lookup.output.x > 1"),
    );
    assert!(check_step_mapping(&fine, &["lookup"]).is_empty());
    let later = step(json!({"a": "{{ steps.confirm.output }}"}), None);
    let problems = check_step_mapping(&later, &["lookup"]);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].contains("does not run before `refund`"),
        "{problems:?}"
    );
    let unclosed = step(json!({"a": "{{ request.text"}), Some("env.HOME"));
    let problems = check_step_mapping(&unclosed, &[]);
    assert_eq!(problems.len(), 2, "{problems:?}");
}

#[test]
fn a_workflow_with_a_bad_reference_is_rejected_with_its_line() {
    let files = vec![
        (
            "tools/echo.yaml".to_string(),
            "version: 1\nname: echo\ntool:\n  kind: template\n  template: \"{{ input.x }}\"\n"
                .to_string(),
        ),
        (
            "workflows/flow.yaml".to_string(),
            "version: 1\nname: flow\nsteps:\n  - name: one\n    tool: echo\n    input:\n      x: \"{{ steps.two.output }}\"\n  - name: two\n    tool: echo\n"
                .to_string(),
        ),
    ];
    let errors = load_files(files).unwrap_err();
    let text: Vec<String> = errors.iter().map(|d| d.to_string()).collect();
    assert!(
        text.iter()
            .any(|t| t.starts_with("workflows/flow.yaml:6:") && t.contains("step `two`")),
        "{text:?}"
    );
}

#[test]
fn a_job_freezes_the_steps_tools_and_captures_of_its_commit_and_runs_steps() {
    let files = vec![
        (
            "tools/greet.yaml".to_string(),
            "version: 1\nname: greet\ntool:\n  kind: template\n  template: \"hello {{ input.who }}\"\n"
                .to_string(),
        ),
        (
            "tools/count.yaml".to_string(),
            "version: 1\nname: count\ntool:\n  kind: transform\n  filter: \".names | length\"\n"
                .to_string(),
        ),
        (
            "workflows/flow.yaml".to_string(),
            "version: 1\nname: flow\npatterns:\n  - 'greet (?P<who>\\w+)'\nsteps:\n  - name: hi\n    tool: greet\n    input:\n      who: \"{{ captures.who }}\"\n  - name: n\n    tool: count\n    input:\n      names: [\"{{ steps.hi.output }}\", b]\n"
                .to_string(),
        ),
    ];
    let definitions = load_files(files).unwrap();
    let registry = compile(&definitions, "main", "commit-1").unwrap();
    let target = registry.find("flow").unwrap();
    let rule = registry.rules().iter().position(|r| r.id == "flow:0");
    let job = DurableJob::new(&request("greet ada"), &registry, target, rule, "workflow").unwrap();
    assert_eq!(job.registry_commit, "commit-1");
    assert_eq!(job.captures["who"], "ada");
    assert_eq!(job.steps.len(), 2);
    assert_eq!(job.tools.len(), 2);
    // The job survives the trip through Temporal's JSON payloads (all but the positions
    // kept for diagnostics).
    let payload = serde_json::to_value(&job).unwrap();
    let again: DurableJob = serde_json::from_value(payload.clone()).unwrap();
    assert_eq!(serde_json::to_value(&again).unwrap(), payload);
    assert_eq!(again.steps[1].input, job.steps[1].input);

    let services = ToolServices::default();
    let mut done = BTreeMap::new();
    let mut scope = job.scope();
    for step in &job.steps {
        let input = render_input(&step.input, scope.value()).unwrap();
        let tool = StepTool::build(&job.tools[&step.tool], &services).unwrap();
        let out = tool.run(&job.request, &[], &input).unwrap();
        scope.record(&step.name, &out);
        done.insert(step.name.clone(), out);
    }
    assert_eq!(done["hi"].output, json!("hello ada"));
    assert_eq!(done["n"].output, json!(2));
}

#[test]
fn http_statuses_become_the_kinds_retry_policies_name() {
    let kind = |status| failure_of(&ToolError::HttpStatus { status }).kind;
    assert_eq!(kind(404), "not_found");
    assert_eq!(kind(401), "unauthorized");
    assert_eq!(kind(409), "conflict");
    assert_eq!(kind(503), "http_status");
    assert!(StepFailure::new("input_mapping", "x").is_permanent());
    assert!(!StepFailure::new("http_status", "x").is_permanent());
}

#[test]
fn the_final_result_says_what_failed_and_what_was_undone() {
    let job = job();
    let mut outcome = WorkflowOutcome::default();
    outcome.completed.push((
        "lookup".into(),
        StepOutput {
            output: json!(5),
            answer: "5".into(),
            attempts: 3,
        },
    ));
    let ok = final_result(&job, &outcome, Some("c2"));
    assert_eq!(ok.status, Status::Ok);
    assert_eq!(ok.value.as_deref(), Some("5"));
    assert_eq!(ok.registry_commit, "c1");
    assert_eq!(ok.current_commit.as_deref(), Some("c2"));
    assert_eq!(ok.workflow_id.as_deref(), Some("r-1"));

    outcome.ending = Ending::Failed;
    outcome.stopped_at = Some("refund".into());
    outcome.failure = Some(StepFailure::new("card_declined", "the card was declined"));
    outcome.compensated.push("lookup by release-order".into());
    let failed = final_result(&job, &outcome, None);
    assert_eq!(failed.status, Status::Error);
    assert_eq!(failed.error_kind.as_deref(), Some("card_declined"));
    assert_eq!(
        failed.answer,
        "step `refund` failed: the card was declined; undone: lookup by release-order"
    );
}

#[test]
fn the_example_customer_report_runs_step_by_step_offline() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../repos/main");
    let definitions = crate::registry::load_tree(&root).expect("the example repository loads");
    let registry = compile(&definitions, "main", "example").unwrap();
    let target = registry.find("customer-report").unwrap();
    let job = DurableJob::new(
        &request("process customer data and generate report"),
        &registry,
        target,
        None,
        "workflow",
    )
    .unwrap();
    let services = ToolServices::default();
    let mut done = BTreeMap::new();
    let mut scope = job.scope();
    for step in &job.steps {
        let input = render_input(&step.input, scope.value()).unwrap();
        let tool = StepTool::build(&job.tools[&step.tool], &services).unwrap();
        let out = tool
            .run(&job.request, &job.allowed_hosts, &input)
            .unwrap_or_else(|e| panic!("step {}: {e}", step.name));
        scope.record(&step.name, &out);
        done.insert(step.name.clone(), out);
    }
    assert_eq!(done["validate"].output["rejected"], json!(2));
    assert_eq!(
        done["report"].answer,
        "Customer report: DE 1 customers, revenue 1750; GB 1 customers, revenue 1200; US 2 customers, revenue 5500."
    );
}
