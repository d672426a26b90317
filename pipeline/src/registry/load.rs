//! Loading and validating a branch's definition files: what `volcano validate` prints.
//!
//! The git registry hands over a commit's files as (path, content) pairs; [`load_files`] is
//! the primary entry and [`load_tree`] reads the same layout from a directory. Each file is
//! checked on its own (YAML syntax and unknown fields with the parser's location, `version`,
//! names, bounds, patterns, tool kinds), then the set as a whole (duplicate names across files,
//! workflow steps naming existing tools). Every problem found is returned, not just the first.

use std::collections::HashMap;
use std::path::Path;

use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::config::{CONFIG_VERSION, RoutingConfig, SecurityConfig};
use super::definition::{
    DEFINITION_VERSION, MAX_PRIORITY, MIN_PRIORITY, Step, ToolDef, WorkflowDef, build_tool,
};
use super::language::LanguageConfig;
use super::locate::{find_entry, find_text};
use super::{Definitions, Diagnostic, overlay};

/// Longest tool, workflow or step name.
const MAX_NAME_CHARS: usize = 64;
/// Compiled size limit of one pattern; the whole set gets its own, larger one.
pub(crate) const PATTERN_SIZE_LIMIT: usize = 1 << 20;

/// Loads and validates one branch's files (path inside the branch, content).
///
/// Files outside `tools/`, `workflows/` and `configs/`, and files there that are not YAML,
/// are ignored, so a branch may carry a README.
pub fn load_files(
    files: impl IntoIterator<Item = (String, String)>,
) -> Result<Definitions, Vec<Diagnostic>> {
    let (definitions, mut diagnostics) = parse_files(files);
    diagnostics.extend(check_references(&definitions));
    finish(definitions, diagnostics)
}

/// Loads and validates a tenant branch's files; its workflows may use `main`'s tools.
pub fn load_tenant_files(
    main: &Definitions,
    files: impl IntoIterator<Item = (String, String)>,
) -> Result<Definitions, Vec<Diagnostic>> {
    let (definitions, mut diagnostics) = parse_files(files);
    diagnostics.extend(check_references(&overlay(main, &definitions)));
    finish(definitions, diagnostics)
}

/// Loads a branch laid out as a directory (`root/tools/*.yaml`, ...), as `load_files` does.
pub fn load_tree(root: &Path) -> Result<Definitions, Vec<Diagnostic>> {
    load_files(read_tree(root)?)
}

/// Reads a branch laid out as a directory: every file under `tools/`, `workflows/` and
/// `configs/` as (path inside the branch, content), sorted by path.
pub fn read_tree(root: &Path) -> Result<Vec<(String, String)>, Vec<Diagnostic>> {
    let mut files = Vec::new();
    let mut diagnostics = Vec::new();
    for dir in ["tools", "workflows", "configs"] {
        let entries = match std::fs::read_dir(root.join(dir)) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => {
                diagnostics.push(Diagnostic::new(dir, 1, 1, format!("cannot read: {e}")));
                continue;
            }
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if !path.is_file() {
                continue;
            }
            let name = format!("{dir}/{}", entry.file_name().to_string_lossy());
            match std::fs::read_to_string(&path) {
                Ok(content) => files.push((name, content)),
                Err(e) => {
                    diagnostics.push(Diagnostic::new(&name, 1, 1, format!("cannot read: {e}")))
                }
            }
        }
    }
    if !diagnostics.is_empty() {
        return Err(diagnostics);
    }
    files.sort();
    Ok(files)
}

/// Checks that every workflow step and compensation names a tool in `definitions`.
pub fn check_references(definitions: &Definitions) -> Vec<Diagnostic> {
    check_step_references(
        &definitions.workflows,
        |name| definitions.tool(name).is_some(),
        |name| definitions.workflow(name).is_some(),
    )
}

/// [`check_references`] on borrowed parts: the workflows to check, and whether a name is a
/// tool or a workflow of the set they belong to (so no [`Definitions`] need be assembled).
pub fn check_step_references<'a>(
    workflows: impl IntoIterator<Item = &'a WorkflowDef>,
    is_tool: impl Fn(&str) -> bool,
    is_workflow: impl Fn(&str) -> bool,
) -> Vec<Diagnostic> {
    let mut diagnostics = Vec::new();
    for workflow in workflows {
        for step in &workflow.steps {
            let uses = std::iter::once(("tool", &step.tool, "uses")).chain(
                step.compensation
                    .iter()
                    .map(|c| ("compensation", c, "is compensated by")),
            );
            for (key, tool, verb) in uses {
                if !is_tool(tool) {
                    let message = if is_workflow(tool) {
                        format!(
                            "step `{}` {verb} `{tool}`, which is a workflow, not a tool",
                            step.name
                        )
                    } else {
                        format!(
                            "step `{}` {verb} tool `{tool}`, which is not defined",
                            step.name
                        )
                    };
                    let (line, column) = if key == "tool" {
                        step.tool_at
                    } else {
                        step.compensation_at
                    };
                    diagnostics.push(Diagnostic::new(&workflow.source, line, column, message));
                }
            }
        }
    }
    diagnostics
}

