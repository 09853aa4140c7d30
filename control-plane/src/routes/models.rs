//! `/api/v1/models`: the price table cost is computed from. Organization-wide: every key
//! reads it, organization-wide admins change it. Seeded with public list prices.

use api_types::{ListFilter, ModelPrice, ModelPriceInput, Provider, Role};
use chrono::{DateTime, Utc};
use sqlx::{PgConnection, Postgres, QueryBuilder};
use uuid::Uuid;

use super::crud::{Meta, Ownership, Resource};
use super::validate;
use crate::auth::Principal;
use crate::error::{conflict_or, ApiError};
use crate::routes::provider_keys::UnknownStoredProvider;
use crate::state::AppState;

pub struct Models;

#[derive(sqlx::FromRow)]
pub struct Row {
    id: Uuid,
    provider: String,
    model: String,
    input_price_per_million: f64,
    output_price_per_million: f64,
    cached_input_price_per_million: Option<f64>,
    version: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl Resource for Models {
    const WHAT: &'static str = "model price";
    const PATH: &'static str = "models";
    const TABLE: &'static str = "model_prices";
    const SELECT: &'static str = "SELECT id, provider, model, input_price_per_million, \
         output_price_per_million, cached_input_price_per_million, version, created_at, \
         updated_at FROM model_prices";
    const OWNERSHIP: Ownership = Ownership::Global;
    const READ: Role = Role::Viewer;
    const WRITE: Role = Role::Admin;
    const CHANGE_KIND: Option<&'static str> = Some("model_price");

    type Row = Row;
    type Output = ModelPrice;
    type Created = ModelPrice;
    type Input = ModelPriceInput;

    fn output(r: Row) -> Result<ModelPrice, sqlx::Error> {
        let provider: Provider = r
            .provider
            .parse()
            .map_err(|_| sqlx::Error::Decode(Box::new(UnknownStoredProvider::new(r.id))))?;
        Ok(ModelPrice {
            id: r.id,
            provider,
            model: r.model,
            input_price_per_million: r.input_price_per_million,
            output_price_per_million: r.output_price_per_million,
            cached_input_price_per_million: r.cached_input_price_per_million,
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }

    fn meta(m: &ModelPrice) -> Meta {
        Meta {
            id: m.id,
            team_id: None,
            version: m.version,
        }
    }

    fn created(m: ModelPrice, _: Option<String>) -> ModelPrice {
        m
    }

    fn push_filters(qb: &mut QueryBuilder<'_, Postgres>, filter: &ListFilter) {
        if let Some(provider) = filter.provider {
            qb.push(" AND r.provider = ").push_bind(provider.as_str());
        }
    }

    async fn check(
        _: &AppState,
        _: &Principal,
        input: &ModelPriceInput,
        _: Option<&ModelPrice>,
    ) -> Result<(), ApiError> {
        validate::models("model", std::slice::from_ref(&input.model))?;
        validate::price("input_price_per_million", input.input_price_per_million)?;
        validate::price("output_price_per_million", input.output_price_per_million)?;
        if let Some(cached) = input.cached_input_price_per_million {
            validate::price("cached_input_price_per_million", cached)?;
        }
        Ok(())
    }

    async fn insert(
        conn: &mut PgConnection,
        _: &AppState,
        input: &ModelPriceInput,
    ) -> Result<(Uuid, Option<String>), ApiError> {
        let id = Uuid::now_v7();
        sqlx::query(
            "INSERT INTO model_prices (id, provider, model, input_price_per_million, \
             output_price_per_million, cached_input_price_per_million) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id)
        .bind(input.provider.as_str())
        .bind(&input.model)
        .bind(input.input_price_per_million)
        .bind(input.output_price_per_million)
        .bind(input.cached_input_price_per_million)
        .execute(conn)
        .await
        .map_err(|e| conflict_or(e, Self::WHAT))?;
        Ok((id, None))
    }

    async fn update(
        conn: &mut PgConnection,
        _: &AppState,
        id: Uuid,
        input: &ModelPriceInput,
    ) -> Result<(), ApiError> {
        sqlx::query(
            "UPDATE model_prices SET provider = $2, model = $3, input_price_per_million = $4, \
             output_price_per_million = $5, cached_input_price_per_million = $6, \
             version = version + 1, updated_at = now() WHERE id = $1",
        )
        .bind(id)
        .bind(input.provider.as_str())
        .bind(&input.model)
        .bind(input.input_price_per_million)
        .bind(input.output_price_per_million)
        .bind(input.cached_input_price_per_million)
        .execute(conn)
        .await
        .map_err(|e| conflict_or(e, Self::WHAT))?;
        Ok(())
    }
}

crate::crud_handlers! {
    resource: Models,
    tag: "models",
    collection: "/api/v1/models",
    item: "/api/v1/models/{id}",
    what: "model price",
    operation: ("model_price", "model_prices"),
    create_body: ModelPriceInput,
    update_body: ModelPriceInput,
    output: ModelPrice,
    created: ModelPrice,
    filters: [
        ("provider" = Option<api_types::Provider>, Query, description = "Only this provider's models"),
    ],
}
