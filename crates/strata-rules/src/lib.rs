//! The rule language: a small, safe subset of SQL boolean expressions over one row.
//!
//! Segments, features and the ideal customer profile are all written as rules
//! such as `employees BETWEEN 200 AND 1000 AND industry IN ('SaaS', 'Fintech')`.
//! A rule can only read the columns of the row it is evaluated on: there are
//! no subqueries, table references, statements or comments, so rules can be
//! accepted from API callers safely. This crate knows nothing of the rest of
//! strata except the column [`Schema`] it checks rules against, and depends
//! on no query engine: strata-core compiles checked rules to DataFusion.
//!
//! Rule text goes through three steps, each a type that cannot be invalid:
//!
//! ```text
//!  text ──parse──► ast::Expr ──check──► CheckedRule ──► SQL, DataFusion (in strata-core)
//!        (lexer.rs,           (check.rs: columns
//!         parser.rs)           exist, types fit)
//! ```
//!
//! Every error is a [`RuleError`] carrying the byte [`Span`] of the problem
//! and, where there is one, a hint such as "did you mean `employees`?".
//! [`ast::Expr`] prints back as canonical rule text (keywords in upper case,
//! parentheses only where needed) that parses to the same tree.
//!
//! ```
//! use strata_rules::{Schema, ValueType, check_predicate};
//!
//! let schema = Schema::new([
//!     ("employees".to_string(), ValueType::Integer),
//!     ("industry".to_string(), ValueType::Text),
//! ]);
//! let rule = check_predicate("employees > 100 and industry = 'SaaS'", &schema).unwrap();
//! assert_eq!(rule.expr().to_string(), "employees > 100 AND industry = 'SaaS'");
//! assert_eq!(rule.columns(), ["employees", "industry"]);
//!
//! let error = check_predicate("employes > 100", &schema).unwrap_err();
//! assert_eq!(error.to_string(), "unknown column `employes` at 1:1; did you mean `employees`?");
//! ```
pub mod ast;
mod check;
mod lexer;
mod parser;
mod print;
mod temporal;

use std::fmt;

pub use parser::MAX_DEPTH;
pub use print::number;

/// Byte range inside a rule's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
}

/// The type of a column or of an expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueType {
    /// true/false.
    Boolean,
    /// 64-bit integer.
    Integer,
    /// 64-bit float.
    Float,
    /// UTF-8 text.
    Text,
    /// Calendar date.
    Date,
    /// UTC timestamp.
    Timestamp,
}

impl ValueType {
    /// True for `Integer` and `Float`, which compare and mix freely.
    pub fn is_numeric(self) -> bool {
        matches!(self, ValueType::Integer | ValueType::Float)
    }

    /// True for `Date` and `Timestamp`.
    pub fn is_temporal(self) -> bool {
        matches!(self, ValueType::Date | ValueType::Timestamp)
    }
}

impl fmt::Display for ValueType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            ValueType::Boolean => "Boolean",
            ValueType::Integer => "Integer",
            ValueType::Float => "Float",
            ValueType::Text => "Text",
            ValueType::Date => "Date",
            ValueType::Timestamp => "Timestamp",
        };
        f.write_str(name)
    }
}

/// The columns a rule may reference, with their types.
#[derive(Debug, Clone, Default)]
pub struct Schema {
    columns: Vec<(String, ValueType)>,
}

impl Schema {
    /// A schema from `(name, type)` pairs.
    pub fn new(columns: impl IntoIterator<Item = (String, ValueType)>) -> Self {
        Schema {
            columns: columns.into_iter().collect(),
        }
    }
    /// The type of `name`, if the schema has it.
    pub fn get(&self, name: &str) -> Option<ValueType> {
        self.columns
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, t)| *t)
    }
    /// All column names in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.columns.iter().map(|(n, _)| n.as_str())
    }
    /// All columns in order.
    pub fn columns(&self) -> &[(String, ValueType)] {
        &self.columns
    }
}

/// What kind of rule error this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleErrorKind {
    /// The text is not a valid expression.
    Syntax,
    /// A column name is not in the schema.
    UnknownColumn,
    /// A function name is not supported.
    UnknownFunction,
    /// Operand types do not fit.
    Type,
}

/// A rule that failed to parse or check, with the position of the problem.
///
/// It displays on one line, as in
/// "unknown column `employes` in rule `size/SMB` at 1:1; did you mean `employees`?",
/// and [`RuleError::render_snippet`] draws the rule with the span underlined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleError {
    /// The kind of error.
    pub kind: RuleErrorKind,
    /// What went wrong, lowercase, no final period.
    pub message: String,
    /// Where in `rule_text`.
    pub span: Span,
    /// What to do, e.g. "did you mean `employees`?".
    pub help: Option<String>,
    /// The whole rule text.
    pub rule_text: String,
    /// Which rule, e.g. `size/SMB` or `features.integrations_60d`.
    pub context: Option<String>,
}

