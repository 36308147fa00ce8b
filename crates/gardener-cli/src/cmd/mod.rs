//! One module per subcommand.

pub mod config;
pub mod doctor;
pub mod install;
pub mod service;
pub mod uninstall;
