//! Process settings, parsed once from `GATEHOUSE_*` environment variables (or flags).

use std::net::SocketAddr;
use std::path::PathBuf;

use bytesize::ByteSize;
use clap::Parser;
use secrecy::{ExposeSecret, SecretString};

/// Gatehouse control plane: REST API, Postgres, internal config API for the data plane.
#[derive(Debug, Clone, Parser)]
#[command(name = "gatehouse-control-plane", version)]
pub struct Settings {
    /// Address of the REST API, `/openapi.json`, `/healthz` and `/readyz`.
    #[arg(long, env = "GATEHOUSE_API_ADDR", default_value = "0.0.0.0:9000")]
    pub api_addr: SocketAddr,

    /// Postgres URL. Unset: an embedded Postgres is started under `data_dir`.
    #[arg(long, env = "GATEHOUSE_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<SecretString>,

    /// Directory for the embedded Postgres and the generated auth secret.
    #[arg(long, env = "GATEHOUSE_DATA_DIR", default_value = ".gatehouse")]
    pub data_dir: PathBuf,

    /// Bootstrap admin API key (at least 32 characters).
    #[arg(long, env = "GATEHOUSE_ADMIN_API_KEY", hide_env_values = true)]
    pub admin_api_key: Option<SecretString>,

    /// Secret the at-rest encryption key is derived from (at least 32 characters).
    /// Unset: generated once and kept in `data_dir/auth_secret`.
    #[arg(long, env = "GATEHOUSE_AUTH_SECRET", hide_env_values = true)]
    pub auth_secret: Option<SecretString>,

    /// Earlier auth secrets, comma-separated: secrets sealed under them can still be opened
    /// while `gatehouse-control-plane rotate-secrets` re-seals them under the current one.
    #[arg(
        long,
        env = "GATEHOUSE_PREVIOUS_AUTH_SECRETS",
        hide_env_values = true,
        value_delimiter = ','
    )]
    pub previous_auth_secrets: Vec<SecretString>,

    /// Secret both planes share (at least 32 characters): the data plane signs short-lived
    /// tokens for `/internal/v1` with it. Unset: the internal API refuses every request.
    #[arg(long, env = "GATEHOUSE_INTERNAL_TOKEN_SECRET", hide_env_values = true)]
    pub internal_token_secret: Option<SecretString>,

    /// Change events kept for workers to replay after a disconnect; a worker further
    /// behind drops its whole cache instead.
    #[arg(
        long,
        env = "GATEHOUSE_CHANGE_LOG_RETENTION",
        default_value_t = 100_000
    )]
    pub change_log_retention: i64,

    /// Largest accepted request body, human-readable (`50MB`, `1MiB`).
    #[arg(long, env = "GATEHOUSE_API_BODY_LIMIT", default_value = "50MB")]
    pub api_body_limit: ByteSize,

    /// When set, `/metrics` requires `Authorization: Bearer <this>`.
    #[arg(long, env = "GATEHOUSE_METRICS_SECRET", hide_env_values = true)]
    pub metrics_secret: Option<SecretString>,

    /// Log format: `text` or `json` (one JSON object per line).
    #[arg(long, env = "GATEHOUSE_LOG_FORMAT", default_value = "text", value_parser = ["text", "json"])]
    pub log_format: String,

    /// Log filter (`info`, `debug`, `control_plane=debug,sqlx=warn`, …).
    #[arg(long, env = "GATEHOUSE_LOG_LEVEL", default_value = "info")]
    pub log_level: String,

    /// Directory holding `initdb` and `pg_ctl` for the embedded Postgres.
    /// Unset: the newest `/usr/lib/postgresql/*/bin`, then `PATH`.
    #[arg(long, env = "GATEHOUSE_POSTGRES_BIN_DIR")]
    pub postgres_bin_dir: Option<PathBuf>,
}

/// A setting that fails validation.
#[derive(Debug, thiserror::Error)]
#[error("{name}: {reason}")]
pub struct InvalidSetting {
    pub name: &'static str,
    pub reason: String,
}

/// Minimum length of every configured secret.
pub const MIN_SECRET_LEN: usize = 32;

impl Settings {
    /// Checks what clap cannot: secret lengths.
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        let secrets = [
            ("GATEHOUSE_ADMIN_API_KEY", &self.admin_api_key),
            ("GATEHOUSE_AUTH_SECRET", &self.auth_secret),
            (
                "GATEHOUSE_INTERNAL_TOKEN_SECRET",
                &self.internal_token_secret,
            ),
        ];
        for (name, secret) in secrets {
            if let Some(s) = secret {
                if s.expose_secret().chars().count() < MIN_SECRET_LEN {
                    return Err(InvalidSetting {
                        name,
                        reason: format!("must be at least {MIN_SECRET_LEN} characters"),
                    });
                }
            }
        }
        if self
            .previous_auth_secrets
            .iter()
            .any(|s| s.expose_secret().chars().count() < MIN_SECRET_LEN)
        {
            return Err(InvalidSetting {
                name: "GATEHOUSE_PREVIOUS_AUTH_SECRETS",
                reason: format!("every secret must be at least {MIN_SECRET_LEN} characters"),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Settings {
        let mut argv = vec!["gatehouse-control-plane"];
        argv.extend_from_slice(args);
        Settings::try_parse_from(argv).unwrap()
    }

    #[test]
    fn defaults_match_the_documented_ones() {
        let s = parse(&[]);
        assert_eq!(s.api_addr.to_string(), "0.0.0.0:9000");
        assert_eq!(s.api_body_limit, ByteSize::mb(50));
        s.validate().unwrap();
    }

    #[test]
    fn short_secrets_are_rejected_by_name() {
        let s = parse(&["--admin-api-key", "too-short"]);
        let err = s.validate().unwrap_err();
        assert_eq!(err.name, "GATEHOUSE_ADMIN_API_KEY");
        assert!(!err.to_string().contains("too-short"));
    }

    #[test]
    fn body_limit_reads_human_sizes() {
        assert_eq!(
            parse(&["--api-body-limit", "1MiB"]).api_body_limit,
            ByteSize::mib(1)
        );
    }
}
