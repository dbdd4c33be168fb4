//! The trapbox host: the guest's debugger.

pub mod cli;
