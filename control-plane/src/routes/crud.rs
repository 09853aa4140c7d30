//! The one implementation of create / read / list / update / delete every resource shares:
//! role and team-scope checks, optimistic concurrency (`version`, `ETag`, `If-Match`),
//! idempotent deletes, and the audit record written in the transaction of the change.
//!
//! A resource supplies its SQL and its own validation through [`Resource`]; the
//! [`crud_handlers!`](crate::crud_handlers) macro turns it into documented axum handlers.

use std::future::Future;

use api_types::{ListFilter, ListQuery, Page, Role};
use axum::extract::FromRequestParts;
use axum::http::header::{ETAG, IF_MATCH};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use sqlx::postgres::PgRow;
use sqlx::{FromRow, PgConnection, Postgres, QueryBuilder};
use uuid::Uuid;

use crate::auth::Principal;
use crate::db::audit::{self, Change};
use crate::db::changes;
use crate::db::PageRequest;
use crate::error::{conflict_or, ApiError, ApiJson};
use crate::state::AppState;

/// Who owns a resource's objects, which decides who sees and changes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ownership {
    /// Objects carry `team_id`: a team-scoped key sees and changes only its team's objects.
    Team,
    /// Organization-wide objects (the price table): every key reads them, only
    /// organization-wide admins change them.
    Global,
    /// The teams themselves: a team-scoped key sees only its own team; only
    /// organization-wide admins change teams.
    TeamItself,
}

/// What the shared code needs to know about one object.
pub struct Meta {
    pub id: Uuid,
    pub team_id: Option<Uuid>,
    pub version: i64,
}

/// One REST resource. `SELECT` is a query whose rows decode as `Row` and expose at least
/// the columns `id` and (for [`Ownership::Team`]) `team_id`; the shared code wraps it as a
/// subquery to fetch, filter and page.
pub trait Resource: Send + Sync + 'static {
    /// Singular name used in messages (`"profile"`).
    const WHAT: &'static str;
    /// The URL segment, also the audit events' `resource_type` (`"profiles"`).
    const PATH: &'static str;
    const TABLE: &'static str;
    const SELECT: &'static str;
    const OWNERSHIP: Ownership;
    /// The least role that reads; writes need `WRITE`.
    const READ: Role;
    const WRITE: Role;
    /// The kind of config change a write emits to data-plane workers (`None`: workers do
    /// not use this resource).
    const CHANGE_KIND: Option<&'static str>;

    type Row: for<'r> FromRow<'r, PgRow> + Send + Unpin;
    type Output: Serialize + Send + Sync;
    /// What `POST` answers: the object, plus a one-time token for keys.
    type Created: Serialize + Send;
    /// The validated form both create and update bodies convert into.
    type Input: Send + Sync;

    fn output(row: Self::Row) -> Result<Self::Output, sqlx::Error>;
    fn meta(out: &Self::Output) -> Meta;
    fn created(out: Self::Output, token: Option<String>) -> Self::Created;

    /// The team the input asks for (only [`Ownership::Team`] resources have one).
    fn input_team(_input: &Self::Input) -> Option<Uuid> {
        None
    }
    fn set_input_team(_input: &mut Self::Input, _team: Option<Uuid>) {}

    /// Resource-specific list filters, appended as `AND …` on the subquery alias `r`.
    fn push_filters(_qb: &mut QueryBuilder<'_, Postgres>, _filter: &ListFilter) {}

    /// Validates the input (team already settled): field rules and references, which must
    /// be visible to `principal`. `existing` is `None` on create.
    fn check(
        state: &AppState,
        principal: &Principal,
        input: &Self::Input,
        existing: Option<&Self::Output>,
    ) -> impl Future<Output = Result<(), ApiError>> + Send;

    /// Inserts; answers the new id and, for keys, the one-time token.
    fn insert(
        conn: &mut PgConnection,
        state: &AppState,
        input: &Self::Input,
    ) -> impl Future<Output = Result<(Uuid, Option<String>), ApiError>> + Send;

    /// Writes the input over object `id`, which exists and is locked; must bump `version`.
    fn update(
        conn: &mut PgConnection,
        state: &AppState,
        id: Uuid,
        input: &Self::Input,
    ) -> impl Future<Output = Result<(), ApiError>> + Send;
}

