//! The fast path: the in-process chain that turns one request into one result.
//!
//! validate → classify → route → (extract) → decompose → execute, all against one snapshot of
//! the tenant's compiled registry taken when the request starts, so a registry swap never
//! changes a request half-way. Arithmetic and unit conversions run as a plan of steps
//! (decompose); every other tool kind runs once on the whole request with its entities.
//! It is a pure function of (request, registry snapshot, session state): no IO except an
//! `http` tool's own client. [`FastPath::answer`] takes the session's state from its caller
//! and returns what the request leaves in it (the pipeline keeps sessions in its state store,
//! `connectors::state_store`); [`FastPath::process`] keeps them in a bounded map of its own.

use std::collections::{HashMap, VecDeque};
use std::time::Instant;

use chrono::Utc;
use rust_decimal::Decimal;

use crate::calc::{CalcOptions, Expr};
use crate::classify::{Classification, classify};
use crate::decompose::{self, DecomposeError, Operation, Plan, StepValue};
use crate::durable::DurableJob;
use crate::extract::{self, ExtractOptions};
use crate::model::{Request, RequestResult, StageTiming, Status};
use crate::registry::{CompiledRegistry, RegistryHandle, Target};
use crate::tools::{Deadline, Tool, ToolContext};

/// Longest request text accepted, in bytes.
pub const MAX_TEXT_BYTES: usize = 4096;

/// The fast-path chain with its session state.
pub struct FastPath {
    registry: RegistryHandle,
    calc: CalcOptions,
    sessions: Sessions,
}

impl FastPath {
    pub fn new(registry: RegistryHandle, max_sessions: usize) -> Self {
        FastPath {
            registry,
            calc: CalcOptions::default(),
            sessions: Sessions::new(max_sessions),
        }
    }

    /// The registries this chain serves from; swap a tenant's to change behaviour live.
    pub fn registry(&self) -> &RegistryHandle {
        &self.registry
    }

    /// Answers one request. Never panics: every failure becomes an error result.
    pub fn process(&mut self, request: &Request) -> RequestResult {
        self.process_routed(request).0
    }

    /// [`Self::process`], and for a request routed to the durable path the job its workflow
    /// runs (the result is then `accepted`).
    pub fn process_routed(&mut self, request: &Request) -> (RequestResult, Option<DurableJob>) {
        let key = session_key(request);
        let previous = key.as_deref().and_then(|k| self.sessions.get(k));
        let turn = self.answer(request, previous);
        if let (Some(key), Some(value)) = (key, turn.session) {
            self.sessions.remember(&key, value);
        }
        (turn.result, turn.job)
    }

    /// Answers one request in its session, whose state the caller keeps: `previous` is the
    /// session's previous answer ("multiply that by 2" refers to it), and the returned turn
    /// says what the session's previous answer is after this request. Takes `&self`: the
    /// chain itself holds no state, so callers that keep sessions elsewhere (the pipeline's
    /// state store) may answer from several threads.
    pub fn answer(&self, request: &Request, previous: Option<Decimal>) -> Turn {
        let mut session = SessionTurn {
            previous,
            remembered: None,
        };
        let (result, job) = self.answer_in(request, &mut session);
        Turn {
            result,
            job,
            session: session.remembered,
        }
    }

