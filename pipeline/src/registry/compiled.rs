//! The compiled registry: one tenant's definitions at one commit, ready for classification.
//!
//! Compiled once per registry version per tenant and shared read-only behind an `Arc`: the
//! patterns of all tools and workflows go into [`RegexSet`]s (one scan of the request per set
//! says which patterns match), and each pattern is also kept as its own [`Regex`] to measure
//! the match, capture, and explain it.
//!
//! The set is split into shards of at most [`SHARD_PATTERNS`] patterns: one set of thousands
//! of patterns makes the lazy DFA's states so large that its cache thrashes and the search
//! falls back to the slow NFA engine (milliseconds per request at 3,000 patterns, against
//! microseconds for shards), and shards compile in parallel. A pattern's own `Regex` is
//! compiled the first time it matches a request, as most patterns never win one.
//!
//! Compiling is incremental, because a commit is what triggers it and the time from commit to
//! effect is what users feel: a registry compiled from the one it replaces keeps every shard
//! and every built tool the commit did not touch, a tenant's registry shares `main`'s shards
//! and compiles only the tenant's own patterns, and a shard's patterns map to rules through
//! a table, so a changed pattern is hidden in its old shard and compiled into a small new one.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use regex::{Regex, RegexBuilder, RegexSet, RegexSetBuilder};

use super::config::{RoutingConfig, SecurityConfig};
use super::definition::{ToolDef, WorkflowDef};
use super::language::Language;
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
    regex: RegexCell,
}

/// Where a rule's own regex is kept once compiled; shared between registries.
type RegexCell = Arc<OnceLock<Option<Regex>>>;

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
    /// The reader's extra vocabulary (main's language file merged with the tenant's).
    pub language: Language,
    /// The pattern sets; together they hold every rule's pattern once (a tenant's also hold
    /// the patterns of `main` definitions it replaced, which map to [`HIDDEN`]).
    shards: Vec<Shard>,
    /// How many of `shards` are `main`'s, shared (0 for `main` itself).
    base_shards: usize,
    /// The runnable tool of each definition in `definitions.tools`, built once per version.
    runnable: RunnableTools,
    rules: Vec<Rule>,
    /// Built on the first unclassified request: most registries a swap makes never need it.
    candidates: OnceLock<CandidateIndex>,
}

/// One compiled set of patterns, and the rule each of its patterns stands for.
///
/// A tenant's registry shares `main`'s sets (and their search caches) and compiles only its
/// own definitions' patterns, so a `main` commit compiles its patterns once, not once per
/// tenant.
#[derive(Debug)]
struct Shard {
    /// Shared, not cloned, between registries: a clone would bring its own search caches,
    /// cold after every swap and multiplied by the tenants.
    set: Arc<RegexSet>,
    /// Set index → index into the registry's rules, or [`HIDDEN`].
    rules: Vec<u32>,
}

/// A pattern of a definition that changed since its shard was compiled, or of a `main`
/// definition the tenant has replaced: never reported as a match.
const HIDDEN: u32 = u32::MAX;

/// Shards beyond the fewest that would hold every pattern that an incremental compile may
/// leave before everything is compiled afresh (each costs one more scan per request).
const MAX_EXTRA_SHARDS: usize = 4;

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
    compile_reusing(definitions, tenant, commit, services, None)
}

/// [`compile_with`], taking from `previous` (the registry this one replaces) every pattern
/// shard whose patterns are unchanged and every tool whose definition is unchanged, so a
/// commit compiles only what it changed.
pub fn compile_reusing(
    definitions: &Definitions,
    tenant: &str,
    commit: &str,
    services: &ToolServices,
    previous: Option<&CompiledRegistry>,
) -> Result<CompiledRegistry, Vec<Diagnostic>> {
    let rules = rules_of(definitions)?;
    let all: Vec<usize> = (0..rules.len()).collect();
    let shards = compile_shards(
        &rules,
        &all,
        previous.map(|p| (&p.shards[..], &p.rules[..])),
    )?;
    finish(
        definitions.clone(),
        tenant,
        commit,
        services,
        Patterns {
            rules,
            shards,
            base_shards: 0,
        },
        &[previous],
    )
}