/// The `If-Match` header: `None` when absent. `*` matches any version; an entity tag that is
/// not one of ours matches none.
pub struct IfMatch(Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for IfMatch {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        Ok(IfMatch(parts.headers.get(IF_MATCH).map(|v| {
            String::from_utf8_lossy(v.as_bytes()).into_owned()
        })))
    }
}

impl IfMatch {
    /// 412 unless the header is absent or names `version`.
    pub fn check(&self, version: i64) -> Result<(), ApiError> {
        let Some(header) = &self.0 else {
            return Ok(());
        };
        let matches = header.split(',').map(str::trim).any(|tag| {
            tag == "*"
                || tag
                    .trim_start_matches("W/")
                    .trim_matches('"')
                    .parse::<i64>()
                    == Ok(version)
        });
        if matches {
            Ok(())
        } else {
            Err(ApiError::PreconditionFailed(
                header.chars().take(64).collect(),
            ))
        }
    }
}

fn etag(version: i64) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{version}\"")).unwrap_or(HeaderValue::from_static("\"0\""))
}

/// Header naming the config revision a write produced, so a client can wait until workers
/// report it (their `/readyz`).
pub const REVISION_HEADER: &str = "x-gatehouse-revision";

fn with_etag(
    status: StatusCode,
    version: i64,
    revision: Option<i64>,
    body: impl Serialize,
) -> Response {
    let mut response = (status, ApiJson(body)).into_response();
    response.headers_mut().insert(ETAG, etag(version));
    add_revision(&mut response, revision);
    response
}

pub fn add_revision(response: &mut Response, revision: Option<i64>) {
    if let Some(revision) = revision {
        response
            .headers_mut()
            .insert(REVISION_HEADER, HeaderValue::from(revision));
    }
}

/// Records the change for workers when `R` is something they use.
async fn record_change<R: Resource>(
    conn: &mut PgConnection,
    id: Uuid,
) -> Result<Option<i64>, ApiError> {
    match R::CHANGE_KIND {
        Some(kind) => Ok(Some(changes::record(conn, kind, &id.to_string()).await?)),
        None => Ok(None),
    }
}

fn visible<R: Resource>(principal: &Principal, meta: &Meta) -> bool {
    match R::OWNERSHIP {
        Ownership::Team => principal.sees(meta.team_id),
        Ownership::Global => true,
        Ownership::TeamItself => principal.sees(Some(meta.id)),
    }
}

/// The write permission of `principal` on resource `R` (before looking at any object).
fn require_write<R: Resource>(principal: &Principal) -> Result<(), ApiError> {
    principal.require(R::WRITE)?;
    match R::OWNERSHIP {
        Ownership::Team => Ok(()),
        Ownership::Global | Ownership::TeamItself => principal.require_organization_admin(),
    }
}

/// Object `id`, decoded; `None` when it does not exist.
pub async fn fetch<R: Resource>(
    conn: &mut PgConnection,
    id: Uuid,
) -> Result<Option<R::Output>, sqlx::Error> {
    let sql = format!("SELECT * FROM ({}) r WHERE r.id = $1", R::SELECT);
    let row: Option<R::Row> = sqlx::query_as(&sql).bind(id).fetch_optional(conn).await?;
    row.map(R::output).transpose()
}

/// Every object of resource `R`, decoded.
pub async fn fetch_all<R: Resource>(
    conn: &mut PgConnection,
) -> Result<Vec<R::Output>, sqlx::Error> {
    let rows: Vec<R::Row> = sqlx::query_as(R::SELECT).fetch_all(conn).await?;
    rows.into_iter().map(R::output).collect()
}

/// Locks object `id` for the rest of the transaction and reads it, if `principal` sees it.
async fn lock_visible<R: Resource>(
    conn: &mut PgConnection,
    principal: &Principal,
    id: Uuid,
) -> Result<Option<R::Output>, ApiError> {
    let sql = format!("SELECT id FROM {} WHERE id = $1 FOR UPDATE", R::TABLE);
    let locked: Option<Uuid> = sqlx::query_scalar(&sql)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    if locked.is_none() {
        return Ok(None);
    }
    Ok(fetch::<R>(conn, id)
        .await?
        .filter(|o| visible::<R>(principal, &R::meta(o))))
}