    fn answer_in(
        &self,
        request: &Request,
        session: &mut SessionTurn,
    ) -> (RequestResult, Option<DurableJob>) {
        let snapshot = self.registry.load(&request.tenant);
        let commit = snapshot.commit.as_str();
        if let Err((kind, message)) = validate_text(&request.text) {
            return (RequestResult::error(request, commit, kind, message), None);
        }
        let mut timings = Timings::default();
        let started = Instant::now();
        let classification = classify(&snapshot, &request.text);
        timings.stage("classify", started);
        let (rule, rule_index, target) = match classification {
            Classification::Matched {
                rule,
                rule_index,
                target,
                ..
            } => (rule, rule_index, target),
            Classification::Unclassified { candidates } => {
                // No pattern names a definition; the reader may still understand the request
                // as arithmetic or a conversion, by its grammar rather than a phrasing.
                let started = Instant::now();
                let reading = read_unmatched(&snapshot, &request.text);
                timings.stage("decompose", started);
                let (index, plan) = match reading {
                    Ok(found) => found,
                    Err(not_understood) => {
                        let result = unclassified(request, commit, &candidates, &not_understood);
                        return (timings.into_result(result), None);
                    }
                };
                let name = snapshot.target_name(Target::Tool(index)).to_string();
                let mut result =
                    self.run_plan(request, &snapshot, index, Some(plan), &mut timings, session);
                result.matched_rule = Some(format!("{name}:reading"));
                result.tool = Some(name);
                return (timings.into_result(result), None);
            }
        };
        let name = snapshot.target_name(target).to_string();
        let mut job = None;
        let mut result = match route(&snapshot, target, &request.text) {
            Route::Durable(reason) => {
                match DurableJob::new(request, &snapshot, target, Some(rule_index), &reason) {
                    Ok(made) => {
                        job = Some(made);
                        accepted(request, commit, &name, reason)
                    }
                    Err(e) => RequestResult::error(request, commit, "workflow_unavailable", e.0),
                }
            }
            Route::Fast(index) => self.run_tool(request, &snapshot, index, &mut timings, session),
        };
        result.matched_rule = Some(rule);
        result.tool = Some(name);
        (timings.into_result(result), job)
    }

    fn run_tool(
        &self,
        request: &Request,
        registry: &CompiledRegistry,
        index: usize,
        timings: &mut Timings,
        session: &mut SessionTurn,
    ) -> RequestResult {
        let commit = registry.commit.as_str();
        let kind = registry
            .tool(index)
            .map(|t| t.tool.kind.as_str())
            .unwrap_or_default();
        if matches!(kind, "calculator" | "unit_convert") {
            return self.run_plan(request, registry, index, None, timings, session);
        }
        let Some(tool) = registry.runnable(index) else {
            return RequestResult::error(
                request,
                commit,
                "tool_unavailable",
                "the matched tool could not be built".into(),
            );
        };
        let started = Instant::now();
        let now = Utc::now().fixed_offset();
        let entities = extract::extract(
            &request.text,
            // Spelled out: the default would read the clock a second time.
            &ExtractOptions {
                reference_time: now,
                tz: chrono_tz::UTC,
                dims: None,
            },
        );
        timings.stage("extract", started);
        let started = Instant::now();
        let mut ctx = ToolContext::new(&request.text, now);
        ctx.entities = &entities;
        ctx.allowed_hosts = &registry.security.allowed_hosts;
        ctx.input = session.previous;
        // Counted from the tool's start: the stages before it take microseconds.
        ctx.deadline = Some(Deadline::after(registry.routing.fast_path_timeout_ms));
        let output = tool.run(&ctx);
        timings.stage("execute", started);
        match output {
            Ok(out) => {
                let mut r = RequestResult::new(request, Status::Ok, commit);
                r.value = out.value.map(normalise);
                r.unit = out.unit;
                r.answer = out.answer;
                r.route = Some(format!("fast: one {kind} step"));
                r.plan.push(crate::model::PlanStep {
                    index: 0,
                    tool: kind.to_string(),
                    operation: kind.to_string(),
                    inputs: vec![request.text.clone()],
                    output: r.value.clone().or_else(|| Some(r.answer.clone())),
                });
                session.remembered = out.value;
                r
            }
            Err(e) => RequestResult::error(request, commit, e.kind(), e.to_string()),
        }
    }

