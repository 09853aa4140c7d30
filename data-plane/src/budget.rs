//! Usage limits, enforced before a request is forwarded, across every worker.
//!
//! A worker never counts a limit on its own: it spends slices of the limit's budget
//! (leases) that the control plane hands out, and the control plane never hands out more
//! than the budget minus what stored records counted and what other leases still hold.
//! Admission is a local check while the lease lasts; a control-plane call happens only
//! when a lease is spent, expires (every few seconds) or the window resets. Actual usage is
//! charged to the lease when the request ends and reaches the control plane with the
//! request's interaction record.
//!
//! `requests` limits reserve 1 at admission, so they never overshoot. `tokens` and
//! `cost_usd` limits admit while the lease has budget left and charge the real usage at the
//! end: the overshoot is at most what the requests in flight when the budget ran out use
//! (see `docs/usage.md`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use api_types::internal::ProfileConfig;
use api_types::{
    Lease, LeaseRelease, LeaseRequest, Limit, LimitCharge, LimitMetric, LimitScope, LimitTable,
    LimitWindow,
};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::config::{ConfigClient, ConfigError};

/// Every limit, by the subject it limits.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(from = "LimitTable")]
pub struct LimitIndex {
    organization: Vec<Arc<Limit>>,
    by_subject: HashMap<Uuid, Vec<Arc<Limit>>>,
}

impl From<LimitTable> for LimitIndex {
    fn from(table: LimitTable) -> Self {
        let mut index = LimitIndex::default();
        for limit in table.limits {
            let limit = Arc::new(limit);
            match (limit.scope, limit.subject_id) {
                (LimitScope::Organization, _) => index.organization.push(limit),
                (_, Some(subject)) => index.by_subject.entry(subject).or_default().push(limit),
                (_, None) => {}
            }
        }
        index
    }
}

impl LimitIndex {
    /// The limits a request counts against: the organization's, its team's, its profile's
    /// and its virtual key's, those with a model filter only for that model.
    pub fn applying(
        &self,
        profile: &ProfileConfig,
        team: Option<Uuid>,
        virtual_key: Option<Uuid>,
        model: Option<&str>,
    ) -> Vec<Arc<Limit>> {
        let subjects = [team, Some(profile.id), virtual_key];
        let by_subject = subjects
            .into_iter()
            .flatten()
            .filter_map(|s| self.by_subject.get(&s))
            .flatten();
        self.organization
            .iter()
            .chain(by_subject)
            .filter(|l| l.model.as_deref().is_none_or(|m| Some(m) == model))
            .cloned()
            .collect()
    }

    pub fn is_empty(&self) -> bool {
        self.organization.is_empty() && self.by_subject.is_empty()
    }
}

/// A lease being spent.
#[derive(Debug, Clone)]
struct Held {
    id: Uuid,
    window_start: DateTime<Utc>,
    bucket_secs: Option<i64>,
    /// What is left of it (negative: overspent by requests in flight).
    left: f64,
    /// What the rest of the organization could still get when it was granted.
    others: f64,
    valid_until: Instant,
    resets_at: Option<DateTime<Utc>>,
}

/// One limit's state on this worker.
#[derive(Debug, Default)]
struct Slot {
    held: Option<Held>,
    /// The limit was spent when last asked: refuse without asking until then.
    spent_until: Option<Instant>,
    spent_resets_at: Option<DateTime<Utc>>,
}

/// A request admitted against one limit.
#[derive(Debug, Clone)]
pub struct Admission {
    pub limit: Arc<Limit>,
    lease_id: Uuid,
    window_start: DateTime<Utc>,
    bucket_secs: Option<i64>,
    /// What the limit has left, as far as this worker knows (for the response headers).
    pub remaining: f64,
    pub resets_at: Option<DateTime<Utc>>,
}

/// Why a request may not go on.
#[derive(Debug)]
pub enum Refusal {
    /// The limit is spent for now.
    Spent {
        limit: Arc<Limit>,
        resets_at: Option<DateTime<Utc>>,
    },
    /// The control plane could not be asked for budget.
    Unavailable(ConfigError),
}

/// How long a spent limit is refused locally before the control plane is asked again.
const SPENT_RECHECK: Duration = Duration::from_secs(1);

/// One limit on this worker: its lease, and the lock that lets one request at a time ask
/// the control plane for the next.
#[derive(Default)]
struct LimitState {
    slot: Mutex<Slot>,
    asking: tokio::sync::Mutex<()>,
}

/// The budgets of every limit this worker has admitted requests against.
pub struct Budgets {
    config: Arc<ConfigClient>,
    slots: Mutex<HashMap<Uuid, Arc<LimitState>>>,
}

/// How much to ask for at a time: a twentieth of the limit, at least one unit.
fn lease_size(limit: &Limit) -> f64 {
    let floor = match limit.metric {
        LimitMetric::Requests => 1.0,
        LimitMetric::Tokens => 100.0,
        LimitMetric::CostUsd => 0.0001,
    };
    (limit.max / 20.0).max(floor)
}

