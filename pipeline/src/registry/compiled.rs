//! The compiled registry: one tenant's definitions at one commit, ready for classification.
//!
//! Compiled once per registry version per tenant and shared read-only behind an `Arc`: the
//! patterns of all tools and workflows go into [`RegexSet`]s (one scan of the request per set
//! says which patterns match), and each pattern is also kept as its own [`Regex`] to measure
//! the match, capture, and explain it.
//!
//! The set is split into shards of [`SHARD_PATTERNS`] patterns: one set of thousands of
//! patterns makes the lazy DFA's states so large that its cache thrashes and the search falls
//! back to the slow NFA engine (milliseconds per request at 3,000 patterns, against
//! microseconds for shards), and shards compile in parallel. A pattern's own `Regex` is
//! compiled the first time it matches a request, as most patterns never win one.

use std::sync::OnceLock;

use regex::{Regex, RegexBuilder, RegexSet, RegexSetBuilder};

use super::config::{RoutingConfig, SecurityConfig};
use super::definition::{ToolDef, WorkflowDef};
use super::load::{PATTERN_SIZE_LIMIT, check_references};
use super::{Definitions, Diagnostic};
use crate::classify::CandidateIndex;
use crate::tools::{self, Tool, ToolServices};

/// Most patterns in one shard of the set.
pub const SHARD_PATTERNS: usize = 256;
/// Compiled size limit of one shard.
const SHARD_SIZE_LIMIT: usize = 256 << 20;
/// Cache size of a shard's lazy DFA, per thread searching it (allocated as states are made).
/// This is a cliff, not a dial: measured on 256 patterns with Unicode classes, 4 MiB thrashes
/// (milliseconds per search) where 8 MiB runs in microseconds; 16 MiB leaves headroom.
const SHARD_DFA_SIZE_LIMIT: usize = 16 << 20;

/// What a request was classified to: an index into the registry's tools or workflows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Target {
    Tool(usize),
    Workflow(usize),
}

/// One pattern of one definition.
#[derive(Debug)]
pub struct Rule {
    /// `name:pattern-index`, e.g. `arithmetic:2`; results carry it as `matched_rule`.
    pub id: String,
    pub target: Target,
    /// Position of the pattern in its definition's `patterns`.
    pub pattern_index: usize,
    /// The definition's priority.
    pub priority: i32,
    /// The pattern as written.
    pub pattern: String,
    /// The pattern on its own, compiled on first use (`None`: it does not compile alone).
    regex: OnceLock<Option<Regex>>,
}

impl Rule {
    /// The pattern on its own (case-insensitive, as in the set), for its match's extent,
    /// captures and explanations.
    pub fn regex(&self) -> Option<&Regex> {
        self.regex
            .get_or_init(|| {
                RegexBuilder::new(&self.pattern)
                    .case_insensitive(true)
                    .size_limit(PATTERN_SIZE_LIMIT)
                    .build()
                    .ok()
            })
            .as_ref()
    }
}

/// One tenant's registry at one commit, compiled for classification.
#[derive(Debug)]
pub struct CompiledRegistry {
    /// Registry commit the definitions come from; every result names it.
    pub commit: String,
    pub tenant: String,
    /// The definitions as loaded (after the tenant overlay); `Target` indexes into them.
    pub definitions: Definitions,
    /// Routing thresholds in force (the branch's file, or the defaults).
    pub routing: RoutingConfig,
    /// Security settings in force (the branch's file, or the defaults).
    pub security: SecurityConfig,
    /// Shard `i` holds rules `i * SHARD_PATTERNS ..`.
    shards: Vec<RegexSet>,
    /// The runnable tool of each definition in `definitions.tools`, built once per version.
    runnable: RunnableTools,
    rules: Vec<Rule>,
    candidates: CandidateIndex,
}

/// Compiles `definitions` for `tenant` at `commit`.
///
/// Definitions that came through [`super::load_files`] compile; the checks here guard against
/// an inconsistent overlay and against a pattern set too large to compile.
pub fn compile(
    definitions: &Definitions,
    tenant: &str,
    commit: &str,
) -> Result<CompiledRegistry, Vec<Diagnostic>> {
    compile_with(definitions, tenant, commit, &ToolServices::default())
}

/// [`compile`], with the services (an HTTP client) that tools with side effects use.
pub fn compile_with(
    definitions: &Definitions,
    tenant: &str,
    commit: &str,
    services: &ToolServices,
) -> Result<CompiledRegistry, Vec<Diagnostic>> {
    let diagnostics = check_references(definitions);
    if !diagnostics.is_empty() {
        return Err(diagnostics);
    }
    let tools = definitions
        .tools
        .iter()
        .enumerate()
        .map(|(i, t)| (Target::Tool(i), &t.name, t.priority, &t.patterns));
    let workflows = definitions
        .workflows
        .iter()
        .enumerate()
        .map(|(i, w)| (Target::Workflow(i), &w.name, w.priority, &w.patterns));
    let mut rules = Vec::new();
    for (target, name, priority, patterns) in tools.chain(workflows) {
        for (pattern_index, pattern) in patterns.iter().enumerate() {
            rules.push(Rule {
                id: format!("{name}:{pattern_index}"),
                target,
                pattern_index,
                priority,
                pattern: pattern.clone(),
                regex: OnceLock::new(),
            });
        }
    }
    let shards = compile_shards(&rules).map_err(|(shard, e)| {
        // The set reports which pattern failed only by its text; name the shard's definitions.
        let first = &rules[shard * SHARD_PATTERNS];
        vec![Diagnostic::new(
            "(registry)",
            1,
            1,
            format!(
                "the patterns from `{}` on do not compile together: {e}",
                first.id
            ),
        )]
    })?;
    let mut runnable = Vec::with_capacity(definitions.tools.len());
    for tool in &definitions.tools {
        let built = tool
            .tool
            .spec()
            .and_then(|spec| tools::build_with(&spec, services).map_err(|e| e.to_string()));
        match built {
            Ok(t) => runnable.push(t),
            Err(message) => return Err(vec![Diagnostic::new(&tool.source, 1, 1, message)]),
        }
    }
    Ok(CompiledRegistry {
        runnable: RunnableTools(runnable),
        commit: commit.to_string(),
        tenant: tenant.to_string(),
        routing: definitions.routing.clone().unwrap_or_default(),
        security: definitions.security.clone().unwrap_or_default(),
        candidates: CandidateIndex::build(definitions),
        definitions: definitions.clone(),
        shards,
        rules,
    })
}

