//! The in-memory mirror of the store: every branch's head and served files, each already
//! parsed, so that a commit is validated by parsing only the files it changes.
//!
//! RocksDB is the truth; this mirror is rebuilt from it on open (and after a failed write).
//! Served and head maps share their unchanged entries (`Arc`); parse results are cached by
//! the `parses` module. The checks across files (duplicate names, step references) run over
//! the parsed entries of the whole branch without cloning a definition ([`validate`]); each
//! head also keeps a [`HeadSummary`] up to date file by file, so that the common case, a
//! commit that leaves its branch valid, is recognised without visiting every file
//! ([`valid_quickly`]).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Bound;
use std::sync::Arc;

use volcano_pipeline::registry::{
    DefinitionFile, Diagnostic, LoadedFile, SigningPolicy, WorkflowDef, check_duplicate_names,
    check_step_references, locate_name,
};

/// One file of a branch: its content, the commit that last changed it, and what it parses to.
#[derive(Debug)]
pub struct FileEntry {
    pub content: String,
    pub commit: String,
    pub loaded: Arc<LoadedFile>,
}

/// A branch's files by path.
pub type Files = BTreeMap<String, Arc<FileEntry>>;

/// One branch as the store knows it.
#[derive(Debug, Default)]
pub struct BranchState {
    /// The newest commit seen (accepted or rejected): its files are what the next commit's
    /// changes apply to.
    pub head_commit: String,
    /// Changed only through [`BranchState::insert_head`] and [`BranchState::remove_head`],
    /// which keep `summary` in step.
    head: Files,
    summary: HeadSummary,
    /// The last accepted commit and its files; `None` until one is accepted.
    pub served: Option<Served>,
    /// Whether served files equal head files (true after an accept), so that the next accept
    /// need only write the paths it changed, and `main`'s head summary describes what it
    /// serves to tenants.
    pub in_sync: bool,
}

impl BranchState {
    /// The head files, by path.
    pub fn head(&self) -> &Files {
        &self.head
    }

    /// Puts a file into the head (replacing the one at its path).
    pub fn insert_head(&mut self, path: String, entry: Arc<FileEntry>) {
        self.summary.add(&entry.loaded);
        if let Some(old) = self.head.insert(path, entry) {
            self.summary.remove(&old.loaded);
        }
    }

    /// Takes a file out of the head.
    pub fn remove_head(&mut self, path: &str) -> Option<Arc<FileEntry>> {
        let old = self.head.remove(path)?;
        self.summary.remove(&old.loaded);
        Some(old)
    }
}

#[derive(Debug, Clone)]
pub struct Served {
    pub commit: String,
    pub files: Files,
}

/// What the checks across files need to know of a head, kept as files come and go: enough to
/// tell that [`validate`] would find nothing without visiting every file.
#[derive(Debug, Default)]
struct HeadSummary {
    /// Files whose own checks found a problem.
    failing: usize,
    /// Per name, how many tools and how many workflows define it (one namespace).
    names: HashMap<String, NameUse>,
    /// Names defined more than once.
    duplicated: usize,
}

#[derive(Debug, Default, Clone, Copy)]
struct NameUse {
    tools: u32,
    workflows: u32,
}

impl NameUse {
    fn total(self) -> u32 {
        self.tools + self.workflows
    }
}

impl HeadSummary {
    fn add(&mut self, loaded: &LoadedFile) {
        self.failing += usize::from(!loaded.diagnostics.is_empty());
        let Some((name, is_tool)) = defined_name(loaded) else {
            return;
        };
        let used = self.names.entry(name.to_string()).or_default();
        if is_tool {
            used.tools += 1;
        } else {
            used.workflows += 1;
        }
        if used.total() == 2 {
            self.duplicated += 1;
        }
    }

    fn remove(&mut self, loaded: &LoadedFile) {
        self.failing -= usize::from(!loaded.diagnostics.is_empty());
        let Some((name, is_tool)) = defined_name(loaded) else {
            return;
        };
        let used = self
            .names
            .get_mut(name)
            .expect("a removed definition was added");
        if used.total() == 2 {
            self.duplicated -= 1;
        }
        if is_tool {
            used.tools -= 1;
        } else {
            used.workflows -= 1;
        }
        if used.total() == 0 {
            self.names.remove(name);
        }
    }

