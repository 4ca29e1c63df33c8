//! strata for Python: the extension module `strata._strata`, which the
//! package `strata` (`python/strata/__init__.py`) wraps.
//!
//! A [`Project`] is a loaded `strata.toml`; its `run` goes through the same
//! run service as `strata run` (`strata_core::service::execute`) when it
//! writes outputs or records, and through `strata_core::pipeline::run`
//! otherwise. Results cross as Arrow record batches through the Arrow C data
//! interface (pyarrow wraps strata's buffers; nothing is copied) and as
//! JSON text for documents.
//!
//! **Invariants**: Rust runs with the GIL released, in slices of 100 ms
//! between which Python's signal handlers run, so Ctrl-C interrupts a run
//! (dropping it: a recorded run's transaction rolls back); every strata
//! error becomes a `strata.StrataError` (a `RuleError` for rules) with
//! strata's message, never a panic.
mod errors;
mod project;
mod runtime;

use pyo3::prelude::*;

use crate::errors::{ProjectError, RuleError, StrataError};

/// The extension module.
#[pymodule]
fn _strata(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add_class::<project::Project>()?;
    m.add("StrataError", py.get_type::<StrataError>())?;
    m.add("ProjectError", py.get_type::<ProjectError>())?;
    m.add("RuleError", py.get_type::<RuleError>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
