//! strata-core: the whole strata pipeline as a library.
//!
//! strata reads what a B2B SaaS company knows about its customers (accounts,
//! product usage events, monthly revenue, feedback), computes one row of
//! features per account, assigns every account to segments, and measures
//! what each segment is worth.
//!
//! ```text
//!  sources ──► features ──► segmentations ──► measures ──► outputs
//!  (CSV,       (DataFusion   (rule language,    (ARR, NRR,    (memberships.csv,
//!   Parquet,    aggregates    first match        GRR, churn,   features.parquet,
//!   NDJSON)     per account)  wins)              NPS)          segments.json)
//! ```
//!
//! The CLI (`strata-cli`) only turns arguments into calls on this crate; this
//! crate never prints, never reads the wall clock for results and never parses
//! command-line flags.
#![warn(missing_docs)]

pub mod backtest;
pub mod catalog;
pub mod connection;
pub mod dates;
pub mod dbt;
pub mod demo;
pub mod destinations;
pub mod discover;
pub mod distributed;
pub mod engine;
pub mod error;
pub mod eval;
pub mod facts;
pub mod features;
pub mod files;
pub mod icp;
pub mod index;
pub mod measures;
pub mod outputs;
pub mod pipeline;
pub mod prepare;
pub mod project;
pub mod pushdown;
pub mod risk;
pub mod roadmap;
pub mod rules;
pub mod score;
pub mod segment;
pub mod service;
pub mod sources;
pub mod sql;
pub mod state;
pub mod themes;

pub use error::{Error, Result};
pub use strata_ml as ml;