/// What `tenant` sees, `main`'s definitions overlaid by `own` (see [`super::overlay`]),
/// compiled on top of `main`'s compiled registry: its pattern shards are shared, its built
/// tools reused, and only the tenant's own patterns and tools are compiled (or taken from
/// `previous`, the tenant's registry being replaced). The commit is `<main>+<tenant_commit>`.
pub fn compile_overlay(
    main: &CompiledRegistry,
    own: &Definitions,
    tenant: &str,
    tenant_commit: &str,
    services: &ToolServices,
    previous: Option<&CompiledRegistry>,
) -> Result<CompiledRegistry, Vec<Diagnostic>> {
    let definitions = super::overlay(&main.definitions, own);
    let rules = rules_of(&definitions)?;
    let own_names: std::collections::HashSet<&str> = own
        .tools
        .iter()
        .map(|t| t.name.as_str())
        .chain(own.workflows.iter().map(|w| w.name.as_str()))
        .collect();
    let name = |rule: &Rule| match rule.target {
        Target::Tool(i) => definitions.tools[i].name.as_str(),
        Target::Workflow(i) => definitions.workflows[i].name.as_str(),
    };
    // The overlay's rules of main's definitions, by (definition, pattern position).
    let from_main: HashMap<(&str, usize), u32> = rules
        .iter()
        .enumerate()
        .filter(|(_, r)| !own_names.contains(name(r)))
        .map(|(i, r)| ((name(r), r.pattern_index), i as u32))
        .collect();
    let mut shards: Vec<Shard> = main
        .shards
        .iter()
        .map(|shard| Shard {
            set: Arc::clone(&shard.set),
            rules: shard
                .rules
                .iter()
                .map(|&r| {
                    let Some(rule) = main.rules.get(r as usize) else {
                        return HIDDEN;
                    };
                    let key = (main.target_name(rule.target), rule.pattern_index);
                    from_main.get(&key).copied().unwrap_or(HIDDEN)
                })
                .collect(),
        })
        .collect();
    let own_rules: Vec<usize> = (0..rules.len())
        .filter(|&i| own_names.contains(name(&rules[i])))
        .collect();
    let base_shards = shards.len();
    // Only the tenant's own shards of `previous`: main's are taken from `main` above.
    let own_previous = previous.map(|p| (&p.shards[p.base_shards..], &p.rules[..]));
    shards.extend(compile_shards(&rules, &own_rules, own_previous)?);
    let commit = format!("{}+{tenant_commit}", main.commit);
    finish(
        definitions,
        tenant,
        &commit,
        services,
        Patterns {
            rules,
            shards,
            base_shards,
        },
        &[previous, Some(main)],
    )
}

/// Every pattern of `definitions`, in definition order (tools, then workflows), after
/// checking that the definitions' references resolve.
fn rules_of(definitions: &Definitions) -> Result<Vec<Rule>, Vec<Diagnostic>> {
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
                regex: RegexCell::default(),
            });
        }
    }
    Ok(rules)
}

/// A registry's rules and the shards that match them.
struct Patterns {
    rules: Vec<Rule>,
    shards: Vec<Shard>,
    base_shards: usize,
}

