//! Running strata's async work from Python: on a thread of its own with
//! the GIL released, interruptible with Ctrl-C, reporting phases to a
//! Python callable.
use std::future::Future;
use std::sync::OnceLock;
use std::time::Duration;

use pyo3::prelude::*;
use strata_core::pipeline::{Observer, Phase};

use crate::errors::{StrataError, to_python};

/// The process's tokio runtime, started on first use.
fn runtime() -> PyResult<&'static tokio::runtime::Runtime> {
    static RUNTIME: OnceLock<std::io::Result<tokio::runtime::Runtime>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .thread_name("strata")
                .build()
        })
        .as_ref()
        .map_err(|e| StrataError::new_err(format!("cannot start strata's runtime: {e}")))
}

/// Runs the future `make` returns to completion on a thread of its own,
/// with the GIL released, checking for Ctrl-C every 100 ms: an interrupt
/// drops the future (cancelling the run) and raises KeyboardInterrupt. The
/// future need not be `Send` (a SQLite store is not); what it returns is.
pub(crate) fn block_on<T, F, Fut>(py: Python<'_>, make: F) -> PyResult<T>
where
    T: Send,
    F: FnOnce() -> Fut + Send,
    Fut: Future<Output = strata_core::error::Result<T>>,
{
    let runtime = runtime()?;
    let (cancel, cancelled) = tokio::sync::oneshot::channel::<()>();
    let (done, mut outcome) = std::sync::mpsc::channel();
    std::thread::scope(|scope| {
        scope.spawn(move || {
            let result = runtime.block_on(async move {
                tokio::select! {
                    result = make() => Some(result),
                    _ = cancelled => None,
                }
            });
            let _ = done.send(result);
        });
        let mut cancel = Some(cancel);
        loop {
            let (receiver, received) = py.detach(move || {
                let received = outcome.recv_timeout(Duration::from_millis(100));
                (outcome, received)
            });
            outcome = receiver;
            match received {
                Ok(Some(result)) => return result.map_err(|error| to_python(py, error)),
                Ok(None) => return Err(StrataError::new_err("the run was cancelled")),
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                    if let Err(interrupt) = py.check_signals() {
                        if let Some(cancel) = cancel.take() {
                            let _ = cancel.send(());
                        }
                        // Wait until the run is dropped, then raise.
                        let _ = py.detach(move || outcome.recv());
                        return Err(interrupt);
                    }
                }
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                    return Err(StrataError::new_err(
                        "strata's run thread stopped without a result; this is a bug in strata, please report it",
                    ));
                }
            }
        }
    })
}

/// Phases reported to a Python callable `progress(label, started)`.
pub(crate) struct Progress(pub(crate) Option<Py<PyAny>>);

impl Progress {
    fn call(&self, phase: Phase, started: bool) {
        if let Some(callback) = &self.0 {
            Python::attach(|py| {
                if let Err(error) = callback.call1(py, (phase.label(), started)) {
                    error.write_unraisable(py, None);
                }
            });
        }
    }
}

impl Observer for Progress {
    fn phase_started(&self, phase: Phase) {
        self.call(phase, true);
    }
    fn phase_finished(&self, phase: Phase) {
        self.call(phase, false);
    }
}
