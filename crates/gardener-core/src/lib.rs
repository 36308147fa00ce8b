//! Gardener's behaviour without any UI: configuration, platform paths, service
//! definitions and managers (launchd, systemd), and the installer.
//!
//! The CLI and the menu-bar app are thin layers over this crate.

pub mod backup;
pub mod config;
pub mod context;
pub mod copies;
pub mod error;
pub mod fsutil;
pub mod health;
pub mod install;
pub mod logs;
pub mod models;
pub mod monitor;
pub mod news;
pub mod ollama_settings;
pub mod paths;
pub mod services;
pub mod settings;
pub mod words;

pub use config::Config;
pub use paths::{Paths, Platform};

/// Gardener's version, as recorded in generated files.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