fn finish(
    definitions: Definitions,
    mut diagnostics: Vec<Diagnostic>,
) -> Result<Definitions, Vec<Diagnostic>> {
    if diagnostics.is_empty() {
        Ok(definitions)
    } else {
        diagnostics.sort_by(|a, b| (&a.path, a.line, a.column).cmp(&(&b.path, b.line, b.column)));
        Err(diagnostics)
    }
}

/// What a file under a branch is, by its path.
enum FileRole {
    Tool,
    Workflow,
    Routing,
    Security,
    Language,
}

fn role(path: &str) -> Result<Option<FileRole>, String> {
    let path = path.trim_start_matches("./");
    let Some((dir, file)) = path.split_once('/') else {
        return Ok(None);
    };
    if !matches!(dir, "tools" | "workflows" | "configs") {
        return Ok(None);
    }
    let Some(stem) = file
        .strip_suffix(".yaml")
        .or_else(|| file.strip_suffix(".yml"))
    else {
        return Ok(None);
    };
    if stem.contains('/') {
        return Err(format!(
            "definition files go directly in `{dir}/`, not in a subdirectory"
        ));
    }
    Ok(Some(match (dir, stem) {
        ("tools", _) => FileRole::Tool,
        ("workflows", _) => FileRole::Workflow,
        ("configs", "routing") => FileRole::Routing,
        ("configs", "security") => FileRole::Security,
        ("configs", "language") => FileRole::Language,
        _ => {
            return Err(
                "unknown config file: expected `routing.yaml`, `security.yaml` or `language.yaml`"
                    .into(),
            );
        }
    }))
}

/// What one definition file defines, once parsed.
#[derive(Debug, Clone, PartialEq)]
pub enum DefinitionFile {
    Tool(ToolDef),
    Workflow(WorkflowDef),
    Routing(RoutingConfig),
    Security(SecurityConfig),
    Language(LanguageConfig),
}

/// One file parsed and checked on its own, as [`load_files`] does for each file before the
/// checks across files ([`check_duplicate_names`], [`check_step_references`]).
///
/// `definition` is kept even when `diagnostics` is not empty (a tool with a bad pattern still
/// takes part in the duplicate check, as in `load_files`); it is `None` for a file the
/// registry does not read (a README) or that does not parse.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LoadedFile {
    pub definition: Option<DefinitionFile>,
    pub diagnostics: Vec<Diagnostic>,
}

/// Parses and checks one file (path inside its branch, content) with no other file at hand.
///
/// The result depends on nothing but `path` and `content`, so a caller that validates commit
/// by commit (the materialized registry) may cache it by both.
pub fn load_file(path: &str, content: &str) -> LoadedFile {
    let mut diagnostics = Vec::new();
    let role = match role(path) {
        Ok(Some(role)) => role,
        Ok(None) => return LoadedFile::default(),
        Err(message) => {
            diagnostics.push(Diagnostic::new(path, 1, 1, message));
            return LoadedFile {
                definition: None,
                diagnostics,
            };
        }
    };
    let definition = match role {
        FileRole::Tool => parse_versioned(path, content, &mut diagnostics, |t: &ToolDef| t.version)
            .map(|mut tool| {
                tool.source = path.to_string();
                check_tool(&tool, content, &mut diagnostics);
                DefinitionFile::Tool(tool)
            }),
        FileRole::Workflow => {
            parse_versioned(path, content, &mut diagnostics, |w: &WorkflowDef| w.version).map(
                |mut workflow| {
                    workflow.source = path.to_string();
                    locate_steps(&mut workflow, content);
                    check_workflow(&workflow, content, &mut diagnostics);
                    DefinitionFile::Workflow(workflow)
                },
            )
        }
        FileRole::Routing => {
            parse::<RoutingConfig>(path, content, &mut diagnostics).map(|routing| {
                check_routing(&routing, path, content, &mut diagnostics);
                DefinitionFile::Routing(routing)
            })
        }
        FileRole::Security => {
            parse::<SecurityConfig>(path, content, &mut diagnostics).map(|security| {
                check_security(&security, path, content, &mut diagnostics);
                DefinitionFile::Security(security)
            })
        }
        FileRole::Language => {
            parse::<LanguageConfig>(path, content, &mut diagnostics).map(|language| {
                check_language(&language, path, content, &mut diagnostics);
                DefinitionFile::Language(language)
            })
        }
    };
    LoadedFile {
        definition,
        diagnostics,
    }
}

