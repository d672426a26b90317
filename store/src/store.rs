//! [`Store`]: commit events applied to RocksDB, validated, and compiled per tenant on demand.
//!
//! The connectors crate consumes `volcano.commits` and calls [`Store::apply`] with each event
//! and its (partition, offset); a replay from git calls it without an offset, or
//! [`Store::apply_batch`] with many events at once. Each call writes the branch's new head
//! files, its served files when the commit is accepted, the event's audit record, the
//! branch's commit ids and the consumed offsets in ONE RocksDB `WriteBatch`, so a crash
//! leaves either all of an event or none of it, and an offset at or below the stored one is a
//! no-op ([`ApplyOutcome::AlreadyApplied`]).
//!
//! Which signing policy governs a commit: the branch's served `configs/security.yaml`; for a
//! tenant without one, `main`'s served one; when neither is served, the commit's own (a new
//! branch, or a first file); otherwise none (unsigned commits accepted).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use rocksdb::{
    ColumnFamily, ColumnFamilyDescriptor, DB, DBCompressionType, IteratorMode, Options, WriteBatch,
    WriteOptions,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use volcano_pipeline::registry::{
    BranchLayout, CommitEvent, CommitEventKind, CompiledRegistry, DefinitionFile, Diagnostic,
    LoadedFile, MAIN_TENANT, RegistryHandle, assemble, compile_overlay, compile_reusing,
};
use volcano_pipeline::tools::ToolServices;

use crate::codec::{
    BRANCH_PREFIX, BranchMeta, CF_AUDIT, CF_CONFIGS, CF_HEAD, CF_METADATA, CF_TOOLS, CF_WORKFLOWS,
    COLUMN_FAMILIES, OFFSET_PREFIX, branch_key, decode_file, encode_file, file_key, offset_key,
    served_cf, split_file_key,
};
use crate::error::{StoreError, show};
use crate::parses::{BatchParses, ParseCache};
use crate::signing::check_signature;
use crate::state::{BranchState, FileEntry, Files, Served, signing_of, valid_quickly, validate};

/// Tenant (and branch) name of `main`.
pub const MAIN: &str = MAIN_TENANT;

static NO_FILES: Files = Files::new();

/// How writes reach the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// The write-ahead log is on (not fsynced per write): a process crash loses nothing. A
    /// power loss may drop the newest writes, but state and offsets go together, so the
    /// events are consumed again.
    #[default]
    Live,
    /// No write-ahead log, for rebuilding into a fresh directory from a replay: memtables are
    /// flushed by [`Store::flush`] and on drop. A crash midway means starting over.
    Replay,
}

/// What applying one event did.
#[derive(Debug, Clone, PartialEq)]
pub enum ApplyOutcome {
    /// The commit is valid and its branch now serves it. Recompile `tenants_affected` (every
    /// tenant when `main` changed; see [`Store::refresh`]).
    Applied {
        branch: String,
        commit: String,
        tenants_affected: Vec<String>,
    },
    /// The commit is invalid or not signed as required: its branch keeps serving its last
    /// good commit, later commits apply on top of this one's files. Recorded in the audit.
    Rejected {
        branch: String,
        commit: String,
        rejection: Rejection,
    },
    /// The branch was deleted: a tenant's requests fall back to `main` (remove it from the
    /// handle); `main` deleted leaves every tenant with its own files only.
    Deleted {
        branch: String,
        tenants_affected: Vec<String>,
    },
    /// The offset was applied before (a redelivery); nothing was written.
    AlreadyApplied { partition: i32, offset: i64 },
    /// The branch is neither `main` nor `customer/<tenant>`; only the offset was recorded.
    Ignored { branch: String },
}

/// Why a commit was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// The branch's files at this commit do not load: every problem, with file and line.
    Invalid(Vec<Diagnostic>),
    /// The signing policy requires a signature this commit does not have.
    Signature(String),
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Rejection::Invalid(diagnostics) => write!(f, "{}", show(diagnostics)),
            Rejection::Signature(reason) => write!(f, "signature: {reason}"),
        }
    }
}

/// What became of an audited event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditResult {
    /// The commit became its branch's served state.
    Applied,
    /// The commit was refused; the branch kept serving its last good commit.
    Rejected,
    /// The branch was deleted and no longer serves anything.
    Deleted,
}

fn rejected() -> AuditResult {
    // Records written before applied commits were audited are all rejections.
    AuditResult::Rejected
}

/// One applied, rejected or deleting event, as kept in the audit column family.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// Order of recording, from 0.
    pub sequence: u64,
    pub branch: String,
    pub commit: String,
    /// A commit, a force push (the whole tree replaced) or a branch deletion.
    #[serde(default)]
    pub kind: CommitEventKind,
    pub author: String,
    #[serde(default)]
    pub committer: String,
    /// Commit time, milliseconds since the Unix epoch.
    pub time: i64,
    /// Where the event came from, when it came from Kafka.
    pub partition: Option<i32>,
    pub offset: Option<i64>,
    /// Paths the commit changed.
    pub paths: Vec<String>,
    #[serde(default = "rejected")]
    pub result: AuditResult,
    /// Why it was rejected: one `path:line:col: message` per problem, or the signature
    /// problem; empty otherwise.
    pub reason: String,
}

