//! Gatehouse data plane: stateless pingora workers that proxy provider traffic, with config
//! fetched from the control plane and cached.

pub mod background;
pub mod budget;
pub mod config;
pub mod credentials;
pub mod drain;
pub mod error;
pub mod guard;
pub mod metrics;
pub mod proxy;
pub mod records;
pub mod settings;
pub mod telemetry;