impl RuleError {
    /// An error of `kind` at `span` of `rule_text`, without help or context.
    pub fn new(
        kind: RuleErrorKind,
        message: impl Into<String>,
        span: Span,
        rule_text: &str,
    ) -> Self {
        RuleError {
            kind,
            message: message.into(),
            span,
            help: None,
            rule_text: rule_text.to_string(),
            context: None,
        }
    }

    /// The same error with `help` saying what to do.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// The same error naming the rule it is about, such as `size/SMB`.
    pub fn with_context(mut self, context: impl Into<String>) -> Self {
        self.context = Some(context.into());
        self
    }

    /// The 1-based line and column of the start of the span, the column counted in characters.
    pub fn line_col(&self) -> (usize, usize) {
        let before = &self.rule_text[..self.clamped_start()];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |newline| newline + 1);
        let column = before[line_start..].chars().count() + 1;
        (line, column)
    }

    /// The line of the rule holding the start of the span, with `^` under the span.
    ///
    /// A span that runs past the end of its line is underlined to the end of
    /// that line; an empty span, such as the end of the rule, gets one caret.
    pub fn render_snippet(&self) -> String {
        let start = self.clamped_start();
        let line_start = self.rule_text[..start]
            .rfind('\n')
            .map_or(0, |newline| newline + 1);
        let line_end = self.rule_text[start..]
            .find('\n')
            .map_or(self.rule_text.len(), |offset| start + offset);
        let line = self.rule_text[line_start..line_end].trim_end_matches('\r');
        // Tabs are copied into the caret line so that the carets stay aligned in any terminal.
        let indent: String = self.rule_text[line_start..start]
            .chars()
            .map(|character| if character == '\t' { '\t' } else { ' ' })
            .collect();
        let line_content_end = (line_start + line.len()).max(start);
        let underlined_end = self.span.end.min(line_content_end).max(start);
        let underlined_end = floor_char_boundary(&self.rule_text, underlined_end);
        let caret_count = self.rule_text[start..underlined_end].chars().count().max(1);
        format!("{line}\n{indent}{}", "^".repeat(caret_count))
    }

    /// The span start, moved inside the text and onto a character boundary so slicing never panics.
    fn clamped_start(&self) -> usize {
        floor_char_boundary(&self.rule_text, self.span.start)
    }
}

impl std::error::Error for RuleError {}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.message)?;
        if let Some(context) = &self.context {
            write!(f, " in rule `{context}`")?;
        }
        let (line, column) = self.line_col();
        write!(f, " at {line}:{column}")?;
        if let Some(help) = &self.help {
            write!(f, "; {help}")?;
        }
        Ok(())
    }
}

/// A rule that parsed and type-checked against a schema.
///
/// Its expression is the parsed tree with one change made by the checker: a
/// string literal compared with a date or timestamp (`created > '2024-01-01'`)
/// has become a date or timestamp literal, so the compilers need no types.
#[derive(Debug, Clone)]
pub struct CheckedRule {
    text: String,
    expr: ast::Expr,
    value_type: ValueType,
}

impl CheckedRule {
    /// The rule text as written.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The checked expression; its spans point into [`CheckedRule::text`].
    pub fn expr(&self) -> &ast::Expr {
        &self.expr
    }

    /// The type of the rule's value.
    ///
    /// A rule made only of `NULL`s has no type of its own; it counts as
    /// `Boolean`, the type a rule most often needs.
    pub fn value_type(&self) -> ValueType {
        self.value_type
    }

    /// The distinct columns the rule reads, in the order they first appear.
    pub fn columns(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        self.expr.walk(&mut |node| {
            if let ast::ExprKind::Column(name) = &node.kind
                && !names.contains(name)
            {
                names.push(name.clone());
            }
        });
        names
    }
}

/// Parses rule text into a syntax tree, without looking at any schema.
pub fn parse(text: &str) -> Result<ast::Expr, RuleError> {
    parser::parse_rule(text)
}

/// Parses rule text and checks it against `schema`; the rule may have any type.
pub fn check(text: &str, schema: &Schema) -> Result<CheckedRule, RuleError> {
    let expr = parse(text)?;
    let (expr, value_type) = check::check_expr(expr, schema, text)?;
    Ok(CheckedRule {
        text: text.to_string(),
        expr,
        value_type: value_type.unwrap_or(ValueType::Boolean),
    })
}

