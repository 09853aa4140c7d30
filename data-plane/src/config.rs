//! Config the data plane fetches from the control plane, cached in moka and kept current by
//! the control plane's change stream.
//!
//! - Entries stay cached until a change event (or a reset) drops them; absences (404) are
//!   cached for a short negative TTL, so unknown keys cannot flood the control plane.
//! - Concurrent misses for one key make a single control-plane call.
//! - `sync` runs the watch stream and a periodic resync that compares revisions, as a
//!   safety net against a lost event or a silently dead stream.
//! - With the control plane unreachable, cached entries are served until nothing has been
//!   confirmed for `max_staleness`; after that, and for anything not cached, lookups fail
//!   (the proxy answers 503): a virtual key that was not verified is never served.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use api_types::internal::{
    mint_internal_token, ConfigChange, PriceTable, RevisionInfo, VirtualKeyConfig,
    INTERNAL_TOKEN_TTL_SECS,
};
use futures::StreamExt;
use llm::sse::SseDecoder;
use moka::future::Cache;
use moka::Expiry;
use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use tokio::sync::Notify;
use uuid::Uuid;

use crate::budget::LimitIndex;
use crate::guard::ServedProfile;

/// Why config could not be fetched.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ConfigError {
    #[error("control plane unreachable: {0}")]
    Unreachable(String),
    #[error("control plane answered {0}")]
    Status(u16),
    #[error("control plane answer unreadable: {0}")]
    Decode(String),
    #[error("internal token: {0}")]
    Token(String),
    #[error("watch stream silent for {0:?}")]
    Idle(Duration),
}

/// How the cache keeps itself current.
#[derive(Debug, Clone)]
pub struct SyncSettings {
    /// How long cached entries are served with nothing confirmed by the control plane.
    pub max_staleness: Duration,
    /// How long an absence (unknown profile or key) is cached.
    pub negative_ttl: Duration,
    /// How often the revision is compared with the control plane's.
    pub resync_interval: Duration,
    /// How long the watch stream may stay silent (it sends heartbeats) before it is
    /// considered dead and reopened.
    pub watch_idle: Duration,
}

/// Present entries never expire (change events drop them); absent ones after the TTL.
struct NegativeTtl(Duration);

impl<K, T> Expiry<K, Option<Arc<T>>> for NegativeTtl {
    fn expire_after_create(
        &self,
        _key: &K,
        value: &Option<Arc<T>>,
        _created_at: Instant,
    ) -> Option<Duration> {
        value.is_none().then_some(self.0)
    }
}

/// Where the cache stands against the control plane.
struct SyncState {
    /// The last revision applied; -1 before the first.
    revision: AtomicI64,
    /// Milliseconds after `epoch` when the cache was last confirmed current (an event, a
    /// heartbeat, a matching resync). An atomic: it is read on every lookup.
    confirmed_ms: AtomicU64,
    epoch: Instant,
    ever_confirmed: AtomicBool,
    stream_live: AtomicBool,
    /// Wakes the watch loop to reopen the stream (resync found it behind).
    reopen: Notify,
}

/// What `/readyz` reports.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SyncStatus {
    pub ready: bool,
    pub revision: i64,
    pub watch_live: bool,
    /// Seconds since the cache was last confirmed current.
    pub staleness_secs: f64,
}

/// Mints (and reuses until shortly before expiry) the JWTs presented on `/internal/v1`.
struct TokenMinter {
    secret: SecretString,
    current: Mutex<Option<(String, i64)>>,
}

impl TokenMinter {
    fn token(&self) -> Result<String, ConfigError> {
        let now = chrono::Utc::now();
        let mut current = self.current.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((token, exp)) = current.as_ref() {
            if *exp - now.timestamp() > 60 {
                return Ok(token.clone());
            }
        }
        let token = mint_internal_token(
            self.secret.expose_secret().as_bytes(),
            "gatehouse-data-plane",
            now,
        )
        .map_err(|e| ConfigError::Token(e.to_string()))?;
        *current = Some((token.clone(), now.timestamp() + INTERNAL_TOKEN_TTL_SECS));
        Ok(token)
    }
}