/// Builds the tools and the registry around compiled rules and shards. A tool whose
/// definition is unchanged in one of `donors` keeps its built form (a `jq` filter's
/// compilation, a lookup's table): building tools is most of what a recompile costs.
fn finish(
    definitions: Definitions,
    tenant: &str,
    commit: &str,
    services: &ToolServices,
    patterns: Patterns,
    donors: &[Option<&CompiledRegistry>],
) -> Result<CompiledRegistry, Vec<Diagnostic>> {
    // A pattern's own regex is compiled when it first matches; the cell it is kept in is
    // shared with the registries this one replaces and builds on while the pattern is
    // unchanged, so a swap does not make the next requests pay for those compilations
    // again, and a tenant's requests warm the cells of main's patterns for every tenant.
    let mut cells: HashMap<(&str, &str), &RegexCell> = HashMap::new();
    for donor in donors.iter().flatten() {
        for rule in &donor.rules {
            cells
                .entry((rule.id.as_str(), rule.pattern.as_str()))
                .or_insert(&rule.regex);
        }
    }
    let mut rules = patterns.rules;
    for rule in &mut rules {
        if let Some(&cell) = cells.get(&(rule.id.as_str(), rule.pattern.as_str())) {
            rule.regex = Arc::clone(cell);
        }
    }
    let mut built: HashMap<&str, (&ToolDef, &Arc<dyn Tool>)> = HashMap::new();
    for donor in donors.iter().rev().flatten() {
        for (def, tool) in donor.definitions.tools.iter().zip(&donor.runnable.0) {
            built.insert(def.name.as_str(), (def, tool));
        }
    }
    let mut runnable = Vec::with_capacity(definitions.tools.len());
    for tool in &definitions.tools {
        if let Some((_, kept)) = built
            .get(tool.name.as_str())
            .filter(|(old, _)| old.tool == tool.tool)
        {
            runnable.push(Arc::clone(kept));
            continue;
        }
        let fresh = tool.tool.spec().and_then(|spec| {
            tools::build_with(&spec, services)
                .map(Arc::from)
                .map_err(|e| e.to_string())
        });
        match fresh {
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
        language: definitions
            .language
            .as_ref()
            .map(Language::compile)
            .unwrap_or_default(),
        candidates: OnceLock::new(),
        definitions,
        shards: patterns.shards,
        base_shards: patterns.base_shards,
        rules,
    })
}