    fn is_tool(&self, name: &str) -> bool {
        self.names.get(name).is_some_and(|u| u.tools > 0)
    }

    fn is_workflow(&self, name: &str) -> bool {
        self.names.get(name).is_some_and(|u| u.workflows > 0)
    }
}

/// The tool (`true`) or workflow (`false`) name a file defines, if it defines one.
fn defined_name(loaded: &LoadedFile) -> Option<(&str, bool)> {
    match &loaded.definition {
        Some(DefinitionFile::Tool(t)) => Some((t.name.as_str(), true)),
        Some(DefinitionFile::Workflow(w)) => Some((w.name.as_str(), false)),
        _ => None,
    }
}

/// The workflows of a set of files. Only files under `workflows/` parse as workflows (a
/// file's kind follows its directory), so the others need not be visited.
fn workflows_of(files: &Files) -> impl Iterator<Item = &WorkflowDef> {
    let range = (Bound::Included("workflows/"), Bound::Excluded("workflows0"));
    files
        .range::<str, _>(range)
        .filter_map(|(_, e)| match &e.loaded.definition {
            Some(DefinitionFile::Workflow(w)) => Some(w),
            _ => None,
        })
}

/// Whether [`validate`] would find nothing in `branch`'s head, decided from the summaries in
/// time proportional to the workflows' steps rather than to the branch. `main` is `None` for
/// `main` itself, and otherwise the main branch (absent when it does not exist). `false`
/// means "not known to be valid": the caller then runs [`validate`], which has the last word
/// and the exact diagnostics. Such is the case when `main` serves a commit other than its
/// head, whose summary then does not describe what tenants see.
pub fn valid_quickly(branch: &BranchState, main: Option<Option<&BranchState>>) -> bool {
    let own = &branch.summary;
    if own.failing > 0 || own.duplicated > 0 {
        return false;
    }
    let steps_resolve = |workflow: &WorkflowDef, is_tool: &dyn Fn(&str) -> bool| {
        workflow
            .steps
            .iter()
            .all(|s| is_tool(&s.tool) && s.compensation.as_deref().is_none_or(is_tool))
    };
    match main {
        // `main` itself: steps name its own tools.
        None => workflows_of(&branch.head).all(|w| steps_resolve(w, &|n| own.is_tool(n))),
        // A tenant: its overlay of what `main` serves, as in `validate`.
        Some(main) => {
            let base = match main {
                Some(m) if m.served.is_some() && !m.in_sync => return false,
                Some(m) if m.served.is_some() => Some(m),
                _ => None,
            };
            let is_tool = |n: &str| {
                !own.is_workflow(n)
                    && (own.is_tool(n) || base.is_some_and(|m| m.summary.is_tool(n)))
            };
            let visible_main = base
                .into_iter()
                .flat_map(|m| workflows_of(&m.head))
                .filter(|w| !own.names.contains_key(w.name.as_str()));
            visible_main
                .chain(workflows_of(&branch.head))
                .all(|w| steps_resolve(w, &is_tool))
        }
    }
}

/// The tool and workflow names of a set of files, for the reference check.
#[derive(Debug, Default)]
struct Names<'a> {
    tools: HashSet<&'a str>,
    workflows: HashSet<&'a str>,
}

impl<'a> Names<'a> {
    fn of(files: &'a Files) -> Self {
        let mut names = Names::default();
        for entry in files.values() {
            match &entry.loaded.definition {
                Some(DefinitionFile::Tool(t)) => {
                    names.tools.insert(t.name.as_str());
                }
                Some(DefinitionFile::Workflow(w)) => {
                    names.workflows.insert(w.name.as_str());
                }
                _ => {}
            }
        }
        names
    }
}

fn workflows(files: &Files) -> impl Iterator<Item = &volcano_pipeline::registry::WorkflowDef> {
    files.values().filter_map(|e| match &e.loaded.definition {
        Some(DefinitionFile::Workflow(w)) => Some(w),
        _ => None,
    })
}

