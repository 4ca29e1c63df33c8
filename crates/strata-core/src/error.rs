//! The error type of strata-core.
//!
//! Every error says what went wrong, where (file, row, column, rule position)
//! and, when we can tell, what to do about it. Library code never panics on
//! bad input: it returns one of these.
use std::path::PathBuf;

/// Result alias used throughout strata-core.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the pipeline.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read or written.
    #[error("cannot access `{}`: {source}", path.display())]
    Io {
        /// The file involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The project file or the data it points at has one or more problems;
    /// validation collects all of them before failing.
    #[error("{}", render_problems(.0))]
    Invalid(Vec<Problem>),
    /// A rule failed to parse or check.
    #[error(transparent)]
    Rule(#[from] crate::rules::RuleError),
    /// The query engine failed; running out of `options.memory_limit` says
    /// so and how to fix it (DataFusion's own advice names its settings).
    /// Not a `#[source]`: the message already holds the engine's whole chain.
    #[error("{}", render_engine_error(.0))]
    DataFusion(datafusion::error::DataFusionError),
    /// Arrow failed while building or converting columns.
    #[error("columnar data error: {0}")]
    Arrow(#[from] datafusion::arrow::error::ArrowError),
    /// Parquet output failed.
    #[error("parquet error: {0}")]
    Parquet(#[from] datafusion::parquet::errors::ParquetError),
    /// A service strata depends on did not answer or broke off: a database
    /// holding the data, the state store, a Ballista scheduler. The project
    /// and the data may be fine; retrying once the service is back can
    /// succeed. The CLI exits with [`Error::UNAVAILABLE_EXIT_CODE`], the API
    /// answers 503.
    #[error("{0}")]
    Unavailable(Problem),
    /// Something that should be impossible happened.
    #[error("internal error: {0}; this is a bug in strata, please report it")]
    Internal(String),
}

impl From<datafusion::error::DataFusionError> for Error {
    fn from(error: datafusion::error::DataFusionError) -> Self {
        Error::DataFusion(error)
    }
}

impl Error {
    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// The exit code of the CLI for [`Error::Unavailable`] (`EX_UNAVAILABLE`
    /// of sysexits.h); every other error exits with 1.
    pub const UNAVAILABLE_EXIT_CODE: u8 = 69;

    /// A service that did not answer, at `location`.
    pub fn unavailable(problem: Problem) -> Self {
        Error::Unavailable(problem)
    }

    /// A single validation problem as an error.
    pub fn invalid(problem: Problem) -> Self {
        Error::Invalid(vec![problem])
    }
}

/// The message of a query engine error: a memory pool that ran out becomes
/// advice on the project's own setting.
fn render_engine_error(error: &datafusion::error::DataFusionError) -> String {
    use datafusion::error::DataFusionError;
    match error.find_root() {
        DataFusionError::ResourcesExhausted(detail) => format!(
            "the run needs more memory than `options.memory_limit` allows ({detail}); \
             raise `memory_limit` in the project's [options] (e.g. \"1GiB\") or remove it \
             to let the engine use what the machine has"
        ),
        _ => format!("query engine error: {error}"),
    }
}

/// One problem found while validating a project or its data.
///
/// `location` is free text such as ``accounts.csv, row 12, column `employees` ``
/// and `help` tells the user what to do.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Problem {
    /// Where the problem is (file, row, column, key or rule).
    pub location: String,
    /// What is wrong.
    pub message: String,
    /// What to do about it, when we know.
    pub help: Option<String>,
    /// The rule error behind this problem, for rendering under its source line.
    #[serde(skip)]
    pub rule: Option<Box<crate::rules::RuleError>>,
}

impl Problem {
    /// The same problem at `location`.
    pub fn at(mut self, location: impl Into<String>) -> Self {
        self.location = location.into();
        self
    }

    /// A problem at `location`.
    pub fn new(location: impl Into<String>, message: impl Into<String>) -> Self {
        Problem {
            location: location.into(),
            message: message.into(),
            help: None,
            rule: None,
        }
    }

    /// A problem made of a rule error, located at `location`.
    pub fn from_rule(location: impl Into<String>, error: crate::rules::RuleError) -> Self {
        Problem {
            location: location.into(),
            message: error.to_string(),
            help: None,
            rule: Some(Box::new(error)),
        }
    }

    /// Adds a help line.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.location, self.message)?;
        if let Some(help) = &self.help {
            write!(f, "\n  help: {help}")?;
        }
        Ok(())
    }
}

fn render_problems(problems: &[Problem]) -> String {
    let mut out = if problems.len() == 1 {
        String::new()
    } else {
        format!("{} problems found:\n", problems.len())
    };
    for (idx, problem) in problems.iter().enumerate() {
        if idx > 0 {
            out.push('\n');
        }
        if problems.len() > 1 {
            out.push_str("- ");
        }
        out.push_str(&problem.to_string());
    }
    out
}