/// Like [`check`], and also requires the rule to be a true/false condition.
pub fn check_predicate(text: &str, schema: &Schema) -> Result<CheckedRule, RuleError> {
    let rule = check(text, schema)?;
    if rule.value_type != ValueType::Boolean {
        return Err(RuleError::new(
            RuleErrorKind::Type,
            format!(
                "rule must be a true/false condition, found {}",
                rule.value_type
            ),
            rule.expr.span,
            text,
        )
        .with_help("compare the value with something, as in `employees > 100`"));
    }
    Ok(rule)
}

/// The candidate closest to `name`, when it is close enough to be a likely typo.
///
/// Closeness is the better of normalized Damerau-Levenshtein (good at
/// swapped and missing letters) and Jaro-Winkler (good at shared prefixes,
/// as in `api_share` for `api_share_28d`), compared without regard to case,
/// since a wrong case is the most common typo of all.
pub(crate) fn suggest<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    const MIN_SIMILARITY: f64 = 0.8;
    let name_lower = name.to_lowercase();
    let mut best: Option<(&str, f64)> = None;
    for candidate in candidates {
        let candidate_lower = candidate.to_lowercase();
        let similarity = strsim::normalized_damerau_levenshtein(&name_lower, &candidate_lower)
            .max(strsim::jaro_winkler(&name_lower, &candidate_lower));
        if similarity >= MIN_SIMILARITY
            && best.is_none_or(|(_, best_similarity)| similarity > best_similarity)
        {
            best = Some((candidate, similarity));
        }
    }
    best.map(|(candidate, _)| candidate)
}

/// The largest index at most `index` that is a character boundary of `text`.
fn floor_char_boundary(text: &str, index: usize) -> usize {
    let mut index = index.min(text.len());
    while !text.is_char_boundary(index) {
        index -= 1;
    }
    index
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_display_and_snippet() {
        let at = |start, end| Span { start, end };
        check(
            "employes > 1",
            at(0, 8),
            None,
            Some("did you mean `employees`?"),
            "boom at 1:1; did you mean `employees`?",
            "employes > 1\n^^^^^^^^",
        );
        check(
            "employes > 1",
            at(0, 8),
            Some("size/SMB"),
            Some("did you mean `employees`?"),
            "boom in rule `size/SMB` at 1:1; did you mean `employees`?",
            "employes > 1\n^^^^^^^^",
        );
        check(
            "a = 1 AND\n  bé > 2",
            at(12, 15),
            None,
            None,
            "boom at 2:3",
            "  bé > 2\n  ^^",
        );
        check(
            "a = 1 AND\n  b > 2 OR\nc",
            at(12, 23),
            None,
            None,
            "boom at 2:3",
            "  b > 2 OR\n  ^^^^^^^^",
        );
        check("a =", at(3, 3), None, None, "boom at 1:4", "a =\n   ^");
        check("\tx <", at(1, 2), None, None, "boom at 1:2", "\tx <\n\t^");
        check("é", at(1, 1), None, None, "boom at 1:1", "é\n^");
        check("abc", at(99, 120), None, None, "boom at 1:4", "abc\n   ^");
        check("", at(0, 0), None, None, "boom at 1:1", "\n^");
        check("a\r\nb", at(2, 3), None, None, "boom at 1:3", "a\n  ^");
    }

    #[test]
    fn suggestions() {
        let columns = ["employees", "industry", "api_share_28d", "mrr", "created"];
        assert_eq!(suggest("employes", columns), Some("employees"));
        assert_eq!(suggest("Employees", columns), Some("employees"));
        assert_eq!(suggest("industy", columns), Some("industry"));
        assert_eq!(suggest("api_share", columns), Some("api_share_28d"));
        assert_eq!(suggest("revenue", columns), None);
        assert_eq!(suggest("x", columns), None);
        assert_eq!(suggest("x", []), None);
    }

    /// Builds an error with a fixed message and compares its one-line form and its snippet.
    fn check(
        text: &str,
        span: Span,
        context: Option<&str>,
        help: Option<&str>,
        expected_display: &str,
        expected_snippet: &str,
    ) {
        let mut error = RuleError::new(RuleErrorKind::Syntax, "boom", span, text);
        if let Some(context) = context {
            error = error.with_context(context);
        }
        if let Some(help) = help {
            error = error.with_help(help);
        }
        assert_eq!(error.to_string(), expected_display, "display of {text:?}");
        assert_eq!(
            error.render_snippet(),
            expected_snippet,
            "snippet of {text:?}"
        );
    }
}
