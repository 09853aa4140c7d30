//! The interaction log: batch ingest (idempotent by record id, with the records' limit
//! charges applied in the same transaction) and the queries behind `/api/v1/interactions`
//! and `/api/v1/usage`.

use api_types::{
    CredentialMode, IngestAck, Interaction, InteractionFilter, LimitCharge, TokenCounts,
    UsageGroup, UsageQuery, UsageRow,
};
use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool, Postgres, QueryBuilder};
use uuid::Uuid;

/// Column arrays of a batch, in the order of [`INSERT`].
#[derive(Default)]
struct Columns {
    id: Vec<Uuid>,
    occurred_at: Vec<DateTime<Utc>>,
    request_id: Vec<String>,
    provider: Vec<Option<String>>,
    api: Vec<Option<String>>,
    model: Vec<Option<String>>,
    response_model: Vec<Option<String>>,
    profile_id: Vec<Option<Uuid>>,
    team_id: Vec<Option<Uuid>>,
    virtual_key_id: Vec<Option<Uuid>>,
    credential: Vec<&'static str>,
    status: Vec<i32>,
    error: Vec<Option<String>>,
    stream: Vec<bool>,
    client_aborted: Vec<bool>,
    has_usage: Vec<bool>,
    tokens: [Vec<i64>; 5],
    cost_usd: Vec<Option<f64>>,
    duration_ms: Vec<f64>,
    ttft_ms: Vec<Option<f64>>,
    overhead_us: Vec<i64>,
    tools_allowed: Vec<i32>,
    tools_blocked: Vec<i32>,
    untrusted: Vec<bool>,
    charges: Vec<String>,
    metadata: Vec<Option<String>>,
    request_body: Vec<Option<String>>,
    response_body: Vec<Option<String>>,
}

const INSERT: &str = "INSERT INTO interactions (id, occurred_at, request_id, provider, api, \
     model, response_model, profile_id, team_id, virtual_key_id, credential, status, error, \
     stream, client_aborted, has_usage, input_tokens, output_tokens, cached_read_tokens, \
     cache_write_tokens, reasoning_tokens, cost_usd, duration_ms, time_to_first_token_ms, \
     gateway_overhead_us, tool_calls_allowed, tool_calls_blocked, untrusted, charges, metadata, \
     request_body, response_body) \
     SELECT i, o, rq, p, a, m, rm, pr, t, vk, c, s, e, st, ab, hu, it, ot, cr, cw, rt, \
     cost::numeric, d, f, g, ta, tb, u, ch::jsonb, md::jsonb, qb, sb FROM UNNEST(\
     $1::uuid[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[], \
     $7::text[], $8::uuid[], $9::uuid[], $10::uuid[], $11::text[], $12::int[], $13::text[], \
     $14::bool[], $15::bool[], $16::bool[], $17::int8[], $18::int8[], $19::int8[], \
     $20::int8[], $21::int8[], $22::float8[], $23::float8[], $24::float8[], $25::int8[], \
     $26::int[], $27::int[], $28::bool[], $29::text[], $30::text[], $31::text[], $32::text[]) \
     AS r(i, o, rq, p, a, m, rm, pr, t, vk, c, s, e, st, ab, hu, it, ot, cr, cw, rt, cost, d, \
     f, g, ta, tb, u, ch, md, qb, sb) \
     ON CONFLICT (id) DO NOTHING RETURNING id";

