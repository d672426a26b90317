//! Noticing that a branch of the config repository may have moved.
//!
//! [`RefWatcher`] watches `.git/refs/heads` (recursively), `.git/packed-refs` and `.git/HEAD`
//! with notify (inotify on Linux) and wakes its caller as soon as one of them changes: there
//! is no debounce delay, because the hot-reload budget (commit to served, p99 ≤ 50 ms) leaves
//! none. A burst of events (git writes a lock file, renames it, writes the reflog) is
//! coalesced into one wake-up. A slow poll of the same files backs inotify up, and replaces it
//! when a notify watcher cannot be created.
//!
//! A wake-up only says "may have changed": the caller then asks
//! [`ConfigRepo::pending_events`](crate::ConfigRepo::pending_events), which is cheap when
//! nothing did.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant, SystemTime};

use notify::{EventKind, RecursiveMode, Watcher};

use crate::GitError;

/// How often the files are polled when inotify is not available, and as a safety net.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(2);

/// How a [`RefWatcher`] watches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchOptions {
    /// Interval of the polling fallback and safety net.
    pub poll_interval: Duration,
    /// Use notify (inotify); `false` polls only.
    pub use_notify: bool,
}

impl Default for WatchOptions {
    fn default() -> Self {
        WatchOptions {
            poll_interval: DEFAULT_POLL_INTERVAL,
            use_notify: true,
        }
    }
}

/// Set by the notify callback, taken by [`RefWatcher::wait`].
#[derive(Default)]
struct Signal {
    changed: Mutex<bool>,
    wake: Condvar,
}

impl Signal {
    fn raise(&self) {
        *self.changed.lock().unwrap_or_else(|e| e.into_inner()) = true;
        self.wake.notify_all();
    }
}

/// Watches the branch refs of one repository; see the module docs.
///
/// ```no_run
/// # use std::{collections::BTreeMap, path::Path, time::Duration};
/// # use volcano_gitops::{BranchLayout, ConfigRepo, RefWatcher, mark_published};
/// let repo = ConfigRepo::open(Path::new("config-repo"), BranchLayout::default())?;
/// let mut watcher = RefWatcher::new(Path::new("config-repo"))?;
/// let mut published = BTreeMap::new();
/// loop {
///     for event in repo.pending_events(&published)? {
///         // produce `event` to volcano.commits, then:
///         mark_published(&mut published, &event);
///     }
///     watcher.wait(Duration::from_secs(1));
/// }
/// # Ok::<(), volcano_gitops::GitError>(())
/// ```
pub struct RefWatcher {
    git_dir: PathBuf,
    signal: Arc<Signal>,
    /// Kept alive for its inotify watches; `None` when polling only.
    notify: Option<notify::RecommendedWatcher>,
    poll_interval: Duration,
    next_poll: Instant,
    fingerprint: Vec<RefFileState>,
}

impl std::fmt::Debug for RefWatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RefWatcher")
            .field("git_dir", &self.git_dir)
            .field("notify", &self.notify.is_some())
            .field("poll_interval", &self.poll_interval)
            .finish()
    }
}

/// What the poll compares: a ref file's path, size, modification time and inode.
#[derive(Debug, Clone, PartialEq, Eq)]
struct RefFileState {
    path: PathBuf,
    len: u64,
    modified: Option<SystemTime>,
    inode: u64,
}

impl RefWatcher {
    /// Watches the repository at `repo` (work tree or git directory) with default options.
    pub fn new(repo: &Path) -> Result<Self, GitError> {
        Self::with_options(repo, &WatchOptions::default())
    }

    /// Watches the repository at `repo` as `options` say. Fails only when `repo` is not a
    /// git repository; a notify watcher that cannot be created leaves polling on its own.
    pub fn with_options(repo: &Path, options: &WatchOptions) -> Result<Self, GitError> {
        let git_dir = gix::open_opts(repo, gix::open::Options::isolated())
            .map_err(|source| GitError::Open {
                path: repo.to_path_buf(),
                source,
            })?
            .common_dir()
            .to_path_buf();
        let git_dir = git_dir.canonicalize().unwrap_or(git_dir);
        let signal = Arc::new(Signal::default());
        let notify = if options.use_notify {
            match start_notify(&git_dir, signal.clone()) {
                Ok(watcher) => Some(watcher),
                Err(e) => {
                    tracing::warn!(git_dir = %git_dir.display(), error = %e, poll_interval = ?options.poll_interval, "cannot watch the config repository with inotify; polling instead");
                    None
                }
            }
        } else {
            None
        };
        let fingerprint = fingerprint(&git_dir);
        Ok(RefWatcher {
            git_dir,
            signal,
            notify,
            poll_interval: options.poll_interval,
            next_poll: Instant::now() + options.poll_interval,
            fingerprint,
        })
    }

    /// Whether inotify is watching (otherwise only the poll notices changes).
    pub fn is_notify_active(&self) -> bool {
        self.notify.is_some()
    }

    /// The git directory being watched.
    pub fn git_dir(&self) -> &Path {
        &self.git_dir
    }