/// Where `name: <name>` is written in a file's content (line, column), `(1, 1)` if nowhere;
/// the location [`check_duplicate_names`] wants.
pub fn locate_name(content: &str, name: &str) -> (usize, usize) {
    find_entry(content, "name", name, 1).unwrap_or((1, 1))
}

/// Parses every file and runs the checks that need no other file, then the duplicate check.
fn parse_files(
    files: impl IntoIterator<Item = (String, String)>,
) -> (Definitions, Vec<Diagnostic>) {
    let mut files: Vec<(String, String)> = files.into_iter().collect();
    files.sort_by(|a, b| a.0.cmp(&b.0));
    let mut definitions = Definitions::default();
    let mut diagnostics = Vec::new();
    for (path, content) in &files {
        let loaded = load_file(path, content);
        diagnostics.extend(loaded.diagnostics);
        if let Some(definition) = loaded.definition {
            definitions.add(definition);
        }
    }
    check_duplicates(&definitions, &files, &mut diagnostics);
    (definitions, diagnostics)
}

/// The definitions of a branch whose files were each loaded by [`load_file`] and passed the
/// branch's checks, given in path order: what [`load_files`] returns for the same files,
/// without parsing them again (the materialized registry keeps every file's parse).
pub fn assemble<'a>(files: impl IntoIterator<Item = &'a LoadedFile>) -> Definitions {
    let mut definitions = Definitions::default();
    for definition in files.into_iter().filter_map(|f| f.definition.as_ref()) {
        definitions.add(definition.clone());
    }
    definitions
}

impl Definitions {
    fn add(&mut self, definition: DefinitionFile) {
        match definition {
            DefinitionFile::Tool(tool) => self.tools.push(tool),
            DefinitionFile::Workflow(workflow) => self.workflows.push(workflow),
            DefinitionFile::Routing(routing) => self.routing = Some(routing),
            DefinitionFile::Security(security) => self.security = Some(security),
            DefinitionFile::Language(language) => self.language = Some(language),
        }
    }
}

/// Deepest nesting of `[` and `{` (outside quotes and comments) a definition file may have.
const MAX_FLOW_DEPTH: usize = 64;

/// Where a file's flow collections first nest deeper than [`MAX_FLOW_DEPTH`], if they do.
fn too_deep(content: &str) -> Option<(usize, usize)> {
    // Each level opens with a `[` or `{`: a file with no more of them than the limit cannot
    // pass it, whatever is quoted or commented, and counting bytes is far cheaper than the
    // scan below (every file a replay loads takes this path).
    if content.bytes().filter(|b| matches!(b, b'[' | b'{')).count() <= MAX_FLOW_DEPTH {
        return None;
    }
    let (mut depth, mut quote, mut comment) = (0usize, None::<char>, false);
    let (mut line, mut column) = (1, 0);
    let mut previous = '\n';
    for c in content.chars() {
        column += 1;
        match (c, quote) {
            ('\n', _) => {
                (line, column, comment) = (line + 1, 0, false);
                // A quoted scalar may span lines; a comment never does.
            }
            (_, _) if comment => {}
            ('\'', Some('\'')) | ('"', Some('"')) if previous != '\\' || c == '\'' => quote = None,
            (_, Some(_)) => {}
            ('\'' | '"', None) => quote = Some(c),
            ('#', None) if previous.is_whitespace() => comment = true,
            ('[' | '{', None) => {
                depth += 1;
                if depth > MAX_FLOW_DEPTH {
                    return Some((line, column));
                }
            }
            (']' | '}', None) => depth = depth.saturating_sub(1),
            _ => {}
        }
        previous = c;
    }
    None
}

/// The version, read before the full record so that a file in another version gets one clear
/// message rather than a list of unknown fields.
#[derive(Deserialize)]
struct Versioned {
    version: Option<serde_norway::Value>,
}