impl Slot {
    /// Admits from the held lease when it is valid and has budget left.
    fn take(&mut self, limit: &Arc<Limit>, now: Instant) -> Option<Admission> {
        let held = self.held.as_mut().filter(|h| now < h.valid_until)?;
        let cost = match limit.metric {
            LimitMetric::Requests => 1.0,
            LimitMetric::Tokens | LimitMetric::CostUsd => 0.0,
        };
        let enough = match limit.metric {
            LimitMetric::Requests => held.left >= 1.0,
            LimitMetric::Tokens | LimitMetric::CostUsd => held.left > 0.0,
        };
        if !enough {
            return None;
        }
        held.left -= cost;
        Some(Admission {
            limit: limit.clone(),
            lease_id: held.id,
            window_start: held.window_start,
            bucket_secs: held.bucket_secs,
            remaining: (held.others + held.left).max(0.0),
            resets_at: held.resets_at,
        })
    }

    fn spent(&self, now: Instant) -> bool {
        self.spent_until.is_some_and(|until| now < until)
    }
}

impl Budgets {
    pub fn new(config: Arc<ConfigClient>) -> Self {
        Self {
            config,
            slots: Mutex::new(HashMap::new()),
        }
    }

    fn slot(&self, limit: Uuid) -> Arc<LimitState> {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        slots.entry(limit).or_default().clone()
    }

    /// Admits a request against every limit in `limits`, or says which one refuses it.
    /// Reservations already taken stay charged when a later limit refuses (a `requests`
    /// reservation of 1 on a request that was not sent: an under-spend, never an overshoot).
    pub async fn admit(&self, limits: &[Arc<Limit>]) -> Result<Vec<Admission>, Refusal> {
        let mut admitted = Vec::with_capacity(limits.len());
        for limit in limits {
            admitted.push(self.admit_one(limit).await?);
        }
        Ok(admitted)
    }

    async fn admit_one(&self, limit: &Arc<Limit>) -> Result<Admission, Refusal> {
        let slot = self.slot(limit.id);
        let (state, refreshing) = (&slot.slot, &slot.asking);
        let spent = |s: &Slot| Refusal::Spent {
            limit: limit.clone(),
            resets_at: s.spent_resets_at,
        };
        // Decided locally: admitted from the lease, or refused while the limit is spent.
        let local = |s: &mut Slot| {
            let now = Instant::now();
            match s.take(limit, now) {
                Some(admission) => Some(Ok(admission)),
                None => s.spent(now).then(|| Err(spent(s))),
            }
        };
        if let Some(decided) = local(&mut state.lock().unwrap_or_else(|p| p.into_inner())) {
            return decided;
        }
        // One request per worker and limit asks the control plane; the others wait for
        // its answer.
        let _asking = refreshing.lock().await;
        let release = {
            let mut s = state.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(decided) = local(&mut s) {
                return decided;
            }
            s.held.take().map(|h| LeaseRelease {
                lease_id: h.id,
                unspent: h.left.max(0.0),
            })
        };
        let request = LeaseRequest {
            limit_id: limit.id,
            amount: lease_size(limit),
            release,
        };
        let body = serde_json::to_vec(&request).unwrap_or_default();
        let lease: Lease = self
            .config
            .post("/internal/v1/leases", body, false)
            .await
            .map_err(Refusal::Unavailable)?;
        let mut s = state.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        if lease.granted <= 0.0 {
            let until_reset = lease
                .resets_at
                .and_then(|at| (at - Utc::now()).to_std().ok())
                .unwrap_or(SPENT_RECHECK);
            s.spent_until = Some(now + until_reset.min(SPENT_RECHECK));
            s.spent_resets_at = lease.resets_at;
            return Err(spent(&s));
        }
        s.spent_until = None;
        s.held = Some(Held {
            id: lease.lease_id,
            window_start: lease.window_start,
            bucket_secs: lease.bucket_secs,
            left: lease.granted,
            others: lease.remaining,
            valid_until: now + Duration::from_secs_f64(lease.valid_for_secs.max(0.0)),
            resets_at: lease.resets_at,
        });
        s.take(limit, now).ok_or_else(|| spent(&s))
    }

    /// Gives back the unspent part of every lease held (on shutdown), so other workers can
    /// spend it now rather than after the lease expires. Best effort: a lease not given back
    /// expires anyway.
    pub async fn release_all(&self) {
        let slots: Vec<(Uuid, Arc<LimitState>)> = {
            let slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
            slots.iter().map(|(id, s)| (*id, s.clone())).collect()
        };
        for (limit_id, state) in slots {
            let held = {
                let mut s = state.slot.lock().unwrap_or_else(|p| p.into_inner());
                s.held.take()
            };
            let Some(held) = held else { continue };
            let request = LeaseRequest {
                limit_id,
                amount: 0.0,
                release: Some(LeaseRelease {
                    lease_id: held.id,
                    unspent: held.left.max(0.0),
                }),
            };
            let body = serde_json::to_vec(&request).unwrap_or_default();
            if let Err(e) = self
                .config
                .post::<Lease>("/internal/v1/leases", body, false)
                .await
            {
                tracing::debug!(limit = %limit_id, error = %e, "could not give a lease back");
            }
        }
    }

