//! `mock-provider`: serves the fake OpenAI API on a local address.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use mock_provider::{router, spec::Schemas, MockConfig, MockState, Recorder};

/// A faithful fake LLM provider for tests, benchmarks and local runs.
#[derive(Debug, Parser)]
#[command(name = "mock-provider", version)]
struct Args {
    /// Address to listen on.
    #[arg(long, env = "MOCK_PROVIDER_ADDR", default_value = "127.0.0.1:8081")]
    addr: SocketAddr,
    /// Content chunks per reply.
    #[arg(long, env = "MOCK_PROVIDER_CHUNKS", default_value_t = 12)]
    chunks: usize,
    /// Milliseconds between streamed chunks.
    #[arg(long, env = "MOCK_PROVIDER_CHUNK_DELAY_MS", default_value_t = 0)]
    chunk_delay_ms: u64,
    /// Milliseconds before a response starts.
    #[arg(long, env = "MOCK_PROVIDER_LATENCY_MS", default_value_t = 0)]
    latency_ms: u64,
    /// Verify SigV4 signatures on Bedrock requests with this secret access key.
    #[arg(long, env = "MOCK_AWS_SECRET_ACCESS_KEY", hide_env_values = true)]
    aws_secret_access_key: Option<String>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt().with_env_filter("info").init();
    let args = Args::parse();
    let state = Arc::new(MockState {
        config: MockConfig {
            chunks: args.chunks,
            chunk_delay: Duration::from_millis(args.chunk_delay_ms),
            latency: Duration::from_millis(args.latency_ms),
            aws_secret_access_key: args.aws_secret_access_key,
        },
        schemas: Schemas::load()?,
        recorder: Recorder::default(),
        issued: Default::default(),
    });
    let listener = tokio::net::TcpListener::bind(args.addr).await?;
    tracing::info!(addr = %listener.local_addr()?, "mock provider listening");
    axum::serve(listener, router(state)).await?;
    Ok(())
}