/// Client of the control plane's internal API, with caches in front.
pub struct ConfigClient {
    http: reqwest::Client,
    /// Without a total timeout: the watch stream lives for hours.
    stream_http: reqwest::Client,
    base_url: String,
    token: TokenMinter,
    settings: SyncSettings,
    profiles: Cache<Uuid, Option<Arc<ServedProfile>>>,
    virtual_keys: Cache<[u8; 32], Option<Arc<VirtualKeyConfig>>>,
    /// The price table (one entry), dropped on any price change.
    prices: Cache<(), Option<Arc<PriceTable>>>,
    /// Every limit, indexed by subject (one entry), dropped on any limit change.
    limits: Cache<(), Option<Arc<LimitIndex>>>,
    /// Virtual-key id → token digest, to apply change events (which carry ids).
    virtual_key_digests: Cache<Uuid, [u8; 32]>,
    sync: SyncState,
}

impl ConfigClient {
    pub fn new(
        base_url: &str,
        secret: SecretString,
        settings: SyncSettings,
    ) -> Result<Self, ConfigError> {
        let unreachable = |e: reqwest::Error| ConfigError::Unreachable(e.to_string());
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .pool_idle_timeout(Duration::from_secs(60))
            .build()
            .map_err(unreachable)?;
        let stream_http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .build()
            .map_err(unreachable)?;
        Ok(Self {
            http,
            stream_http,
            base_url: base_url.trim_end_matches('/').to_owned(),
            token: TokenMinter {
                secret,
                current: Mutex::new(None),
            },
            profiles: Cache::builder()
                .max_capacity(100_000)
                .expire_after(NegativeTtl(settings.negative_ttl))
                .build(),
            virtual_keys: Cache::builder()
                .max_capacity(1_000_000)
                .expire_after(NegativeTtl(settings.negative_ttl))
                .build(),
            virtual_key_digests: Cache::builder().max_capacity(1_000_000).build(),
            prices: Cache::builder()
                .max_capacity(1)
                .expire_after(NegativeTtl(settings.negative_ttl))
                .build(),
            limits: Cache::builder()
                .max_capacity(1)
                .expire_after(NegativeTtl(settings.negative_ttl))
                .build(),
            settings,
            sync: SyncState {
                revision: AtomicI64::new(-1),
                confirmed_ms: AtomicU64::new(0),
                epoch: Instant::now(),
                ever_confirmed: AtomicBool::new(false),
                stream_live: AtomicBool::new(false),
                reopen: Notify::new(),
            },
        })
    }

    /// The profile, or `None` when the control plane has no such profile.
    pub async fn profile(&self, id: Uuid) -> Result<Option<Arc<ServedProfile>>, ConfigError> {
        let (profile, _) = self
            .lookup("profile", &self.profiles, id, || {
                format!("/internal/v1/profiles/{id}")
            })
            .await?;
        Ok(profile)
    }

    /// The price table (empty when the control plane has none).
    pub async fn prices(&self) -> Result<Arc<PriceTable>, ConfigError> {
        let (table, _) = self
            .lookup("prices", &self.prices, (), || {
                "/internal/v1/models".to_owned()
            })
            .await?;
        Ok(table.unwrap_or_default())
    }

    /// Every limit, by subject (empty when the control plane has none).
    pub async fn limits(&self) -> Result<Arc<LimitIndex>, ConfigError> {
        let (limits, _) = self
            .lookup("limits", &self.limits, (), || {
                "/internal/v1/limits".to_owned()
            })
            .await?;
        Ok(limits.unwrap_or_default())
    }

