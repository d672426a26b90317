//! The `transform` kind: a jq program (run by jaq) over JSON.
//!
//! The input is the spec's `data`, or else the first JSON object or array in the request
//! text. The program sees the request as `$text` and the previous step's value as `$input`
//! (or null). Programs compile when the registry version is built. jaq's `env`, `now`,
//! `input` and `inputs` are left out: a definition must not read the process environment,
//! the clock or stdin. At most [`MAX_OUTPUTS`] outputs are taken; known limit: a program that
//! loops without producing output (`last(range(1e18))`) is not interrupted.

use jaq_core::load::{Arena, File, Loader};
use jaq_core::{Compiler, Ctx, Vars, data, unwrap_valr};
use jaq_json::Val;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::{Tool, ToolContext, ToolError, ToolOutput, ToolSpecError};

/// `kind: transform`.
///
/// ```yaml
/// tool:
///   kind: transform
///   filter: "[.orders[] | .total] | add"
///   data: { orders: [ { total: 5 }, { total: 7 } ] }   # optional; else JSON in the request
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransformSpec {
    /// The jq program.
    pub filter: String,
    /// The JSON to run it over; when absent, the first JSON object or array in the request.
    #[serde(default)]
    pub data: Option<serde_json::Value>,
}

/// Most outputs one run collects.
pub const MAX_OUTPUTS: usize = 1000;

/// Native filters a definition may not use: they read the environment, the clock or stdin.
const DENIED: &[&str] = &["env", "now", "input", "inputs"];

/// How many opening brackets of the text are tried as the start of JSON input.
const MAX_JSON_STARTS: usize = 16;

type Program = jaq_core::Filter<data::JustLut<Val>>;

/// A compiled `transform` tool.
pub struct Transform {
    program: Program,
    /// The spec's data as JSON text; jaq values are not `Sync`, so each run reads it.
    data: Option<String>,
}

impl std::fmt::Debug for Transform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transform").finish_non_exhaustive()
    }
}

impl Transform {
    pub fn new(spec: &TransformSpec) -> Result<Self, ToolSpecError> {
        let program =
            compile(&spec.filter).map_err(|e| ToolSpecError::new("transform", "filter", e))?;
        let data = spec.data.as_ref().map(serde_json::Value::to_string);
        Ok(Transform { program, data })
    }

    /// Runs the program over `input`, collecting its outputs as JSON.
    pub fn apply(
        &self,
        input: Val,
        ctx: &ToolContext,
    ) -> Result<Vec<serde_json::Value>, ToolError> {
        let previous = match ctx.input {
            Some(value) => parse_json_number(&value.to_string()),
            None => Val::Null,
        };
        let vars = Vars::new([Val::from(ctx.text.to_string()), previous]);
        let run_ctx = Ctx::<data::JustLut<Val>>::new(&self.program.lut, vars);
        let mut outputs = Vec::new();
        for output in self.program.id.run((run_ctx, input)).map(unwrap_valr) {
            if outputs.len() == MAX_OUTPUTS {
                return Err(ToolError::Transform {
                    message: format!("the program produced more than {MAX_OUTPUTS} outputs"),
                });
            }
            let value = output.map_err(|e| ToolError::Transform {
                message: e.to_string(),
            })?;
            outputs.push(to_json(&value));
        }
        Ok(outputs)
    }
}

impl Tool for Transform {
    fn run(&self, ctx: &ToolContext) -> Result<ToolOutput, ToolError> {
        let input = match &self.data {
            Some(data) => to_val(data).map_err(|message| ToolError::Transform { message })?,
            None => match ctx.step_input {
                Some(input) => to_val(&input.to_string())
                    .map_err(|message| ToolError::Transform { message })?,
                None => json_in_text(ctx.text).ok_or(ToolError::NoJsonInput)?,
            },
        };
        let mut outputs = self.apply(input, ctx)?;
        let data = match outputs.len() {
            1 => outputs.pop().unwrap_or_default(),
            _ => serde_json::Value::Array(outputs),
        };
        let (answer, value) = match &data {
            serde_json::Value::String(text) => (text.clone(), None),
            serde_json::Value::Number(number) => {
                let text = number.to_string();
                let value = Decimal::from_str_exact(&text)
                    .or_else(|_| Decimal::from_scientific(&text))
                    .ok();
                (text, value)
            }
            other => (other.to_string(), None),
        };
        Ok(ToolOutput {
            value,
            unit: None,
            answer,
            data: Some(data),
        })
    }
}