/// [`parse`] for records whose `version` has no default (tools, workflows): one successful
/// parse with the supported version says all the version pre-check would, so only a file
/// that fails pays for the second parse that finds the clearest message. Replays parse
/// thousands of files; this halves their YAML work.
fn parse_versioned<T: DeserializeOwned>(
    path: &str,
    content: &str,
    out: &mut Vec<Diagnostic>,
    version_of: impl Fn(&T) -> u32,
) -> Option<T> {
    if too_deep(content).is_none()
        && let Ok(value) = serde_norway::from_str::<T>(content)
        && version_of(&value) == DEFINITION_VERSION.max(CONFIG_VERSION)
    {
        return Some(value);
    }
    parse(path, content, out)
}

fn parse<T: DeserializeOwned>(path: &str, content: &str, out: &mut Vec<Diagnostic>) -> Option<T> {
    if content.trim().is_empty() {
        out.push(Diagnostic::new(path, 1, 1, "the file is empty"));
        return None;
    }
    // The YAML scanner slows down with the square of flow nesting; no definition needs depth.
    if let Some((line, column)) = too_deep(content) {
        out.push(Diagnostic::new(
            path,
            line,
            column,
            format!("collections nest more than {MAX_FLOW_DEPTH} deep"),
        ));
        return None;
    }
    let versioned = match serde_norway::from_str::<Versioned>(content) {
        Ok(versioned) => versioned,
        Err(e) => {
            out.push(yaml_diagnostic(path, &e));
            return None;
        }
    };
    // Definitions and configs share one version today; they are checked separately so that
    // either can move on its own.
    let expected = DEFINITION_VERSION.max(CONFIG_VERSION);
    match versioned.version {
        None => {
            out.push(Diagnostic::new(
                path,
                1,
                1,
                format!("missing `version: {expected}` (the format version)"),
            ));
            return None;
        }
        Some(serde_norway::Value::Number(n)) if n.as_u64() == Some(u64::from(expected)) => {}
        Some(other) => {
            let written = serde_norway::to_string(&other).unwrap_or_default();
            let written = written.trim();
            let (line, column) = find_entry(content, "version", written, 1)
                .or_else(|| find_entry(content, "version", "", 1))
                .unwrap_or((1, 1));
            out.push(Diagnostic::new(
                path,
                line,
                column,
                format!("unsupported version {written}: this Volcano reads version {expected}"),
            ));
            return None;
        }
    }
    match serde_norway::from_str::<T>(content) {
        Ok(value) => Some(value),
        Err(e) => {
            out.push(yaml_diagnostic(path, &e));
            None
        }
    }
}

/// A parser error at the parser's location, without the location repeated in the message.
fn yaml_diagnostic(path: &str, error: &serde_norway::Error) -> Diagnostic {
    let mut message = error.to_string();
    let (line, column) = match error.location() {
        Some(location) => {
            let suffix = format!(" at line {} column {}", location.line(), location.column());
            message = message.replacen(&suffix, "", 1);
            (location.line(), location.column())
        }
        None => (1, 1),
    };
    Diagnostic::new(path, line, column, message)
}

/// A diagnostic at `key: value` in the file, or at the file's start when it cannot be found.
fn at_entry(
    path: &str,
    content: Option<&str>,
    key: &str,
    value: &str,
    message: String,
) -> Diagnostic {
    let (line, column) = content
        .and_then(|c| find_entry(c, key, value, 1).or_else(|| find_entry(c, key, "", 1)))
        .unwrap_or((1, 1));
    Diagnostic::new(path, line, column, message)
}

/// Where `key: value` is, when the file's content is not at hand (cross-file checks).
fn locate_in(files: &[(String, String)], path: &str, key: &str, value: &str) -> (usize, usize) {
    files
        .iter()
        .find(|(p, _)| p == path)
        .and_then(|(_, content)| find_entry(content, key, value, 1))
        .unwrap_or((1, 1))
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some('a'..='z' | '0'..='9'))
        && chars.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '_' | '-'))
        && name.len() <= MAX_NAME_CHARS
}

fn check_name(what: &str, name: &str, path: &str, content: &str, out: &mut Vec<Diagnostic>) {
    if !valid_name(name) {
        out.push(at_entry(
            path,
            Some(content),
            "name",
            name,
            format!(
                "{what} name `{name}` is not valid: use lowercase letters, digits, `-` and `_`, \
                 starting with a letter or digit, at most {MAX_NAME_CHARS} characters"
            ),
        ));
    }
}

