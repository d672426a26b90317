//! Tools: the builtin kinds of action the execute stage runs for a step.
//!
//! A tool definition in the config repository names one kind and its parameters under
//! `tool:` ([`ToolSpec`], parsed by the registry with `deny_unknown_fields`). When a registry
//! version is compiled, [`build`] validates the parameters (rates positive, templates and jq
//! programs compile, URLs parse) and turns each spec into a runnable [`Tool`]; a request then
//! runs the tool with a [`ToolContext`] (its text, entities, the previous step's value) and gets
//! a [`ToolOutput`] or a [`ToolError`] whose [`kind`](ToolError::kind) is stable.
//!
//! One module per kind: [`calculator`], [`unit_convert`] (on the unit table in [`units`]),
//! [`currency`], [`datetime`], [`lookup`], [`template`], [`transform`] and [`http`]. Only
//! `http` does IO, and only through the [`http::HttpClient`] trait that the connectors crate
//! implements; everything else is pure and cheap enough for the fast path.

pub mod calculator;
pub mod currency;
pub mod datetime;
mod error;
pub mod http;
pub mod lookup;
mod number;
pub mod template;
pub mod transform;
pub mod unit_convert;
pub mod units;

use std::sync::Arc;

use chrono::{DateTime, FixedOffset};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::decompose::Step;
use crate::extract::Entity;

pub use calculator::CalculatorSpec;
pub use currency::CurrencySpec;
pub use datetime::DatetimeSpec;
pub use error::{ToolError, ToolSpecError};
pub use http::{HttpClient, HttpSpec};
pub use lookup::LookupSpec;
pub use template::TemplateSpec;
pub use transform::TransformSpec;
pub use unit_convert::UnitConvertSpec;

/// One tool's kind and parameters, as written under `tool:` in a definition file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ToolSpec {
    /// Exact decimal arithmetic ([`crate::calc`]).
    Calculator(CalculatorSpec),
    /// Length, mass, volume, temperature, duration, data size and speed conversions.
    UnitConvert(UnitConvertSpec),
    /// Money conversion over a rates table kept in the repository.
    Currency(CurrencySpec),
    /// Date arithmetic, differences between dates, the time in another zone.
    Datetime(DatetimeSpec),
    /// A key → value table; the key is found in the request text.
    Lookup(LookupSpec),
    /// A minijinja template rendered with the request's text, entities and input.
    Template(TemplateSpec),
    /// A jq program run over JSON (jaq).
    Transform(TransformSpec),
    /// A templated HTTP request to a host on the tenant's allow-list.
    Http(HttpSpec),
}

impl ToolSpec {
    /// The kind's name as written in a definition file (`unit_convert`).
    pub fn kind(&self) -> &'static str {
        match self {
            ToolSpec::Calculator(_) => "calculator",
            ToolSpec::UnitConvert(_) => "unit_convert",
            ToolSpec::Currency(_) => "currency",
            ToolSpec::Datetime(_) => "datetime",
            ToolSpec::Lookup(_) => "lookup",
            ToolSpec::Template(_) => "template",
            ToolSpec::Transform(_) => "transform",
            ToolSpec::Http(_) => "http",
        }
    }
}

/// When a request's time on the fast path (`fast_path_timeout_ms` of the tenant's
/// `configs/routing.yaml`) runs out. A tool that waits (`http`) waits no longer than that,
/// whatever its own timeout, and a request whose time has run out gets a `timeout` error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline {
    pub at: std::time::Instant,
    pub budget_ms: u64,
}

impl Deadline {
    /// `budget_ms` from now.
    pub fn after(budget_ms: u64) -> Self {
        Deadline {
            at: std::time::Instant::now() + std::time::Duration::from_millis(budget_ms),
            budget_ms,
        }
    }

    /// The time left (zero once it has passed).
    pub fn remaining(&self) -> std::time::Duration {
        self.at.saturating_duration_since(std::time::Instant::now())
    }

    /// The error of a request whose time ran out.
    pub fn ran_out(&self) -> ToolError {
        ToolError::Timeout {
            budget_ms: self.budget_ms,
        }
    }
}