/// Every problem of a branch's files, as `load_files` (for `main`: `main_served` is `None`)
/// or `load_tenant_files` against `main`'s served files would report them, sorted by file,
/// line and column.
pub fn validate(files: &Files, main_served: Option<&Files>) -> Vec<Diagnostic> {
    let mut diagnostics: Vec<Diagnostic> = files
        .values()
        .flat_map(|e| e.loaded.diagnostics.iter().cloned())
        .collect();
    // Tools, then workflows, each in path order: the order `load_files` checks names in.
    let tools = files.values().filter_map(|e| match &e.loaded.definition {
        Some(DefinitionFile::Tool(t)) => Some((t.name.as_str(), t.source.as_str())),
        _ => None,
    });
    let flows = workflows(files).map(|w| (w.name.as_str(), w.source.as_str()));
    diagnostics.extend(check_duplicate_names(tools.chain(flows), |source, name| {
        files
            .get(source)
            .map_or((1, 1), |e| locate_name(&e.content, name))
    }));
    let own = Names::of(files);
    match main_served {
        None => diagnostics.extend(check_step_references(
            workflows(files),
            |n| own.tools.contains(n),
            |n| own.workflows.contains(n),
        )),
        Some(main) => {
            // The tenant's overlay of main (see `overlay`): a tenant name hides main's
            // definition of that name, tool or workflow.
            let base = Names::of(main);
            let is_tool = |n: &str| {
                !own.workflows.contains(n) && (own.tools.contains(n) || base.tools.contains(n))
            };
            let is_workflow = |n: &str| {
                own.workflows.contains(n) || (base.workflows.contains(n) && !own.tools.contains(n))
            };
            let visible_main = workflows(main)
                .filter(|w| !own.tools.contains(w.name.as_str()))
                .filter(|w| !own.workflows.contains(w.name.as_str()));
            diagnostics.extend(check_step_references(
                visible_main.chain(workflows(files)),
                is_tool,
                is_workflow,
            ));
        }
    }
    diagnostics.sort_by(|a, b| (&a.path, a.line, a.column).cmp(&(&b.path, b.line, b.column)));
    diagnostics
}

/// The signing policy of a set of files, when it has a `configs/security.yaml` that parses.
pub fn signing_of(files: &Files) -> Option<&SigningPolicy> {
    let configs = (Bound::Included("configs/"), Bound::Excluded("configs0"));
    files
        .range::<str, _>(configs)
        .find_map(|(_, e)| match &e.loaded.definition {
            Some(DefinitionFile::Security(s)) => Some(&s.signing),
            _ => None,
        })
}

#[cfg(test)]
mod tests {
    use volcano_pipeline::registry::load_file;

    use super::*;

    fn tool(name: &str) -> (String, String) {
        (
            format!("tools/{name}.yaml"),
            format!("version: 1\nname: {name}\ntool:\n  kind: template\n  template: \"{name}\"\n"),
        )
    }

    /// A workflow whose steps use `tools` (the last one also as a compensation).
    fn workflow(name: &str, tools: &[&str]) -> (String, String) {
        let mut content = format!("version: 1\nname: {name}\nsteps:\n");
        for (i, t) in tools.iter().enumerate() {
            content.push_str(&format!("  - name: s{i}\n    tool: {t}\n"));
        }
        if let Some(last) = tools.last() {
            content.push_str(&format!("    compensation: {last}\n"));
        }
        (format!("workflows/{name}.yaml"), content)
    }

    fn put(branch: &mut BranchState, (path, content): (String, String)) {
        let loaded = Arc::new(load_file(&path, &content));
        let entry = FileEntry {
            content,
            commit: "c".into(),
            loaded,
        };
        branch.insert_head(path, Arc::new(entry));
    }

    /// `branch` with its head served, as after an accepted commit.
    fn served(mut branch: BranchState) -> BranchState {
        branch.served = Some(Served {
            commit: "c".into(),
            files: branch.head().clone(),
        });
        branch.in_sync = true;
        branch
    }