    /// Blocks until a branch ref may have changed (`true`) or `timeout` passed (`false`).
    ///
    /// Returns as soon as the first change is seen; every change seen before that is taken
    /// with it. A change that lands while the caller is busy makes the next call return at
    /// once, so nothing is lost between a wake-up and the caller's
    /// [`pending_events`](crate::ConfigRepo::pending_events).
    pub fn wait(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if self.take_notified() {
                self.fingerprint = fingerprint(&self.git_dir);
                self.next_poll = Instant::now() + self.poll_interval;
                return true;
            }
            let now = Instant::now();
            if now >= self.next_poll {
                self.next_poll = now + self.poll_interval;
                let current = fingerprint(&self.git_dir);
                if current != self.fingerprint {
                    self.fingerprint = current;
                    return true;
                }
            }
            if now >= deadline {
                return false;
            }
            let until = deadline.min(self.next_poll);
            let changed = self
                .signal
                .changed
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            if !*changed {
                let _ = self
                    .signal
                    .wake
                    .wait_timeout(changed, until.saturating_duration_since(now));
            }
        }
    }

    fn take_notified(&self) -> bool {
        let mut changed = self
            .signal
            .changed
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        std::mem::take(&mut *changed)
    }
}

/// Starts inotify on `refs/heads` (recursively) and on the git directory itself (for `HEAD`
/// and `packed-refs`, which git replaces by renaming, so their own inode cannot be watched).
fn start_notify(git_dir: &Path, signal: Arc<Signal>) -> notify::Result<notify::RecommendedWatcher> {
    let top = git_dir.to_path_buf();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        match event {
            Ok(event) if is_ref_change(&top, &event) => signal.raise(),
            Ok(_) => {}
            Err(e) => {
                // A lost or overflowed event queue: assume something changed.
                tracing::warn!(error = %e, "ref watcher event error");
                signal.raise();
            }
        }
    })?;
    watcher.watch(
        &git_dir.join("refs").join("heads"),
        RecursiveMode::Recursive,
    )?;
    watcher.watch(git_dir, RecursiveMode::NonRecursive)?;
    Ok(watcher)
}

/// Whether a notify event may have moved a branch: a write, creation, removal or rename of a
/// ref file (not of its `.lock`), or of `HEAD` or `packed-refs`. Opening and reading files
/// (which pending_events itself does) is not a change.
fn is_ref_change(git_dir: &Path, event: &notify::Event) -> bool {
    if matches!(event.kind, EventKind::Access(_)) {
        return false;
    }
    event.paths.iter().any(|path| {
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            return false;
        };
        if path.parent() == Some(git_dir) {
            name == "HEAD" || name == "packed-refs"
        } else {
            !name.ends_with(".lock")
        }
    })
}

/// The state of every file the watcher covers, in a stable order.
fn fingerprint(git_dir: &Path) -> Vec<RefFileState> {
    let mut states = Vec::new();
    for name in ["HEAD", "packed-refs"] {
        push_state(&git_dir.join(name), &mut states);
    }
    let mut dirs = vec![git_dir.join("refs").join("heads")];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            match entry.file_type() {
                Ok(kind) if kind.is_dir() => dirs.push(path),
                Ok(_) if !path.to_string_lossy().ends_with(".lock") => {
                    push_state(&path, &mut states)
                }
                _ => {}
            }
        }
    }
    states.sort_by(|a, b| a.path.cmp(&b.path));
    states
}

fn push_state(path: &Path, states: &mut Vec<RefFileState>) {
    if let Ok(metadata) = std::fs::metadata(path) {
        states.push(RefFileState {
            path: path.to_path_buf(),
            len: metadata.len(),
            modified: metadata.modified().ok(),
            inode: inode(&metadata),
        });
    }
}

#[cfg(unix)]
fn inode(metadata: &std::fs::Metadata) -> u64 {
    std::os::unix::fs::MetadataExt::ino(metadata)
}

#[cfg(not(unix))]
fn inode(_: &std::fs::Metadata) -> u64 {
    0
}

#[cfg(test)]
mod tests {
    use super::*;
    use notify::event::{AccessKind, CreateKind, ModifyKind, RenameMode};

    fn event(kind: EventKind, paths: &[&str]) -> notify::Event {
        let mut event = notify::Event::new(kind);
        event.paths = paths.iter().map(PathBuf::from).collect();
        event
    }

    #[test]
    fn only_ref_changes_wake() {
        let git = Path::new("/r/.git");
        let rename = EventKind::Modify(ModifyKind::Name(RenameMode::Both));
        let create = EventKind::Create(CreateKind::File);
        let read = EventKind::Access(AccessKind::Any);
        assert!(is_ref_change(
            git,
            &event(
                rename,
                &["/r/.git/refs/heads/main.lock", "/r/.git/refs/heads/main"]
            )
        ));
        assert!(is_ref_change(
            git,
            &event(create, &["/r/.git/refs/heads/customer"])
        ));
        assert!(is_ref_change(git, &event(rename, &["/r/.git/packed-refs"])));
        assert!(is_ref_change(git, &event(rename, &["/r/.git/HEAD"])));
        assert!(!is_ref_change(
            git,
            &event(create, &["/r/.git/refs/heads/main.lock"])
        ));
        assert!(!is_ref_change(git, &event(create, &["/r/.git/index.lock"])));
        assert!(!is_ref_change(git, &event(rename, &["/r/.git/index"])));
        assert!(!is_ref_change(
            git,
            &event(read, &["/r/.git/refs/heads/main"])
        ));
    }
}