/// What a definition in a tenant's view is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    Tool,
    Workflow,
    Routing,
    Security,
    Language,
}

/// One definition a tenant sees, and where it comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShowEntry {
    pub kind: EntryKind,
    /// The tool or workflow name; `routing` or `security` for configs.
    pub name: String,
    pub path: String,
    /// `main` or `customer/<tenant>`.
    pub branch: String,
    /// The commit that last changed the file.
    pub commit: String,
}

/// The materialized registry in one RocksDB directory. Cheap to share (`&self` everywhere);
/// applies are serialized by an internal lock.
pub struct Store {
    db: DB,
    path: PathBuf,
    durability: Durability,
    /// Which branches serve which tenant.
    layout: BranchLayout,
    state: Mutex<State>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.path)
            .field("durability", &self.durability)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Opens (or creates) the store in `dir` for live use, resuming where it stopped: see
    /// [`Store::next_offsets`].
    pub fn open(dir: impl AsRef<Path>) -> Result<Store, StoreError> {
        Store::open_with(dir, Durability::Live)
    }

    /// Opens (or creates) the store in `dir` with the given durability.
    pub fn open_with(dir: impl AsRef<Path>, durability: Durability) -> Result<Store, StoreError> {
        let path = dir.as_ref().to_path_buf();
        let mut options = Options::default();
        options.create_if_missing(true);
        options.create_missing_column_families(true);
        options.set_max_background_jobs(2);
        options.set_keep_log_file_num(4);
        options.set_max_open_files(512);
        let descriptors = COLUMN_FAMILIES.map(|name| {
            let mut cf = Options::default();
            // No compression library is built in; definition files are small anyway.
            cf.set_compression_type(DBCompressionType::None);
            cf.set_write_buffer_size(if name == CF_AUDIT { 4 << 20 } else { 32 << 20 });
            ColumnFamilyDescriptor::new(name, cf)
        });
        let db = DB::open_cf_descriptors(&options, &path, descriptors).map_err(|source| {
            StoreError::Db {
                path: path.clone(),
                source,
            }
        })?;
        Store::with_state(db, path, durability)
    }

    /// Opens an existing store to read it (`hash`, `show`, `audit`), even while a live
    /// instance holds it open for writing; it sees what was written when it opened.
    pub fn open_read_only(dir: impl AsRef<Path>) -> Result<Store, StoreError> {
        let path = dir.as_ref().to_path_buf();
        let db = DB::open_cf_for_read_only(&Options::default(), &path, COLUMN_FAMILIES, false)
            .map_err(|source| StoreError::Db {
                path: path.clone(),
                source,
            })?;
        Store::with_state(db, path, Durability::Live)
    }

    /// A store over an open database, its in-memory mirror loaded from it.
    fn with_state(db: DB, path: PathBuf, durability: Durability) -> Result<Store, StoreError> {
        let mut store = Store {
            db,
            path,
            durability,
            layout: BranchLayout::default(),
            state: Mutex::new(State::default()),
        };
        let state = store.load_state()?;
        store.state = Mutex::new(state);
        Ok(store)
    }

    /// This store serving the branches of `layout` (`main` and `customer/<tenant>` unless
    /// configured otherwise); events for other branches are ignored.
    pub fn with_layout(mut self, layout: BranchLayout) -> Self {
        self.state
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .layout = layout.clone();
        self.layout = layout;
        self
    }

    /// Applies one event. `position` is its (partition, offset) in `volcano.commits`; `None`
    /// for a replay from git, which is never deduplicated.
    pub fn apply(
        &self,
        event: &CommitEvent,
        position: Option<(i32, i64)>,
    ) -> Result<ApplyOutcome, StoreError> {
        let mut outcomes = self.apply_batch([(event, position)])?;
        Ok(outcomes.pop().expect("one outcome per event"))
    }

    /// Applies events in order, with the same outcomes as applying them one by one, in one
    /// `WriteBatch` (a key written twice is written once): for replays, in chunks of a few
    /// hundred to a few thousand events. On error nothing of the batch is applied.
    pub fn apply_batch<'a>(
        &self,
        events: impl IntoIterator<Item = (&'a CommitEvent, Option<(i32, i64)>)>,
    ) -> Result<Vec<ApplyOutcome>, StoreError> {
        let events: Vec<(&CommitEvent, Option<(i32, i64)>)> = events.into_iter().collect();
        let mut state = self.lock()?;
        // Parsing is most of an apply's cost and depends on nothing but each file: the
        // batch's files are parsed on the other cores while this thread applies in order.
        let batch = state.cache.batch(
            events
                .iter()
                .filter(|(e, _)| e.kind != CommitEventKind::BranchDeleted)
                .filter(|(e, _)| self.layout.registry_tenant(&e.branch).is_some())
                .flat_map(|(e, _)| &e.changes)
                .filter(|c| CommitEvent::is_definition_path(&c.path))
                .filter_map(|c| Some((c.path.as_str(), c.content.as_deref()?))),
        );
        let mut pending = Pending::default();
        let mut dirty = BTreeSet::new();
        let mut apply_all = |batch: Option<&BatchParses<'_>>| -> Vec<ApplyOutcome> {
            events
                .iter()
                .map(|&(event, position)| {
                    state.apply(event, position, &mut pending, &mut dirty, batch)
                })
                .collect()
        };
        let outcomes = match &batch {
            Some(batch) => batch.run(|| apply_all(Some(batch))),
            None => apply_all(None),
        };
        for name in dirty {
            let key = branch_key(&name);
            match state.branches.get(&name) {
                Some(branch) => {
                    let meta = BranchMeta {
                        head: branch.head_commit.clone(),
                        served: branch.served.as_ref().map(|s| s.commit.clone()),
                    };
                    let value = serde_json::to_vec(&meta).expect("branch metadata serializes");
                    pending.put(CF_METADATA, key, value);
                }
                None => pending.delete(CF_METADATA, key),
            }
        }
        if let Err(e) = self.write(pending) {
            // The mirror has moved ahead of the disk: rebuild it from the disk.
            match self.load_state() {
                Ok(fresh) => *state = fresh,
                Err(_) => state.stale = true,
            }
            return Err(e);
        }
        Ok(outcomes)
    }

    /// Where to resume consuming `volcano.commits`: per partition, the offset after the last
    /// one applied.
    pub fn next_offsets(&self) -> Result<BTreeMap<i32, i64>, StoreError> {
        let state = self.lock()?;
        Ok(state.offsets.iter().map(|(&p, &o)| (p, o + 1)).collect())
    }

    /// Tenants with a served branch, `main` first (always listed), then by name.
    pub fn tenants(&self) -> Result<Vec<String>, StoreError> {
        let state = self.lock()?;
        Ok(state.served_tenants())
    }

    /// The compiled registry `tenant` sees: `main`'s served definitions overlaid by the
    /// tenant branch's, loaded by the pipeline's own loader. Its `commit` is `main`'s served
    /// commit for `main`, `<main commit>+<tenant commit>` for a tenant.
    pub fn compile_tenant(&self, tenant: &str) -> Result<CompiledRegistry, StoreError> {
        self.compile_tenant_with(tenant, &ToolServices::default())
    }

    /// [`Store::compile_tenant`] with the services (an HTTP client) tools with side effects use.
    pub fn compile_tenant_with(
        &self,
        tenant: &str,
        services: &ToolServices,
    ) -> Result<CompiledRegistry, StoreError> {
        let main = self.compile_main(services, None)?;
        match tenant {
            MAIN => Ok(main),
            _ => self.compile_tenant_on(tenant, &main, services, None),
        }
    }

    /// `main`'s compiled registry, reusing what `previous` (the one being replaced) compiled
    /// for patterns and tools that did not change.
    ///
    /// Served files were parsed and checked when their commit was applied; registries are
    /// assembled from those parses, so a commit costs the parse of the files it changed and
    /// the compilation of what those touch.
    pub fn compile_main(
        &self,
        services: &ToolServices,
        previous: Option<&CompiledRegistry>,
    ) -> Result<CompiledRegistry, StoreError> {
        let (files, commit) = self.served_parses(MAIN)?.unwrap_or_default();
        let definitions = assemble(files.iter().map(|f| f.as_ref()));
        compile_reusing(&definitions, MAIN, &commit, services, previous)
            .map_err(|diagnostics| compile_failed(MAIN, diagnostics))
    }

    /// `tenant`'s compiled registry over `main`'s: main's pattern sets and tools are shared,
    /// the tenant's own are compiled or taken from `previous`.
    pub fn compile_tenant_on(
        &self,
        tenant: &str,
        main: &CompiledRegistry,
        services: &ToolServices,
        previous: Option<&CompiledRegistry>,
    ) -> Result<CompiledRegistry, StoreError> {
        let (files, commit) = self
            .served_parses(tenant)?
            .ok_or_else(|| StoreError::UnknownTenant(tenant.to_string()))?;
        let own = assemble(files.iter().map(|f| f.as_ref()));
        // `compile_overlay` checks the overlay's references again: a main commit may have
        // removed a tool a tenant's workflow uses.
        compile_overlay(main, &own, tenant, &commit, services, previous)
            .map_err(|diagnostics| compile_failed(tenant, diagnostics))
    }

    /// A tenant's own branch's served files' parses in path order, and its served commit.
    fn served_parses(&self, tenant: &str) -> Result<Option<ServedParses>, StoreError> {
        let state = self.lock()?;
        Ok(state.served_tenant(tenant).map(|served| {
            let parses = served
                .files
                .values()
                .map(|e| Arc::clone(&e.loaded))
                .collect();
            (parses, served.commit.clone())
        }))
    }

    /// A handle serving every tenant's compiled registry, `main` first. A tenant whose
    /// registry does not compile is left out (it falls back to `main`) and logged.
    pub fn registry_handle(&self) -> Result<RegistryHandle, StoreError> {
        self.registry_handle_with(&ToolServices::default())
    }

    /// [`Store::registry_handle`] with the services tools with side effects use.
    pub fn registry_handle_with(
        &self,
        services: &ToolServices,
    ) -> Result<RegistryHandle, StoreError> {
        let handle = RegistryHandle::new(Arc::new(self.compile_main(services, None)?));
        let tenants = self.tenants()?;
        for error in self.refresh(&handle, &tenants[1..], services) {
            tracing::warn!(%error, "tenant registry left out");
        }
        Ok(handle)
    }

    /// Brings `handle` up to date for `tenants` (e.g. an outcome's `tenants_affected`): each
    /// is recompiled and stored, or removed when its branch is no longer served. A tenant
    /// that does not compile keeps its previous registry; its error is returned.
    ///
    /// `main` goes first, alone: the others are compiled on top of it, one worker per core
    /// but one (left to the requests being served), each stored as soon as it is compiled, so
    /// the first swaps do not wait for the last.
    pub fn refresh(
        &self,
        handle: &RegistryHandle,
        tenants: &[String],
        services: &ToolServices,
    ) -> Vec<StoreError> {
        let mut errors = Vec::new();
        if tenants.iter().any(|t| t == MAIN) {
            match self.compile_main(services, handle.get(MAIN).as_deref()) {
                Ok(main) => handle.store(MAIN, Arc::new(main)),
                Err(e) => errors.push(e),
            }
        }
        let main = handle.load(MAIN);
        let others: Vec<&String> = tenants.iter().filter(|t| *t != MAIN).collect();
        // One core is left to the requests being served meanwhile.
        let workers = std::thread::available_parallelism()
            .map_or(1, usize::from)
            .saturating_sub(1)
            .clamp(1, others.len().max(1));
        let chunk = others.len().div_ceil(workers).max(1);
        std::thread::scope(|scope| {
            let jobs: Vec<_> = others
                .chunks(chunk)
                .map(|part| {
                    let main = &main;
                    scope.spawn(move || {
                        let mut errors = Vec::new();
                        for tenant in part {
                            let previous = handle.get(tenant);
                            match self.compile_tenant_on(
                                tenant,
                                main,
                                services,
                                previous.as_deref(),
                            ) {
                                Ok(registry) => handle.store(tenant, Arc::new(registry)),
                                Err(StoreError::UnknownTenant(_)) => handle.remove(tenant),
                                Err(e) => errors.push(e),
                            }
                        }
                        errors
                    })
                })
                .collect();
            errors.extend(
                jobs.into_iter()
                    .flat_map(|job| job.join().expect("a compile worker panicked")),
            );
        });
        errors
    }

    /// Hex SHA-256 of the served state: for each served branch in name order, its name and
    /// served commit, then each served file's path and content in path order. Offsets, head
    /// files and the audit are left out, so a store rebuilt by a replay (from Kafka or from
    /// git) hashes as the live one does.
    pub fn hash(&self) -> Result<String, StoreError> {
        let _writes = self.lock()?;
        let mut served: BTreeMap<String, String> = BTreeMap::new();
        for item in self
            .db
            .iterator_cf(self.cf(CF_METADATA), IteratorMode::Start)
        {
            let (key, value) = item.map_err(|e| self.db_error(e))?;
            if let Some(branch) = key.strip_prefix(BRANCH_PREFIX) {
                let meta = decode_meta(&value)?;
                if let Some(commit) = meta.served {
                    served.insert(String::from_utf8_lossy(branch).into_owned(), commit);
                }
            }
        }
        let mut files: BTreeMap<(String, String), String> = BTreeMap::new();
        for cf in [CF_TOOLS, CF_WORKFLOWS, CF_CONFIGS] {
            for item in self.db.iterator_cf(self.cf(cf), IteratorMode::Start) {
                let (key, value) = item.map_err(|e| self.db_error(e))?;
                let (_, content) = decode_file(cf, &value)?;
                files.insert(split_file_key(cf, &key)?, content);
            }
        }
        let mut hasher = Sha256::new();
        let mut field = |tag: u8, bytes: &[u8]| {
            hasher.update([tag]);
            hasher.update((bytes.len() as u64).to_le_bytes());
            hasher.update(bytes);
        };
        for (branch, commit) in &served {
            field(b'b', branch.as_bytes());
            field(b'c', commit.as_bytes());
            let range = (branch.clone(), String::new())..;
            for ((b, path), content) in files.range(range) {
                if b != branch {
                    break;
                }
                field(b'p', path.as_bytes());
                field(b'f', content.as_bytes());
            }
        }
        Ok(to_hex(&hasher.finalize()))
    }

    /// What `tenant` sees, in definition order (tools, workflows, then configs), each with
    /// the branch and commit it comes from. A tenant without a served branch sees `main`.
    pub fn show(&self, tenant: &str) -> Result<Vec<ShowEntry>, StoreError> {
        let state = self.lock()?;
        let main = state.served_tenant(MAIN);
        let own = (tenant != MAIN)
            .then(|| state.served_tenant(tenant))
            .flatten();
        let entries = |branch: &str, served: Option<&Served>| -> Vec<ShowEntry> {
            let Some(served) = served else {
                return Vec::new();
            };
            served
                .files
                .iter()
                .filter_map(|(path, entry)| {
                    let (kind, name) = match entry.loaded.definition.as_ref()? {
                        DefinitionFile::Tool(t) => (EntryKind::Tool, t.name.clone()),
                        DefinitionFile::Workflow(w) => (EntryKind::Workflow, w.name.clone()),
                        DefinitionFile::Routing(_) => (EntryKind::Routing, "routing".into()),
                        DefinitionFile::Security(_) => (EntryKind::Security, "security".into()),
                        DefinitionFile::Language(_) => (EntryKind::Language, "language".into()),
                    };
                    Some(ShowEntry {
                        kind,
                        name,
                        path: path.clone(),
                        branch: branch.to_string(),
                        commit: entry.commit.clone(),
                    })
                })
                .collect()
        };
        let of = |list: &[ShowEntry], kind: EntryKind| -> Vec<ShowEntry> {
            list.iter().filter(|e| e.kind == kind).cloned().collect()
        };
        let base = entries(&state.layout.main, main);
        let mine = entries(&state.layout.tenant_branch(tenant), own);
        // The same rules as `overlay`: a tenant name replaces main's in place, hiding a main
        // definition of the other kind; configs replace main's as a whole.
        let mut tools = of(&base, EntryKind::Tool);
        let mut workflows = of(&base, EntryKind::Workflow);
        for tool in of(&mine, EntryKind::Tool) {
            workflows.retain(|w| w.name != tool.name);
            match tools.iter_mut().find(|t| t.name == tool.name) {
                Some(slot) => *slot = tool,
                None => tools.push(tool),
            }
        }
        for workflow in of(&mine, EntryKind::Workflow) {
            tools.retain(|t| t.name != workflow.name);
            match workflows.iter_mut().find(|w| w.name == workflow.name) {
                Some(slot) => *slot = workflow,
                None => workflows.push(workflow),
            }
        }
        let mut view = tools;
        view.extend(workflows);
        for kind in [EntryKind::Routing, EntryKind::Security] {
            let config = of(&mine, kind).into_iter().next();
            view.extend(config.or_else(|| of(&base, kind).into_iter().next()));
        }
        // A tenant's language file extends main's: both are in force.
        view.extend(of(&base, EntryKind::Language));
        view.extend(of(&mine, EntryKind::Language));
        Ok(view)
    }

    /// The newest `limit` audit records (applied, rejected and deleting events), newest
    /// first.
    pub fn audit(&self, limit: usize) -> Result<Vec<AuditRecord>, StoreError> {
        let mut records = Vec::new();
        for item in self
            .db
            .iterator_cf(self.cf(CF_AUDIT), IteratorMode::End)
            .take(limit)
        {
            let (_, value) = item.map_err(|e| self.db_error(e))?;
            let record = serde_json::from_slice(&value).map_err(|e| StoreError::Corrupt {
                cf: CF_AUDIT,
                what: e.to_string(),
            })?;
            records.push(record);
        }
        Ok(records)
    }

    /// Flushes memtables to disk (what a [`Durability::Replay`] store needs before it is
    /// trusted after the process ends).
    pub fn flush(&self) -> Result<(), StoreError> {
        for name in COLUMN_FAMILIES {
            self.db
                .flush_cf(self.cf(name))
                .map_err(|e| self.db_error(e))?;
        }
        Ok(())
    }

    /// The directory the store lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn lock(&self) -> Result<MutexGuard<'_, State>, StoreError> {
        let mut state = match self.state.lock() {
            Ok(state) => state,
            Err(poisoned) => {
                // A panic halfway through an apply: the mirror may be half-updated.
                let mut state = poisoned.into_inner();
                state.stale = true;
                self.state.clear_poison();
                state
            }
        };
        if state.stale {
            *state = self.load_state()?;
        }
        Ok(state)
    }

    fn cf(&self, name: &str) -> &ColumnFamily {
        self.db
            .cf_handle(name)
            .expect("every column family is opened")
    }

    fn db_error(&self, source: rocksdb::Error) -> StoreError {
        StoreError::Db {
            path: self.path.clone(),
            source,
        }
    }

    fn write(&self, pending: Pending) -> Result<(), StoreError> {
        if pending.writes.is_empty() {
            return Ok(());
        }
        let mut batch = WriteBatch::default();
        for ((cf, key), value) in pending.writes {
            match value {
                Some(value) => batch.put_cf(self.cf(cf), key, value),
                None => batch.delete_cf(self.cf(cf), key),
            }
        }
        let mut options = WriteOptions::default();
        options.set_sync(false);
        options.disable_wal(self.durability == Durability::Replay);
        self.db
            .write_opt(batch, &options)
            .map_err(|e| self.db_error(e))
    }

    /// Rebuilds the in-memory mirror from the column families.
    fn load_state(&self) -> Result<State, StoreError> {
        let mut state = State {
            layout: self.layout.clone(),
            ..State::default()
        };
        let mut metas: BTreeMap<String, BranchMeta> = BTreeMap::new();
        for item in self
            .db
            .iterator_cf(self.cf(CF_METADATA), IteratorMode::Start)
        {
            let (key, value) = item.map_err(|e| self.db_error(e))?;
            if let Some(partition) = key.strip_prefix(OFFSET_PREFIX) {
                let corrupt = || StoreError::Corrupt {
                    cf: CF_METADATA,
                    what: "offset record".into(),
                };
                let partition = i32::from_be_bytes(partition.try_into().map_err(|_| corrupt())?);
                let offset =
                    i64::from_be_bytes(<[u8; 8]>::try_from(&value[..]).map_err(|_| corrupt())?);
                state.offsets.insert(partition, offset);
            } else if let Some(branch) = key.strip_prefix(BRANCH_PREFIX) {
                metas.insert(
                    String::from_utf8_lossy(branch).into_owned(),
                    decode_meta(&value)?,
                );
            }
        }
        for item in self.db.iterator_cf(self.cf(CF_HEAD), IteratorMode::Start) {
            let (key, value) = item.map_err(|e| self.db_error(e))?;
            let (branch, path) = split_file_key(CF_HEAD, &key)?;
            let (commit, content) = decode_file(CF_HEAD, &value)?;
            let loaded = state.cache.load(&path, &content, None);
            let entry = FileEntry {
                content,
                commit,
                loaded,
            };
            let branch = state.branches.entry(branch).or_default();
            branch.insert_head(path, Arc::new(entry));
        }
        let mut served: HashMap<String, Files> = HashMap::new();
        for cf in [CF_TOOLS, CF_WORKFLOWS, CF_CONFIGS] {
            for item in self.db.iterator_cf(self.cf(cf), IteratorMode::Start) {
                let (key, value) = item.map_err(|e| self.db_error(e))?;
                let (branch, path) = split_file_key(cf, &key)?;
                let (commit, content) = decode_file(cf, &value)?;
                // Share the head's entry when the file is the same there.
                let head = state
                    .branches
                    .get(&branch)
                    .and_then(|b| b.head().get(&path))
                    .filter(|e| e.content == content && e.commit == commit)
                    .cloned();
                let entry = match head {
                    Some(entry) => entry,
                    None => {
                        let loaded = state.cache.load(&path, &content, None);
                        Arc::new(FileEntry {
                            content,
                            commit,
                            loaded,
                        })
                    }
                };
                served.entry(branch).or_default().insert(path, entry);
            }
        }
        for (name, meta) in metas {
            let branch = state.branches.entry(name.clone()).or_default();
            branch.head_commit = meta.head;
            branch.served = meta.served.map(|commit| Served {
                commit,
                files: served.remove(&name).unwrap_or_default(),
            });
        }
        if let Some(item) = self
            .db
            .iterator_cf(self.cf(CF_AUDIT), IteratorMode::End)
            .next()
        {
            let (key, _) = item.map_err(|e| self.db_error(e))?;
            let last = <[u8; 8]>::try_from(&key[..]).map_err(|_| StoreError::Corrupt {
                cf: CF_AUDIT,
                what: "audit key".into(),
            })?;
            state.audit_sequence = u64::from_be_bytes(last) + 1;
        }
        Ok(state)
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        if self.durability == Durability::Replay
            && let Err(error) = self.flush()
        {
            tracing::error!(%error, "flushing the replayed store failed");
        }
    }
}