async fn audit<R: Resource>(
    conn: &mut PgConnection,
    principal: &Principal,
    action: &'static str,
    before: Option<&R::Output>,
    after: Option<&R::Output>,
) -> Result<(), ApiError> {
    let Some(meta) = after.or(before).map(R::meta) else {
        return Ok(());
    };
    let json = |o: Option<&R::Output>| {
        o.map(serde_json::to_value)
            .transpose()
            .map_err(|e| ApiError::Internal(e.to_string()))
    };
    let change = Change {
        action,
        resource_type: R::PATH,
        resource_id: meta.id.to_string(),
        team_id: meta.team_id,
        before: json(before)?,
        after: json(after)?,
        actor: principal,
    };
    audit::record(conn, change).await?;
    Ok(())
}

/// 422 unless team `id` exists.
pub async fn ensure_team_exists(state: &AppState, id: Uuid) -> Result<(), ApiError> {
    let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM teams WHERE id = $1)")
        .bind(id)
        .fetch_one(&state.db)
        .await?;
    if exists {
        Ok(())
    } else {
        Err(ApiError::invalid(
            "team_id",
            format!("team {id} does not exist"),
        ))
    }
}

pub async fn create<R: Resource>(
    principal: Principal,
    state: AppState,
    mut input: R::Input,
) -> Result<Response, ApiError> {
    require_write::<R>(&principal)?;
    if R::OWNERSHIP == Ownership::Team {
        let team = R::input_team(&input).or(principal.team_id);
        if !principal.sees(team) {
            return Err(ApiError::Forbidden(
                "a team-scoped key can only create objects in its own team".into(),
            ));
        }
        if let Some(team) = team {
            ensure_team_exists(&state, team).await?;
        }
        R::set_input_team(&mut input, team);
    }
    R::check(&state, &principal, &input, None).await?;
    let mut tx = state.db.begin().await?;
    let (id, token) = R::insert(&mut tx, &state, &input).await?;
    let out = fetch::<R>(&mut tx, id)
        .await?
        .ok_or_else(|| ApiError::Internal("created row not found".into()))?;
    audit::<R>(&mut tx, &principal, "create", None, Some(&out)).await?;
    let revision = record_change::<R>(&mut tx, id).await?;
    tx.commit().await?;
    let version = R::meta(&out).version;
    Ok(with_etag(
        StatusCode::CREATED,
        version,
        revision,
        R::created(out, token),
    ))
}

pub async fn read<R: Resource>(
    principal: Principal,
    state: AppState,
    id: Uuid,
) -> Result<Response, ApiError> {
    principal.require(R::READ)?;
    let mut conn = state.db.acquire().await?;
    let out = fetch::<R>(&mut conn, id)
        .await?
        .filter(|o| visible::<R>(&principal, &R::meta(o)))
        .ok_or(ApiError::NotFound(R::WHAT))?;
    let version = R::meta(&out).version;
    Ok(with_etag(StatusCode::OK, version, None, out))
}

pub async fn list<R: Resource>(
    principal: Principal,
    state: AppState,
    query: ListQuery,
    filter: ListFilter,
) -> Result<ApiJson<Page<R::Output>>, ApiError> {
    principal.require(R::READ)?;
    let page = PageRequest::from_query(&query)?;
    let mut qb: QueryBuilder<Postgres> =
        QueryBuilder::new(format!("SELECT * FROM ({}) r WHERE true", R::SELECT));
    if let Some(after) = page.after {
        qb.push(" AND r.id > ").push_bind(after);
    }
    match (R::OWNERSHIP, principal.team_id) {
        (Ownership::Team, Some(team)) => {
            qb.push(" AND r.team_id = ").push_bind(team);
        }
        (Ownership::TeamItself, Some(team)) => {
            qb.push(" AND r.id = ").push_bind(team);
        }
        (Ownership::Team | Ownership::TeamItself | Ownership::Global, _) => {}
    }
    if let (Ownership::Team, Some(team)) = (R::OWNERSHIP, filter.team_id) {
        qb.push(" AND r.team_id = ").push_bind(team);
    }
    R::push_filters(&mut qb, &filter);
    qb.push(" ORDER BY r.id LIMIT ").push_bind(page.limit + 1);
    let rows: Vec<R::Row> = qb.build_query_as().fetch_all(&state.db).await?;
    let rows = rows
        .into_iter()
        .map(R::output)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ApiJson(page.page(rows, |o| R::meta(o).id)))
}

