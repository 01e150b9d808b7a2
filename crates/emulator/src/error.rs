//! Errors of starting and driving an emulator from Rust.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum EmulatorError {
    #[error("could not bind the emulator listener on {addr}: {source}")]
    Bind {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("could not create the emulator's certificates: {0}")]
    Certificate(String),
    #[error("could not write the CA file: {0}")]
    CaFile(std::io::Error),
    #[error("invalid seed: {0}")]
    Seed(String),
    #[error("could not read the seed file {path}: {source}")]
    SeedFile {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error(transparent)]
    Apim(#[from] crate::apim::ApimError),
}