/// Shared by tools and workflows: name, priority, patterns, examples.
fn check_common(
    what: &str,
    (name, priority, patterns, examples): (&str, i32, &[String], &[String]),
    path: &str,
    content: &str,
    out: &mut Vec<Diagnostic>,
) {
    check_name(what, name, path, content, out);
    if !(MIN_PRIORITY..=MAX_PRIORITY).contains(&priority) {
        out.push(at_entry(
            path,
            Some(content),
            "priority",
            &priority.to_string(),
            format!("priority {priority} is out of range {MIN_PRIORITY}..={MAX_PRIORITY}"),
        ));
    }
    // Located only for a problem: most files have none.
    let patterns_line = || find_entry(content, "patterns", "", 1).map_or(1, |(line, _)| line);
    for (index, pattern) in patterns.iter().enumerate() {
        let problem = if pattern.trim().is_empty() {
            Some("pattern is empty (it would match every request)".to_string())
        } else {
            pattern_problem(pattern)
                .map(|problem| format!("pattern {index} does not compile: {problem}"))
        };
        if let Some(message) = problem {
            let patterns_line = patterns_line();
            let (line, column) = find_text(content, pattern, patterns_line)
                .filter(|_| !pattern.is_empty())
                .unwrap_or((patterns_line, 1));
            out.push(Diagnostic::new(path, line, column, message));
        }
    }
    for example in examples {
        if example.trim().is_empty() {
            let (line, column) = find_entry(content, "examples", "", 1).unwrap_or((1, 1));
            out.push(Diagnostic::new(path, line, column, "an example is empty"));
        }
    }
}

/// Patterns checked, with what is wrong with each (`None`: nothing), most kept.
/// A history mostly edits what tools do, not what they match, so a replay meets the same
/// patterns commit after commit; Unicode case folding makes each check cost microseconds.
/// Shared by all threads (not per thread): a replay parses each batch on threads that live
/// only as long as the batch.
const PATTERN_MEMO_ENTRIES: usize = 1 << 14;

type PatternMemo = std::sync::Mutex<Option<HashMap<String, Option<String>>>>;

static PATTERN_MEMO: PatternMemo = std::sync::Mutex::new(None);

fn with_memo<R>(f: impl FnOnce(&mut HashMap<String, Option<String>>) -> R) -> R {
    // A panic while holding the lock leaves at worst a missing entry: keep using it.
    let mut memo = PATTERN_MEMO.lock().unwrap_or_else(|e| e.into_inner());
    f(memo.get_or_insert_with(HashMap::new))
}

/// What is wrong with `pattern`'s syntax, if anything. Syntax only: compiling thousands of
/// patterns here would double the cost of `compile`, which builds them anyway (and reports
/// a pattern set too large).
fn pattern_problem(pattern: &str) -> Option<String> {
    // Checked outside the lock, so that threads check different patterns at once.
    if let Some(known) = with_memo(|memo| memo.get(pattern).cloned()) {
        return known;
    }
    let problem = match regex_syntax::ParserBuilder::new()
        .case_insensitive(true)
        .build()
        .parse(pattern)
    {
        Err(e) => Some(regex_problem(&e)),
        Ok(hir) => {
            let size = expanded_size(&hir);
            (size > MAX_EXPANDED_SIZE).then(|| {
                format!(
                    "its counted repetitions expand to about {size} items (at most \
                     {MAX_EXPANDED_SIZE}); compiling it would stall the registry"
                )
            })
        }
    };
    with_memo(|memo| {
        if memo.len() >= PATTERN_MEMO_ENTRIES {
            memo.clear();
        }
        memo.insert(pattern.to_string(), problem.clone());
    });
    problem
}

/// Most items a pattern may expand to once its counted repetitions are unrolled. The
/// regex compiler unrolls `a{1000}` into a thousand states, so `(?:a{1000}){1000}` is a
/// million: a second or more to compile, found by the fuzzer. Real patterns stay far below.
const MAX_EXPANDED_SIZE: u64 = 20_000;

/// How many items `hir` expands to with counted repetitions unrolled (saturating): the
/// compiled size the syntax check alone does not see.
fn expanded_size(hir: &regex_syntax::hir::Hir) -> u64 {
    use regex_syntax::hir::HirKind;
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) | HirKind::Class(_) => 1,
        HirKind::Literal(literal) => literal.0.len() as u64,
        HirKind::Capture(capture) => expanded_size(&capture.sub),
        HirKind::Repetition(repetition) => {
            // `{n,}` unrolls n copies and a loop; `{n,m}` m copies.
            let copies = u64::from(repetition.max.unwrap_or(repetition.min).max(1)) + 1;
            expanded_size(&repetition.sub).saturating_mul(copies)
        }
        HirKind::Concat(parts) | HirKind::Alternation(parts) => {
            parts.iter().map(expanded_size).fold(0, u64::saturating_add)
        }
    }
}