fn int(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Strips NUL characters, which Postgres text cannot hold.
fn text(s: &str) -> String {
    s.replace('\0', "")
}

impl Columns {
    fn push(&mut self, r: &Interaction) {
        let tokens = r.tokens.unwrap_or_default();
        self.id.push(r.id);
        self.occurred_at.push(r.occurred_at);
        self.request_id.push(text(&r.request_id));
        self.provider
            .push(r.provider.map(|p| p.as_str().to_owned()));
        self.api.push(r.api.as_deref().map(text));
        self.model.push(r.model.as_deref().map(text));
        self.response_model
            .push(r.response_model.as_deref().map(text));
        self.profile_id.push(r.profile_id);
        self.team_id.push(r.team_id);
        self.virtual_key_id.push(r.virtual_key_id);
        self.credential.push(r.credential.as_str());
        self.status.push(i32::from(r.status));
        self.error.push(r.error.as_deref().map(text));
        self.stream.push(r.stream);
        self.client_aborted.push(r.client_aborted);
        self.has_usage.push(r.tokens.is_some());
        let counts = [
            tokens.input,
            tokens.output,
            tokens.cached_read,
            tokens.cache_write,
            tokens.reasoning,
        ];
        for (column, n) in self.tokens.iter_mut().zip(counts) {
            column.push(int(n));
        }
        self.cost_usd.push(r.cost_usd.filter(|c| c.is_finite()));
        self.duration_ms.push(r.duration_ms);
        self.ttft_ms.push(r.time_to_first_token_ms);
        self.overhead_us.push(int(r.gateway_overhead_us));
        self.tools_allowed
            .push(i32::try_from(r.tool_calls_allowed).unwrap_or(i32::MAX));
        self.tools_blocked
            .push(i32::try_from(r.tool_calls_blocked).unwrap_or(i32::MAX));
        self.untrusted.push(r.untrusted);
        self.charges
            .push(serde_json::to_string(&r.charges).unwrap_or_else(|_| "[]".into()));
        self.metadata.push(
            r.metadata
                .as_ref()
                .and_then(|m| serde_json::to_string(m).ok())
                .map(|m| m.replace("\\u0000", "")),
        );
        self.request_body.push(r.request_body.as_deref().map(text));
        self.response_body
            .push(r.response_body.as_deref().map(text));
    }
}

/// Stores a batch: records already stored (an earlier delivery) are skipped, and only the
/// new ones' charges are added to their limits' counters and settled against their
/// leases, all in one transaction.
pub async fn ingest(pool: &PgPool, records: &[Interaction]) -> Result<IngestAck, sqlx::Error> {
    let mut c = Columns::default();
    for r in records {
        c.push(r);
    }
    let [input, output, cached_read, cache_write, reasoning] = c.tokens;
    let mut tx = pool.begin().await?;
    let inserted: Vec<Uuid> = sqlx::query_scalar(INSERT)
        .bind(c.id)
        .bind(c.occurred_at)
        .bind(c.request_id)
        .bind(c.provider)
        .bind(c.api)
        .bind(c.model)
        .bind(c.response_model)
        .bind(c.profile_id)
        .bind(c.team_id)
        .bind(c.virtual_key_id)
        .bind(c.credential)
        .bind(c.status)
        .bind(c.error)
        .bind(c.stream)
        .bind(c.client_aborted)
        .bind(c.has_usage)
        .bind(input)
        .bind(output)
        .bind(cached_read)
        .bind(cache_write)
        .bind(reasoning)
        .bind(c.cost_usd)
        .bind(c.duration_ms)
        .bind(c.ttft_ms)
        .bind(c.overhead_us)
        .bind(c.tools_allowed)
        .bind(c.tools_blocked)
        .bind(c.untrusted)
        .bind(c.charges)
        .bind(c.metadata)
        .bind(c.request_body)
        .bind(c.response_body)
        .fetch_all(&mut *tx)
        .await?;
    let new: std::collections::HashSet<Uuid> = inserted.iter().copied().collect();
    let charges: Vec<&LimitCharge> = records
        .iter()
        .filter(|r| new.contains(&r.id))
        .flat_map(|r| &r.charges)
        .filter(|c| c.amount.is_finite() && c.amount > 0.0)
        .collect();
    if !charges.is_empty() {
        apply_charges(&mut tx, &charges).await?;
    }
    tx.commit().await?;
    let inserted = inserted.len() as u64;
    Ok(IngestAck {
        inserted,
        duplicates: records.len() as u64 - inserted,
    })
}

/// Adds charges to the limits' counters (exact NUMERIC sums; limits deleted meanwhile are
/// skipped), then settles them against the leases they were spent from. Counters first:
/// they take the key-share lock on the limit that a lease grant does not conflict with.
async fn apply_charges(
    conn: &mut PgConnection,
    charges: &[&LimitCharge],
) -> Result<(), sqlx::Error> {
    let limits: Vec<Uuid> = charges.iter().map(|c| c.limit_id).collect();
    let windows: Vec<DateTime<Utc>> = charges.iter().map(|c| c.window_start).collect();
    let amounts: Vec<f64> = charges.iter().map(|c| c.amount).collect();
    let leases: Vec<Uuid> = charges.iter().map(|c| c.lease_id).collect();
    sqlx::query(
        "INSERT INTO limit_usage (limit_id, window_start, used) \
         SELECT c.l, c.w, SUM(c.a::numeric) \
         FROM UNNEST($1::uuid[], $2::timestamptz[], $3::float8[]) AS c(l, w, a) \
         WHERE EXISTS (SELECT 1 FROM limits WHERE limits.id = c.l) \
         GROUP BY c.l, c.w ORDER BY c.l, c.w \
         ON CONFLICT (limit_id, window_start) \
         DO UPDATE SET used = limit_usage.used + EXCLUDED.used",
    )
    .bind(&limits)
    .bind(&windows)
    .bind(&amounts)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "UPDATE limit_leases SET settled = limit_leases.settled + s.total \
         FROM (SELECT c.l, SUM(c.a) AS total \
               FROM UNNEST($1::uuid[], $2::float8[]) AS c(l, a) GROUP BY c.l) AS s \
         WHERE limit_leases.id = s.l",
    )
    .bind(&leases)
    .bind(&amounts)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    occurred_at: DateTime<Utc>,
    request_id: String,
    provider: Option<String>,
    api: Option<String>,
    model: Option<String>,
    response_model: Option<String>,
    profile_id: Option<Uuid>,
    team_id: Option<Uuid>,
    virtual_key_id: Option<Uuid>,
    credential: String,
    status: i32,
    error: Option<String>,
    stream: bool,
    client_aborted: bool,
    has_usage: bool,
    input_tokens: i64,
    output_tokens: i64,
    cached_read_tokens: i64,
    cache_write_tokens: i64,
    reasoning_tokens: i64,
    cost_usd: Option<f64>,
    duration_ms: f64,
    time_to_first_token_ms: Option<f64>,
    gateway_overhead_us: i64,
    tool_calls_allowed: i32,
    tool_calls_blocked: i32,
    untrusted: bool,
    charges: sqlx::types::Json<Vec<LimitCharge>>,
    metadata: Option<sqlx::types::Json<api_types::BodyMetadata>>,
    request_body: Option<String>,
    response_body: Option<String>,
}