fn decode_meta(value: &[u8]) -> Result<BranchMeta, StoreError> {
    serde_json::from_slice(value).map_err(|e| StoreError::Corrupt {
        cf: CF_METADATA,
        what: format!("branch record: {e}"),
    })
}

/// A served branch's files' parses in path order, and its served commit.
type ServedParses = (Vec<Arc<LoadedFile>>, String);

fn compile_failed(tenant: &str, diagnostics: Vec<Diagnostic>) -> StoreError {
    StoreError::Compile {
        tenant: tenant.to_string(),
        diagnostics,
    }
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The writes of one batch, by (column family, key): `None` deletes. A key written twice in
/// a batch is written once, with its last value.
#[derive(Default)]
struct Pending {
    writes: HashMap<(&'static str, Vec<u8>), Option<Vec<u8>>>,
}

impl Pending {
    fn put(&mut self, cf: &'static str, key: Vec<u8>, value: Vec<u8>) {
        self.writes.insert((cf, key), Some(value));
    }

    fn delete(&mut self, cf: &'static str, key: Vec<u8>) {
        self.writes.insert((cf, key), None);
    }
}

/// The in-memory mirror of the store (see `state`).
#[derive(Default)]
struct State {
    layout: BranchLayout,
    branches: BTreeMap<String, BranchState>,
    /// Last applied offset per partition.
    offsets: BTreeMap<i32, i64>,
    /// Key of the next audit record.
    audit_sequence: u64,
    cache: ParseCache,
    /// The mirror may differ from the disk (a failed write could not be undone): reload it.
    stale: bool,
}

impl State {
    fn served(&self, branch: &str) -> Option<&Served> {
        self.branches.get(branch)?.served.as_ref()
    }

    /// What `tenant`'s own branch serves (the main branch for [`MAIN`]).
    fn served_tenant(&self, tenant: &str) -> Option<&Served> {
        self.served(&self.layout.branch_of(tenant))
    }

    fn served_tenants(&self) -> Vec<String> {
        let mut tenants = vec![MAIN.to_string()];
        tenants.extend(
            self.branches
                .iter()
                .filter(|(_, b)| b.served.is_some())
                .filter_map(|(name, _)| self.layout.registry_tenant(name))
                .filter(|t| *t != MAIN)
                .map(String::from),
        );
        tenants
    }

    fn apply(
        &mut self,
        event: &CommitEvent,
        position: Option<(i32, i64)>,
        pending: &mut Pending,
        dirty: &mut BTreeSet<String>,
        batch: Option<&BatchParses<'_>>,
    ) -> ApplyOutcome {
        if let Some((partition, offset)) = position {
            if self
                .offsets
                .get(&partition)
                .is_some_and(|&done| offset <= done)
            {
                return ApplyOutcome::AlreadyApplied { partition, offset };
            }
            self.offsets.insert(partition, offset);
            pending.put(
                CF_METADATA,
                offset_key(partition),
                offset.to_be_bytes().to_vec(),
            );
        }
        let layout = self.layout.clone();
        let Some(tenant) = layout.registry_tenant(&event.branch) else {
            return ApplyOutcome::Ignored {
                branch: event.branch.clone(),
            };
        };
        dirty.insert(event.branch.clone());
        let outcome = match event.kind {
            CommitEventKind::BranchDeleted => self.delete_branch(event, tenant, pending),
            CommitEventKind::Commit | CommitEventKind::ForcePush => {
                self.apply_commit(event, tenant, pending, batch)
            }
        };
        self.record(event, position, &outcome, pending);
        outcome
    }

    /// Writes the audit record of an applied, rejected or deleting event.
    fn record(
        &mut self,
        event: &CommitEvent,
        position: Option<(i32, i64)>,
        outcome: &ApplyOutcome,
        pending: &mut Pending,
    ) {
        let (result, reason) = match outcome {
            ApplyOutcome::Applied { .. } => (AuditResult::Applied, String::new()),
            ApplyOutcome::Deleted { .. } => (AuditResult::Deleted, String::new()),
            ApplyOutcome::Rejected { rejection, .. } => {
                (AuditResult::Rejected, rejection.to_string())
            }
            ApplyOutcome::AlreadyApplied { .. } | ApplyOutcome::Ignored { .. } => return,
        };
        let record = AuditRecord {
            sequence: self.audit_sequence,
            branch: event.branch.clone(),
            commit: event.commit_id.clone(),
            kind: event.kind,
            author: event.author.clone(),
            committer: event.committer.clone(),
            time: event.time,
            partition: position.map(|p| p.0),
            offset: position.map(|p| p.1),
            paths: event.changes.iter().map(|c| c.path.clone()).collect(),
            result,
            reason,
        };
        pending.put(
            CF_AUDIT,
            self.audit_sequence.to_be_bytes().to_vec(),
            serde_json::to_vec(&record).expect("audit records serialize"),
        );
        self.audit_sequence += 1;
    }

    fn tenants_affected(&self, tenant: &str) -> Vec<String> {
        if tenant == MAIN {
            self.served_tenants()
        } else {
            vec![tenant.to_string()]
        }
    }

    fn delete_branch(
        &mut self,
        event: &CommitEvent,
        tenant: &str,
        pending: &mut Pending,
    ) -> ApplyOutcome {
        let name = event.branch.as_str();
        // Every tenant served before the deletion, when `main` goes.
        let tenants_affected = self.tenants_affected(tenant);
        if let Some(branch) = self.branches.remove(name) {
            for path in branch.head().keys() {
                pending.delete(CF_HEAD, file_key(name, path));
            }
            for path in branch.served.iter().flat_map(|s| s.files.keys()) {
                if let Some(cf) = served_cf(path) {
                    pending.delete(cf, file_key(name, path));
                }
            }
        }
        ApplyOutcome::Deleted {
            branch: name.to_string(),
            tenants_affected,
        }
    }

    fn apply_commit(
        &mut self,
        event: &CommitEvent,
        tenant: &str,
        pending: &mut Pending,
        batch: Option<&BatchParses<'_>>,
    ) -> ApplyOutcome {
        let name = event.branch.as_str();
        let is_main = tenant == MAIN;
        let mut branch = self.branches.remove(name).unwrap_or_default();
        if event.kind == CommitEventKind::Commit
            && !branch.head_commit.is_empty()
            && event.parent.as_deref() != Some(branch.head_commit.as_str())
        {
            tracing::debug!(
                branch = name,
                commit = %event.commit_id,
                parent = ?event.parent,
                head = %branch.head_commit,
                "commit does not follow the last one seen; applying its changes anyway"
            );
        }

        // The head moves whatever the verdict: later commits apply to the files seen last.
        let mut touched: Vec<String> = Vec::new();
        if event.kind == CommitEventKind::ForcePush {
            let incoming: HashSet<&str> = event
                .changes
                .iter()
                .filter(|c| c.content.is_some())
                .map(|c| c.path.as_str())
                .collect();
            let gone: Vec<String> = branch
                .head()
                .keys()
                .filter(|p| !incoming.contains(p.as_str()))
                .cloned()
                .collect();
            for path in gone {
                branch.remove_head(&path);
                touched.push(path);
            }
        }
        for change in &event.changes {
            if !CommitEvent::is_definition_path(&change.path) {
                continue;
            }
            match &change.content {
                Some(content) => {
                    let unchanged = branch
                        .head()
                        .get(&change.path)
                        .is_some_and(|e| e.content == *content);
                    if unchanged {
                        continue;
                    }
                    let loaded = self.cache.load(&change.path, content, batch);
                    let entry = FileEntry {
                        content: content.clone(),
                        commit: event.commit_id.clone(),
                        loaded,
                    };
                    branch.insert_head(change.path.clone(), Arc::new(entry));
                    touched.push(change.path.clone());
                }
                None => {
                    if branch.remove_head(&change.path).is_some() {
                        touched.push(change.path.clone());
                    }
                }
            }
        }
        branch.head_commit = event.commit_id.clone();
        for path in &touched {
            let key = file_key(name, path);
            match branch.head().get(path) {
                Some(entry) => {
                    pending.put(CF_HEAD, key, encode_file(&entry.commit, &entry.content))
                }
                None => pending.delete(CF_HEAD, key),
            }
        }

        let main_served = self.served_tenant(MAIN).map(|s| &s.files);
        let policy = branch
            .served
            .as_ref()
            .and_then(|s| signing_of(&s.files))
            .or_else(|| main_served.filter(|_| !is_main).and_then(signing_of))
            .or_else(|| signing_of(branch.head()))
            .cloned()
            .unwrap_or_default();
        let rejection = match check_signature(&policy, event) {
            Err(reason) => Some(Rejection::Signature(reason)),
            Ok(()) => {
                let base = (!is_main).then(|| main_served.unwrap_or(&NO_FILES));
                // Most commits leave their branch valid, which the head's summary shows
                // without visiting every file; otherwise the full check decides, and says why.
                let main = (!is_main).then(|| self.branches.get(self.layout.main.as_str()));
                if valid_quickly(&branch, main) {
                    debug_assert_eq!(validate(branch.head(), base), Vec::new());
                    None
                } else {
                    let diagnostics = validate(branch.head(), base);
                    (!diagnostics.is_empty()).then_some(Rejection::Invalid(diagnostics))
                }
            }
        };

        let outcome = match rejection {
            None => {
                serve_head(name, &mut branch, &event.commit_id, &touched, pending);
                ApplyOutcome::Applied {
                    branch: name.to_string(),
                    commit: event.commit_id.clone(),
                    tenants_affected: Vec::new(),
                }
            }
            Some(rejection) => {
                branch.in_sync = false;
                ApplyOutcome::Rejected {
                    branch: name.to_string(),
                    commit: event.commit_id.clone(),
                    rejection,
                }
            }
        };
        self.branches.insert(name.to_string(), branch);
        match outcome {
            ApplyOutcome::Applied { branch, commit, .. } => ApplyOutcome::Applied {
                branch,
                commit,
                tenants_affected: self.tenants_affected(tenant),
            },
            other => other,
        }
    }
}

/// Makes the branch's head its served state, writing the served files that differ.
fn serve_head(
    name: &str,
    branch: &mut BranchState,
    commit: &str,
    touched: &[String],
    pending: &mut Pending,
) {
    let old = branch.served.take();
    let (candidates, mut files): (Vec<String>, Files) = match old {
        Some(served) if branch.in_sync => (touched.to_vec(), served.files),
        Some(served) => {
            let mut all: BTreeSet<String> = served.files.keys().cloned().collect();
            all.extend(branch.head().keys().cloned());
            (all.into_iter().collect(), served.files)
        }
        None => (branch.head().keys().cloned().collect(), Files::new()),
    };
    for path in candidates {
        let Some(cf) = served_cf(&path) else {
            continue;
        };
        let key = file_key(name, &path);
        match branch.head().get(&path) {
            Some(new) => {
                let same = files.get(&path).is_some_and(|old| {
                    Arc::ptr_eq(old, new)
                        || (old.content == new.content && old.commit == new.commit)
                });
                if !same {
                    pending.put(cf, key, encode_file(&new.commit, &new.content));
                    files.insert(path, Arc::clone(new));
                }
            }
            None => {
                if files.remove(&path).is_some() {
                    pending.delete(cf, key);
                }
            }
        }
    }
    branch.served = Some(Served {
        commit: commit.to_string(),
        files,
    });
    branch.in_sync = true;
}