/// What a tool sees of the request it runs for.
#[derive(Debug, Clone, Copy)]
pub struct ToolContext<'a> {
    /// The request text (or the step's clause).
    pub text: &'a str,
    /// Entities extracted from `text`.
    pub entities: &'a [Entity],
    /// The previous step's value, which references ("it", `$0`) in the step resolve to.
    pub input: Option<Decimal>,
    /// The unit of `input`, when the previous step produced one ("convert it to miles").
    pub input_unit: Option<&'a str>,
    /// The plan step being executed, when the request was decomposed.
    pub step: Option<&'a Step>,
    /// Hosts the tenant allows HTTP tools to reach (`api.example.com`, `*.example.com`).
    pub allowed_hosts: &'a [String],
    /// "Now", for "what time is it in Tokyo" and "today".
    pub reference_time: DateTime<FixedOffset>,
    /// A workflow step's input (its `input:` mapping, rendered): templates see it as `input`
    /// and a `transform` without `data` runs over it.
    pub step_input: Option<&'a serde_json::Value>,
    /// When the fast path's time for this request runs out; `None` off the fast path (a
    /// workflow step has its own timeouts).
    pub deadline: Option<Deadline>,
}

impl<'a> ToolContext<'a> {
    /// A context with only the text and "now": no entities, input, step or allowed hosts.
    pub fn new(text: &'a str, reference_time: DateTime<FixedOffset>) -> Self {
        ToolContext {
            text,
            entities: &[],
            input: None,
            input_unit: None,
            step: None,
            allowed_hosts: &[],
            reference_time,
            step_input: None,
            deadline: None,
        }
    }
}

/// What a tool produced.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ToolOutput {
    /// The numeric result, when there is one (a later step can refer to it).
    pub value: Option<Decimal>,
    /// The unit of `value`: a canonical unit name ("mile"), an ISO currency code, "day".
    pub unit: Option<String>,
    /// The answer as shown to the requester: "5 km = 3.106856 mile".
    pub answer: String,
    /// Structured detail (a transform's output, an HTTP response's JSON).
    pub data: Option<serde_json::Value>,
}

impl ToolOutput {
    /// An output that is only text.
    pub fn answer(answer: impl Into<String>) -> Self {
        ToolOutput {
            answer: answer.into(),
            ..ToolOutput::default()
        }
    }
}

/// A compiled tool, shared by every request of one registry version.
pub trait Tool: Send + Sync {
    /// Answers one request; never panics, whatever the text.
    fn run(&self, ctx: &ToolContext) -> Result<ToolOutput, ToolError>;
}

/// What tools with side effects need from outside the pipeline crate.
#[derive(Clone, Default)]
pub struct ToolServices {
    /// Sends the requests of `http` tools; without it they fail with `http_unavailable`.
    pub http: Option<Arc<dyn HttpClient>>,
}

/// Validates a spec and compiles it into a runnable tool (no HTTP client: see [`build_with`]).
pub fn build(spec: &ToolSpec) -> Result<Box<dyn Tool>, ToolSpecError> {
    build_with(spec, &ToolServices::default())
}

/// Validates a spec and compiles it into a runnable tool that uses `services` for its IO.
pub fn build_with(
    spec: &ToolSpec,
    services: &ToolServices,
) -> Result<Box<dyn Tool>, ToolSpecError> {
    Ok(match spec {
        ToolSpec::Calculator(spec) => Box::new(calculator::Calculator::new(spec)?),
        ToolSpec::UnitConvert(spec) => Box::new(unit_convert::UnitConverter::new(spec)?),
        ToolSpec::Currency(spec) => Box::new(currency::CurrencyConverter::new(spec)?),
        ToolSpec::Datetime(spec) => Box::new(datetime::DateCalculator::new(spec)?),
        ToolSpec::Lookup(spec) => Box::new(lookup::LookupTable::new(spec)?),
        ToolSpec::Template(spec) => Box::new(template::TemplateTool::new(spec)?),
        ToolSpec::Transform(spec) => Box::new(transform::Transform::new(spec)?),
        ToolSpec::Http(spec) => Box::new(http::HttpTool::new(spec, services.http.clone())?),
    })
}

#[cfg(test)]
mod tests;