    /// The quick answer, checked against the full one it stands for.
    fn quick(branch: &BranchState, main: Option<Option<&BranchState>>) -> bool {
        let base = main.map(|m| {
            m.and_then(|m| m.served.as_ref())
                .map_or(&Files::new(), |s| &s.files)
                .clone()
        });
        let full = validate(branch.head(), base.as_ref()).is_empty();
        let quick = valid_quickly(branch, main);
        assert!(!quick || full, "quick says valid, the full check does not");
        quick
    }

    #[test]
    fn the_summary_follows_files_in_and_out_of_a_branch() {
        let mut main = BranchState::default();
        put(&mut main, tool("a"));
        put(&mut main, tool("b"));
        put(&mut main, workflow("w", &["a", "b"]));
        assert!(quick(&main, None));
        // A second definition of `a`, as a tool then as a workflow: a duplicate either way.
        put(&mut main, ("tools/a2.yaml".into(), tool("a").1));
        assert!(!quick(&main, None));
        main.remove_head("tools/a2.yaml");
        assert!(quick(&main, None));
        put(&mut main, workflow("a", &["b"]));
        assert!(!quick(&main, None));
        main.remove_head("workflows/a.yaml");
        // A step naming a missing tool, then a workflow.
        main.remove_head("tools/b.yaml");
        assert!(!quick(&main, None));
        put(&mut main, workflow("b", &["a"]));
        assert!(!quick(&main, None));
        main.remove_head("workflows/b.yaml");
        put(&mut main, tool("b"));
        assert!(quick(&main, None));
        // A file with a problem of its own, replaced by a good one at the same path.
        put(
            &mut main,
            (
                "tools/b.yaml".into(),
                "version: 1\nname: b\npatterns: ['(']\ntool:\n  kind: template\n  template: b\n"
                    .into(),
            ),
        );
        assert!(!quick(&main, None));
        put(&mut main, tool("b"));
        assert!(quick(&main, None));
        assert_eq!(main.summary.failing, 0);
        assert_eq!(main.summary.duplicated, 0);
        assert_eq!(main.summary.names.len(), 3);
    }

    #[test]
    fn a_tenant_is_checked_against_what_main_serves() {
        let mut main = BranchState::default();
        put(&mut main, tool("a"));
        put(&mut main, workflow("w", &["a"]));
        let main = served(main);
        let mut tenant = BranchState::default();
        put(&mut tenant, workflow("mine", &["a"]));
        assert!(quick(&tenant, Some(Some(&main))));
        // Without main, `a` is missing; main with nothing served is the same.
        assert!(!quick(&tenant, Some(None)));
        let mut unserved = BranchState::default();
        put(&mut unserved, tool("a"));
        assert!(!quick(&tenant, Some(Some(&unserved))));
        // A tenant workflow named `a` hides main's tool: main's `w` and `mine` now miss it.
        put(&mut tenant, workflow("a", &["x"]));
        put(&mut tenant, tool("x"));
        assert!(!quick(&tenant, Some(Some(&main))));
        tenant.remove_head("workflows/a.yaml");
        assert!(quick(&tenant, Some(Some(&main))));
        // A tenant tool named `w` hides main's workflow (whose steps are then not checked).
        let mut main_broken = BranchState::default();
        put(&mut main_broken, tool("a"));
        put(&mut main_broken, workflow("w", &["gone"]));
        let main_broken = served(main_broken);
        assert!(!quick(&tenant, Some(Some(&main_broken))));
        put(&mut tenant, tool("w"));
        assert!(quick(&tenant, Some(Some(&main_broken))));
    }

    #[test]
    fn main_serving_an_older_commit_sends_tenants_to_the_full_check() {
        let mut main = BranchState::default();
        put(&mut main, tool("a"));
        let mut main = served(main);
        let mut tenant = BranchState::default();
        put(&mut tenant, workflow("mine", &["a"]));
        assert!(quick(&tenant, Some(Some(&main))));
        // Main's head moved on (a rejected commit removed `a`); it still serves `a`.
        main.remove_head("tools/a.yaml");
        main.in_sync = false;
        assert!(!valid_quickly(&tenant, Some(Some(&main))));
        let served_files = &main.served.as_ref().unwrap().files;
        assert!(validate(tenant.head(), Some(served_files)).is_empty());
    }
}