/// The one-line reason out of the regex crate's multi-line message.
fn regex_problem(error: &regex_syntax::Error) -> String {
    let text = error.to_string();
    text.lines()
        .find_map(|line| line.strip_prefix("error: "))
        .unwrap_or(text.lines().last().unwrap_or(""))
        .to_string()
}

fn check_tool(tool: &ToolDef, content: &str, out: &mut Vec<Diagnostic>) {
    let path = tool.source.as_str();
    check_common(
        "tool",
        (&tool.name, tool.priority, &tool.patterns, &tool.examples),
        path,
        content,
        out,
    );
    if let Err(message) = build_tool(&tool.tool) {
        out.push(at_entry(
            path,
            Some(content),
            "kind",
            &tool.tool.kind,
            message,
        ));
    }
}

fn check_workflow(workflow: &WorkflowDef, content: &str, out: &mut Vec<Diagnostic>) {
    let path = workflow.source.as_str();
    check_common(
        "workflow",
        (
            &workflow.name,
            workflow.priority,
            &workflow.patterns,
            &workflow.examples,
        ),
        path,
        content,
        out,
    );
    if workflow.steps.is_empty() {
        out.push(at_entry(
            path,
            Some(content),
            "steps",
            "",
            "a workflow needs at least one step".into(),
        ));
    }
    let starts = step_lines(content);
    let mut seen: HashMap<&str, ()> = HashMap::new();
    for (index, step) in workflow.steps.iter().enumerate() {
        // A step's problems are reported inside its own item of the `steps:` list.
        let start = starts.get(index).copied().unwrap_or(1);
        let end = starts.get(index + 1).copied().unwrap_or(usize::MAX);
        let here = |key: &str, value: &str, message: String| {
            let inside = |at: &(usize, usize)| at.0 < end;
            let (line, column) = find_entry(content, key, value, start)
                .filter(inside)
                .or_else(|| find_entry(content, key, "", start).filter(inside))
                .unwrap_or((start, 1));
            Diagnostic::new(path, line, column, message)
        };
        if !valid_name(&step.name) {
            out.push(here(
                "name",
                &step.name,
                format!("step name `{}` is not valid", step.name),
            ));
        }
        if seen.insert(&step.name, ()).is_some() {
            out.push(here(
                "name",
                &step.name,
                format!("duplicate step name `{}`", step.name),
            ));
        }
        check_step(step, &here, out);
        let earlier: Vec<&str> = workflow.steps[..index]
            .iter()
            .map(|s| s.name.as_str())
            .collect();
        for problem in crate::durable::check_step_mapping(step, &earlier) {
            let key = if problem.starts_with("`when`") {
                "when"
            } else {
                "input"
            };
            out.push(here(key, "", format!("step `{}`: {problem}", step.name)));
        }
    }
}

/// First lines of the items of the top-level `steps:` list, in order.
fn step_lines(content: &str) -> Vec<usize> {
    let Some((steps_line, _)) = find_entry(content, "steps", "", 1) else {
        return Vec::new();
    };
    let mut item_indent = None;
    let mut starts = Vec::new();
    for (index, line) in content.lines().enumerate().skip(steps_line) {
        let indent = line.len() - line.trim_start().len();
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        if indent == 0 && !trimmed.starts_with('-') {
            break; // the next top-level key
        }
        if trimmed.starts_with("- ") && *item_indent.get_or_insert(indent) == indent {
            starts.push(index + 1);
        }
    }
    starts
}

/// Records where each step's tool and compensation are written, for the reference check.
fn locate_steps(workflow: &mut WorkflowDef, content: &str) {
    let starts = step_lines(content);
    for (index, step) in workflow.steps.iter_mut().enumerate() {
        let start = starts.get(index).copied().unwrap_or(1);
        step.tool_at = find_entry(content, "tool", &step.tool, start).unwrap_or((start, 1));
        if let Some(compensation) = &step.compensation {
            step.compensation_at =
                find_entry(content, "compensation", compensation, start).unwrap_or((start, 1));
        }
    }
}

