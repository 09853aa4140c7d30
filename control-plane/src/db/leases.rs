//! Limit accounting: windows, budget leases for workers, and where a limit stands.
//!
//! A limit's budget is `max`. Stored records add to `limit_usage.used` (per window, or per
//! bucket of a sliding window). Workers spend slices (leases) handed out here; a lease's
//! `amount - settled` is outstanding until its records arrive or it expires. A grant never
//! makes `used + outstanding` exceed `max`, so what workers may still admit is bounded by
//! the budget; the overshoot comes only from requests in flight when it ran out
//! (see `docs/usage.md`).

use api_types::{Lease, LeaseRequest, LimitMetric, LimitStatus, LimitWindow};
use chrono::{DateTime, Datelike, Duration, DurationRound, TimeZone, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// How long a worker may spend a lease before asking for a new one.
pub const LEASE_TTL_SECS: i64 = 10;
/// How long after that a lease's unsettled part still counts as outstanding: time for the
/// records of requests admitted under it to arrive.
pub const SETTLE_GRACE_SECS: i64 = 60;
/// Buckets per sliding window.
const BUCKETS: i32 = 60;

/// The window a limit counts in at `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Start of the calendar window, or of the current bucket of a sliding one.
    pub start: DateTime<Utc>,
    /// Records in buckets from here on count (equal to `start` for calendar windows).
    pub counts_from: DateTime<Utc>,
    /// When a calendar window resets; `None` for sliding and `total` windows.
    pub resets_at: Option<DateTime<Utc>>,
}

fn length(window: LimitWindow) -> Option<Duration> {
    match window {
        LimitWindow::Minute => Some(Duration::minutes(1)),
        LimitWindow::Hour => Some(Duration::hours(1)),
        LimitWindow::Day => Some(Duration::days(1)),
        LimitWindow::Week => Some(Duration::weeks(1)),
        LimitWindow::Month => Some(Duration::days(30)),
        LimitWindow::Total => None,
    }
}

fn epoch() -> DateTime<Utc> {
    DateTime::<Utc>::UNIX_EPOCH
}

/// The calendar window (UTC) containing `now`: weeks start on Monday.
fn calendar(window: LimitWindow, now: DateTime<Utc>) -> (DateTime<Utc>, Option<DateTime<Utc>>) {
    let floor = |unit: Duration| now.duration_trunc(unit).unwrap_or(now);
    let midnight = floor(Duration::days(1));
    match window {
        LimitWindow::Minute | LimitWindow::Hour | LimitWindow::Day => {
            let unit = length(window).unwrap_or(Duration::days(1));
            let start = floor(unit);
            (start, Some(start + unit))
        }
        LimitWindow::Week => {
            let start = midnight - Duration::days(i64::from(now.weekday().num_days_from_monday()));
            (start, Some(start + Duration::weeks(1)))
        }
        LimitWindow::Month => {
            let start = Utc
                .with_ymd_and_hms(now.year(), now.month(), 1, 0, 0, 0)
                .single()
                .unwrap_or(midnight);
            let (y, m) = if now.month() == 12 {
                (now.year() + 1, 1)
            } else {
                (now.year(), now.month() + 1)
            };
            let end = Utc.with_ymd_and_hms(y, m, 1, 0, 0, 0).single();
            (start, end)
        }
        LimitWindow::Total => (epoch(), None),
    }
}

impl Window {
    pub fn at(window: LimitWindow, rolling: bool, now: DateTime<Utc>) -> Self {
        match (rolling, length(window)) {
            (true, Some(len)) => {
                let bucket = len / BUCKETS;
                let start = now.duration_trunc(bucket).unwrap_or(now);
                Window {
                    start,
                    counts_from: start + bucket - len,
                    resets_at: None,
                }
            }
            _ => {
                let (start, resets_at) = calendar(window, now);
                Window {
                    start,
                    counts_from: start,
                    resets_at,
                }
            }
        }
    }
}

/// The limit's definition, locked for the grant.
#[derive(sqlx::FromRow)]
struct LimitRow {
    metric: String,
    window: String,
    rolling: bool,
    max_value: f64,
}

/// Counted and outstanding amounts in the window, read in one statement: one snapshot.
/// (Read in two, a batch stored between them would move its charges from outstanding to
/// counted unseen, and a grant would hand them out again.)
async fn standing(
    conn: &mut PgConnection,
    limit: Uuid,
    window: &Window,
    now: DateTime<Utc>,
) -> Result<(f64, f64), sqlx::Error> {
    sqlx::query_as(
        "SELECT \
           (SELECT COALESCE(SUM(used), 0)::float8 FROM limit_usage \
            WHERE limit_id = $1 AND window_start >= $3), \
           (SELECT COALESCE(SUM(GREATEST(amount - settled, 0)), 0)::float8 FROM limit_leases \
            WHERE limit_id = $1 AND expires_at >= $2 AND window_start >= $3)",
    )
    .bind(limit)
    .bind(now)
    .bind(window.counts_from)
    .fetch_one(&mut *conn)
    .await
}

