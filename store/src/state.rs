//! The in-memory mirror of the store: every branch's head and served files, each already
//! parsed, so that a commit is validated by parsing only the files it changes.
//!
//! RocksDB is the truth; this mirror is rebuilt from it on open (and after a failed write).
//! Served and head maps share their unchanged entries (`Arc`), and parse results are cached
//! by a hash of path and content ([`ParseCache`]), since a file's own checks depend on nothing
//! else. The checks across files (duplicate names, step references) run over the parsed
//! entries of the whole branch without cloning a definition.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Bound;
use std::sync::Arc;

use sha2::{Digest, Sha256};
use volcano_pipeline::registry::{
    DefinitionFile, Diagnostic, LoadedFile, SigningPolicy, check_duplicate_names,
    check_step_references, load_file, locate_name,
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
    /// The newest commit seen (accepted or rejected) and its files: what the next commit's
    /// changes apply to.
    pub head_commit: String,
    pub head: Files,
    /// The last accepted commit and its files; `None` until one is accepted.
    pub served: Option<Served>,
    /// Whether served files equal head files (true after an accept), so that the next accept
    /// need only write the paths it changed.
    pub in_sync: bool,
}

#[derive(Debug, Clone)]
pub struct Served {
    pub commit: String,
    pub files: Files,
}

/// Parse results by SHA-256 of `path \0 content`; cleared when it grows past its bound.
#[derive(Debug, Default)]
pub struct ParseCache {
    entries: HashMap<[u8; 32], Arc<LoadedFile>>,
}

/// Most parse results kept; a replay of a long history touches far more distinct contents,
/// and only recent ones (reverts, force pushes of the same tree) tend to recur.
const PARSE_CACHE_ENTRIES: usize = 1 << 16;

fn cache_key(path: &str, content: &str) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(path.as_bytes());
    hasher.update([0]);
    hasher.update(content.as_bytes());
    hasher.finalize().into()
}

/// Fewest files worth parsing on several threads.
const PARALLEL_FILES: usize = 64;

impl ParseCache {
    /// Parses the files not cached yet on every core, so that applying the events that
    /// carry them finds them cached: parsing is by far the largest cost of an apply, and a
    /// file's result depends on nothing but its path and content.
    pub fn preload<'a>(&mut self, files: impl IntoIterator<Item = (&'a str, &'a str)>) {
        let mut seen = HashSet::new();
        let todo: Vec<([u8; 32], &str, &str)> = files
            .into_iter()
            .map(|(path, content)| (cache_key(path, content), path, content))
            .filter(|(key, _, _)| !self.entries.contains_key(key) && seen.insert(*key))
            .take(PARSE_CACHE_ENTRIES / 2)
            .collect();
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        if todo.len() < PARALLEL_FILES || threads < 2 {
            return;
        }
        if self.entries.len() + todo.len() > PARSE_CACHE_ENTRIES {
            self.entries.clear();
        }
        let chunk = todo.len().div_ceil(threads);
        let parsed: Vec<Vec<([u8; 32], LoadedFile)>> = std::thread::scope(|scope| {
            let handles: Vec<_> = todo
                .chunks(chunk)
                .map(|part| {
                    scope.spawn(move || {
                        part.iter()
                            .map(|(key, path, content)| (*key, load_file(path, content)))
                            .collect()
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                .collect()
        });
        for (key, loaded) in parsed.into_iter().flatten() {
            self.entries.insert(key, Arc::new(loaded));
        }
    }

    pub fn load(&mut self, path: &str, content: &str) -> Arc<LoadedFile> {
        let key = cache_key(path, content);
        if let Some(loaded) = self.entries.get(&key) {
            return Arc::clone(loaded);
        }
        if self.entries.len() >= PARSE_CACHE_ENTRIES {
            self.entries.clear();
        }
        let loaded = Arc::new(load_file(path, content));
        self.entries.insert(key, Arc::clone(&loaded));
        loaded
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