fn check_step(
    step: &Step,
    here: &dyn Fn(&str, &str, String) -> Diagnostic,
    out: &mut Vec<Diagnostic>,
) {
    let name = &step.name;
    if step.timeout_ms == 0 {
        out.push(here(
            "timeout_ms",
            "0",
            format!("step `{name}`: timeout_ms must be greater than 0"),
        ));
    }
    match step.heartbeat_ms {
        Some(0) => out.push(here(
            "heartbeat_ms",
            "0",
            format!("step `{name}`: heartbeat_ms must be greater than 0"),
        )),
        Some(beat) if beat > step.timeout_ms => out.push(here(
            "heartbeat_ms",
            &beat.to_string(),
            format!(
                "step `{name}`: heartbeat_ms ({beat}) is longer than timeout_ms ({})",
                step.timeout_ms
            ),
        )),
        _ => {}
    }
    if let (Some(true), Some(beat)) = (step.local, step.heartbeat_ms) {
        out.push(here(
            "heartbeat_ms",
            &beat.to_string(),
            format!(
                "step `{name}`: a local activity cannot heartbeat; drop `local: true` or \
                 `heartbeat_ms`"
            ),
        ));
    }
    let retry = &step.retry;
    if retry.max_attempts == 0 {
        out.push(here(
            "max_attempts",
            "0",
            format!("step `{name}`: retry.max_attempts must be at least 1"),
        ));
    }
    if retry.initial_interval_ms == 0 {
        out.push(here(
            "initial_interval_ms",
            "0",
            format!("step `{name}`: retry.initial_interval_ms must be greater than 0"),
        ));
    }
    if !(retry.backoff.is_finite() && (1.0..=100.0).contains(&retry.backoff)) {
        out.push(here(
            "backoff",
            &retry.backoff.to_string(),
            format!(
                "step `{name}`: retry.backoff must be between 1 and 100, found {}",
                retry.backoff
            ),
        ));
    }
    if let Some(wait) = &step.wait_for_signal {
        if !valid_name(&wait.name) {
            out.push(here(
                "name",
                &wait.name,
                format!("step `{name}`: signal name `{}` is not valid", wait.name),
            ));
        }
        if wait.timeout_ms == 0 {
            out.push(here(
                "timeout_ms",
                "0",
                format!("step `{name}`: wait_for_signal.timeout_ms must be greater than 0"),
            ));
        }
    }
    if step.when.as_deref().is_some_and(|w| w.trim().is_empty()) {
        out.push(here(
            "when",
            "",
            format!("step `{name}`: `when` is empty; leave it out to always run"),
        ));
    }
}

fn check_routing(routing: &RoutingConfig, path: &str, content: &str, out: &mut Vec<Diagnostic>) {
    let mut problem = |key: &str, message: String| {
        out.push(at_entry(path, Some(content), key, "", message));
    };
    if routing.durable_keywords.iter().any(|k| k.trim().is_empty()) {
        problem(
            "durable_keywords",
            "durable_keywords has an empty keyword".into(),
        );
    }
    if routing.max_fast_path_steps == 0 {
        problem(
            "max_fast_path_steps",
            "max_fast_path_steps must be at least 1".into(),
        );
    }
    if routing.fast_path_timeout_ms == 0 {
        problem(
            "fast_path_timeout_ms",
            "fast_path_timeout_ms must be greater than 0".into(),
        );
    }
    if routing.unclassified_candidates > 10 {
        problem(
            "unclassified_candidates",
            "unclassified_candidates is at most 10".into(),
        );
    }
}

/// A language file's entries: phrases non-empty and short, every unit known.
fn check_language(language: &LanguageConfig, path: &str, content: &str, out: &mut Vec<Diagnostic>) {
    for (key, message) in language.problems() {
        // The entry's own line: its phrase is written there (quoted or not).
        let (line, column) = content
            .lines()
            .enumerate()
            .find_map(|(i, text)| {
                text.find(key.trim())
                    .filter(|_| !key.trim().is_empty())
                    .map(|at| (i + 1, at + 1))
            })
            .unwrap_or((1, 1));
        out.push(Diagnostic::new(
            path,
            line,
            column,
            format!("'{}' {message}", key.trim()),
        ));
    }
}

