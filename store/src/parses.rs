//! Parsing the definition files commits bring, the largest cost of an apply.
//!
//! A file's parse and own checks (`load_file`) depend on nothing but its path and content, so
//! results are cached by both ([`ParseCache`]), and a batch's files can be parsed on other
//! threads while the batch is applied in order ([`BatchParses`]): the apply takes each parse
//! as it comes to it, and parses the next files itself when it catches up with the workers.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use sha2::{Digest, Sha256};
use volcano_pipeline::registry::{LoadedFile, load_file};

/// Parse results by SHA-256 of `path \0 content`; cleared when it grows past its bound.
#[derive(Debug, Default)]
pub struct ParseCache {
    entries: HashMap<[u8; 32], Arc<LoadedFile>>,
}

/// Most parse results kept; a replay of a long history touches far more distinct contents,
/// and only recent ones (reverts, force pushes of the same tree) tend to recur.
const PARSE_CACHE_ENTRIES: usize = 1 << 16;

/// Fewest files worth starting threads for.
const PARALLEL_FILES: usize = 64;

fn cache_key(path: &str, content: &str) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(path.as_bytes());
    hasher.update([0]);
    hasher.update(content.as_bytes());
    hasher.finalize().into()
}

impl ParseCache {
    /// The parse of `path` with `content`: from the cache, else from `batch` (waiting for
    /// it, or helping with it), else made here; cached in every case.
    pub fn load(
        &mut self,
        path: &str,
        content: &str,
        batch: Option<&BatchParses<'_>>,
    ) -> Arc<LoadedFile> {
        let key = cache_key(path, content);
        if let Some(loaded) = self.entries.get(&key) {
            return Arc::clone(loaded);
        }
        let loaded = batch
            .and_then(|b| b.take(&key))
            .unwrap_or_else(|| Arc::new(load_file(path, content)));
        if self.entries.len() >= PARSE_CACHE_ENTRIES {
            self.entries.clear();
        }
        self.entries.insert(key, Arc::clone(&loaded));
        loaded
    }

    /// The files of a batch (path, content, in the order the batch will ask for them) that
    /// are not cached, to parse on every core; `None` when they are too few to be worth the
    /// threads, or there is one core.
    pub fn batch<'a>(
        &self,
        files: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Option<BatchParses<'a>> {
        let mut index = HashMap::new();
        let mut files_todo = Vec::new();
        let mut seen = HashSet::new();
        for (path, content) in files {
            let key = cache_key(path, content);
            if self.entries.contains_key(&key) || !seen.insert(key) {
                continue;
            }
            // Results wait in the batch until applied: bound what a huge batch holds.
            if files_todo.len() == PARSE_CACHE_ENTRIES / 2 {
                break;
            }
            index.insert(key, files_todo.len());
            files_todo.push((path, content));
        }
        if files_todo.len() < PARALLEL_FILES {
            return None;
        }
        // Asked only now: it reads the cgroup's CPU quota, too slow for every live apply.
        let workers = std::thread::available_parallelism().map_or(1, |n| n.get()) - 1;
        (workers > 0).then(|| BatchParses {
            slots: files_todo.iter().map(|_| OnceLock::new()).collect(),
            files: files_todo,
            index,
            next: AtomicUsize::new(0),
            workers,
        })
    }
}

/// A batch's files, parsed in order by worker threads and by the applying thread.
///
/// Files are claimed in order through `next`; a file is parsed by whoever initializes its
/// slot first, so one claimed by a worker that has not started yet (or that panicked) is
/// simply parsed by the thread that needs it.
pub struct BatchParses<'a> {
    files: Vec<(&'a str, &'a str)>,
    index: HashMap<[u8; 32], usize>,
    slots: Vec<OnceLock<Arc<LoadedFile>>>,
    /// The first file no thread has claimed.
    next: AtomicUsize,
    workers: usize,
}

impl BatchParses<'_> {
    /// Runs `apply` on this thread while worker threads parse the files; a worker's panic is
    /// raised again here.
    pub fn run<R>(&self, apply: impl FnOnce() -> R) -> R {
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..self.workers)
                .map(|_| {
                    scope.spawn(|| {
                        while let Some(i) = self.claim() {
                            self.parse(i);
                        }
                    })
                })
                .collect();
            let result = apply();
            // What is left was not asked for (unchanged files, events already applied).
            self.next.fetch_max(self.files.len(), Ordering::AcqRel);
            for handle in handles {
                if let Err(panic) = handle.join() {
                    std::panic::resume_unwind(panic);
                }
            }
            result
        })
    }

    /// The parse of the file with cache key `key`, if it is one of the batch's. While that
    /// file is not parsed yet this thread parses the next unclaimed file (it or a later one:
    /// work the batch needs anyway) rather than wait for a worker; it blocks only once every
    /// file is claimed, so the applying thread and the workers never take turns sleeping.
    fn take(&self, key: &[u8; 32]) -> Option<Arc<LoadedFile>> {
        let &wanted = self.index.get(key)?;
        while self.slots[wanted].get().is_none() {
            match self.claim() {
                Some(i) => {
                    self.parse(i);
                }
                // All claimed: the wanted file is a worker's (or was never started, and is
                // parsed below).
                None => break,
            }
        }
        Some(Arc::clone(self.parse(wanted)))
    }

    /// Claims the next file, if one is left.
    fn claim(&self) -> Option<usize> {
        self.next
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |i| {
                (i < self.files.len()).then_some(i + 1)
            })
            .ok()
    }

    fn parse(&self, i: usize) -> &Arc<LoadedFile> {
        let (path, content) = self.files[i];
        self.slots[i].get_or_init(|| Arc::new(load_file(path, content)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tool(i: usize) -> (String, String) {
        (
            format!("tools/t{i}.yaml"),
            format!(
                "version: 1\nname: t{i}\npatterns: ['\\bt{i}\\b']\ntool:\n  kind: template\n  \
                 template: \"{i}\"\n"
            ),
        )
    }

    #[test]
    fn a_batch_gives_what_parsing_one_by_one_gives() {
        let mut files: Vec<(String, String)> = (0..200).map(tool).collect();
        // A repeat (parsed once) and a broken file.
        files.push(tool(3));
        files.push(("tools/bad.yaml".into(), "version: 1\nname: [\n".into()));
        let refs = files.iter().map(|(p, c)| (p.as_str(), c.as_str()));
        let mut cache = ParseCache::default();
        if std::thread::available_parallelism().map_or(1, |n| n.get()) < 2 {
            assert!(cache.batch(refs).is_none());
            return;
        }
        let batch = cache.batch(refs).expect("enough files for threads");
        assert_eq!(batch.files.len(), 201);
        // Asked for out of order, from the end: the applying thread helps and waits.
        let loaded: Vec<Arc<LoadedFile>> = batch.run(|| {
            files
                .iter()
                .rev()
                .map(|(p, c)| cache.load(p, c, Some(&batch)))
                .collect()
        });
        for ((path, content), loaded) in files.iter().rev().zip(&loaded) {
            assert_eq!(**loaded, load_file(path, content), "{path}");
        }
        assert!(!loaded[0].diagnostics.is_empty());
        // Now cached: a second batch of the same files has nothing to do.
        assert!(
            cache
                .batch(files.iter().map(|(p, c)| (p.as_str(), c.as_str())))
                .is_none()
        );
    }
}
