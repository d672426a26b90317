//! API keys: who is calling, and for which tenant.
//!
//! Keys live in each branch's `configs/security.yaml` as SHA-256 hashes, so the ingress
//! hashes the presented key and looks the hash up. The table is derived from the live
//! registry and rebuilt when the registry swaps (a commit that adds or revokes a key takes
//! effect with no restart). A key belongs to the branch whose own file lists it: a tenant
//! without its own `security.yaml` inherits main's file through the overlay, and those keys
//! stay main's. A hash listed by two branches serves neither (it would be ambiguous which
//! tenant's data it may see); the rebuild logs it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use sha2::{Digest, Sha256};
use tracing::warn;
use volcano_pipeline::registry::{MAIN_TENANT, RegistryHandle};

use super::error::ApiError;

/// The caller of one API request, as its key identifies it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub tenant: String,
    /// The key's `id` from security.yaml: what logs and metrics name, never the key.
    pub key_id: String,
}

type Table = HashMap<[u8; 32], Caller>;

/// The accepted keys of every tenant, kept in step with the registry.
pub struct KeyRing {
    registry: RegistryHandle,
    cached: Mutex<(u64, Arc<Table>)>,
}

impl KeyRing {
    pub fn new(registry: RegistryHandle) -> Self {
        let table = Arc::new(build(&registry));
        let generation = registry.generation();
        KeyRing {
            registry,
            cached: Mutex::new((generation, table)),
        }
    }

    /// The caller the request's key identifies, or 401.
    pub fn authenticate(&self, headers: &HeaderMap) -> Result<Caller, ApiError> {
        let key = presented_key(headers).ok_or(ApiError::Unauthorized)?;
        let digest: [u8; 32] = Sha256::digest(key.as_bytes()).into();
        self.table()
            .get(&digest)
            .cloned()
            .ok_or(ApiError::Unauthorized)
    }

    fn table(&self) -> Arc<Table> {
        let now = self.registry.generation();
        let mut cached = self.cached.lock().unwrap_or_else(|p| p.into_inner());
        if cached.0 != now {
            *cached = (now, Arc::new(build(&self.registry)));
        }
        Arc::clone(&cached.1)
    }
}

/// The keys that are still the example repository's (`volcano-example-<id>`, printed in the
/// README): whoever reads the README can use them.
pub fn example_keys(registry: &RegistryHandle) -> Vec<Caller> {
    let mut found: Vec<Caller> = build(registry)
        .into_iter()
        .filter(|(digest, caller)| {
            let example: [u8; 32] =
                Sha256::digest(format!("volcano-example-{}", caller.key_id).as_bytes()).into();
            *digest == example
        })
        .map(|(_, caller)| caller)
        .collect();
    found.sort_by(|a, b| (&a.tenant, &a.key_id).cmp(&(&b.tenant, &b.key_id)));
    found
}

/// `Authorization: Bearer <key>` or `X-API-Key: <key>`.
fn presented_key(headers: &HeaderMap) -> Option<&str> {
    if let Some(value) = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        let (scheme, key) = value.trim().split_once(' ')?;
        return scheme
            .eq_ignore_ascii_case("bearer")
            .then_some(key.trim())
            .filter(|k| !k.is_empty());
    }
    headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|k| !k.is_empty())
}

fn build(registry: &RegistryHandle) -> Table {
    let main = registry.load(MAIN_TENANT);
    let mut table = Table::new();
    let mut ambiguous = Vec::new();
    for tenant in registry.tenants() {
        let Some(compiled) = registry.get(&tenant) else {
            continue;
        };
        if tenant != MAIN_TENANT && compiled.security == main.security {
            continue; // inherited from main through the overlay
        }
        for key in &compiled.security.api_keys {
            let Some(digest) = parse_digest(&key.sha256) else {
                continue; // validation rejects such a commit; never reached in practice
            };
            let caller = Caller {
                tenant: tenant.clone(),
                key_id: key.id.clone(),
            };
            if let Some(other) = table.insert(digest, caller)
                && other.tenant != tenant
            {
                ambiguous.push((digest, other.tenant, tenant.clone()));
            }
        }
    }
    for (digest, first, second) in ambiguous {
        warn!(
            first,
            second, "an API key hash is listed by two branches; it is refused for both"
        );
        table.remove(&digest);
    }
    table
}

fn parse_digest(hex: &str) -> Option<[u8; 32]> {
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn bearer_and_x_api_key_are_read_and_other_schemes_are_not() {
        let mut h = HeaderMap::new();
        h.insert(AUTHORIZATION, HeaderValue::from_static("Bearer abc"));
        assert_eq!(presented_key(&h), Some("abc"));
        h.insert(AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert_eq!(presented_key(&h), None);
        let mut h = HeaderMap::new();
        h.insert("x-api-key", HeaderValue::from_static(" k "));
        assert_eq!(presented_key(&h), Some("k"));
        assert_eq!(presented_key(&HeaderMap::new()), None);
    }

    fn bearer(key: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            AUTHORIZATION,
            HeaderValue::from_str(&format!("Bearer {key}")).unwrap(),
        );
        h
    }

    #[test]
    fn each_example_key_names_its_own_tenant_and_inherited_keys_stay_mains() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../repos");
        let registry =
            crate::registry_files::load_registry(&root, &Default::default()).expect("examples");
        // A tenant with no security.yaml of its own sees main's through the overlay.
        registry.store("initech", registry.load(MAIN_TENANT));
        let keys = KeyRing::new(registry);
        for (key, tenant, id) in [
            ("volcano-example-main-ingress", "main", "main-ingress"),
            ("volcano-example-load-test", "main", "load-test"),
            ("volcano-example-acme-prod", "acme-corp", "acme-prod"),
            ("volcano-example-acme-ci", "acme-corp", "acme-ci"),
            ("volcano-example-globex-prod", "globex-inc", "globex-prod"),
        ] {
            let caller = keys.authenticate(&bearer(key)).expect(key);
            assert_eq!(
                (caller.tenant.as_str(), caller.key_id.as_str()),
                (tenant, id)
            );
        }
        assert!(matches!(
            keys.authenticate(&bearer("volcano-example-nobody")),
            Err(ApiError::Unauthorized)
        ));
    }

    #[test]
    fn digests_parse_from_lowercase_hex_only_at_full_length() {
        let hex = "ef2293cfb528e08dca6b96ff707a36beb1065320757acb9052ce24b6fe53b90e";
        assert_eq!(parse_digest(hex).unwrap()[0], 0xef);
        assert!(parse_digest(&hex[..62]).is_none());
        assert!(parse_digest(&hex.replace('e', "g")).is_none());
    }
}
