//! `terraform-provider-gatehouse`: the Terraform provider (plugin protocol v6) for
//! Gatehouse, a thin client of the control plane's REST API.

mod client;
mod data_sources;
mod provider;
mod resources;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tf_provider::serve("gatehouse", provider::GatehouseProvider::default()).await
}