    /// Arithmetic and conversions: decompose into steps (unless the caller already has)
    /// and execute them in order.
    fn run_plan(
        &self,
        request: &Request,
        registry: &CompiledRegistry,
        index: usize,
        plan: Option<Plan>,
        timings: &mut Timings,
        session: &mut SessionTurn,
    ) -> RequestResult {
        let commit = registry.commit.as_str();
        let plan = match plan {
            Some(plan) => Ok(plan),
            None => {
                let started = Instant::now();
                let plan = decompose::decompose_with(&request.text, &registry.language);
                timings.stage("decompose", started);
                plan
            }
        };
        let plan = match plan {
            Ok(plan) => plan,
            Err(e) => return RequestResult::error(request, commit, e.kind(), e.to_string()),
        };
        let max_steps = registry.routing.max_fast_path_steps as usize;
        if max_steps > 0 && plan.steps.len() > max_steps {
            return RequestResult::error(
                request,
                commit,
                "too_many_steps",
                format!(
                    "the request has {} steps; the fast path takes at most {max_steps}",
                    plan.steps.len()
                ),
            );
        }
        // Conversions use the matched tool when it converts units, else the tenant's others
        // in order (one may convert only lengths, another only masses).
        let matched = registry
            .tool(index)
            .filter(|t| t.tool.kind == "unit_convert")
            .map(|_| index);
        let converters: Vec<&dyn Tool> = matched
            .into_iter()
            .chain(
                registry
                    .tools_of_kind("unit_convert")
                    .filter(|i| Some(*i) != matched),
            )
            .filter_map(|i| registry.runnable(i))
            .collect();
        let previous = session.previous;
        let started = Instant::now();
        let mut units: Vec<Option<String>> = vec![None; plan.steps.len()];
        let outputs = decompose::execute(&plan, previous, &self.calc, &mut |i, step, input| {
            run_step(&converters, i, step, input, &mut units)
        });
        timings.stage("execute", started);
        let values = match outputs {
            Ok(values) => values,
            Err(e) => {
                let mut r = RequestResult::error(request, commit, e.kind(), e.to_string());
                r.plan = describe_plan(&plan, &[]);
                return r;
            }
        };
        let mut r = RequestResult::new(request, Status::Ok, commit);
        r.plan = describe_plan(&plan, &values);
        r.unit = result_unit(&plan, &mut units);
        match values.last() {
            Some(&StepValue::Number(v)) => {
                let shown = normalise(v);
                r.answer = match &r.unit {
                    Some(u) => format!("{} = {shown} {u}", request.text.trim()),
                    None => format!("{} = {shown}", request.text.trim()),
                };
                r.value = Some(shown);
                session.remembered = Some(v);
            }
            Some(StepValue::Text(t)) => r.answer = t.clone(),
            None => r.answer = "nothing to do".into(),
        }
        r.route = Some(format!("fast: {} step(s)", plan.steps.len()));
        r
    }
}

/// One request answered in its session.
#[derive(Debug)]
pub struct Turn {
    pub result: RequestResult,
    /// The workflow to start when the request went durable (the result is then `accepted`).
    pub job: Option<DurableJob>,
    /// The session's previous answer from now on, when this request changed it.
    pub session: Option<Decimal>,
}

/// A session's state during one request: what it had, what the request leaves.
struct SessionTurn {
    previous: Option<Decimal>,
    remembered: Option<Decimal>,
}

/// Route: durable when the definition is a workflow or marked durable, or the request
/// asks for it in the words of the routing config; fast otherwise.
fn route(registry: &CompiledRegistry, target: Target, text: &str) -> Route {
    let Target::Tool(index) = target else {
        return Route::Durable("the definition is a workflow".into());
    };
    if registry.is_durable(target) {
        return Route::Durable("the tool is marked durable".into());
    }
    let lower = text.to_lowercase();
    if let Some(word) = registry
        .routing
        .durable_keywords
        .iter()
        .find(|k| lower.contains(&k.to_lowercase()))
    {
        return Route::Durable(format!("the request asks for it (\"{word}\")"));
    }
    Route::Fast(index)
}

/// Whether `registry` would send `text` down the durable path: the ingress asks before it
/// admits a request of a tenant at its concurrent-workflow quota.
pub fn goes_durable(registry: &CompiledRegistry, text: &str) -> bool {
    match classify(registry, text) {
        Classification::Matched { target, .. } => {
            matches!(route(registry, target, text), Route::Durable(_))
        }
        Classification::Unclassified { .. } => false,
    }
}

/// Where a classified request goes: a fast-path tool (by index) or the durable path.
enum Route {
    Fast(usize),
    Durable(String),
}

