//! Python exceptions for strata's errors: `StrataError`, `ProjectError`
//! and `RuleError` (with the rule's line, column, hint and text).
use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use strata_core::error::Error;

create_exception!(
    _strata,
    StrataError,
    PyException,
    "An error strata reports: the message says what, where and how to fix it."
);
create_exception!(
    _strata,
    ProjectError,
    StrataError,
    "The project file or the data it points at has problems."
);
create_exception!(
    _strata,
    RuleError,
    StrataError,
    "A rule that does not parse or check; `line`, `column`, `hint` and `rule` say where and what to do."
);

/// A strata error as the Python exception for it.
pub(crate) fn to_python(py: Python<'_>, error: Error) -> PyErr {
    match error {
        Error::Rule(rule) => rule_error(py, &rule),
        Error::Invalid(_) => ProjectError::new_err(error.to_string()),
        other => StrataError::new_err(other.to_string()),
    }
}

/// `strata.RuleError` with the rule's position, caret snippet and hint.
pub(crate) fn rule_error(py: Python<'_>, rule: &strata_core::rules::RuleError) -> PyErr {
    let (line, column) = rule.line_col();
    let mut message = format!(
        "{} at line {line}, column {column}\n  {}",
        rule.message,
        rule.render_snippet().replace('\n', "\n  ")
    );
    if let Some(help) = &rule.help {
        message.push_str(&format!("\n  help: {help}"));
    }
    let error = RuleError::new_err(message);
    let value = error.value(py);
    // Setting attributes on a fresh exception object cannot fail.
    let _ = value.setattr("line", line);
    let _ = value.setattr("column", column);
    let _ = value.setattr("hint", rule.help.clone());
    let _ = value.setattr("rule", rule.rule_text.clone());
    error
}