/// Grants a worker a slice of a limit's budget (possibly 0: the limit is spent), after
/// taking back what it did not spend of the lease it replaces. `None`: no such limit.
pub async fn grant(pool: &PgPool, request: &LeaseRequest) -> Result<Option<Lease>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    // Grants for one limit are serialized; ingest's key-share locks do not conflict.
    let row: Option<LimitRow> = sqlx::query_as(
        "SELECT metric, \"window\", rolling, max_value FROM limits WHERE id = $1 \
         FOR NO KEY UPDATE",
    )
    .bind(request.limit_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let (Some(metric), Some(window_kind)) = (
        LimitMetric::parse(&row.metric),
        LimitWindow::parse(&row.window),
    ) else {
        return Ok(None);
    };
    let now = Utc::now();
    let window = Window::at(window_kind, row.rolling, now);
    sqlx::query("DELETE FROM limit_leases WHERE limit_id = $1 AND expires_at < $2")
        .bind(request.limit_id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    if let Some(release) = &request.release {
        sqlx::query(
            "UPDATE limit_leases SET amount = GREATEST(amount - $3, settled) \
             WHERE id = $1 AND limit_id = $2",
        )
        .bind(release.lease_id)
        .bind(request.limit_id)
        .bind(release.unspent.max(0.0))
        .execute(&mut *tx)
        .await?;
    }
    let (used, reserved) = standing(&mut tx, request.limit_id, &window, now).await?;
    let available = (row.max_value - used - reserved).max(0.0);
    let mut granted = request.amount.max(0.0).min(available);
    if metric == LimitMetric::Requests {
        granted = granted.floor();
    }
    let valid = window
        .resets_at
        .map(|end| (end - now).min(Duration::seconds(LEASE_TTL_SECS)))
        .unwrap_or(Duration::seconds(LEASE_TTL_SECS));
    let lease_id = Uuid::now_v7();
    if granted > 0.0 {
        sqlx::query(
            "INSERT INTO limit_leases (id, limit_id, window_start, amount, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(lease_id)
        .bind(request.limit_id)
        .bind(window.start)
        .bind(granted)
        .bind(now + valid + Duration::seconds(SETTLE_GRACE_SECS))
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(Some(Lease {
        lease_id,
        limit_id: request.limit_id,
        window_start: window.start,
        granted,
        remaining: available - granted,
        valid_for_secs: valid.num_milliseconds() as f64 / 1000.0,
        resets_at: window.resets_at,
        bucket_secs: row
            .rolling
            .then(|| length(window_kind))
            .flatten()
            .map(|len| (len / BUCKETS).num_seconds()),
    }))
}

/// Where a limit stands now.
pub async fn status(
    conn: &mut PgConnection,
    limit: &api_types::Limit,
) -> Result<LimitStatus, sqlx::Error> {
    let now = Utc::now();
    let window = Window::at(limit.window, limit.rolling, now);
    let (used, reserved) = standing(conn, limit.id, &window, now).await?;
    Ok(LimitStatus {
        limit_id: limit.id,
        metric: limit.metric,
        max: limit.max,
        window_start: window.counts_from,
        resets_at: window.resets_at,
        used,
        reserved,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn calendar_windows_start_and_reset_on_utc_boundaries() {
        let now = at("2026-11-22T13:47:12.5Z");
        let w = Window::at(LimitWindow::Hour, false, now);
        assert_eq!(
            (w.start, w.resets_at),
            (at("2026-11-22T13:00:00Z"), Some(at("2026-11-22T14:00:00Z")))
        );
        let w = Window::at(LimitWindow::Week, false, now);
        assert_eq!(w.start, at("2026-11-16T00:00:00Z"), "Monday");
        let w = Window::at(LimitWindow::Month, false, at("2026-12-31T23:59:59Z"));
        assert_eq!(
            (w.start, w.resets_at),
            (at("2026-12-01T00:00:00Z"), Some(at("2027-01-01T00:00:00Z")))
        );
        let w = Window::at(LimitWindow::Total, false, now);
        assert_eq!((w.start, w.resets_at), (epoch(), None));
    }

    #[test]
    fn sliding_windows_count_the_last_sixty_buckets() {
        let now = at("2026-11-22T13:47:12.5Z");
        let w = Window::at(LimitWindow::Minute, true, now);
        assert_eq!(w.start, at("2026-11-22T13:47:12Z"));
        assert_eq!(w.counts_from, at("2026-11-22T13:46:13Z"));
        assert_eq!(w.resets_at, None);
    }
}