/// Runs one non-arithmetic plan step: conversions through the first converter that takes
/// its units; other verbs have no fast-path tool yet.
fn run_step(
    converters: &[&dyn Tool],
    index: usize,
    step: &decompose::Step,
    input: Option<Decimal>,
    units: &mut [Option<String>],
) -> Result<StepValue, DecomposeError> {
    let tool_name = step.tool().to_string();
    let needs_tool = || DecomposeError::NeedsTool {
        step: index,
        tool: tool_name.clone(),
    };
    let Operation::Convert { .. } = &step.operation else {
        return Err(needs_tool());
    };
    // "convert it to ml": the unit is that of the step it converts.
    let input_unit = referenced_step(step).and_then(|k| units.get(k).cloned().flatten());
    let mut ctx = ToolContext::new(&step.text, Utc::now().fixed_offset());
    ctx.step = Some(step);
    ctx.input = input;
    ctx.input_unit = input_unit.as_deref();
    let mut first_error = None;
    for converter in converters {
        match converter.run(&ctx) {
            Ok(out) => {
                units[index] = out.unit.clone();
                return out
                    .value
                    .map(StepValue::Number)
                    .ok_or(DecomposeError::ToolFailed {
                        step: index,
                        tool: tool_name,
                        message: "no numeric result".into(),
                    });
            }
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    Err(match first_error {
        Some(e) => DecomposeError::ToolFailed {
            step: index,
            tool: tool_name,
            message: e.to_string(),
        },
        None => needs_tool(),
    })
}

/// The earlier step a conversion's value is, when it is one (`$k`).
fn referenced_step(step: &decompose::Step) -> Option<usize> {
    match &step.operation {
        Operation::Convert {
            value: Expr::Ref(crate::calc::Reference::Step(k)),
            from_unit: None,
            ..
        } => Some(*k),
        _ => None,
    }
}

/// The reader's plan for a request no pattern matched, served by the tenant's calculator
/// (arithmetic) or a unit converter (a plan with a conversion); else what it could not read.
fn read_unmatched(registry: &CompiledRegistry, text: &str) -> Result<(usize, Plan), String> {
    let plan = decompose::decompose_with(text, &registry.language).map_err(|e| e.to_string())?;
    let converts = plan
        .steps
        .iter()
        .any(|s| matches!(s.operation, Operation::Convert { .. }));
    if plan
        .steps
        .iter()
        .any(|s| matches!(s.operation, Operation::Tool { .. }))
    {
        return Err(format!("no tool does '{}'", plan.steps[0].text));
    }
    let kind = if converts {
        "unit_convert"
    } else {
        "calculator"
    };
    let index = registry
        .tools_of_kind(kind)
        .next()
        .ok_or_else(|| format!("the tenant has no {kind} tool"))?;
    Ok((index, plan))
}

/// The unit of the plan's answer: a step's own (a conversion's target, or what the reading
/// says), else what its arithmetic keeps of its inputs' units ("double 3 miles" is in
/// miles, "3 miles / 2 miles" has none).
fn result_unit(plan: &Plan, units: &mut [Option<String>]) -> Option<String> {
    for (i, step) in plan.steps.iter().enumerate() {
        if units[i].is_some() {
            continue;
        }
        units[i] = match (&step.unit, &step.operation) {
            (Some(unit), _) => Some(unit.clone()).filter(|u| !u.is_empty()),
            (None, Operation::Calculate(expr)) => derived_unit(expr, &units[..i]),
            _ => None,
        };
    }
    units.last().cloned().flatten()
}

fn derived_unit(expr: &Expr, units: &[Option<String>]) -> Option<String> {
    use crate::calc::{BinaryOp, Function, Reference};
    let literal = |e: &Expr| matches!(e, Expr::Number(_));
    match expr {
        Expr::Number(_) | Expr::Ref(Reference::Previous) => None,
        Expr::Ref(Reference::Step(i)) => units.get(*i).cloned().flatten(),
        Expr::Neg(inner) => derived_unit(inner, units),
        Expr::Binary { op, lhs, rhs } => {
            let (a, b) = (derived_unit(lhs, units), derived_unit(rhs, units));
            match op {
                BinaryOp::Add | BinaryOp::Subtract | BinaryOp::Modulo => match (a, b) {
                    (Some(a), Some(b)) if a == b => Some(a),
                    (Some(a), None) if literal(rhs) => Some(a),
                    (None, Some(b)) if literal(lhs) => Some(b),
                    _ => None,
                },
                BinaryOp::Multiply => match (a, b) {
                    (Some(a), None) if literal(rhs) => Some(a),
                    (None, Some(b)) if literal(lhs) => Some(b),
                    _ => None,
                },
                BinaryOp::Divide => a.filter(|_| literal(rhs)),
                BinaryOp::PercentOf => b.filter(|_| literal(lhs)),
                BinaryOp::Power => None,
            }
        }
        Expr::Call { function, args } => match function {
            Function::Round | Function::Floor | Function::Ceil | Function::Abs => {
                args.first().and_then(|a| derived_unit(a, units))
            }
            Function::Sum
            | Function::Min
            | Function::Max
            | Function::Average
            | Function::Median => {
                let first = derived_unit(args.first()?, units)?;
                args.iter()
                    .all(|a| derived_unit(a, units).as_ref() == Some(&first))
                    .then_some(first)
            }
            _ => None,
        },
    }
}

fn describe_plan(plan: &Plan, values: &[StepValue]) -> Vec<crate::model::PlanStep> {
    plan.steps
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let output = values.get(i).map(|v| match v {
                StepValue::Number(n) => normalise(*n),
                StepValue::Text(t) => t.clone(),
            });
            decompose::plan_step(i, s, output)
        })
        .collect()
}

