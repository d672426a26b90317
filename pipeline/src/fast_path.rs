//! The fast path: the in-process chain that turns one request into one result.
//!
//! `FastPath::process` validates the text, evaluates it and fills the result with the answer,
//! the plan, the rule that matched and the time spent per stage. It holds the per-session
//! state (the previous answer of each session), bounded so that a flood of sessions cannot
//! grow memory without limit. It is a pure function of (request, registry, session state).

use std::collections::{HashMap, VecDeque};
use std::time::Instant;

use rust_decimal::Decimal;

use crate::calc::CalcOptions;
use crate::decompose::{self, Plan};
use crate::model::{Request, RequestResult, StageTiming, Status};

/// Longest request text accepted, in bytes.
pub const MAX_TEXT_BYTES: usize = 4096;

/// Registry commit reported while the registry is fed by built-in definitions.
pub const BUILTIN_COMMIT: &str = "builtin";

/// The fast-path chain with its session state.
pub struct FastPath {
    calc: CalcOptions,
    sessions: SessionStore,
}

impl FastPath {
    pub fn new(max_sessions: usize) -> Self {
        FastPath {
            calc: CalcOptions::default(),
            sessions: SessionStore::new(max_sessions),
        }
    }

    /// Answers one request. Never panics: every failure becomes an error result.
    pub fn process(&mut self, request: &Request) -> RequestResult {
        let commit = BUILTIN_COMMIT;
        if let Err((kind, message)) = validate_text(&request.text) {
            return RequestResult::error(request, commit, kind, message);
        }
        let mut timings = Vec::with_capacity(2);
        let started = Instant::now();
        let plan = decompose::decompose(&request.text);
        timings.push(stage("decompose", started));
        let plan = match plan {
            Ok(plan) => plan,
            Err(e) => {
                return with_timings(
                    RequestResult::error(request, commit, e.kind(), e.to_string()),
                    timings,
                );
            }
        };
        if plan.steps.iter().all(|s| s.tool() != "calculator") {
            return with_timings(unclassified(request, commit, &plan), timings);
        }
        let previous = request
            .session_id
            .as_deref()
            .and_then(|s| self.sessions.get(s));
        let started = Instant::now();
        let outputs = decompose::execute_arithmetic(&plan, previous, &self.calc);
        timings.push(stage("execute", started));
        let result = match outputs {
            Ok(values) => {
                let mut r = RequestResult::new(request, Status::Ok, commit);
                let last = *values.last().expect("a plan has at least one step");
                let shown = normalise(last);
                r.value = Some(shown.clone());
                r.answer = format!("{} = {shown}", request.text.trim());
                r.tool = Some("calculator".into());
                r.matched_rule = Some("calculator:arithmetic".into());
                r.route = Some(format!("fast: {} calculator step(s)", values.len()));
                r.plan = plan
                    .steps
                    .iter()
                    .zip(&values)
                    .enumerate()
                    .map(|(i, (step, v))| decompose::plan_step(i, step, Some(normalise(*v))))
                    .collect();
                if let Some(session) = &request.session_id {
                    self.sessions.remember(session, last);
                }
                r
            }
            Err(e) => {
                let mut r = RequestResult::error(request, commit, e.kind(), e.to_string());
                r.plan = plan
                    .steps
                    .iter()
                    .enumerate()
                    .map(|(i, s)| decompose::plan_step(i, s, None))
                    .collect();
                r
            }
        };
        with_timings(result, timings)
    }

    /// The previous answer of a session, if any.
    pub fn previous_answer(&self, session: &str) -> Option<Decimal> {
        self.sessions.get(session)
    }
}

fn stage(name: &str, started: Instant) -> StageTiming {
    StageTiming {
        stage: name.to_string(),
        micros: started.elapsed().as_micros() as i64,
    }
}

fn with_timings(mut result: RequestResult, timings: Vec<StageTiming>) -> RequestResult {
    result.timings = timings;
    result
}

/// No tool can serve the plan: say so and name what can.
fn unclassified(request: &Request, commit: &str, plan: &Plan) -> RequestResult {
    let mut r = RequestResult::new(request, Status::Unclassified, commit);
    let verbs: Vec<&str> = plan.steps.iter().map(|s| s.tool()).collect();
    r.answer = format!(
        "no tool matches this request (it asks for: {}); the calculator answers arithmetic such as \"Calculate 42 + 58\"",
        verbs.join(", ")
    );
    r.plan = plan
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| decompose::plan_step(i, s, None))
        .collect();
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

/// The previous answer of each session, forgetting the oldest sessions beyond a bound.
struct SessionStore {
    max: usize,
    values: HashMap<String, Decimal>,
    order: VecDeque<String>,
}

impl SessionStore {
    fn new(max: usize) -> Self {
        SessionStore {
            max: max.max(1),
            values: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    fn remember(&mut self, session: &str, value: Decimal) {
        if self.values.insert(session.to_string(), value).is_none() {
            self.order.push_back(session.to_string());
            while self.order.len() > self.max {
                if let Some(old) = self.order.pop_front() {
                    self.values.remove(&old);
                }
            }
        }
    }

    fn get(&self, session: &str) -> Option<Decimal> {
        self.values.get(session).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn bad_text_gets_an_error_that_says_what_is_wrong() {
        let mut fp = FastPath::new(10);
        let kind = |fp: &mut FastPath, t: &str| fp.process(&request(t)).error_kind.unwrap();
        assert_eq!(kind(&mut fp, "   "), "empty_text");
        assert_eq!(kind(&mut fp, &"1+".repeat(3000)), "text_too_long");
        assert_eq!(kind(&mut fp, "1 + \u{7}2"), "control_character");
    }

    #[test]
    fn arithmetic_is_answered_with_its_plan() {
        let mut fp = FastPath::new(10);
        let r = fp.process(&request("Calculate 42 + 58"));
        assert_eq!(r.status, Status::Ok);
        assert_eq!(r.value.as_deref(), Some("100"));
        assert_eq!(r.plan.len(), 1);
        let r = fp.process(&request("add 19.99 and 5.01 then multiply by 3"));
        assert_eq!(r.value.as_deref(), Some("75"));
        assert_eq!(r.plan[1].inputs, vec!["$0".to_string(), "3".to_string()]);
    }

    #[test]
    fn a_session_refers_to_its_previous_answer() {
        let mut fp = FastPath::new(10);
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
    fn requests_no_tool_serves_are_unclassified() {
        let mut fp = FastPath::new(10);
        let r = fp.process(&request("tell me a joke"));
        assert_eq!(r.status, Status::Unclassified, "{r:?}");
        assert!(r.answer.contains("no tool matches"));
        assert_eq!(
            fp.process(&request("divide 1 by 0")).error_kind.as_deref(),
            Some("division_by_zero")
        );
    }

    #[test]
    fn sessions_are_bounded() {
        let mut s = SessionStore::new(2);
        s.remember("a", Decimal::ONE);
        s.remember("b", Decimal::TWO);
        s.remember("c", Decimal::TEN);
        assert_eq!(s.get("a"), None);
        assert_eq!(s.get("c"), Some(Decimal::TEN));
    }
}
