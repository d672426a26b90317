//! The typed shapes of `configs/routing.yaml` and `configs/security.yaml` (format version 1).
//!
//! Every field but `version` has a default fit for the embedded stack, so a branch may leave a
//! file out, or set only what it changes. A tenant's file replaces `main`'s as a whole.

use serde::{Deserialize, Serialize};

/// The only config format version this build reads.
pub const CONFIG_VERSION: u32 = 1;

/// Thresholds the route stage uses to choose between the fast path and a durable workflow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RoutingConfig {
    pub version: u32,
    /// A request containing one of these words goes durable even when its tool is not.
    pub durable_keywords: Vec<String>,
    /// A plan with more steps than this goes durable.
    pub max_fast_path_steps: u32,
    /// A fast-path request's time limit: a tool that waits (`http`) waits no longer, and a
    /// request whose time runs out gets an `ERROR` result of kind `timeout`.
    pub fast_path_timeout_ms: u64,
    /// How many close candidates an unclassified result lists.
    pub unclassified_candidates: u32,
}

impl Default for RoutingConfig {
    fn default() -> Self {
        RoutingConfig {
            version: CONFIG_VERSION,
            durable_keywords: ["approve", "approval", "workflow", "nightly", "batch"]
                .map(String::from)
                .to_vec(),
            max_fast_path_steps: 8,
            fast_path_timeout_ms: 250,
            unclassified_candidates: 3,
        }
    }
}

/// Who may send requests, how much, where tools may connect, and which commits are trusted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SecurityConfig {
    pub version: u32,
    /// API keys accepted by the REST ingress, as SHA-256 hashes only.
    pub api_keys: Vec<ApiKey>,
    pub rate_limits: RateLimits,
    pub quotas: Quotas,
    /// Hosts the `http` tool kind may connect to (exact names, or `*.example.com`).
    pub allowed_hosts: Vec<String>,
    pub signing: SigningPolicy,
}

impl Default for SecurityConfig {
    fn default() -> Self {
        SecurityConfig {
            version: CONFIG_VERSION,
            api_keys: Vec::new(),
            rate_limits: RateLimits::default(),
            quotas: Quotas::default(),
            allowed_hosts: Vec::new(),
            signing: SigningPolicy::default(),
        }
    }
}

/// One accepted API key: an id to name it in logs, and the hex SHA-256 of the secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKey {
    pub id: String,
    /// 64 lowercase hex digits.
    pub sha256: String,
}

/// Request rates per API key (token bucket).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimits {
    pub requests_per_second: u32,
    /// Requests that may arrive at once above the steady rate.
    pub burst: u32,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            requests_per_second: 100,
            burst: 200,
        }
    }
}

/// Totals per tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Quotas {
    /// Requests the ingress admits per UTC day (counted by each ingress instance).
    pub requests_per_day: u64,
    /// Durable workflows running at once; a request that would start one more gets 429.
    pub max_running_workflows: u32,
    /// Requests admitted and not yet answered, per ingress instance.
    pub max_requests_in_flight: u32,
}

impl Default for Quotas {
    fn default() -> Self {
        Quotas {
            requests_per_day: 1_000_000,
            max_running_workflows: 100,
            max_requests_in_flight: 1_000,
        }
    }
}

/// Which commits the registry accepts.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SigningPolicy {
    /// Reject commits without a valid signature from an allowed signer.
    pub require_signed: bool,
    /// SSH public keys (`ssh-ed25519 AAAA... comment`) whose signatures are accepted.
    pub allowed_signers: Vec<String>,
}