fn check_security(security: &SecurityConfig, path: &str, content: &str, out: &mut Vec<Diagnostic>) {
    let mut ids: HashMap<&str, ()> = HashMap::new();
    for key in &security.api_keys {
        if !valid_name(&key.id) {
            out.push(at_entry(
                path,
                Some(content),
                "id",
                &key.id,
                format!("api key id `{}` is not valid", key.id),
            ));
        }
        if ids.insert(&key.id, ()).is_some() {
            out.push(at_entry(
                path,
                Some(content),
                "id",
                &key.id,
                format!("duplicate api key id `{}`", key.id),
            ));
        }
        let is_hash = key.sha256.len() == 64
            && key
                .sha256
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if !is_hash {
            out.push(at_entry(
                path,
                Some(content),
                "sha256",
                &key.sha256,
                format!(
                    "api key `{}`: sha256 must be 64 lowercase hex digits \
                     (store the hash, never the key)",
                    key.id
                ),
            ));
        }
    }
    let limits = &security.rate_limits;
    if limits.requests_per_second == 0 || limits.burst == 0 {
        out.push(at_entry(
            path,
            Some(content),
            "rate_limits",
            "",
            "rate_limits must be greater than 0".into(),
        ));
    }
    if security.quotas.requests_per_day == 0 {
        out.push(at_entry(
            path,
            Some(content),
            "requests_per_day",
            "",
            "quotas.requests_per_day must be greater than 0".into(),
        ));
    }
    for host in &security.allowed_hosts {
        let name = host.strip_prefix("*.").unwrap_or(host);
        let valid = !name.is_empty()
            && name.split('.').all(|label| {
                !label.is_empty()
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            });
        if !valid {
            let (line, column) = find_text(content, host, 1).unwrap_or((1, 1));
            out.push(Diagnostic::new(
                path,
                line,
                column,
                format!("allowed host `{host}` is not a host name (no scheme, port or path)"),
            ));
        }
    }
    let signing = &security.signing;
    for signer in &signing.allowed_signers {
        let known = [
            "ssh-ed25519 ",
            "ssh-rsa ",
            "ecdsa-sha2-",
            "sk-ssh-ed25519@openssh.com ",
            "sk-ecdsa-sha2-",
        ];
        if !known.iter().any(|prefix| signer.starts_with(prefix)) {
            let (line, column) = find_text(content, signer, 1).unwrap_or((1, 1));
            out.push(Diagnostic::new(
                path,
                line,
                column,
                "allowed signer is not an SSH public key",
            ));
        }
    }
    if signing.require_signed && signing.allowed_signers.is_empty() {
        out.push(at_entry(
            path,
            Some(content),
            "require_signed",
            "",
            "require_signed is on but no allowed_signers are listed: every commit would be \
             rejected"
                .into(),
        ));
    }
}

/// Tools and workflows share one namespace; the later definition (by path) is reported.
fn check_duplicates(
    definitions: &Definitions,
    files: &[(String, String)],
    out: &mut Vec<Diagnostic>,
) {
    let names = definitions
        .tools
        .iter()
        .map(|t| (t.name.as_str(), t.source.as_str()))
        .chain(
            definitions
                .workflows
                .iter()
                .map(|w| (w.name.as_str(), w.source.as_str())),
        );
    out.extend(check_duplicate_names(names, |source, name| {
        locate_in(files, source, "name", name)
    }));
}

/// The duplicate check of [`load_files`] on borrowed parts: `names` are (name, source path) of
/// a branch's tools and then its workflows, each in path order; `locate` says where
/// `name: <name>` is written in a source (see [`locate_name`]).
pub fn check_duplicate_names<'a>(
    names: impl IntoIterator<Item = (&'a str, &'a str)>,
    locate: impl Fn(&str, &str) -> (usize, usize),
) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let mut first: HashMap<&str, &str> = HashMap::new();
    for (name, source) in names {
        if let Some(earlier) = first.get(name) {
            let (line, column) = locate(source, name);
            let (earlier_line, _) = locate(earlier, name);
            out.push(Diagnostic::new(
                source,
                line,
                column,
                format!("duplicate name `{name}`: already defined at {earlier}:{earlier_line}"),
            ));
        } else {
            first.insert(name, source);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pattern_checked_on_one_thread_is_known_on_the_others() {
        // A replay parses each batch on threads that end with it; what they learnt stays.
        let pattern = "(?:shared memo probe\\s+[0-9]+){2}";
        std::thread::spawn(move || assert_eq!(pattern_problem(pattern), None))
            .join()
            .unwrap();
        assert_eq!(
            with_memo(|memo| memo.get(pattern).cloned()),
            Some(None),
            "the check made on the other thread is remembered here"
        );
        let broken = "(unclosed shared memo probe";
        let problem = std::thread::spawn(move || pattern_problem(broken))
            .join()
            .unwrap();
        assert!(problem.is_some());
        assert_eq!(with_memo(|memo| memo.get(broken).cloned()), Some(problem));
    }
}
