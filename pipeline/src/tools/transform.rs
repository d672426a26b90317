//! The `transform` kind: a jq program (run by jaq) over JSON.
//!
//! The input is the spec's `data`, or else the first JSON object or array in the request
//! text. The program sees the request as `$text` and the previous step's value as `$input`
//! (or null). Programs compile when the registry version is built. jaq's `env`, `now`,
//! `input` and `inputs` are left out: a definition must not read the process environment,
//! the clock or stdin. At most [`MAX_OUTPUTS`] outputs are taken; known limit: a program that
//! loops without producing output (`last(range(1e18))`) is not interrupted.
//!
//! A program may not define a function that calls itself, directly or through its other
//! definitions ([`refuse_recursion`]): jaq has no depth limit, so `def f: 1 + f; f` would
//! overflow the stack and abort the whole process. jaq's own recursive filters (`recurse`,
//! `..`, `paths`) stay allowed: they are bounded by their input, whose depth serde_json caps.
//! The check walks jaq's parse tree; it is here because jaq offers no such limit itself.

use std::collections::{BTreeMap, BTreeSet};

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
    refuse_recursion(program)?;
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

/// Refuses a program one of whose own definitions can call itself. Functions are told
/// apart by name and arity, as jq does; a filter argument that shares a definition's name
/// and arity is counted as a call to it (a program rejected that way can rename it).
fn refuse_recursion(program: &str) -> Result<(), String> {
    // A program that does not parse is reported by the loader, with its position.
    let Some(term) = jaq_core::load::parse(program, |p| p.term()) else {
        return Ok(());
    };
    let mut defs: Definitions = Vec::new();
    let mut top = Vec::new();
    calls(&term, &mut top, &mut defs);
    let defined: BTreeSet<Function> = defs.iter().map(|(f, _)| *f).collect();
    let mut edges: BTreeMap<Function, BTreeSet<Function>> = BTreeMap::new();
    for (f, callees) in &defs {
        let out = edges.entry(*f).or_default();
        out.extend(callees.iter().filter(|c| defined.contains(c)));
    }
    for &start in &defined {
        // Depth-first from `start`'s callees: reaching `start` again is a cycle.
        let mut seen = BTreeSet::new();
        let mut stack: Vec<Function> = edges[&start].iter().copied().collect();
        while let Some(f) = stack.pop() {
            if f == start {
                return Err(format!(
                    "defines '{}' so that it calls itself; recursive definitions are refused \
                     (jaq has no depth limit, and a deep recursion aborts the process): use \
                     reduce, foreach, limit or recurse instead",
                    start.0
                ));
            }
            if seen.insert(f) {
                stack.extend(edges.get(&f).into_iter().flatten().copied());
            }
        }
    }
    Ok(())
}

type Term<'s> = jaq_core::load::parse::Term<&'s str>;
/// A function as jq tells them apart: name and arity.
type Function<'s> = (&'s str, usize);
/// Each definition with the functions its body calls.
type Definitions<'s> = Vec<(Function<'s>, Vec<Function<'s>>)>;

/// Collects the calls `term` makes into `out`, and every definition inside it, with the
/// calls its body makes, into `defs`.
fn calls<'s>(term: &Term<'s>, out: &mut Vec<Function<'s>>, defs: &mut Definitions<'s>) {
    use jaq_core::load::lex::StrPart;
    use jaq_core::load::parse::{BinaryOp, Pattern, Term as T};
    use jaq_core::path::Part;

    fn pattern<'s>(p: &Pattern<&'s str>, out: &mut Vec<Function<'s>>, defs: &mut Definitions<'s>) {
        match p {
            Pattern::Var(_) => {}
            Pattern::Arr(ps) => ps.iter().for_each(|p| pattern(p, out, defs)),
            Pattern::Obj(kvs) => kvs.iter().for_each(|(k, v)| {
                calls(k, out, defs);
                pattern(v, out, defs);
            }),
        }
    }
    match term {
        T::Id | T::Recurse | T::Num(_) | T::Break(_) | T::Var(_) => {}
        T::Str(_, parts) => parts.iter().for_each(|part| {
            if let StrPart::Term(t) = part {
                calls(t, out, defs);
            }
        }),
        T::Arr(t) => t.iter().for_each(|t| calls(t, out, defs)),
        T::Obj(kvs) => kvs.iter().for_each(|(k, v)| {
            calls(k, out, defs);
            v.iter().for_each(|v| calls(v, out, defs));
        }),
        T::Neg(t) | T::Label(_, t) => calls(t, out, defs),
        T::BinOp(l, op, r) => {
            if let BinaryOp::Pipe(Some(p)) = op {
                pattern(p, out, defs);
            }
            calls(l, out, defs);
            calls(r, out, defs);
        }
        T::Fold(_, xs, p, args) => {
            calls(xs, out, defs);
            pattern(p, out, defs);
            args.iter().for_each(|a| calls(a, out, defs));
        }
        T::TryCatch(t, c) => {
            calls(t, out, defs);
            c.iter().for_each(|c| calls(c, out, defs));
        }
        T::IfThenElse(branches, otherwise) => {
            for (cond, then) in branches {
                calls(cond, out, defs);
                calls(then, out, defs);
            }
            otherwise.iter().for_each(|o| calls(o, out, defs));
        }
        T::Def(local, rest) => {
            for def in local {
                let mut body = Vec::new();
                calls(&def.body, &mut body, defs);
                defs.push(((def.name, def.args.len()), body));
            }
            calls(rest, out, defs);
        }
        T::Call(name, args) => {
            out.push((*name, args.len()));
            args.iter().for_each(|a| calls(a, out, defs));
        }
        T::Path(t, path) => {
            calls(t, out, defs);
            for (part, _) in &path.0 {
                match part {
                    Part::Index(i) => calls(i, out, defs),
                    Part::Range(from, to) => {
                        from.iter().for_each(|f| calls(f, out, defs));
                        to.iter().for_each(|t| calls(t, out, defs));
                    }
                }
            }
        }
    }
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