/// Compiles the patterns of `members` (indexes into `rules`) into shards of at most
/// [`SHARD_PATTERNS`], in parallel on the machine's cores.
///
/// With `previous` (the shards and rules of the registry being replaced), a commit compiles
/// only what it changed: every previous shard still holding a pattern of `members` is kept
/// (its patterns of changed or removed rules become [`HIDDEN`]), and only the rules it does
/// not hold go into new shards. When that leaves too many hidden patterns or extra shards,
/// everything is compiled afresh, so classification never pays for a long history.
fn compile_shards(
    rules: &[Rule],
    members: &[usize],
    previous: Option<(&[Shard], &[Rule])>,
) -> Result<Vec<Shard>, Vec<Diagnostic>> {
    let mut kept: Vec<Shard> = Vec::new();
    let mut covered = vec![false; rules.len()];
    let (mut live, mut hidden) = (0usize, 0usize);
    if let Some((shards, old_rules)) = previous {
        let by_id: HashMap<&str, usize> =
            members.iter().map(|&i| (rules[i].id.as_str(), i)).collect();
        for shard in shards {
            let map: Vec<u32> = shard
                .rules
                .iter()
                .map(|&r| {
                    let Some(old) = old_rules.get(r as usize) else {
                        return HIDDEN;
                    };
                    match by_id.get(old.id.as_str()) {
                        Some(&i) if rules[i].pattern == old.pattern && !covered[i] => {
                            covered[i] = true;
                            i as u32
                        }
                        _ => HIDDEN,
                    }
                })
                .collect();
            let alive = map.iter().filter(|&&r| r != HIDDEN).count();
            if alive > 0 {
                live += alive;
                hidden += map.len() - alive;
                kept.push(Shard {
                    set: Arc::clone(&shard.set),
                    rules: map,
                });
            }
        }
    }
    let fresh: Vec<usize> = members.iter().copied().filter(|&i| !covered[i]).collect();
    let needed = members.len().div_ceil(SHARD_PATTERNS);
    let shards_after = kept.len() + fresh.len().div_ceil(SHARD_PATTERNS);
    let groups: Vec<&[usize]> =
        if shards_after > needed + MAX_EXTRA_SHARDS || hidden * 4 > live + hidden {
            kept.clear();
            members.chunks(SHARD_PATTERNS).collect()
        } else {
            fresh.chunks(SHARD_PATTERNS).collect()
        };
    let build = |group: &[usize]| -> Result<Shard, regex::Error> {
        let set = RegexSetBuilder::new(group.iter().map(|&i| rules[i].pattern.as_str()))
            .case_insensitive(true)
            .size_limit(SHARD_SIZE_LIMIT)
            .dfa_size_limit(SHARD_DFA_SIZE_LIMIT)
            .build()?;
        Ok(Shard {
            set: Arc::new(set),
            rules: group.iter().map(|&i| i as u32).collect(),
        })
    };
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(groups.len());
    let mut slots: Vec<Option<Result<Shard, regex::Error>>> = groups.iter().map(|_| None).collect();
    if threads <= 1 {
        for (slot, group) in slots.iter_mut().zip(&groups) {
            *slot = Some(build(group));
        }
    } else {
        // Thread `t` builds groups t, t + threads, ...
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..threads)
                .map(|t| {
                    let (groups, build) = (&groups, &build);
                    scope.spawn(move || {
                        (t..groups.len())
                            .step_by(threads)
                            .map(|g| (g, build(groups[g])))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            for handle in handles {
                // A panic while compiling a regex is a bug in the regex crate; pass it on.
                for (g, result) in handle
                    .join()
                    .unwrap_or_else(|p| std::panic::resume_unwind(p))
                {
                    slots[g] = Some(result);
                }
            }
        });
    }
    let built: Result<Vec<Shard>, Vec<Diagnostic>> = slots
        .into_iter()
        .zip(&groups)
        .map(|(slot, group)| {
            slot.expect("every shard was built").map_err(|e| {
                // The set reports a failing pattern only by its text; name the definitions.
                vec![Diagnostic::new(
                    "(registry)",
                    1,
                    1,
                    format!(
                        "the patterns from `{}` on do not compile together: {e}",
                        rules[group[0]].id
                    ),
                )]
            })
        })
        .collect();
    kept.extend(built?);
    Ok(kept)
}

/// Compiled tools, in definition order.
struct RunnableTools(Vec<Arc<dyn Tool>>);

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

    /// The indexes of the tools of `kind`, in definition order; durable tools are left
    /// out (they never answer on the fast path).
    pub fn tools_of_kind<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = usize> + 'a {
        self.definitions
            .tools
            .iter()
            .enumerate()
            .filter(move |(_, t)| t.tool.kind == kind && !t.durable)
            .map(|(index, _)| index)
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

    /// How many pattern sets a request is scanned with (incremental compiles add small
    /// ones, up to a bound, before everything is compiled afresh).
    pub fn pattern_sets(&self) -> usize {
        self.shards.len()
    }

    /// Every pattern, in definition order (tools, then workflows); the set's indexes.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Indexes into [`Self::rules`] of the patterns that match `text`, in no particular
    /// order (a tenant's own patterns come after `main`'s).
    pub(crate) fn matching_rules<'a>(&'a self, text: &'a str) -> impl Iterator<Item = usize> + 'a {
        self.shards.iter().flat_map(move |shard| {
            shard
                .set
                .matches(text)
                .into_iter()
                .map(move |i| shard.rules[i])
                .filter(|&rule| rule != HIDDEN)
                .map(|rule| rule as usize)
        })
    }

    pub(crate) fn candidates(&self) -> &CandidateIndex {
        self.candidates
            .get_or_init(|| CandidateIndex::build(&self.definitions))
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