    /// Posts `body` (JSON; gzip-compressed when `gzip`) to the internal API and reads the
    /// JSON answer.
    pub async fn post<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        body: Vec<u8>,
        gzip: bool,
    ) -> Result<T, ConfigError> {
        self.post_url(&format!("{}{path}", self.base_url), body, gzip)
            .await
    }

    /// [`ConfigClient::post`] to a full URL (a control plane other than the config source),
    /// with the same internal token.
    pub async fn post_url<T: serde::de::DeserializeOwned>(
        &self,
        url: &str,
        body: Vec<u8>,
        gzip: bool,
    ) -> Result<T, ConfigError> {
        let mut request = self
            .http
            .post(url)
            .bearer_auth(self.token.token()?)
            .header(reqwest::header::CONTENT_TYPE, "application/json");
        if gzip {
            request = request.header(reqwest::header::CONTENT_ENCODING, "gzip");
        }
        let response = request
            .body(body)
            .send()
            .await
            .map_err(|e| ConfigError::Unreachable(e.without_url().to_string()))?;
        if !response.status().is_success() {
            return Err(ConfigError::Status(response.status().as_u16()));
        }
        response
            .json::<T>()
            .await
            .map_err(|e| ConfigError::Decode(e.to_string()))
    }

    /// The virtual key with this token, or `None` when no such key exists (or was revoked).
    pub async fn virtual_key(
        &self,
        token: &str,
    ) -> Result<Option<Arc<VirtualKeyConfig>>, ConfigError> {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let path = || format!("/internal/v1/virtual-keys/{}", hex::encode(digest));
        let (key, fetched) = self
            .lookup("virtual_key", &self.virtual_keys, digest, path)
            .await?;
        if let (Some(key), true) = (&key, fetched) {
            self.virtual_key_digests.insert(key.id, digest).await;
        }
        Ok(key)
    }

    /// The cached value, fetched on a miss (the path is built only then); `true` when this
    /// call fetched it.
    async fn lookup<K, T>(
        &self,
        kind: &'static str,
        cache: &Cache<K, Option<Arc<T>>>,
        key: K,
        path: impl FnOnce() -> String,
    ) -> Result<(Option<Arc<T>>, bool), ConfigError>
    where
        K: std::hash::Hash + Eq + Send + Sync + Clone + 'static,
        T: serde::de::DeserializeOwned + Send + Sync + 'static,
    {
        if self.too_stale() {
            // Nothing confirmed for too long: cached entries may be wrong, so only a fresh
            // answer will do (and none while the control plane is away).
            cache.invalidate(&key).await;
        }
        let revision = self.revision();
        let entry = cache
            .entry(key.clone())
            .or_try_insert_with(async { self.fetch(path()).await })
            .await
            .map_err(|e| (*e).clone())?;
        let fresh = entry.is_fresh();
        if let Some(m) = crate::metrics::metrics() {
            m.config_lookups
                .with_label_values(&[kind, if fresh { "miss" } else { "hit" }])
                .inc();
        }
        if fresh && self.revision() != revision {
            // A change arrived while this was fetched; the answer may predate it.
            cache.invalidate(&key).await;
        }
        Ok((entry.into_value(), fresh))
    }

    async fn fetch<T: serde::de::DeserializeOwned>(
        &self,
        path: String,
    ) -> Result<Option<Arc<T>>, ConfigError> {
        tracing::debug!(%path, "config cache miss");
        let response = self
            .http
            .get(format!("{}{path}", self.base_url))
            .bearer_auth(self.token.token()?)
            .send()
            .await
            .map_err(|e| ConfigError::Unreachable(e.without_url().to_string()))?;
        match response.status() {
            StatusCode::NOT_FOUND => Ok(None),
            s if s.is_success() => {
                let value = response
                    .json::<T>()
                    .await
                    .map_err(|e| ConfigError::Decode(e.to_string()))?;
                Ok(Some(Arc::new(value)))
            }
            s => Err(ConfigError::Status(s.as_u16())),
        }
    }

    /// The last config revision applied (-1 before the first).
    pub fn revision(&self) -> i64 {
        self.sync.revision.load(Ordering::Acquire)
    }

    fn since_confirmed(&self) -> Duration {
        let now = self.sync.epoch.elapsed();
        now.saturating_sub(Duration::from_millis(
            self.sync.confirmed_ms.load(Ordering::Acquire),
        ))
    }

    fn too_stale(&self) -> bool {
        self.since_confirmed() > self.settings.max_staleness
    }

    fn confirm(&self) {
        let now = u64::try_from(self.sync.epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.sync.confirmed_ms.store(now, Ordering::Release);
        self.sync.ever_confirmed.store(true, Ordering::Release);
    }

    /// Ready once the watch stream is live, or a resync recently confirmed the revision.
    pub fn status(&self) -> SyncStatus {
        let staleness = self.since_confirmed();
        let watch_live = self.sync.stream_live.load(Ordering::Acquire);
        let fresh = self.sync.ever_confirmed.load(Ordering::Acquire)
            && staleness <= self.settings.resync_interval * 2;
        SyncStatus {
            ready: watch_live || fresh,
            revision: self.revision(),
            watch_live,
            staleness_secs: staleness.as_secs_f64(),
        }
    }

    async fn drop_everything(&self) {
        self.profiles.invalidate_all();
        self.virtual_keys.invalidate_all();
        self.virtual_key_digests.invalidate_all();
        self.prices.invalidate_all();
        self.limits.invalidate_all();
    }

    /// Drops what one change makes stale, then records its revision.
    async fn apply(&self, change: &ConfigChange) {
        match change.kind.as_str() {
            "profile" => {
                if let Ok(id) = Uuid::parse_str(&change.id) {
                    self.profiles.invalidate(&id).await;
                }
            }
            "virtual_key" => {
                if let Ok(id) = Uuid::parse_str(&change.id) {
                    if let Some(digest) = self.virtual_key_digests.remove(&id).await {
                        self.virtual_keys.invalidate(&digest).await;
                    }
                }
            }
            // A provider key (its secret, URL, headers or default flag) shows up inside
            // every virtual key that uses it: drop them all (rare, and refetched lazily).
            "provider_key" => self.virtual_keys.invalidate_all(),
            "model_price" => self.prices.invalidate_all(),
            "limit" => self.limits.invalidate_all(),
            // Policies and the organization's default are compiled into every profile they
            // apply to: drop them all (rare, and refetched lazily).
            "tool_invocation_policy" | "trusted_data_policy" | "organization" => {
                self.profiles.invalidate_all()
            }
            other => tracing::trace!(kind = other, "change to config not cached here"),
        }
        self.sync
            .revision
            .fetch_max(change.revision, Ordering::AcqRel);
    }

    /// Keeps the cache current until the process ends: the watch stream, reopened with
    /// backoff when it drops, and the periodic resync.
    pub async fn sync(self: Arc<Self>) {
        tokio::join!(self.clone().watch_loop(), self.resync_loop());
    }

    async fn watch_loop(self: Arc<Self>) {
        let mut backoff = Duration::from_millis(100);
        loop {
            match self.watch_once().await {
                Ok(()) => backoff = Duration::from_millis(100),
                Err(e) => tracing::warn!(error = %e, "config watch stream failed"),
            }
            self.sync.stream_live.store(false, Ordering::Release);
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(1));
        }
    }

    /// One watch stream, until it ends, fails, goes silent or resync asks to reopen it.
    async fn watch_once(&self) -> Result<(), ConfigError> {
        let revision = self.revision();
        let mut url = format!("{}/internal/v1/watch", self.base_url);
        if revision >= 0 {
            url.push_str(&format!("?since={revision}"));
        }
        let response = self
            .stream_http
            .get(url)
            .bearer_auth(self.token.token()?)
            .send()
            .await
            .map_err(|e| ConfigError::Unreachable(e.without_url().to_string()))?;
        if !response.status().is_success() {
            return Err(ConfigError::Status(response.status().as_u16()));
        }
        let mut body = response.bytes_stream();
        let mut decoder = SseDecoder::new(1 << 20);
        loop {
            let chunk = tokio::select! {
                chunk = tokio::time::timeout(self.settings.watch_idle, body.next()) => chunk,
                () = self.sync.reopen.notified() => return Ok(()),
            };
            let bytes = match chunk {
                Err(_) => return Err(ConfigError::Idle(self.settings.watch_idle)),
                Ok(None) => return Ok(()),
                Ok(Some(Err(e))) => return Err(ConfigError::Unreachable(e.to_string())),
                Ok(Some(Ok(bytes))) => bytes,
            };
            let events = decoder
                .push(&bytes)
                .map_err(|e| ConfigError::Decode(e.to_string()))?;
            for event in events {
                self.on_event(event.event.as_deref().unwrap_or("message"), &event.data)
                    .await?;
            }
        }
    }

    async fn on_event(&self, event: &str, data: &str) -> Result<(), ConfigError> {
        let decode = |e: serde_json::Error| ConfigError::Decode(e.to_string());
        match event {
            "change" => {
                let change: ConfigChange = serde_json::from_str(data).map_err(decode)?;
                self.apply(&change).await;
            }
            "reset" => {
                let info: RevisionInfo = serde_json::from_str(data).map_err(decode)?;
                self.drop_everything().await;
                self.sync.revision.store(info.revision, Ordering::Release);
                tracing::info!(revision = info.revision, "config cache reset");
            }
            "heartbeat" => {}
            other => tracing::debug!(event = other, "unknown watch event ignored"),
        }
        self.confirm();
        self.sync.stream_live.store(true, Ordering::Release);
        Ok(())
    }

    async fn resync_loop(&self) {
        loop {
            tokio::time::sleep(self.settings.resync_interval).await;
            if let Err(e) = self.resync().await {
                tracing::warn!(error = %e, "config resync failed");
            }
        }
    }

    /// Compares revisions: equal confirms the cache; behind reopens the stream (which
    /// replays what was missed); ahead (the control plane's database went back) drops
    /// everything.
    async fn resync(&self) -> Result<(), ConfigError> {
        let info: RevisionInfo = self
            .fetch::<RevisionInfo>("/internal/v1/revision".to_owned())
            .await?
            .map(|i| *i)
            .ok_or(ConfigError::Status(404))?;
        let local = self.revision();
        if info.revision == local {
            self.confirm();
        } else if info.revision > local {
            tracing::info!(
                local,
                remote = info.revision,
                "resync: behind, reopening watch"
            );
            self.sync.reopen.notify_one();
        } else {
            tracing::warn!(
                local,
                remote = info.revision,
                "resync: control plane went back"
            );
            self.drop_everything().await;
            self.sync.revision.store(-1, Ordering::Release);
            self.sync.reopen.notify_one();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    fn settings() -> SyncSettings {
        SyncSettings {
            max_staleness: Duration::from_secs(900),
            negative_ttl: Duration::from_secs(5),
            resync_interval: Duration::from_secs(10),
            watch_idle: Duration::from_secs(15),
        }
    }

    /// A control plane that answers every profile after 50 ms and counts the calls.
    async fn counting_control_plane() -> (String, Arc<AtomicUsize>) {
        let calls = Arc::new(AtomicUsize::new(0));
        let counter = calls.clone();
        let app = axum::Router::new().route(
            "/internal/v1/profiles/{id}",
            axum::routing::get(move |axum::extract::Path(id): axum::extract::Path<Uuid>| {
                let counter = counter.clone();
                async move {
                    counter.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    axum::Json(serde_json::json!({"id": id, "name": "p"}))
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        (format!("http://{addr}"), calls)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_thousand_concurrent_misses_make_one_control_plane_call() {
        let (url, calls) = counting_control_plane().await;
        let client = Arc::new(
            ConfigClient::new(&url, SecretString::from("s".repeat(32)), settings()).unwrap(),
        );
        let id = Uuid::new_v4();
        let lookups = (0..1000).map(|_| {
            let client = client.clone();
            tokio::spawn(async move { client.profile(id).await })
        });
        for lookup in futures::future::join_all(lookups).await {
            assert_eq!(lookup.unwrap().unwrap().unwrap().id, id);
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn change_events_drop_entries_and_a_reset_drops_everything() {
        let (url, calls) = counting_control_plane().await;
        let client =
            ConfigClient::new(&url, SecretString::from("s".repeat(32)), settings()).unwrap();
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        client.profile(a).await.unwrap();
        client.profile(b).await.unwrap();
        client.profile(a).await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 2, "hits do not call");
        let change = format!(r#"{{"revision":7,"kind":"profile","id":"{a}"}}"#);
        client.on_event("change", &change).await.unwrap();
        assert_eq!(client.revision(), 7);
        client.profile(a).await.unwrap();
        client.profile(b).await.unwrap();
        assert_eq!(
            calls.load(Ordering::SeqCst),
            3,
            "only the changed profile is refetched"
        );
        client.on_event("reset", r#"{"revision":9}"#).await.unwrap();
        client.profile(a).await.unwrap();
        client.profile(b).await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 5);
        assert_eq!(client.revision(), 9);
        assert!(client.status().ready && client.status().watch_live);
    }

    #[tokio::test]
    async fn past_the_staleness_bound_nothing_is_served_from_cache() {
        let (url, calls) = counting_control_plane().await;
        let mut s = settings();
        s.max_staleness = Duration::from_millis(100);
        let client = ConfigClient::new(&url, SecretString::from("s".repeat(32)), s).unwrap();
        let id = Uuid::new_v4();
        client
            .on_event("heartbeat", r#"{"revision":0}"#)
            .await
            .unwrap();
        client.profile(id).await.unwrap();
        client.profile(id).await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        tokio::time::sleep(Duration::from_millis(150)).await;
        client.profile(id).await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 2, "a stale cache is bypassed");
    }
}
