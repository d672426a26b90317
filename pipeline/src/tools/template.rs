//! The `template` kind: a minijinja template rendered with the request.
//!
//! The template sees `text` (the request), `entities` (Duckling-shaped: `dim`, `body`,
//! `start`, `end`, `value`), `values` (each dimension's entity values, e.g.
//! `values.email[0].value`), `input` (the previous step's value, or none) and `now` (the
//! reference time, RFC 3339). Templates compile when the registry version is built; a render
//! runs on a fuel budget, so a runaway loop in a definition ends in an error, not a stall.
//! The `http` kind renders its URL, headers and body with the same [`Templates`].

use std::collections::BTreeMap;

use minijinja::value::Serde;
use minijinja::{Environment, Value, context};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::{Deserialize, Serialize};

use super::{Tool, ToolContext, ToolError, ToolOutput, ToolSpecError};

/// `kind: template`.
///
/// ```yaml
/// tool:
///   kind: template
///   template: "Thanks! We will email {{ values.email[0].value }} about: {{ text }}"
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateSpec {
    /// minijinja source of the answer.
    pub template: String,
}

/// Instructions one render may execute before it is stopped.
const FUEL: u64 = 100_000;
/// Deepest nesting of template constructs.
const RECURSION_LIMIT: usize = 64;

/// Named templates compiled once, rendered per request.
#[derive(Debug)]
pub(crate) struct Templates {
    env: Environment<'static>,
}

impl Templates {
    pub(crate) fn new() -> Self {
        let mut env = Environment::new();
        env.set_fuel(Some(FUEL));
        env.set_recursion_limit(RECURSION_LIMIT);
        Templates { env }
    }

    /// Compiles `source` as `name`; the error names the spec parameter.
    pub(crate) fn add(
        &mut self,
        tool: &'static str,
        name: &str,
        source: &str,
    ) -> Result<(), ToolSpecError> {
        self.env
            .add_template_owned(name.to_string(), source.to_string())
            .map_err(|e| ToolSpecError::new(tool, name, format!("does not compile: {e:#}")))
    }

    /// Renders the template `name` with the request's variables.
    pub(crate) fn render(&self, name: &str, vars: &Value) -> Result<String, ToolError> {
        self.env
            .get_template(name)
            .and_then(|template| template.render(vars))
            .map_err(|e| ToolError::Template {
                message: format!("{e:#}"),
            })
    }
}

/// The variables a template sees for one request.
pub(crate) fn variables(ctx: &ToolContext) -> Value {
    let mut values: BTreeMap<&str, Vec<&crate::extract::EntityValue>> = BTreeMap::new();
    for entity in ctx.entities {
        values
            .entry(entity.dim.as_str())
            .or_default()
            .push(&entity.value);
    }
    context! {
        text => ctx.text,
        entities => Value::from(Serde(ctx.entities)),
        values => Value::from(Serde(values)),
        input => match ctx.step_input {
            Some(input) => Value::from(Serde(input)),
            None => ctx.input.map(number).unwrap_or(Value::from(())),
        },
        input_unit => ctx.input_unit,
        now => ctx.reference_time.to_rfc3339(),
    }
}

/// A decimal as a template number: an integer when whole, else the nearest float.
fn number(value: Decimal) -> Value {
    match value.to_i64().filter(|_| value.is_integer()) {
        Some(whole) => Value::from(whole),
        None => Value::from(value.to_f64().unwrap_or(f64::NAN)),
    }
}

/// A compiled `template` tool.
#[derive(Debug)]
pub struct TemplateTool {
    templates: Templates,
}

impl TemplateTool {
    pub fn new(spec: &TemplateSpec) -> Result<Self, ToolSpecError> {
        let mut templates = Templates::new();
        templates.add("template", "template", &spec.template)?;
        Ok(TemplateTool { templates })
    }
}

impl Tool for TemplateTool {
    fn run(&self, ctx: &ToolContext) -> Result<ToolOutput, ToolError> {
        let rendered = self.templates.render("template", &variables(ctx))?;
        let answer = rendered.trim();
        Ok(ToolOutput {
            value: Decimal::from_str_exact(answer).ok(),
            unit: None,
            answer: answer.to_string(),
            data: None,
        })
    }
}
