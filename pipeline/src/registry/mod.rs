//! The registry model: tool, workflow and config definitions as they live in git, and the
//! compiled form the classify stage reads.
//!
//! A branch of the config repository (`main`, `customer/<tenant>`) holds `tools/*.yaml`,
//! `workflows/*.yaml` and `configs/{routing,security}.yaml`. The git registry in the connectors
//! crate feeds a commit's files to [`load_files`] (or [`load_tenant_files`] for a tenant
//! branch), which parses them (`definition`, `config`) and validates them (`load`), returning
//! every problem as a [`Diagnostic`] with file and line. A tenant sees `main` overlaid by its
//! branch ([`overlay`]). [`compile`] turns one tenant's [`Definitions`] into a
//! [`CompiledRegistry`] (every pattern in sharded `RegexSet`s), and a [`RegistryHandle`]
//! holds the newest compiled registry of each tenant so that a request takes one snapshot and
//! uses it to the end. The classify stage ([`crate::classify`]) is the registry's main reader.

mod commit_event;
mod compiled;
mod config;
mod definition;
mod handle;
mod language;
mod load;
mod locate;

#[cfg(test)]
mod tests;

use std::fmt;

pub use commit_event::{BranchLayout, CommitEvent, CommitEventKind, MAIN_TENANT, PathChange};
pub use compiled::{
    CompiledRegistry, Rule, Target, compile, compile_overlay, compile_reusing, compile_with,
};
pub use config::{
    ApiKey, CONFIG_VERSION, Quotas, RateLimits, RoutingConfig, SecurityConfig, SigningPolicy,
};
pub use definition::{
    DEFINITION_VERSION, MAX_PRIORITY, MIN_PRIORITY, RetryPolicy, SignalWait, Step, TOOL_KINDS,
    ToolBody, ToolDef, WorkflowDef,
};
pub use handle::RegistryHandle;
pub use language::{Language, LanguageConfig, UnitAlias};
pub use load::{
    DefinitionFile, LoadedFile, assemble, check_duplicate_names, check_references,
    check_step_references, load_file, load_files, load_tenant_files, load_tree, locate_name,
    read_tree,
};

/// One problem found in a definition file, printed as `path:line:col: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Path of the file inside its branch, e.g. `tools/calculator.yaml`.
    pub path: String,
    /// 1-based line; 1 when the problem is about the file as a whole.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    pub message: String,
}

impl Diagnostic {
    pub fn new(path: &str, line: usize, column: usize, message: impl Into<String>) -> Self {
        Diagnostic {
            path: path.to_string(),
            line: line.max(1),
            column: column.max(1),
            message: message.into(),
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.path, self.line, self.column, self.message
        )
    }
}

/// Every definition of one branch (or of a tenant's overlay of `main`), in definition order:
/// files sorted by path, entries in file order. That order breaks classification ties.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Definitions {
    pub tools: Vec<ToolDef>,
    pub workflows: Vec<WorkflowDef>,
    /// `configs/routing.yaml`, when the branch has one.
    pub routing: Option<RoutingConfig>,
    /// `configs/security.yaml`, when the branch has one.
    pub security: Option<SecurityConfig>,
    /// `configs/language.yaml`, when the branch has one (a tenant's is merged with main's).
    pub language: Option<LanguageConfig>,
}

impl Definitions {
    pub fn tool(&self, name: &str) -> Option<&ToolDef> {
        self.tools.iter().find(|t| t.name == name)
    }

    pub fn workflow(&self, name: &str) -> Option<&WorkflowDef> {
        self.workflows.iter().find(|w| w.name == name)
    }

    /// Whether nothing at all is defined (an empty branch).
    pub fn is_empty(&self) -> bool {
        self.tools.is_empty()
            && self.workflows.is_empty()
            && self.routing.is_none()
            && self.security.is_none()
            && self.language.is_none()
    }
}

/// What tenant `tenant` sees: `main`'s definitions with the tenant branch's laid over them.
///
/// A tenant definition replaces `main`'s definition of the same name in place (so definition
/// order, and with it tie-breaking, stays `main`'s) and a new name is appended. A tenant's
/// `configs/routing.yaml` or `configs/security.yaml` replaces `main`'s file as a whole; a
/// tenant's `configs/language.yaml` extends `main`'s.
pub fn overlay(main: &Definitions, tenant: &Definitions) -> Definitions {
    let mut tools = main.tools.clone();
    let mut workflows = main.workflows.clone();
    for tool in &tenant.tools {
        // One namespace for tools and workflows: a tenant tool hides a main workflow too.
        workflows.retain(|w| w.name != tool.name);
        match tools.iter_mut().find(|t| t.name == tool.name) {
            Some(slot) => *slot = tool.clone(),
            None => tools.push(tool.clone()),
        }
    }
    for workflow in &tenant.workflows {
        tools.retain(|t| t.name != workflow.name);
        match workflows.iter_mut().find(|w| w.name == workflow.name) {
            Some(slot) => *slot = workflow.clone(),
            None => workflows.push(workflow.clone()),
        }
    }
    Definitions {
        tools,
        workflows,
        routing: tenant.routing.clone().or_else(|| main.routing.clone()),
        security: tenant.security.clone().or_else(|| main.security.clone()),
        language: match (&main.language, &tenant.language) {
            (None, None) => None,
            (main, tenant) => Some(LanguageConfig::merged(main.as_ref(), tenant.as_ref())),
        },
    }
}