/// Parses and compiles a jq program with jaq's core, standard and JSON libraries.
fn compile(program: &str) -> Result<Program, String> {
    let defs = jaq_core::defs()
        .chain(jaq_std::defs())
        .chain(jaq_json::defs());
    let funs = jaq_core::funs()
        .chain(jaq_std::funs().filter(|(name, _, _)| !DENIED.contains(name)))
        .chain(jaq_json::funs());
    let arena = Arena::default();
    let modules = Loader::new(defs)
        .load(
            &arena,
            File {
                code: program,
                path: (),
            },
        )
        .map_err(|errors| {
            let mut reasons = Vec::new();
            for (_, error) in errors {
                match error {
                    jaq_core::load::Error::Io(io) => {
                        reasons.extend(io.into_iter().map(|(path, e)| format!("{path}: {e}")))
                    }
                    jaq_core::load::Error::Lex(lex) => {
                        reasons.extend(lex.into_iter().map(|(expect, at)| {
                            format!("unexpected input at '{}' ({expect:?})", snippet(at))
                        }))
                    }
                    jaq_core::load::Error::Parse(parse) => {
                        reasons.extend(parse.into_iter().map(|(expect, at)| {
                            format!("expected {} at '{}'", expect.as_str(), snippet(at))
                        }))
                    }
                }
            }
            format!("is not a valid jq program: {}", reasons.join("; "))
        })?;
    Compiler::default()
        .with_global_vars(["$text", "$input"])
        .with_funs(funs)
        .compile(modules)
        .map_err(|errors| {
            let undefined: Vec<String> = errors
                .into_iter()
                .flat_map(|(_, errors)| errors)
                .map(|(name, kind)| format!("{} '{name}'", kind.as_str()))
                .collect();
            format!("uses undefined {}", undefined.join(", "))
        })
}

/// The start of the program text an error points at, for the message.
fn snippet(at: &str) -> &str {
    match at.char_indices().nth(20) {
        Some((end, _)) => &at[..end],
        None if at.is_empty() => "the end",
        None => at,
    }
}

/// JSON text to a jaq value.
fn to_val(json: &str) -> Result<Val, String> {
    jaq_json::read::parse_single(json.as_bytes()).map_err(|e| format!("is not JSON: {e}"))
}

/// A number's text as a jaq number (exact decimals keep their digits).
fn parse_json_number(text: &str) -> Val {
    jaq_json::read::parse_single(text.as_bytes()).unwrap_or(Val::Null)
}

/// A jaq value as JSON; what JSON cannot hold (NaN, byte strings) becomes its text.
fn to_json(value: &Val) -> serde_json::Value {
    let text = value.to_string();
    serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text))
}

/// The first JSON object or array in the text.
fn json_in_text(text: &str) -> Option<Val> {
    text.match_indices(['{', '['])
        .take(MAX_JSON_STARTS)
        .find_map(|(start, _)| {
            let rest = &text[start..];
            let mut stream =
                serde_json::Deserializer::from_str(rest).into_iter::<serde::de::IgnoredAny>();
            match stream.next() {
                Some(Ok(_)) => to_val(&rest[..stream.byte_offset()]).ok(),
                _ => None,
            }
        })
}

// The registry shares compiled tools between threads.
const _: fn() = || {
    fn shared<T: Send + Sync>() {}
    shared::<Transform>();
};