/// Per-stage timings of one request.
#[derive(Default)]
struct Timings(Vec<StageTiming>);

impl Timings {
    fn stage(&mut self, name: &str, started: Instant) {
        self.0.push(StageTiming {
            stage: name.to_string(),
            micros: started.elapsed().as_micros() as i64,
        });
    }

    fn into_result(self, mut result: RequestResult) -> RequestResult {
        result.timings = self.0;
        result
    }
}

/// No definition matches and the reader could not read it: say so, say what the reader
/// stopped at, and name the closest definitions.
fn unclassified(
    request: &Request,
    commit: &str,
    candidates: &[String],
    not_understood: &str,
) -> RequestResult {
    let mut r = RequestResult::new(request, Status::Unclassified, commit);
    let mut answer = "no tool or workflow matches this request".to_string();
    if !not_understood.is_empty() {
        answer.push_str(&format!(" (not understood: {not_understood})"));
    }
    if !candidates.is_empty() {
        answer.push_str(&format!("; closest: {}", candidates.join(", ")));
    }
    r.answer = answer;
    r.route = Some("none: unclassified".into());
    r
}

/// Taken on the durable path: the workflow (id = request id) is started by the pipeline role,
/// and its final result follows on the results topic when it ends.
fn accepted(request: &Request, commit: &str, name: &str, reason: String) -> RequestResult {
    let mut r = RequestResult::new(request, Status::Accepted, commit);
    r.workflow_id = Some(request.id.clone());
    r.answer = format!(
        "accepted for the durable path: {name} (workflow id {})",
        request.id
    );
    r.route = Some(format!("durable: {reason}"));
    r
}

