//! An ARM-faithful emulator of Azure API Management, Azure API Center and an Entra ID
//! token endpoint, served over HTTPS on loopback, for tests, demos and benchmarks.
//!
//! It deliberately shares no code with `apilink-azure`: it stands for Azure, and a bug
//! shared by both sides would pass unnoticed.

pub mod apic;
pub mod arm;