    /// Charges a finished request's usage to the lease it was admitted under and says
    /// what its record carries. `amount` is in the limit's metric (for `requests`, the 1
    /// reserved at admission).
    pub fn charge(
        &self,
        admission: &Admission,
        amount: f64,
        finished: DateTime<Utc>,
    ) -> LimitCharge {
        if admission.limit.metric != LimitMetric::Requests {
            let slot = self.slot(admission.limit.id);
            let mut s = slot.slot.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(held) = s.held.as_mut().filter(|h| h.id == admission.lease_id) {
                held.left -= amount;
            }
        }
        let window_start = match admission.bucket_secs.filter(|b| *b > 0) {
            // Sliding windows count a charge in the bucket it happened in.
            Some(bucket) => {
                let secs = finished.timestamp().div_euclid(bucket) * bucket;
                DateTime::from_timestamp(secs, 0).unwrap_or(admission.window_start)
            }
            None => admission.window_start,
        };
        LimitCharge {
            limit_id: admission.limit.id,
            lease_id: admission.lease_id,
            window_start,
            amount,
        }
    }
}

/// Whether a spent limit is a rate (answered 429 with `Retry-After`, which SDKs retry) or
/// a budget (402, which they do not): request counts, and token counts per minute or hour,
/// are rates; spending in dollars, and tokens over a day or more, are budgets.
pub fn is_rate(limit: &Limit) -> bool {
    match limit.metric {
        LimitMetric::Requests => true,
        LimitMetric::Tokens => matches!(limit.window, LimitWindow::Minute | LimitWindow::Hour),
        LimitMetric::CostUsd => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(metric: LimitMetric, max: f64) -> Arc<Limit> {
        Arc::new(Limit {
            id: Uuid::now_v7(),
            team_id: None,
            scope: LimitScope::Organization,
            subject_id: None,
            metric,
            window: LimitWindow::Day,
            max,
            model: None,
            rolling: false,
            version: 1,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        })
    }

    fn holding(left: f64) -> Slot {
        Slot {
            held: Some(Held {
                id: Uuid::now_v7(),
                window_start: Utc::now(),
                bucket_secs: None,
                left,
                others: 10.0,
                valid_until: Instant::now() + Duration::from_secs(10),
                resets_at: None,
            }),
            ..Slot::default()
        }
    }

    #[test]
    fn request_limits_reserve_one_per_request_and_never_go_below_zero() {
        let l = limit(LimitMetric::Requests, 100.0);
        let mut slot = holding(2.0);
        let now = Instant::now();
        assert!(slot.take(&l, now).is_some());
        assert!(slot.take(&l, now).is_some());
        assert!(slot.take(&l, now).is_none(), "the lease is spent");
        assert_eq!(slot.held.as_ref().map(|h| h.left), Some(0.0));
    }

    #[test]
    fn spending_limits_admit_while_budget_is_left_and_expired_leases_admit_nothing() {
        let l = limit(LimitMetric::CostUsd, 1.0);
        let mut slot = holding(0.01);
        let now = Instant::now();
        let first = slot.take(&l, now).unwrap();
        assert_eq!(first.remaining, 10.01);
        slot.held.as_mut().unwrap().left -= 0.02;
        assert!(
            slot.take(&l, now).is_none(),
            "overspent by the first request"
        );
        let mut old = holding(5.0);
        assert!(old.take(&l, now + Duration::from_secs(11)).is_none());
    }

    #[test]
    fn limits_apply_by_subject_and_model() {
        let profile: ProfileConfig = serde_json::from_value(serde_json::json!({
            "id": Uuid::now_v7(), "name": "p"
        }))
        .unwrap();
        let mut on_profile = (*limit(LimitMetric::Tokens, 5.0)).clone();
        on_profile.scope = LimitScope::Profile;
        on_profile.subject_id = Some(profile.id);
        on_profile.model = Some("gpt-4o".into());
        let org = (*limit(LimitMetric::Requests, 5.0)).clone();
        let mut elsewhere = org.clone();
        elsewhere.scope = LimitScope::Team;
        elsewhere.subject_id = Some(Uuid::now_v7());
        let index = LimitIndex::from(LimitTable {
            limits: vec![on_profile, org, elsewhere],
        });
        assert_eq!(
            index.applying(&profile, None, None, Some("gpt-4o")).len(),
            2
        );
        assert_eq!(index.applying(&profile, None, None, Some("o3")).len(), 1);
    }
}