/// Rejects text that no stage should see, with the reason.
pub fn validate_text(text: &str) -> Result<(), (&'static str, String)> {
    if text.trim().is_empty() {
        return Err(("empty_text", "the request text is empty".into()));
    }
    if text.len() > MAX_TEXT_BYTES {
        return Err((
            "text_too_long",
            format!(
                "the request text is {} bytes, over the {MAX_TEXT_BYTES}-byte limit",
                text.len()
            ),
        ));
    }
    if let Some((i, c)) = text
        .char_indices()
        .find(|(_, c)| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
    {
        return Err((
            "control_character",
            format!(
                "the request text holds control character U+{:04X} at byte {i}",
                c as u32
            ),
        ));
    }
    Ok(())
}

/// Shows a decimal without trailing zeros ("100", not "100.0000000000").
pub fn normalise(value: Decimal) -> String {
    value.normalize().to_string()
}

/// The key of a request's session, if it has one. A session belongs to its tenant: two
/// tenants that pick the same session id never see each other's answers.
pub fn session_key(request: &Request) -> Option<String> {
    let session = request.session_id.as_deref()?;
    Some(format!("{}\u{1f}{session}", request.tenant))
}

/// The previous answer of each session, forgetting the oldest sessions beyond a bound: the
/// sessions of one process's memory.
pub struct Sessions {
    max: usize,
    values: HashMap<String, Decimal>,
    order: VecDeque<String>,
}

impl Sessions {
    pub fn new(max: usize) -> Self {
        Sessions {
            max: max.max(1),
            values: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    pub fn remember(&mut self, session: &str, value: Decimal) {
        if self.values.insert(session.to_string(), value).is_none() {
            self.order.push_back(session.to_string());
            while self.order.len() > self.max {
                if let Some(old) = self.order.pop_front() {
                    self.values.remove(&old);
                }
            }
        }
    }

    pub fn get(&self, session: &str) -> Option<Decimal> {
        self.values.get(session).copied()
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::Arc;

    use super::*;
    use crate::registry::{compile, load_tree, overlay};

    /// The example repository's registries: main, and acme-corp over main.
    fn example_registry() -> RegistryHandle {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../repos");
        let main = load_tree(&root.join("main")).expect("main loads");
        let acme =
            crate::registry::load_tree(&root.join("customer/acme-corp")).expect("acme loads");
        let handle = RegistryHandle::new(Arc::new(compile(&main, "main", "c-main").unwrap()));
        handle.store(
            "acme-corp",
            Arc::new(compile(&overlay(&main, &acme), "acme-corp", "c-acme").unwrap()),
        );
        handle
    }

    fn request(text: &str) -> Request {
        Request {
            id: "r".into(),
            tenant: "main".into(),
            session_id: Some("s".into()),
            text: text.into(),
            submitted_at: 0,
            reply_topic: None,
            headers: Default::default(),
        }
    }

    #[test]
    fn requests_no_pattern_matches_are_read_and_answered_by_the_tenant_s_tools() {
        let mut fp = FastPath::new(example_registry(), 10);
        let r = fp.process(&request("hey, what's one hundred twenty divided by five?"));
        assert_eq!(
            (r.status, r.value.as_deref(), r.matched_rule.as_deref()),
            (Status::Ok, Some("24"), Some("arithmetic:reading")),
            "{r:?}"
        );
        // A starting amount keeps its unit through the chain: the conversion after it
        // knows what it converts, and halving keeps millilitres.
        let r = fp.process(&request("take 3 cups, convert to ml, then halve it"));
        assert_eq!(r.value.as_deref(), Some("354.88235475"), "{r:?}");
        assert_eq!(r.unit.as_deref(), Some("millilitre"));
        // A count has no unit, whatever its amounts had.
        let r = fp.process(&request("how many 330 ml cans fill a 2 liter jug"));
        assert_eq!(
            (r.value.as_deref(), r.unit.as_deref()),
            (Some("7"), None),
            "{r:?}"
        );
        // What the reader cannot read is unclassified, and says where it stopped.
        let r = fp.process(&request("tell me a story about volcanoes"));
        assert_eq!(r.status, Status::Unclassified, "{r:?}");
        assert!(r.answer.contains("not understood"), "{}", r.answer);
    }

    #[test]
    fn bad_text_gets_an_error_that_says_what_is_wrong() {
        let mut fp = FastPath::new(example_registry(), 10);
        let kind = |fp: &mut FastPath, t: &str| fp.process(&request(t)).error_kind.unwrap();
        assert_eq!(kind(&mut fp, "   "), "empty_text");
        assert_eq!(kind(&mut fp, &"1+".repeat(3000)), "text_too_long");
        assert_eq!(kind(&mut fp, "1 + \u{7}2"), "control_character");
    }

    #[test]
    fn arithmetic_is_answered_with_its_plan_rule_and_commit() {
        let mut fp = FastPath::new(example_registry(), 10);
        let r = fp.process(&request("Calculate 42 + 58"));
        assert_eq!(r.status, Status::Ok, "{r:?}");
        assert_eq!(r.value.as_deref(), Some("100"));
        assert_eq!(r.registry_commit, "c-main");
        assert!(
            r.matched_rule
                .as_deref()
                .is_some_and(|m| m.starts_with("arithmetic:")),
            "{r:?}"
        );
        let r = fp.process(&request("add 19.99 and 5.01 then multiply by 3"));
        assert_eq!(r.value.as_deref(), Some("75"));
        assert_eq!(r.plan[1].inputs, vec!["$0".to_string(), "3".to_string()]);
        let r = fp.process(&request(
            "subtract 250 from 1000 and divide the result by 5",
        ));
        assert_eq!(r.value.as_deref(), Some("150"), "{r:?}");
        let r = fp.process(&request("what is 7 times 8 minus 6"));
        assert_eq!(r.value.as_deref(), Some("50"), "{r:?}");
    }

    #[test]
    fn conversions_run_as_plan_steps_with_units() {
        let mut fp = FastPath::new(example_registry(), 10);
        let r = fp.process(&request("convert 5 km to miles and round to 2 decimals"));
        assert_eq!(r.status, Status::Ok, "{r:?}");
        assert_eq!(r.value.as_deref(), Some("3.11"), "{r:?}");
        assert_eq!(r.unit.as_deref(), Some("mile"));
        assert_eq!(r.plan.len(), 2);
        assert_eq!(r.plan[0].tool, "unit_convert");
    }

    #[test]
    fn other_tool_kinds_run_on_the_whole_request() {
        let mut fp = FastPath::new(example_registry(), 10);
        let r = fp.process(&request("how much is 20 euros in dollars"));
        assert_eq!(r.status, Status::Ok, "{r:?}");
        assert_eq!(r.unit.as_deref(), Some("USD"), "{r:?}");
        assert!(r.timings.iter().any(|t| t.stage == "extract"));
    }

    #[test]
    fn a_session_refers_to_its_previous_answer() {
        let mut fp = FastPath::new(example_registry(), 10);
        fp.process(&request("Calculate 42 + 58"));
        let r = fp.process(&request("multiply that by 2"));
        assert_eq!(r.value.as_deref(), Some("200"), "{r:?}");
        let mut other = request("multiply that by 2");
        other.session_id = Some("other".into());
        assert_eq!(
            fp.process(&other).error_kind.as_deref(),
            Some("nothing_to_refer_to")
        );
    }

    #[test]
    fn a_session_id_is_scoped_to_its_tenant() {
        let mut fp = FastPath::new(example_registry(), 10);
        fp.process(&request("Calculate 42 + 58"));
        let mut elsewhere = request("multiply that by 2");
        elsewhere.tenant = "acme-corp".into();
        assert_eq!(
            fp.process(&elsewhere).error_kind.as_deref(),
            Some("nothing_to_refer_to")
        );
    }

    #[test]
    fn goes_durable_agrees_with_the_route_the_request_takes() {
        let registry = example_registry().load("main");
        for text in [
            "process customer data and generate report",
            "Calculate 42 + 58",
            "approve the calculation 2 + 2",
            "gibberish that matches nothing",
        ] {
            let mut fp = FastPath::new(example_registry(), 10);
            let routed = fp.process(&request(text)).status == Status::Accepted;
            assert_eq!(goes_durable(&registry, text), routed, "{text}");
        }
        assert!(goes_durable(
            &registry,
            "process customer data and generate report"
        ));
    }

    #[test]
    fn workflows_route_durable_and_unknown_requests_are_unclassified() {
        let mut fp = FastPath::new(example_registry(), 10);
        let r = fp.process(&request("process customer data and generate report"));
        assert_eq!(r.status, Status::Accepted, "{r:?}");
        assert_eq!(r.workflow_id.as_deref(), Some("r"));
        assert!(
            r.route
                .as_deref()
                .is_some_and(|x| x.starts_with("durable:"))
        );
        let r = fp.process(&request("sing me a song about the sea"));
        assert_eq!(r.status, Status::Unclassified, "{r:?}");
        assert!(r.answer.contains("no tool or workflow matches"));
        assert_eq!(
            fp.process(&request("divide 1 by 0")).error_kind.as_deref(),
            Some("division_by_zero")
        );
    }

    #[test]
    fn a_tenant_sees_its_own_tools_and_others_do_not() {
        let mut fp = FastPath::new(example_registry(), 10);
        let registry = fp.registry().load("acme-corp");
        let acme_only = registry
            .definitions
            .tool("acme-discount")
            .expect("acme has acme-discount");
        let text = acme_only.examples[0].clone();
        let mut acme = request(&text);
        acme.tenant = "acme-corp".into();
        let r = fp.process(&acme);
        assert_eq!(r.tool.as_deref(), Some("acme-discount"), "{r:?}");
        assert_eq!(r.registry_commit, "c-acme");
        let r = fp.process(&request(&text));
        assert_ne!(
            r.tool.as_deref(),
            Some("acme-discount"),
            "main must not see acme's tool"
        );
    }

    #[test]
    fn sessions_are_bounded() {
        let mut s = Sessions::new(2);
        s.remember("a", Decimal::ONE);
        s.remember("b", Decimal::TWO);
        s.remember("c", Decimal::TEN);
        assert_eq!(s.get("a"), None);
        assert_eq!(s.get("c"), Some(Decimal::TEN));
    }
}