const SELECT: &str = "SELECT id, occurred_at, request_id, provider, api, model, response_model, \
     profile_id, team_id, virtual_key_id, credential, status, error, stream, client_aborted, \
     has_usage, input_tokens, output_tokens, cached_read_tokens, cache_write_tokens, \
     reasoning_tokens, cost_usd::float8 AS cost_usd, duration_ms, time_to_first_token_ms, \
     gateway_overhead_us, tool_calls_allowed, tool_calls_blocked, untrusted, charges, metadata";

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

impl From<Row> for Interaction {
    fn from(r: Row) -> Self {
        Interaction {
            id: r.id,
            occurred_at: r.occurred_at,
            request_id: r.request_id,
            // A provider this build does not know (a newer worker wrote it) reads as none.
            provider: r.provider.and_then(|p| p.parse().ok()),
            api: r.api,
            model: r.model,
            response_model: r.response_model,
            profile_id: r.profile_id,
            team_id: r.team_id,
            virtual_key_id: r.virtual_key_id,
            credential: CredentialMode::parse(&r.credential).unwrap_or(CredentialMode::Passthrough),
            status: u16::try_from(r.status).unwrap_or(0),
            error: r.error,
            stream: r.stream,
            client_aborted: r.client_aborted,
            tokens: r.has_usage.then(|| TokenCounts {
                input: count(r.input_tokens),
                output: count(r.output_tokens),
                cached_read: count(r.cached_read_tokens),
                cache_write: count(r.cache_write_tokens),
                reasoning: count(r.reasoning_tokens),
            }),
            cost_usd: r.cost_usd,
            duration_ms: r.duration_ms,
            time_to_first_token_ms: r.time_to_first_token_ms,
            gateway_overhead_us: count(r.gateway_overhead_us),
            tool_calls_allowed: u32::try_from(r.tool_calls_allowed).unwrap_or(0),
            tool_calls_blocked: u32::try_from(r.tool_calls_blocked).unwrap_or(0),
            untrusted: r.untrusted,
            charges: r.charges.0,
            metadata: r.metadata.map(|m| m.0),
            request_body: r.request_body,
            response_body: r.response_body,
        }
    }
}

/// Pushes the filters shared by the list and the usage report.
fn push_filters(
    qb: &mut QueryBuilder<'_, Postgres>,
    team: Option<Uuid>,
    profile: Option<Uuid>,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
) {
    if let Some(team) = team {
        qb.push(" AND team_id = ").push_bind(team);
    }
    if let Some(profile) = profile {
        qb.push(" AND profile_id = ").push_bind(profile);
    }
    if let Some(since) = since {
        qb.push(" AND occurred_at >= ").push_bind(since);
    }
    if let Some(until) = until {
        qb.push(" AND occurred_at < ").push_bind(until);
    }
}