pub async fn update<R: Resource>(
    principal: Principal,
    state: AppState,
    id: Uuid,
    if_match: IfMatch,
    mut input: R::Input,
) -> Result<Response, ApiError> {
    require_write::<R>(&principal)?;
    let mut tx = state.db.begin().await?;
    let existing = lock_visible::<R>(&mut tx, &principal, id)
        .await?
        .ok_or(ApiError::NotFound(R::WHAT))?;
    let meta = R::meta(&existing);
    if_match.check(meta.version)?;
    if R::OWNERSHIP == Ownership::Team {
        if let Some(asked) = R::input_team(&input) {
            if Some(asked) != meta.team_id {
                return Err(ApiError::invalid(
                    "team_id",
                    "cannot change; create the object again in the other team",
                ));
            }
        }
        R::set_input_team(&mut input, meta.team_id);
    }
    R::check(&state, &principal, &input, Some(&existing)).await?;
    R::update(&mut tx, &state, id, &input).await?;
    let out = fetch::<R>(&mut tx, id)
        .await?
        .ok_or(ApiError::NotFound(R::WHAT))?;
    audit::<R>(&mut tx, &principal, "update", Some(&existing), Some(&out)).await?;
    let revision = record_change::<R>(&mut tx, id).await?;
    tx.commit().await?;
    let version = R::meta(&out).version;
    Ok(with_etag(StatusCode::OK, version, revision, out))
}