/// Compiles the rules' patterns into shards, in parallel on the machine's cores.
fn compile_shards(rules: &[Rule]) -> Result<Vec<RegexSet>, (usize, regex::Error)> {
    let chunks: Vec<&[Rule]> = rules.chunks(SHARD_PATTERNS).collect();
    let build = |chunk: &[Rule]| {
        RegexSetBuilder::new(chunk.iter().map(|r| r.pattern.as_str()))
            .case_insensitive(true)
            .size_limit(SHARD_SIZE_LIMIT)
            .dfa_size_limit(SHARD_DFA_SIZE_LIMIT)
            .build()
    };
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(chunks.len());
    let results: Vec<Result<RegexSet, regex::Error>> = if threads <= 1 {
        chunks.iter().map(|chunk| build(chunk)).collect()
    } else {
        // Thread `t` builds shards t, t + threads, ...; results are put back in shard order.
        let mut slots: Vec<Option<Result<RegexSet, regex::Error>>> =
            chunks.iter().map(|_| None).collect();
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..threads)
                .map(|t| {
                    let chunks = &chunks;
                    scope.spawn(move || {
                        (t..chunks.len())
                            .step_by(threads)
                            .map(|i| (i, build(chunks[i])))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            for handle in handles {
                // A panic while compiling a regex is a bug in the regex crate; pass it on.
                for (i, result) in handle
                    .join()
                    .unwrap_or_else(|p| std::panic::resume_unwind(p))
                {
                    slots[i] = Some(result);
                }
            }
        });
        slots
            .into_iter()
            .map(|slot| slot.expect("every shard was built"))
            .collect()
    };
    results
        .into_iter()
        .enumerate()
        .map(|(i, result)| result.map_err(|e| (i, e)))
        .collect()
}

/// Compiled tools, in definition order.
struct RunnableTools(Vec<Box<dyn Tool>>);

impl std::fmt::Debug for RunnableTools {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} runnable tools", self.0.len())
    }
}

impl CompiledRegistry {
    /// The runnable tool of `definitions.tools[index]`.
    pub fn runnable(&self, index: usize) -> Option<&dyn Tool> {
        self.runnable.0.get(index).map(|t| t.as_ref())
    }

    /// The first tool of `kind` (e.g. `unit_convert`), for plan steps that need one.
    pub fn first_of_kind(&self, kind: &str) -> Option<&dyn Tool> {
        let index = self
            .definitions
            .tools
            .iter()
            .position(|t| t.tool.kind == kind)?;
        self.runnable(index)
    }

    /// Every pattern, in definition order (tools, then workflows); the set's indexes.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Indexes into [`Self::rules`] of the patterns that match `text`, in increasing order.
    pub(crate) fn matching_rules<'a>(&'a self, text: &'a str) -> impl Iterator<Item = usize> + 'a {
        self.shards
            .iter()
            .enumerate()
            .flat_map(move |(shard, set)| {
                set.matches(text)
                    .into_iter()
                    .map(move |i| shard * SHARD_PATTERNS + i)
            })
    }

    pub(crate) fn candidates(&self) -> &CandidateIndex {
        &self.candidates
    }

    pub fn tool(&self, index: usize) -> Option<&ToolDef> {
        self.definitions.tools.get(index)
    }

    pub fn workflow(&self, index: usize) -> Option<&WorkflowDef> {
        self.definitions.workflows.get(index)
    }

    /// Name of the tool or workflow a target points at.
    pub fn target_name(&self, target: Target) -> &str {
        match target {
            Target::Tool(i) => self.definitions.tools.get(i).map_or("", |t| &t.name),
            Target::Workflow(i) => self.definitions.workflows.get(i).map_or("", |w| &w.name),
        }
    }

    /// Whether a target runs durably: workflows always, tools when marked `durable`.
    pub fn is_durable(&self, target: Target) -> bool {
        match target {
            Target::Tool(i) => self.definitions.tools.get(i).is_some_and(|t| t.durable),
            Target::Workflow(_) => true,
        }
    }

    /// The tool or workflow called `name`.
    pub fn find(&self, name: &str) -> Option<Target> {
        let tools = &self.definitions.tools;
        let workflows = &self.definitions.workflows;
        tools
            .iter()
            .position(|t| t.name == name)
            .map(Target::Tool)
            .or_else(|| {
                workflows
                    .iter()
                    .position(|w| w.name == name)
                    .map(Target::Workflow)
            })
    }
}
