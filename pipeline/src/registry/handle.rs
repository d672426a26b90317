//! The live registry: the newest compiled registry of each tenant, swapped atomically.
//!
//! The registry materializer stores a freshly compiled registry when a commit has been
//! validated; requests `load` a snapshot and use it to the end, so a swap never changes a
//! request half-way. Loads take no lock: the tenant table is itself an immutable snapshot,
//! replaced as a whole on the (rare) store.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arc_swap::ArcSwap;

use super::compiled::CompiledRegistry;

/// Tenant name of the `main` branch, which every other tenant falls back to.
use super::MAIN_TENANT as MAIN;

type Tenants = HashMap<String, Arc<CompiledRegistry>>;

/// The newest compiled registry per tenant; cheap to share between threads. Clones share one
/// registry: a swap through any of them is seen by all (the materializer swaps, the fast path
/// reads).
#[derive(Clone)]
pub struct RegistryHandle {
    tenants: Arc<ArcSwap<Tenants>>,
    /// Bumped after every swap, so a reader that derives something from the whole table (the
    /// ingress's API keys) can tell cheaply whether it is stale.
    generation: Arc<AtomicU64>,
}

impl RegistryHandle {
    /// A handle serving `main` for every tenant until tenants' registries are stored.
    pub fn new(main: Arc<CompiledRegistry>) -> Self {
        let mut tenants = Tenants::new();
        tenants.insert(MAIN.to_string(), main);
        RegistryHandle {
            tenants: Arc::new(ArcSwap::from_pointee(tenants)),
            generation: Arc::new(AtomicU64::new(0)),
        }
    }

    /// The registry `tenant` sees now: its own, or `main`'s when it has none.
    pub fn load(&self, tenant: &str) -> Arc<CompiledRegistry> {
        let tenants = self.tenants.load();
        match tenants.get(tenant) {
            Some(registry) => Arc::clone(registry),
            // `new` stores main and `remove` never removes it.
            None => Arc::clone(&tenants[MAIN]),
        }
    }

    /// `tenant`'s own registry, with no fallback to `main`.
    pub fn get(&self, tenant: &str) -> Option<Arc<CompiledRegistry>> {
        self.tenants.load().get(tenant).cloned()
    }

    /// Makes `registry` the one `tenant` sees from the next `load` on.
    ///
    /// When `main` changes, every tenant's overlay must be recompiled and stored too: a
    /// tenant's registry includes `main`'s definitions as of its compilation.
    pub fn store(&self, tenant: &str, registry: Arc<CompiledRegistry>) {
        self.tenants.rcu(|current| {
            let mut next = Tenants::clone(current);
            next.insert(tenant.to_string(), Arc::clone(&registry));
            next
        });
        self.generation.fetch_add(1, Ordering::Release);
    }

    /// Changes after every [`Self::store`] and [`Self::remove`].
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Forgets a tenant's own registry (its branch was deleted); it falls back to `main`.
    pub fn remove(&self, tenant: &str) {
        if tenant == MAIN {
            return;
        }
        self.tenants.rcu(|current| {
            let mut next = Tenants::clone(current);
            next.remove(tenant);
            next
        });
        self.generation.fetch_add(1, Ordering::Release);
    }

    /// Tenants that have a registry of their own, `main` included, sorted.
    pub fn tenants(&self) -> Vec<String> {
        let mut names: Vec<String> = self.tenants.load().keys().cloned().collect();
        names.sort();
        names
    }
}