/// Deletes are idempotent: 204 whether or not the object existed (or is visible).
pub async fn delete<R: Resource>(
    principal: Principal,
    state: AppState,
    id: Uuid,
    if_match: IfMatch,
) -> Result<Response, ApiError> {
    require_write::<R>(&principal)?;
    let mut tx = state.db.begin().await?;
    let Some(existing) = lock_visible::<R>(&mut tx, &principal, id).await? else {
        return Ok(StatusCode::NO_CONTENT.into_response());
    };
    if_match.check(R::meta(&existing).version)?;
    sqlx::query(&format!("DELETE FROM {} WHERE id = $1", R::TABLE))
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(|e| conflict_or(e, R::WHAT))?;
    // Limits name their subject without a foreign key (it may be one of several tables).
    sqlx::query("DELETE FROM limits WHERE subject_id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    audit::<R>(&mut tx, &principal, "delete", Some(&existing), None).await?;
    let revision = record_change::<R>(&mut tx, id).await?;
    tx.commit().await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    add_revision(&mut response, revision);
    Ok(response)
}

/// Revokes a key (a table with `revoked_at`): idempotent, and a revoked key stays revoked.
pub async fn revoke<R: Resource>(
    principal: Principal,
    state: AppState,
    id: Uuid,
) -> Result<Response, ApiError> {
    require_write::<R>(&principal)?;
    let mut tx = state.db.begin().await?;
    let existing = lock_visible::<R>(&mut tx, &principal, id)
        .await?
        .ok_or(ApiError::NotFound(R::WHAT))?;
    let sql = format!(
        "UPDATE {} SET revoked_at = now(), version = version + 1, updated_at = now() \
         WHERE id = $1 AND revoked_at IS NULL",
        R::TABLE
    );
    let done = sqlx::query(&sql).bind(id).execute(&mut *tx).await?;
    let out = fetch::<R>(&mut tx, id)
        .await?
        .ok_or(ApiError::NotFound(R::WHAT))?;
    let mut revision = None;
    if done.rows_affected() > 0 {
        audit::<R>(&mut tx, &principal, "revoke", Some(&existing), Some(&out)).await?;
        revision = record_change::<R>(&mut tx, id).await?;
    }
    tx.commit().await?;
    let version = R::meta(&out).version;
    Ok(with_etag(StatusCode::OK, version, revision, out))
}

/// Documented handlers for one resource: `create`, `read`, `list`, `update` and `delete`,
/// each a thin wrapper over the generic functions above with its OpenAPI description.
#[macro_export]
macro_rules! crud_handlers {
    (
        resource: $res:ty,
        tag: $tag:literal,
        collection: $collection:literal,
        item: $item:literal,
        what: $what:literal,
        operation: ($one:literal, $many:literal),
        create_body: $create_body:ty,
        update_body: $update_body:ty,
        output: $output:ty,
        created: $created:ty,
        filters: [$($filter:tt),* $(,)?] $(,)?
    ) => {
        // utoipa names generic response bodies by their unqualified type.
        use api_types::Page;

        #[utoipa::path(post, path = $collection, tag = $tag,
            operation_id = concat!("create_", $one),
            summary = concat!("Create a ", $what),
            request_body = $create_body,
            responses(
                (status = 201, description = concat!("The new ", $what), body = $created,
                    headers(("ETag" = String, description = "The object's version"))),
                (status = 400, description = "Malformed JSON", body = api_types::Problem, content_type = "application/problem+json"),
                (status = 401, description = "Missing or invalid API key", body = api_types::Problem, content_type = "application/problem+json"),
                (status = 403, description = "The key's role or team scope does not allow this", body = api_types::Problem, content_type = "application/problem+json"),
                (status = 409, description = "A name or default already taken, or a reference in use", body = api_types::Problem, content_type = "application/problem+json"),
                (status = 413, description = "Body larger than GATEHOUSE_API_BODY_LIMIT", body = api_types::Problem, content_type = "application/problem+json"),
                (status = 415, description = "Body is not application/json", body = api_types::Problem, content_type = "application/problem+json"),
                (status = 422, description = "A field is invalid; `invalid_params` names it", body = api_types::Problem, content_type = "application/problem+json"),
            ),
            security(("api_key" = [])))]
        pub async fn create(
            principal: $crate::auth::Principal,
            axum::extract::State(state): axum::extract::State<$crate::state::AppState>,
            $crate::error::ApiJson(body): $crate::error::ApiJson<$create_body>,
        ) -> Result<axum::response::Response, $crate::error::ApiError> {
            $crate::routes::crud::create::<$res>(principal, state, body.into()).await
        }

        #[utoipa::path(get, path = $item, tag = $tag,
            operation_id = concat!("read_", $one),
            summary = concat!("Read a ", $what),
            params(("id" = uuid::Uuid, Path, description = "Object id")),
            responses(
                (status = 200, description = concat!("The ", $what), body = $output,
                    headers(("ETag" = String, description = "The object's version"))),
                (status = 400, description = "The id is not a UUID", body = api_types::Problem, content_type = "application/problem+json"),
                (status = 401, description = "Missing or invalid API key", body = api_types::Problem, content_type = "application/problem+json"),
                (status = 403, description = "The key's role does not allow this", body = api_types::Problem, content_type = "application/problem+json"),
                (status = 404, description = "No such object in the key's scope", body = api_types::Problem, content_type = "application/problem+json"),
            ),
            security(("api_key" = [])))]
        pub async fn read(
            principal: $crate::auth::Principal,
            axum::extract::State(state): axum::extract::State<$crate::state::AppState>,
            $crate::error::ApiPath(id): $crate::error::ApiPath<uuid::Uuid>,
        ) -> Result<axum::response::Response, $crate::error::ApiError> {
            $crate::routes::crud::read::<$res>(principal, state, id).await
        }

        #[utoipa::path(get, path = $collection, tag = $tag,
            operation_id = concat!("list_", $many),
            summary = concat!("List ", $what, "s, oldest first"),
            params(api_types::ListQuery, $($filter),*),
            responses(
                (status = 200, description = "One page", body = Page<$output>),
                (status = 400, description = "A malformed query parameter", body = api_types::Problem, content_type = "application/problem+json"),
                (status = 401, description = "Missing or invalid API key", body = api_types::Problem, content_type = "application/problem+json"),
                (status = 403, description = "The key's role does not allow this", body = api_types::Problem, content_type = "application/problem+json"),
                (status = 422, description = "An invalid limit or cursor", body = api_types::Problem, content_type = "application/problem+json"),
            ),
            security(("api_key" = [])))]
        pub async fn list(
            principal: $crate::auth::Principal,
            axum::extract::State(state): axum::extract::State<$crate::state::AppState>,
            $crate::error::ApiQuery(query): $crate::error::ApiQuery<api_types::ListQuery>,
            $crate::error::ApiQuery(filter): $crate::error::ApiQuery<api_types::ListFilter>,
        ) -> Result<$crate::error::ApiJson<api_types::Page<$output>>, $crate::error::ApiError> {
            $crate::routes::crud::list::<$res>(principal, state, query, filter).await
        }

        #[utoipa::path(put, path = $item, tag = $tag,
            operation_id = concat!("update_", $one),
            summary = concat!("Replace a ", $what),
            request_body = $update_body,
            params(
                ("id" = uuid::Uuid, Path, description = "Object id"),
                ("If-Match" = Option<String>, Header, description = "The `ETag` (version) last read; the update is refused with 412 if the object changed since"),
            ),
            responses(
                (status = 200, description = concat!("The updated ", $what), body = $output,
                    headers(("ETag" = String, description = "The object's new version"))),
                (status = 400, description = "Malformed JSON or id", body = api_types::Problem, content_type = "application/problem+json"),
                (status = 401, description = "Missing or invalid API key", body = api_types::Problem, content_type = "application/problem+json"),
                (status = 403, description = "The key's role does not allow this", body = api_types::Problem, content_type = "application/problem+json"),
                (status = 404, description = "No such object in the key's scope", body = api_types::Problem, content_type = "application/problem+json"),
                (status = 409, description = "A name or default already taken, or a reference in use", body = api_types::Problem, content_type = "application/problem+json"),
                (status = 412, description = "`If-Match` does not name the current version", body = api_types::Problem, content_type = "application/problem+json"),
                (status = 413, description = "Body larger than GATEHOUSE_API_BODY_LIMIT", body = api_types::Problem, content_type = "application/problem+json"),
                (status = 415, description = "Body is not application/json", body = api_types::Problem, content_type = "application/problem+json"),
                (status = 422, description = "A field is invalid; `invalid_params` names it", body = api_types::Problem, content_type = "application/problem+json"),
            ),
            security(("api_key" = [])))]
        pub async fn update(
            principal: $crate::auth::Principal,
            axum::extract::State(state): axum::extract::State<$crate::state::AppState>,
            $crate::error::ApiPath(id): $crate::error::ApiPath<uuid::Uuid>,
            if_match: $crate::routes::crud::IfMatch,
            $crate::error::ApiJson(body): $crate::error::ApiJson<$update_body>,
        ) -> Result<axum::response::Response, $crate::error::ApiError> {
            $crate::routes::crud::update::<$res>(principal, state, id, if_match, body.into()).await
        }

        #[utoipa::path(delete, path = $item, tag = $tag,
            operation_id = concat!("delete_", $one),
            summary = concat!("Delete a ", $what, " (idempotent)"),
            params(
                ("id" = uuid::Uuid, Path, description = "Object id"),
                ("If-Match" = Option<String>, Header, description = "Delete only if the object is still at this version"),
            ),
            responses(
                (status = 204, description = "Deleted, or there was nothing to delete"),
                (status = 400, description = "The id is not a UUID", body = api_types::Problem, content_type = "application/problem+json"),
                (status = 401, description = "Missing or invalid API key", body = api_types::Problem, content_type = "application/problem+json"),
                (status = 403, description = "The key's role does not allow this", body = api_types::Problem, content_type = "application/problem+json"),
                (status = 409, description = "Other objects still refer to this one", body = api_types::Problem, content_type = "application/problem+json"),
                (status = 412, description = "`If-Match` does not name the current version", body = api_types::Problem, content_type = "application/problem+json"),
            ),
            security(("api_key" = [])))]
        pub async fn delete(
            principal: $crate::auth::Principal,
            axum::extract::State(state): axum::extract::State<$crate::state::AppState>,
            $crate::error::ApiPath(id): $crate::error::ApiPath<uuid::Uuid>,
            if_match: $crate::routes::crud::IfMatch,
        ) -> Result<axum::response::Response, $crate::error::ApiError> {
            $crate::routes::crud::delete::<$res>(principal, state, id, if_match).await
        }
    };
}

#[cfg(test)]
mod tests {
    use super::IfMatch;

    #[test]
    fn if_match_accepts_our_entity_tags_and_nothing_else() {
        let check = |h: Option<&str>, v| IfMatch(h.map(str::to_owned)).check(v).is_ok();
        assert!(check(None, 3));
        assert!(check(Some("\"3\""), 3) && check(Some("3"), 3) && check(Some("W/\"3\""), 3));
        assert!(check(Some("*"), 3) && check(Some("\"1\", \"3\""), 3));
        assert!(!check(Some("\"2\""), 3) && !check(Some("garbage"), 3) && !check(Some(""), 3));
    }
}