/// A page of records, newest first, without bodies. `team` confines a team-scoped key.
pub async fn list(
    conn: &mut PgConnection,
    filter: &InteractionFilter,
    team: Option<Uuid>,
    page: &super::PageRequest,
) -> Result<Vec<Interaction>, sqlx::Error> {
    let mut qb: QueryBuilder<Postgres> = QueryBuilder::new(SELECT);
    qb.push(
        ", NULL::text AS request_body, NULL::text AS response_body FROM interactions WHERE true",
    );
    if let Some(before) = page.after {
        qb.push(" AND id < ").push_bind(before);
    }
    if let (Some(a), Some(b)) = (team, filter.team_id) {
        if a != b {
            qb.push(" AND false");
        }
    }
    push_filters(
        &mut qb,
        team.or(filter.team_id),
        filter.profile_id,
        filter.since,
        filter.until,
    );
    if let Some(vk) = filter.virtual_key_id {
        qb.push(" AND virtual_key_id = ").push_bind(vk);
    }
    if let Some(provider) = filter.provider {
        qb.push(" AND provider = ").push_bind(provider.as_str());
    }
    if let Some(model) = &filter.model {
        qb.push(" AND model = ").push_bind(model.clone());
    }
    if let Some(status) = filter.status {
        qb.push(" AND status = ").push_bind(i32::from(status));
    }
    qb.push(" ORDER BY id DESC LIMIT ")
        .push_bind(page.limit + 1);
    let rows: Vec<Row> = qb.build_query_as().fetch_all(conn).await?;
    Ok(rows.into_iter().map(Into::into).collect())
}

/// One record with its bodies.
pub async fn get(conn: &mut PgConnection, id: Uuid) -> Result<Option<Interaction>, sqlx::Error> {
    let row: Option<Row> = sqlx::query_as(&format!(
        "{SELECT}, request_body, response_body FROM interactions WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(Into::into))
}

#[derive(sqlx::FromRow)]
struct UsageSql {
    key: Option<String>,
    requests: i64,
    errors: i64,
    input_tokens: i64,
    output_tokens: i64,
    cached_read_tokens: i64,
    reasoning_tokens: i64,
    cost_usd: f64,
    unpriced_requests: i64,
}

/// Aggregates by one grouping, largest cost first.
pub async fn usage(
    conn: &mut PgConnection,
    query: &UsageQuery,
    team: Option<Uuid>,
) -> Result<Vec<UsageRow>, sqlx::Error> {
    let key = match query.group_by {
        UsageGroup::Team => "team_id::text",
        UsageGroup::Profile => "profile_id::text",
        UsageGroup::VirtualKey => "virtual_key_id::text",
        UsageGroup::Model => "model",
        UsageGroup::Day => "to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')",
    };
    let mut qb: QueryBuilder<Postgres> = QueryBuilder::new(format!(
        "SELECT {key} AS key, count(*) AS requests, \
         count(*) FILTER (WHERE status = 0 OR status >= 400) AS errors, \
         COALESCE(SUM(input_tokens), 0)::int8 AS input_tokens, \
         COALESCE(SUM(output_tokens), 0)::int8 AS output_tokens, \
         COALESCE(SUM(cached_read_tokens), 0)::int8 AS cached_read_tokens, \
         COALESCE(SUM(reasoning_tokens), 0)::int8 AS reasoning_tokens, \
         COALESCE(SUM(cost_usd), 0)::float8 AS cost_usd, \
         count(*) FILTER (WHERE has_usage AND cost_usd IS NULL) AS unpriced_requests \
         FROM interactions WHERE true"
    ));
    if let (Some(a), Some(b)) = (team, query.team_id) {
        if a != b {
            qb.push(" AND false");
        }
    }
    push_filters(
        &mut qb,
        team.or(query.team_id),
        query.profile_id,
        query.since,
        query.until,
    );
    qb.push(" GROUP BY 1 ORDER BY cost_usd DESC, requests DESC, key LIMIT 10000");
    let rows: Vec<UsageSql> = qb.build_query_as().fetch_all(conn).await?;
    Ok(rows
        .into_iter()
        .map(|r| UsageRow {
            key: r.key,
            requests: count(r.requests),
            errors: count(r.errors),
            input_tokens: count(r.input_tokens),
            output_tokens: count(r.output_tokens),
            cached_read_tokens: count(r.cached_read_tokens),
            reasoning_tokens: count(r.reasoning_tokens),
            cost_usd: r.cost_usd,
            unpriced_requests: count(r.unpriced_requests),
        })
        .collect())
}
