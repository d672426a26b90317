//! Admission: per-key rate limits and per-tenant quotas, from the tenant's security.yaml.
//!
//! - Rate limit: a token bucket per API key (`governor`), refilled at `requests_per_second`,
//!   holding up to `burst`. A commit that changes the numbers replaces the bucket.
//! - `requests_per_day`: counted per tenant and UTC day by this ingress instance.
//! - `max_requests_in_flight`: requests admitted and not yet answered by this instance; an
//!   [`InFlight`] guard gives the slot back when the response is done, however it ends.
//! - `max_running_workflows`: checked by the API against the running workflows the result
//!   feed has seen (see `results`).

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{Datelike, Utc};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota};
use volcano_pipeline::registry::{Quotas, RateLimits};

use super::auth::Caller;
use super::error::ApiError;

/// Each key's bucket, by (tenant, key id), with the limits it was made for.
type Buckets = HashMap<(String, String), (RateLimits, Arc<DefaultDirectRateLimiter>)>;

/// The admission state of one ingress instance.
#[derive(Default)]
pub struct Admission {
    buckets: Mutex<Buckets>,
    days: Mutex<HashMap<String, (i32, u64)>>,
    in_flight: Arc<Mutex<HashMap<String, u32>>>,
}

/// One admitted request's slot in its tenant's in-flight count, given back on drop.
#[derive(Debug)]
pub struct InFlight {
    counts: Arc<Mutex<HashMap<String, u32>>>,
    tenant: String,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = counts.get_mut(&self.tenant) {
            *n = n.saturating_sub(1);
        }
    }
}

impl Admission {
    /// Takes a token from the caller's bucket, or says how long until one is there.
    pub fn rate_limit(&self, caller: &Caller, limits: &RateLimits) -> Result<(), ApiError> {
        let bucket = {
            let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
            let key = (caller.tenant.clone(), caller.key_id.clone());
            match buckets.get(&key) {
                Some((configured, bucket)) if configured == limits => Arc::clone(bucket),
                _ => {
                    let bucket = Arc::new(DefaultDirectRateLimiter::direct(quota(limits)));
                    buckets.insert(key, (limits.clone(), Arc::clone(&bucket)));
                    bucket
                }
            }
        };
        bucket.check().map_err(|not_until| ApiError::RateLimited {
            retry_after: not_until.wait_time_from(DefaultClock::default().now()),
        })
    }

    /// Counts the request against the tenant's day and takes an in-flight slot.
    pub fn admit(&self, tenant: &str, quotas: &Quotas) -> Result<InFlight, ApiError> {
        let now = Utc::now();
        let day = now.num_days_from_ce();
        {
            let mut counts = self.in_flight.lock().unwrap_or_else(|p| p.into_inner());
            let n = counts.entry(tenant.to_string()).or_default();
            if *n >= quotas.max_requests_in_flight {
                return Err(ApiError::OverQuota {
                    what: format!(
                        "the tenant has {} requests in flight, its quota",
                        quotas.max_requests_in_flight
                    ),
                    retry_after: Duration::from_secs(1),
                });
            }
            *n += 1;
        }
        let slot = InFlight {
            counts: Arc::clone(&self.in_flight),
            tenant: tenant.to_string(),
        };
        let mut days = self.days.lock().unwrap_or_else(|p| p.into_inner());
        let entry = days.entry(tenant.to_string()).or_insert((day, 0));
        if entry.0 != day {
            *entry = (day, 0);
        }
        if entry.1 >= quotas.requests_per_day {
            let midnight = (now + chrono::Duration::days(1))
                .date_naive()
                .and_hms_opt(0, 0, 0)
                .map(|m| m.and_utc());
            let left = midnight
                .and_then(|m| (m - now).to_std().ok())
                .unwrap_or(Duration::from_secs(60));
            return Err(ApiError::OverQuota {
                what: format!(
                    "the tenant's daily quota of {} requests is used up",
                    quotas.requests_per_day
                ),
                retry_after: left,
            });
        }
        entry.1 += 1;
        Ok(slot)
    }
}

fn quota(limits: &RateLimits) -> Quota {
    let rate = NonZeroU32::new(limits.requests_per_second).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new(limits.burst.max(limits.requests_per_second)).unwrap_or(rate);
    Quota::per_second(rate).allow_burst(burst)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller() -> Caller {
        Caller {
            tenant: "t".into(),
            key_id: "k".into(),
        }
    }

    #[test]
    fn a_bucket_admits_its_burst_then_refuses_with_a_wait() {
        let admission = Admission::default();
        let limits = RateLimits {
            requests_per_second: 2,
            burst: 3,
        };
        for _ in 0..3 {
            admission
                .rate_limit(&caller(), &limits)
                .expect("within burst");
        }
        match admission.rate_limit(&caller(), &limits) {
            Err(ApiError::RateLimited { retry_after }) => {
                assert!(retry_after <= Duration::from_millis(500), "{retry_after:?}")
            }
            other => panic!("expected a rate limit, got {other:?}"),
        }
        // A commit that raises the limit replaces the bucket at once.
        let raised = RateLimits {
            requests_per_second: 100,
            burst: 100,
        };
        admission
            .rate_limit(&caller(), &raised)
            .expect("new bucket");
    }

    #[test]
    fn in_flight_slots_come_back_when_dropped() {
        let admission = Admission::default();
        let quotas = Quotas {
            max_requests_in_flight: 2,
            ..Quotas::default()
        };
        let a = admission.admit("t", &quotas).unwrap();
        let _b = admission.admit("t", &quotas).unwrap();
        assert!(matches!(
            admission.admit("t", &quotas),
            Err(ApiError::OverQuota { .. })
        ));
        admission
            .admit("other", &quotas)
            .expect("tenants are apart");
        drop(a);
        admission.admit("t", &quotas).expect("slot returned");
    }

    #[test]
    fn the_daily_quota_refuses_until_midnight() {
        let admission = Admission::default();
        let quotas = Quotas {
            requests_per_day: 1,
            ..Quotas::default()
        };
        drop(admission.admit("t", &quotas).unwrap());
        match admission.admit("t", &quotas) {
            Err(ApiError::OverQuota { retry_after, .. }) => {
                assert!(retry_after <= Duration::from_secs(86_400))
            }
            other => panic!("expected the daily quota, got {other:?}"),
        }
    }
}
