//! `strata sql`: one runnable SQL script that computes every feature and
//! every rules segmentation from the source tables, for a warehouse dialect.
//!
//! The script mirrors `features::compute` step by step: events become
//! integer UTC day numbers once (the only dialect-specific date arithmetic),
//! then per-(account, day), per-(account, user) and per-(account, event)
//! aggregates, adoption after signup, custom counts, revenue at the as-of
//! month, joined onto the accounts in the same column order as
//! `features.parquet`. Rules and event filters go through DataFusion's
//! unparser with the dialect, so rule text never reaches the SQL as text:
//! only the checked expression tree is printed.
//!
//! **Invariants**: the as-of date appears once, in the `params` CTE; the
//! output columns and their meaning are those of the embedded run (a test
//! runs the PostgreSQL script on the real server and compares).
use std::fmt::Write as _;

use chrono::NaiveDate;
use datafusion::sql::unparser::Unparser;
use datafusion::sql::unparser::dialect as df;

use crate::catalog::{Grain, Measure, Period, TREND_DAYS, WINDOWS, default_measures};
use crate::error::{Error, Result};
use crate::features::FeatureTable;
use crate::project::{CustomFeatureKind, EventWindow, Project, SegmentationKind, TableKind};
use crate::rules::{self, CheckedRule, ToDataFusion};

/// A SQL dialect `strata sql` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// PostgreSQL 12+.
    Postgres,
    /// Google BigQuery (standard SQL).
    BigQuery,
    /// Snowflake.
    Snowflake,
    /// DuckDB.
    DuckDb,
    /// MySQL 8.
    MySql,
}

impl Dialect {
    /// Every dialect, in `--help` order.
    pub const ALL: [Dialect; 5] = [
        Dialect::Postgres,
        Dialect::BigQuery,
        Dialect::Snowflake,
        Dialect::DuckDb,
        Dialect::MySql,
    ];

    /// `postgres`, `bigquery`, ...
    pub fn name(self) -> &'static str {
        match self {
            Dialect::Postgres => "postgres",
            Dialect::BigQuery => "bigquery",
            Dialect::Snowflake => "snowflake",
            Dialect::DuckDb => "duckdb",
            Dialect::MySql => "mysql",
        }
    }

    /// The dialect of a name.
    pub fn from_name(name: &str) -> Option<Dialect> {
        Dialect::ALL.into_iter().find(|d| d.name() == name)
    }

    /// A quoted identifier.
    pub fn quote(self, identifier: &str) -> String {
        match self {
            Dialect::BigQuery | Dialect::MySql => format!("`{}`", identifier.replace('`', "``")),
            _ => format!("\"{}\"", identifier.replace('"', "\"\"")),
        }
    }

    fn text(self) -> &'static str {
        match self {
            Dialect::Postgres => "TEXT",
            Dialect::BigQuery => "STRING",
            Dialect::MySql => "CHAR",
            Dialect::Snowflake | Dialect::DuckDb => "VARCHAR",
        }
    }

    fn float(self) -> &'static str {
        match self {
            Dialect::Postgres => "DOUBLE PRECISION",
            Dialect::BigQuery => "FLOAT64",
            _ => "DOUBLE",
        }
    }

    /// Days since 1970-01-01 of the UTC date of a timestamp or date `expr`.
    fn day(self, expr: &str) -> String {
        match self {
            Dialect::Postgres => {
                format!("CAST(FLOOR(EXTRACT(EPOCH FROM {expr}) / 86400) AS INTEGER)")
            }
            Dialect::DuckDb => format!("CAST(FLOOR(epoch({expr}) / 86400) AS INTEGER)"),
            Dialect::BigQuery => format!("UNIX_DATE(DATE({expr}))"),
            Dialect::Snowflake => {
                format!("CAST(FLOOR(DATE_PART(EPOCH_SECOND, {expr}) / 86400) AS INTEGER)")
            }
            Dialect::MySql => format!("DATEDIFF(DATE({expr}), DATE '1970-01-01')"),
        }
    }

    /// The date of a day number (days since 1970-01-01).
    fn date_of_day(self, day: &str) -> String {
        match self {
            Dialect::Postgres | Dialect::DuckDb => {
                format!("CAST(DATE '1970-01-01' + {day} AS DATE)")
            }
            Dialect::BigQuery => format!("DATE_FROM_UNIX_DATE({day})"),
            Dialect::Snowflake => format!("DATEADD(DAY, {day}, DATE '1970-01-01')"),
            Dialect::MySql => format!("DATE_ADD(DATE '1970-01-01', INTERVAL {day} DAY)"),
        }
    }

    /// A month number (year × 12 + month) of a date or timestamp.
    fn month(self, expr: &str) -> String {
        format!("(EXTRACT(YEAR FROM {expr}) * 12 + EXTRACT(MONTH FROM {expr}))")
    }

    fn cast(self, expr: &str, to: &str) -> String {
        format!("CAST({expr} AS {to})")
    }

    /// Whether a backslash escapes inside a single-quoted string.
    fn backslash_escapes(self) -> bool {
        matches!(
            self,
            Dialect::BigQuery | Dialect::MySql | Dialect::Snowflake
        )
    }

    /// Whether the dialect has `ILIKE`; without it, `x ILIKE p` prints as
    /// `LOWER(x) LIKE LOWER(p)`.
    fn has_ilike(self) -> bool {
        !matches!(self, Dialect::MySql | Dialect::BigQuery)
    }

    /// Whether `LIKE` reads a backslash as its escape character without an
    /// `ESCAPE` clause, as the rule language's does; elsewhere every `LIKE`
    /// says `ESCAPE '\'`.
    fn like_escapes_with_backslash(self) -> bool {
        matches!(self, Dialect::Postgres | Dialect::MySql | Dialect::BigQuery)
    }

    /// Whether `LEAST` and `GREATEST` skip NULL arguments, as the rule
    /// language's do; where one NULL argument makes them NULL, each
    /// argument is coalesced with the others (`GREATEST(COALESCE(a, b),
    /// COALESCE(b, a))`), which is NULL only when all are.
    fn least_greatest_skip_nulls(self) -> bool {
        matches!(self, Dialect::Postgres | Dialect::DuckDb)
    }

    /// Whether `ROUND` of a double rounds halves away from zero, as the rule
    /// language's does; elsewhere `ROUND(x, n)` prints as
    /// `CASE WHEN x < 0 THEN -FLOOR(-x * 10^n + 0.5) ELSE FLOOR(x * 10^n + 0.5) END / 10^n`.
    fn rounds_halves_away_from_zero(self) -> bool {
        !matches!(self, Dialect::MySql)
    }

    /// Whether `a % b` is an operator; elsewhere it prints as `MOD(a, b)`.
    fn has_modulo_operator(self) -> bool {
        !matches!(self, Dialect::BigQuery)
    }

    /// Whether `%` (or `MOD`) takes doubles; elsewhere both operands are
    /// cast to `DECIMAL(38, 9)` first (PostgreSQL has no `%` for double
    /// precision, BigQuery's `MOD` no FLOAT64).
    fn modulo_takes_doubles(self) -> bool {
        !matches!(self, Dialect::Postgres | Dialect::BigQuery)
    }

    /// Whether the dialect has `BTRIM`; elsewhere `TRIM(x)` prints as
    /// `LTRIM(RTRIM(x))` (both remove spaces).
    fn has_btrim(self) -> bool {
        matches!(self, Dialect::Postgres)
    }

    /// The rule language's semantics in this dialect's functions: each
    /// rewrite answers one of the questions above.
    fn portable(
        self,
        expr: datafusion::logical_expr::Expr,
    ) -> Result<datafusion::logical_expr::Expr> {
        use datafusion::common::ScalarValue;
        use datafusion::common::tree_node::{Transformed, TreeNode};
        use datafusion::functions::expr_fn as f;
        use datafusion::logical_expr::expr::{Like, ScalarFunction};
        use datafusion::logical_expr::{Expr, lit, when};
        let rewritten = expr.transform_up(|node| {
            Ok(match node {
                Expr::Like(mut like) => {
                    // A pattern ending in a lone backslash is an error where
                    // backslash escapes (PostgreSQL; DuckDB with ESCAPE); the
                    // rule language matches it as a backslash, as `\\` does.
                    if let Expr::Literal(ScalarValue::Utf8(Some(pattern)), _) =
                        like.pattern.as_mut()
                        && pattern.chars().rev().take_while(|c| *c == '\\').count() % 2 == 1
                    {
                        pattern.push('\\');
                    }
                    let lower = like.case_insensitive && !self.has_ilike();
                    let escape = like.escape_char.is_none() && !self.like_escapes_with_backslash();
                    if !lower && !escape {
                        return Ok(Transformed::no(Expr::Like(like)));
                    }
                    let (expr, pattern) = if lower {
                        (
                            Box::new(f::lower(*like.expr)),
                            Box::new(f::lower(*like.pattern)),
                        )
                    } else {
                        (like.expr, like.pattern)
                    };
                    Transformed::yes(Expr::Like(Like {
                        negated: like.negated,
                        expr,
                        pattern,
                        escape_char: if escape { Some('\\') } else { like.escape_char },
                        case_insensitive: like.case_insensitive && !lower,
                    }))
                }
                // An untyped NULL in arithmetic or a numeric function is
                // ambiguous to PostgreSQL (`NULL * NULL`, `abs(NULL)`).
                Expr::BinaryExpr(datafusion::logical_expr::BinaryExpr { left, op, right })
                    if matches!(
                        op,
                        datafusion::logical_expr::Operator::Plus
                            | datafusion::logical_expr::Operator::Minus
                            | datafusion::logical_expr::Operator::Multiply
                            | datafusion::logical_expr::Operator::Divide
                    ) && (is_null(&left) || is_null(&right)) =>
                {
                    Transformed::yes(Expr::BinaryExpr(datafusion::logical_expr::BinaryExpr::new(
                        Box::new(typed_null(*left)),
                        op,
                        Box::new(typed_null(*right)),
                    )))
                }
                // ... and those of `(NOT x) IS NULL` and `(a = b) IS NULL`,
                // which SQL reads as `NOT (x IS NULL)` and `a = (b IS NULL)`.
                Expr::IsNull(inner)
                    if matches!(inner.as_ref(), Expr::Not(_)) || is_comparison(&inner) =>
                {
                    Transformed::yes(Expr::IsNull(Box::new(inner.and(lit(true)))))
                }
                Expr::IsNotNull(inner)
                    if matches!(inner.as_ref(), Expr::Not(_)) || is_comparison(&inner) =>
                {
                    Transformed::yes(Expr::IsNotNull(Box::new(inner.and(lit(true)))))
                }
                // The unparser also drops the parentheses of a comparison
                // compared (`(a = b) = c`), which engines reject or read
                // otherwise; `(a = b AND TRUE)` is the same truth value and
                // keeps them.
                Expr::BinaryExpr(datafusion::logical_expr::BinaryExpr { left, op, right })
                    if is_comparison_operator(op)
                        && (is_comparison(&left) || is_comparison(&right)) =>
                {
                    let keep = |side: Box<Expr>| {
                        if is_comparison(&side) {
                            Box::new(side.and(lit(true)))
                        } else {
                            side
                        }
                    };
                    Transformed::yes(Expr::BinaryExpr(datafusion::logical_expr::BinaryExpr::new(
                        keep(left),
                        op,
                        keep(right),
                    )))
                }
                // DataFusion's unparser prints `a * (b % c)` without its
                // parentheses, which SQL reads as `(a * b) % c`; `b % c + 0`
                // is the same number and keeps them (`a * (b % c + 0)`).
                Expr::BinaryExpr(datafusion::logical_expr::BinaryExpr {
                    left,
                    op: datafusion::logical_expr::Operator::Multiply,
                    right,
                }) if matches!(
                    right.as_ref(),
                    Expr::BinaryExpr(datafusion::logical_expr::BinaryExpr {
                        op: datafusion::logical_expr::Operator::Modulo
                            | datafusion::logical_expr::Operator::Divide,
                        ..
                    })
                ) =>
                {
                    Transformed::yes(Expr::BinaryExpr(datafusion::logical_expr::BinaryExpr::new(
                        left,
                        datafusion::logical_expr::Operator::Multiply,
                        Box::new(*right + lit(0i64)),
                    )))
                }
                Expr::BinaryExpr(datafusion::logical_expr::BinaryExpr {
                    left,
                    op: datafusion::logical_expr::Operator::Modulo,
                    right,
                }) if !self.has_modulo_operator() || !self.modulo_takes_doubles() => {
                    use datafusion::arrow::datatypes::DataType;
                    let exact = |operand: Expr| {
                        if self.modulo_takes_doubles() {
                            operand
                        } else {
                            datafusion::logical_expr::cast(operand, DataType::Decimal128(38, 9))
                        }
                    };
                    let (left, right) = (exact(*left), exact(*right));
                    Transformed::yes(if self.has_modulo_operator() {
                        Expr::BinaryExpr(datafusion::logical_expr::BinaryExpr::new(
                            Box::new(left),
                            datafusion::logical_expr::Operator::Modulo,
                            Box::new(right),
                        ))
                    } else {
                        datafusion::logical_expr::ScalarUDF::from(ModFunction::new())
                            .call(vec![left, right])
                    })
                }
                Expr::ScalarFunction(call) => {
                    let name = call.name().to_string();
                    match name.as_str() {
                        // ROUND to NULL places is NULL; DuckDB refuses to bind it.
                        "round" if call.args.get(1).is_some_and(is_null) => {
                            Transformed::yes(typed_null(lit(ScalarValue::Null)))
                        }
                        "abs" | "round" | "floor" | "ceil" | "ln" | "power"
                            if call.args.iter().any(is_null) =>
                        {
                            let args = call
                                .args
                                .into_iter()
                                .enumerate()
                                .map(|(position, arg)| match (name.as_str(), position) {
                                    // ROUND's decimal places are an integer.
                                    ("round", 1) if is_null(&arg) => {
                                        datafusion::logical_expr::cast(
                                            arg,
                                            datafusion::arrow::datatypes::DataType::Int32,
                                        )
                                    }
                                    _ => typed_null(arg),
                                })
                                .collect();
                            Transformed::yes(Expr::ScalarFunction(ScalarFunction::new_udf(
                                call.func, args,
                            )))
                        }
                        "btrim" if !self.has_btrim() && call.args.len() == 1 => {
                            Transformed::yes(f::ltrim(vec![f::rtrim(call.args)]))
                        }
                        // One argument is that argument (MySQL wants two).
                        "greatest" | "least" if call.args.len() == 1 => {
                            let mut args = call.args;
                            Transformed::yes(args.pop().unwrap_or(lit(ScalarValue::Null)))
                        }
                        "greatest" | "least" if !self.least_greatest_skip_nulls() => {
                            let n = call.args.len();
                            let args = (0..n)
                                .map(|first| {
                                    f::coalesce(
                                        (0..n)
                                            .map(|k| call.args[(first + k) % n].clone())
                                            .collect(),
                                    )
                                })
                                .collect();
                            Transformed::yes(Expr::ScalarFunction(ScalarFunction::new_udf(
                                call.func, args,
                            )))
                        }
                        "round" if !self.rounds_halves_away_from_zero() => {
                            let mut args = call.args.into_iter();
                            let x = args.next().unwrap_or(lit(0.0));
                            let scale = f::power(lit(10.0), args.next().unwrap_or(lit(0i64)));
                            let away = |v: Expr| f::floor(v * scale.clone() + lit(0.5));
                            Transformed::yes(
                                when(
                                    x.clone().lt(lit(0i64)),
                                    Expr::Negative(Box::new(away(Expr::Negative(Box::new(
                                        x.clone(),
                                    ))))),
                                )
                                .otherwise(away(x))?
                                    / scale.clone(),
                            )
                        }
                        _ => Transformed::no(Expr::ScalarFunction(call)),
                    }
                }
                other => Transformed::no(other),
            })
        })?;
        Ok(rewritten.data)
    }

    /// A string literal that no text can end early: quotes doubled, and
    /// where backslashes escape, backslashes and quotes escaped with one.
    pub fn string(self, text: &str) -> String {
        if self.backslash_escapes() {
            format!("'{}'", text.replace('\\', "\\\\").replace('\'', "\\'"))
        } else {
            format!("'{}'", text.replace('\'', "''"))
        }
    }

    fn unparse(self, expr: &datafusion::logical_expr::Expr) -> Result<String> {
        use datafusion::common::ScalarValue;
        use datafusion::common::tree_node::{Transformed, TreeNode};
        use datafusion::logical_expr::Expr;
        let expr = self.portable(expr.clone())?;
        // A negation prints as `-` glued to its operand, so `- -8` would print
        // as `--8`: a comment to the end of the line in every dialect, which
        // a string literal on the same line could then escape (found by the
        // `rule_sql` fuzz target). `0 - x` always has its spaces.
        let expr = expr
            .clone()
            .transform(|node| {
                Ok(match node {
                    Expr::Negative(inner) => Transformed::yes(Expr::BinaryExpr(
                        datafusion::logical_expr::BinaryExpr::new(
                            Box::new(datafusion::logical_expr::lit(0i64)),
                            datafusion::logical_expr::Operator::Minus,
                            inner,
                        ),
                    )),
                    other => Transformed::no(other),
                })
            })?
            .data;
        // The unparser doubles quotes, which is not enough where backslashes
        // escape: string literals become placeholders, then our own literals.
        let mut strings: Vec<String> = Vec::new();
        let expr = if self.backslash_escapes() {
            expr.clone()
                .transform(|node| {
                    Ok(match node {
                        Expr::Literal(
                            ScalarValue::Utf8(Some(text))
                            | ScalarValue::Utf8View(Some(text))
                            | ScalarValue::LargeUtf8(Some(text)),
                            metadata,
                        ) => {
                            strings.push(text);
                            let placeholder = format!("strata_literal_{}", strings.len() - 1);
                            Transformed::yes(Expr::Literal(
                                ScalarValue::Utf8(Some(placeholder)),
                                metadata,
                            ))
                        }
                        other => Transformed::no(other),
                    })
                })?
                .data
        } else {
            expr.clone()
        };
        let mut sql = self.unparse_raw(&expr)?;
        if self.backslash_escapes() {
            // The unparser quotes an ESCAPE character as it is; a lone
            // backslash would escape the closing quote here.
            sql = sql.replace(" ESCAPE '\\'", " ESCAPE '\\\\'");
        }
        for (idx, text) in strings.iter().enumerate().rev() {
            sql = sql.replace(&format!("'strata_literal_{idx}'"), &self.string(text));
        }
        Ok(sql)
    }

    fn unparse_raw(self, expr: &datafusion::logical_expr::Expr) -> Result<String> {
        let sql = match self {
            Dialect::Postgres => Unparser::new(&df::PostgreSqlDialect {})
                .with_pretty(true)
                .expr_to_sql(expr),
            Dialect::BigQuery => Unparser::new(&df::BigQueryDialect {})
                .with_pretty(true)
                .expr_to_sql(expr),
            Dialect::Snowflake => Unparser::new(&df::SnowflakeDialect::new())
                .with_pretty(true)
                .expr_to_sql(expr),
            Dialect::DuckDb => Unparser::new(&DuckDbPrinter(df::DuckDBDialect::new()))
                .with_pretty(true)
                .expr_to_sql(expr),
            Dialect::MySql => Unparser::new(&df::MySqlDialect {})
                .with_pretty(true)
                .expr_to_sql(expr),
        }?;
        Ok(sql.to_string())
    }
}

/// Whether `expr` is an untyped NULL literal.
fn is_null(expr: &datafusion::logical_expr::Expr) -> bool {
    matches!(
        expr,
        datafusion::logical_expr::Expr::Literal(datafusion::common::ScalarValue::Null, _)
    )
}

/// An untyped NULL as a double NULL; anything else as it is.
fn typed_null(expr: datafusion::logical_expr::Expr) -> datafusion::logical_expr::Expr {
    if is_null(&expr) {
        datafusion::logical_expr::cast(expr, datafusion::arrow::datatypes::DataType::Float64)
    } else {
        expr
    }
}

/// Whether `op` compares (`=`, `<>`, `<`, `<=`, `>`, `>=`).
fn is_comparison_operator(op: datafusion::logical_expr::Operator) -> bool {
    use datafusion::logical_expr::Operator;
    matches!(
        op,
        Operator::Eq
            | Operator::NotEq
            | Operator::Lt
            | Operator::LtEq
            | Operator::Gt
            | Operator::GtEq
    )
}

/// Whether `expr` is a comparison.
fn is_comparison(expr: &datafusion::logical_expr::Expr) -> bool {
    matches!(
        expr,
        datafusion::logical_expr::Expr::BinaryExpr(binary) if is_comparison_operator(binary.op)
    )
}

/// `MOD(a, b)`, for dialects without a `%` operator. Only ever printed:
/// a script is text, so the function is never evaluated here.
#[derive(Debug, PartialEq, Eq, Hash)]
struct ModFunction {
    signature: datafusion::logical_expr::Signature,
}

impl ModFunction {
    fn new() -> Self {
        ModFunction {
            signature: datafusion::logical_expr::Signature::any(
                2,
                datafusion::logical_expr::Volatility::Immutable,
            ),
        }
    }
}

impl datafusion::logical_expr::ScalarUDFImpl for ModFunction {
    fn name(&self) -> &str {
        "MOD"
    }

    fn signature(&self) -> &datafusion::logical_expr::Signature {
        &self.signature
    }

    fn return_type(
        &self,
        arg_types: &[datafusion::arrow::datatypes::DataType],
    ) -> datafusion::common::Result<datafusion::arrow::datatypes::DataType> {
        Ok(arg_types
            .first()
            .cloned()
            .unwrap_or(datafusion::arrow::datatypes::DataType::Int64))
    }

    fn invoke_with_args(
        &self,
        _args: datafusion::logical_expr::ScalarFunctionArgs,
    ) -> datafusion::common::Result<datafusion::logical_expr::ColumnarValue> {
        datafusion::common::exec_err!("MOD is printed into SQL scripts, never evaluated")
    }
}

/// DataFusion's DuckDB dialect, except that `/` prints as `/`: DataFusion
/// prints DuckDB's integer division `//`, while a rule's `/` divides doubles.
struct DuckDbPrinter(df::DuckDBDialect);

impl df::Dialect for DuckDbPrinter {
    fn identifier_quote_style(&self, identifier: &str) -> Option<char> {
        self.0.identifier_quote_style(identifier)
    }

    fn character_length_style(&self) -> df::CharacterLengthStyle {
        self.0.character_length_style()
    }

    fn distinct_from_style(&self) -> df::DistinctFromStyle {
        self.0.distinct_from_style()
    }

    fn scalar_function_to_sql_overrides(
        &self,
        unparser: &Unparser,
        func_name: &str,
        args: &[datafusion::logical_expr::Expr],
    ) -> datafusion::common::Result<Option<datafusion::sql::sqlparser::ast::Expr>> {
        self.0
            .scalar_function_to_sql_overrides(unparser, func_name, args)
    }
}

/// Table names the script reads; default `accounts`, `events`, `revenue`.
#[derive(Debug, Clone)]
pub struct Tables {
    /// Accounts table.
    pub accounts: String,
    /// Events table.
    pub events: String,
    /// Revenue table.
    pub revenue: String,
}

impl Default for Tables {
    fn default() -> Self {
        Tables {
            accounts: "accounts".into(),
            events: "events".into(),
            revenue: "revenue".into(),
        }
    }
}

/// What a script is made from: the project, the feature table of a run
/// (its column order and the most common events, which come from the data)
/// and the as-of date.
#[derive(Debug, Clone, Copy)]
pub struct ScriptInputs<'a> {
    /// The project.
    pub project: &'a Project,
    /// The feature table of the same project and data.
    pub features: &'a FeatureTable,
    /// The as-of date, the script's one parameter.
    pub as_of: NaiveDate,
    /// The first day of the month whose revenue stands for "now": the
    /// as-of month, or the last month with revenue rows when the as-of
    /// month has none yet (see [`crate::sources::Revenue::measured_month`]).
    pub revenue_month: NaiveDate,
    /// Columns of the events table (optional columns may be absent).
    pub event_columns: &'a [String],
    /// The session's time zone is UTC and the event time is a PostgreSQL
    /// `timestamp`, `timestamptz` or `date`: event days come from date
    /// arithmetic, several times faster than the epoch that works anywhere.
    pub utc_session: bool,
}

/// The script for `dialect`: every feature and every rules segmentation (or
/// only `segmentation`), one row per account ordered by `account_id`.
///
/// # Errors
///
/// An unknown `segmentation`, a rule or filter that no longer checks, or an
/// expression the dialect's unparser cannot print.
pub fn script(
    inputs: &ScriptInputs<'_>,
    tables: &Tables,
    dialect: Dialect,
    segmentation: Option<&str>,
) -> Result<String> {
    let ScriptInputs {
        project, features, ..
    } = *inputs;
    let d = dialect;
    let q = |name: &str| d.quote(name);

    let mut out = String::new();
    let _ = writeln!(
        out,
        "-- strata {}: features and segments, {} dialect.\n\
         -- Reads {}, {}{}; one row per account. The as-of date is the one parameter: edit it in `params`.\n\
         -- Per-event features are the {} most common events of the data this was generated from.",
        env!("CARGO_PKG_VERSION"),
        d.name(),
        tables.accounts,
        tables.events,
        if project.source(TableKind::Revenue).is_some() {
            format!(", {}", tables.revenue)
        } else {
            String::new()
        },
        project.top_events,
    );
    feature_ctes(inputs, tables, d, &mut out)?;

    // Segments: one CASE per rules segmentation, first match wins.
    let mut selected = Vec::new();
    let mut found = segmentation.is_none();
    for (name, case) in segmentation_cases(project, features, d)? {
        if segmentation.is_some_and(|wanted| wanted != name) {
            continue;
        }
        found = true;
        match case {
            Ok(case) => selected.push(format!("{case} AS {}", q(name))),
            Err(kind) => {
                let _ = writeln!(
                    out,
                    "-- segmentation `{name}` ({kind}): not in SQL; freeze it into rules first (`strata discover --freeze`)",
                );
            }
        }
    }
    if !found {
        return Err(project.unknown_segmentation(segmentation.unwrap_or_default()));
    }
    let mut select = vec!["features.*".to_string()];
    select.extend(selected);
    let _ = writeln!(
        out,
        "SELECT\n    {}\nFROM features\nORDER BY account_id;",
        select.join(",\n    ")
    );
    Ok(out)
}

/// Per segmentation of the project, in order: its `CASE` expression over the
/// columns of `features` (first match wins; no match is NULL), or, for a
/// segmentation that is not rules, the name of its kind.
///
/// # Errors
///
/// A rule that no longer checks, or that the dialect's unparser cannot print.
pub fn segmentation_cases<'p>(
    project: &'p Project,
    features: &FeatureTable,
    dialect: Dialect,
) -> Result<Vec<(&'p str, std::result::Result<String, &'static str>)>> {
    let rule_schema = features.rule_schema();
    let mut cases = Vec::new();
    for seg in &project.segmentations {
        let case = match &seg.kind {
            SegmentationKind::Rules { segments, .. } => {
                let mut case = String::from("CASE");
                for segment in segments {
                    let rule = rules::check_predicate(&segment.when, &rule_schema)
                        .map_err(|e| e.with_context(format!("{}/{}", seg.name, segment.name)))?;
                    let _ = write!(
                        case,
                        "\n      WHEN {} THEN {}",
                        rule_sql(&rule, dialect)?,
                        dialect.string(&segment.name)
                    );
                }
                case.push_str("\n    END");
                Ok(case)
            }
            other => Err(other.name()),
        };
        cases.push((seg.name.as_str(), case));
    }
    Ok(cases)
}

/// The script's CTEs, from `params` to `features` (one row per account,
/// the columns of `features.parquet`), without a final `SELECT`.
///
/// # Errors
///
/// A custom feature's filter that no longer checks, or that the dialect's
/// unparser cannot print.
pub fn feature_ctes(
    inputs: &ScriptInputs<'_>,
    tables: &Tables,
    dialect: Dialect,
    out: &mut String,
) -> Result<()> {
    let ScriptInputs {
        project,
        features,
        as_of,
        revenue_month,
        event_columns,
        utc_session,
    } = *inputs;
    let d = dialect;
    let q = |name: &str| d.quote(name);
    let events_source = project
        .source(TableKind::Events)
        .ok_or_else(|| Error::Internal("project without events".into()))?;
    let accounts_source = project
        .source(TableKind::Accounts)
        .ok_or_else(|| Error::Internal("project without accounts".into()))?;
    let schema = features.batch.schema();
    let text = d.text();
    // The revenue month is a second parameter only when it is not the
    // as-of month's (billing for the as-of month not closed yet).
    let revenue_lags = {
        use chrono::Datelike;
        (revenue_month.year(), revenue_month.month()) != (as_of.year(), as_of.month())
    };
    if revenue_lags {
        let _ = writeln!(
            *out,
            "WITH params AS (\n  SELECT DATE '{as_of}' AS as_of, DATE '{revenue_month}' AS revenue_month\n),\np AS (\n  SELECT {} AS d, {} AS m FROM params\n),",
            d.day("as_of"),
            d.month("revenue_month"),
        );
    } else {
        let _ = writeln!(
            *out,
            "WITH params AS (\n  SELECT DATE '{as_of}' AS as_of\n),\np AS (\n  SELECT {} AS d, {} AS m FROM params\n),",
            d.day("as_of"),
            d.month("as_of"),
        );
    }

    // Events as (account, user, event, day, source), before the end of the as-of day.
    let event_column = |canonical: &str| -> String {
        let column = events_source.file_column(canonical);
        format!("e.{}", q(column))
    };
    let optional_text = |canonical: &str| -> String {
        if event_columns
            .iter()
            .any(|c| c == events_source.file_column(canonical))
        {
            d.cast(&event_column(canonical), text)
        } else {
            format!("CAST(NULL AS {text})")
        }
    };
    let event_day = if utc_session && d == Dialect::Postgres {
        format!("(CAST({} AS DATE) - DATE '1970-01-01')", event_column("ts"))
    } else {
        d.day(&event_column("ts"))
    };
    let _ = writeln!(
        *out,
        "ev AS (\n  SELECT {} AS account_id, {} AS user_id, {} AS event, {} AS day, {} AS source\n  FROM {} e CROSS JOIN p\n  WHERE {} <= p.d\n),",
        d.cast(&event_column("account_id"), text),
        optional_text("user_id"),
        d.cast(&event_column("event"), text),
        event_day,
        optional_text("source"),
        tables.events,
        event_day,
    );
    out.push_str(
        "by_day AS (\n  SELECT account_id, day, COUNT(*) AS n,\n    SUM(CASE WHEN source IN ('api', 'integration') THEN 1 ELSE 0 END) AS n_api\n  FROM ev GROUP BY account_id, day\n),\n",
    );
    let mut day_aggregates = Vec::new();
    for days in WINDOWS {
        day_aggregates.push(format!(
            "SUM(CASE WHEN day > p.d - {days} THEN n ELSE 0 END) AS events_{days}d"
        ));
    }
    for days in WINDOWS {
        day_aggregates.push(format!(
            "SUM(CASE WHEN day > p.d - {days} THEN 1 ELSE 0 END) AS active_days_{days}d"
        ));
    }
    day_aggregates.push(
        format!(
            "SUM(CASE WHEN day > p.d - {} AND day <= p.d - {TREND_DAYS} THEN n ELSE 0 END) AS events_prev_{TREND_DAYS}d",
            2 * TREND_DAYS
        ),
    );
    day_aggregates.push("SUM(n) AS events_total".into());
    day_aggregates.push("SUM(n_api) AS api_total".into());
    day_aggregates.push(format!(
        "SUM(CASE WHEN day > p.d - {TREND_DAYS} THEN n_api ELSE 0 END) AS api_{TREND_DAYS}d"
    ));
    day_aggregates.push("MAX(day) AS last_day".into());
    let _ = writeln!(
        *out,
        "day_f AS (\n  SELECT account_id,\n    {}\n  FROM by_day CROSS JOIN p GROUP BY account_id\n),",
        day_aggregates.join(",\n    ")
    );
    let user_aggregates: Vec<String> = WINDOWS
        .iter()
        .map(|days| {
            format!("SUM(CASE WHEN last_day > p.d - {days} THEN 1 ELSE 0 END) AS users_{days}d")
        })
        .collect();
    let _ = writeln!(
        *out,
        "by_user AS (\n  SELECT account_id, user_id, MAX(day) AS last_day\n  FROM ev WHERE user_id IS NOT NULL GROUP BY account_id, user_id\n),\n\
         user_f AS (\n  SELECT account_id,\n    {}\n  FROM by_user CROSS JOIN p GROUP BY account_id\n),",
        user_aggregates.join(",\n    ")
    );
    let mut event_aggregates = vec!["COUNT(*) AS distinct_events".to_string()];
    for days in WINDOWS {
        event_aggregates.push(format!(
            "SUM(CASE WHEN last_day > p.d - {days} THEN 1 ELSE 0 END) AS distinct_events_{days}d"
        ));
    }
    let per_event: Vec<&str> = features
        .defs
        .iter()
        .map(|f| f.name.as_str())
        .filter(|name| name.starts_with("event_") && name.ends_with("_28d"))
        .collect();
    for name in &per_event {
        let event = per_event_name(features, name);
        event_aggregates.push(format!(
            "SUM(CASE WHEN event = {} THEN n_28d ELSE 0 END) AS {}",
            d.string(&event),
            q(name)
        ));
    }
    let _ = writeln!(
        *out,
        "by_event AS (\n  SELECT account_id, event, MAX(day) AS last_day,\n    SUM(CASE WHEN day > p.d - {TREND_DAYS} THEN 1 ELSE 0 END) AS n_28d\n  FROM ev CROSS JOIN p GROUP BY account_id, event\n),\n\
         event_f AS (\n  SELECT account_id,\n    {}\n  FROM by_event CROSS JOIN p GROUP BY account_id\n),",
        event_aggregates.join(",\n    ")
    );
    let created = format!("a.{}", q(accounts_source.file_column("created_at")));
    let _ = writeln!(
        *out,
        "signup AS (\n  SELECT {} AS account_id, {} AS created_day FROM {} a\n),",
        d.cast(
            &format!("a.{}", q(accounts_source.file_column("account_id"))),
            text
        ),
        d.day(&created),
        tables.accounts,
    );
    let adoption = project.adoption_days;
    let _ = writeln!(
        *out,
        "adopt_f AS (\n  SELECT b.account_id, COUNT(*) AS active_days_first_{adoption}d, SUM(b.n) AS events_first_{adoption}d\n  FROM by_day b JOIN signup s ON s.account_id = b.account_id\n  WHERE b.day >= s.created_day AND b.day < s.created_day + {adoption}\n  GROUP BY b.account_id\n),"
    );
    let custom = custom_aggregates(project, d)?;
    if !custom.is_empty() {
        let _ = writeln!(
            out,
            "custom_f AS (\n  SELECT ev.account_id,\n    {}\n  FROM ev JOIN signup s ON s.account_id = ev.account_id CROSS JOIN p\n  GROUP BY ev.account_id\n),",
            custom.join(",\n    ")
        );
    }
    let revenue = project.source(TableKind::Revenue);
    if let Some(source) = revenue {
        let month = d.month(&format!("r.{}", q(source.file_column("month"))));
        let mrr = format!("r.{}", q(source.file_column("mrr")));
        let _ = writeln!(
            out,
            "rev_f AS (\n  SELECT {} AS account_id,\n    MAX(CASE WHEN {month} = p.m THEN {mrr} END) AS mrr_now,\n    MAX(CASE WHEN {month} = p.m - 12 THEN {mrr} END) AS mrr_ago\n  FROM {} r CROSS JOIN p GROUP BY {}\n),",
            d.cast(&format!("r.{}", q(source.file_column("account_id"))), text),
            tables.revenue,
            d.cast(&format!("r.{}", q(source.file_column("account_id"))), text),
        );
    }

    // The feature table, column for column as features.parquet.
    let float = d.float();
    let ratio = |numerator: &str, denominator: &str| {
        format!(
            "CASE WHEN {denominator} > 0 THEN CAST({numerator} AS {float}) / CAST({denominator} AS {float}) END"
        )
    };
    let zero = |column: &str| format!("COALESCE({column}, 0)");
    let defaults = default_measures(adoption);
    let mut columns = Vec::new();
    for field in schema.fields() {
        let name = field.name().as_str();
        if let Some(custom) = project.custom_features.iter().find(|c| c.name == name) {
            if !matches!(custom.kind, CustomFeatureKind::Ratio { .. }) {
                columns.push(format!(
                    "{} AS {}",
                    zero(&format!("c.{}", q(name))),
                    q(name)
                ));
            }
            continue;
        }
        let expr = match name {
            "account_id" => d.cast(&format!("a.{}", q(accounts_source.file_column(name))), text),
            "days_since_signup" => "p.d - s.created_day".to_string(),
            // The signup date, as the embedded engine keeps it: a UTC date.
            "created_at" => d.date_of_day("s.created_day"),
            "mrr" => zero("r.mrr_now"),
            "arr" => format!("12 * {}", zero("r.mrr_now")),
            "mrr_12m_ago" => zero("r.mrr_ago"),
            "mrr_growth_12m" => format!(
                "CASE WHEN r.mrr_ago > 0 THEN CAST(COALESCE(r.mrr_now, 0) AS {float}) / r.mrr_ago - 1 END"
            ),
            _ if per_event.contains(&name) => zero(&format!("v.{}", q(name))),
            _ => match defaults.iter().find(|m| m.name() == name) {
                Some(measure) => default_feature(*measure, &ratio, &zero),
                None => {
                    let column = format!("a.{}", q(accounts_source.file_column(name)));
                    if field.data_type() == &datafusion::arrow::datatypes::DataType::Utf8 {
                        // Blank text is a missing value, as sources read it.
                        format!("CASE WHEN TRIM({column}) = '' THEN NULL ELSE {column} END")
                    } else {
                        column
                    }
                }
            },
        };
        columns.push(format!("{expr} AS {}", q(name)));
    }
    let _ = write!(
        *out,
        "base AS (\n  SELECT\n    {}\n  FROM {} a\n  CROSS JOIN p\n  JOIN signup s ON s.account_id = {}\n  LEFT JOIN day_f d ON d.account_id = s.account_id\n  LEFT JOIN user_f u ON u.account_id = s.account_id\n  LEFT JOIN event_f v ON v.account_id = s.account_id\n  LEFT JOIN adopt_f t ON t.account_id = s.account_id",
        columns.join(",\n    "),
        tables.accounts,
        d.cast(
            &format!("a.{}", q(accounts_source.file_column("account_id"))),
            text
        ),
    );
    if !custom.is_empty() {
        out.push_str("\n  LEFT JOIN custom_f c ON c.account_id = s.account_id");
    }
    if revenue.is_some() {
        out.push_str("\n  LEFT JOIN rev_f r ON r.account_id = s.account_id");
    }
    out.push_str("\n),\n");
    // Ratio features read other features, so they come on top.
    let mut all: Vec<String> = Vec::new();
    for field in schema.fields() {
        let name = field.name();
        let custom_ratio = project.custom_features.iter().find_map(|c| match &c.kind {
            CustomFeatureKind::Ratio {
                numerator,
                denominator,
            } if &c.name == name => Some((numerator, denominator)),
            _ => None,
        });
        all.push(match custom_ratio {
            Some((numerator, denominator)) => {
                format!("{} AS {}", ratio(&q(numerator), &q(denominator)), q(name))
            }
            None => q(name),
        });
    }
    let _ = writeln!(
        *out,
        "features AS (\n  SELECT\n    {}\n  FROM base\n)",
        all.join(",\n    ")
    );

    Ok(())
}

/// The event name behind a per-event feature, from its definition.
fn per_event_name(features: &FeatureTable, name: &str) -> String {
    features
        .defs
        .iter()
        .find(|f| f.name == name)
        .and_then(|f| {
            f.description
                .strip_prefix('`')
                .and_then(|rest| rest.split('`').next())
                .map(str::to_string)
        })
        .unwrap_or_else(|| {
            name.trim_start_matches("event_")
                .trim_end_matches("_28d")
                .to_string()
        })
}

/// A default feature's column of the script's `base` select, finished from
/// the aggregate of its grain (`d` days, `u` users, `v` event names, `t`
/// adoption) as the catalog's measure says.
fn default_feature(
    measure: Measure,
    ratio: &dyn Fn(&str, &str) -> String,
    zero: &dyn Fn(&str) -> String,
) -> String {
    match measure {
        Measure::ApiShare(Period::All) => ratio("d.api_total", "d.events_total"),
        Measure::ApiShare(Period::Last(days)) => {
            ratio(&format!("d.api_{days}d"), &format!("d.events_{days}d"))
        }
        Measure::Trend(days) => ratio(
            &format!("d.events_{days}d"),
            &format!("d.events_prev_{days}d"),
        ),
        Measure::DaysSinceLastEvent => "p.d - d.last_day".to_string(),
        Measure::Events(_)
        | Measure::ActiveDays(_)
        | Measure::Users(_)
        | Measure::DistinctEvents(_)
        | Measure::AdoptionActiveDays(_)
        | Measure::AdoptionEvents(_) => {
            let alias = match measure.grain() {
                Grain::Day => "d",
                Grain::User => "u",
                Grain::Event => "v",
                Grain::Adoption => "t",
            };
            zero(&format!("{alias}.{}", measure.name()))
        }
    }
}

/// A checked rule printed by the dialect's unparser.
pub fn rule_sql(rule: &CheckedRule, dialect: Dialect) -> Result<String> {
    expr_sql(&rule.to_datafusion(), dialect)
}

/// Any expression built from rules (a `CASE` over frozen rules, say) as SQL
/// of `dialect`, printed the one way every rule is: negations spaced, string
/// literals quoted for the dialect.
pub fn expr_sql(expr: &datafusion::logical_expr::Expr, dialect: Dialect) -> Result<String> {
    dialect.unparse(expr)
}

/// Whether `SELECT <expression> AS x FROM t` parses, in the dialect's SQL
/// parser, as exactly one statement with exactly one select item: the
/// property that keeps rule text from reaching beyond its own expression.
/// Used by the tests and the `rule_sql` fuzz target.
///
/// # Errors
///
/// The statement, and why it is not one select item.
pub fn one_select_item(expression: &str, dialect: Dialect) -> std::result::Result<(), String> {
    use datafusion::sql::sqlparser::ast::{SetExpr, Statement};
    use datafusion::sql::sqlparser::dialect as sp;
    use datafusion::sql::sqlparser::parser::Parser;
    let statement = format!("SELECT {expression} AS x FROM t");
    // Deeply nested rules are fine for the servers; sqlparser's default
    // recursion limit (50) is lower than theirs.
    let parse = |dialect: &dyn sp::Dialect| {
        Parser::new(dialect)
            .with_recursion_limit(400)
            .try_with_sql(&statement)?
            .parse_statements()
    };
    let parsed = match dialect {
        Dialect::Postgres => parse(&sp::PostgreSqlDialect {}),
        Dialect::BigQuery => parse(&sp::BigQueryDialect {}),
        Dialect::Snowflake => parse(&sp::SnowflakeDialect {}),
        Dialect::DuckDb => parse(&sp::DuckDbDialect {}),
        Dialect::MySql => parse(&sp::MySqlDialect {}),
    }
    .map_err(|e| format!("{statement}: {e}"))?;
    let [Statement::Query(query)] = parsed.as_slice() else {
        return Err(format!("{statement}: {} statements", parsed.len()));
    };
    match query.body.as_ref() {
        SetExpr::Select(select) if select.projection.len() == 1 => Ok(()),
        _ => Err(format!("{statement}: not one select item")),
    }
}

/// The custom count and distinct features as aggregates over `ev`.
fn custom_aggregates(project: &Project, d: Dialect) -> Result<Vec<String>> {
    let schema = crate::features::event_rule_schema();
    let mut aggregates = Vec::new();
    for custom in &project.custom_features {
        let Some((filter, window, distinct)) = custom.kind.event_aggregate() else {
            continue;
        };
        let rule = rules::check_predicate(filter, &schema)
            .map_err(|e| e.with_context(format!("features.{}", custom.name)))?;
        let mut condition = format!("({})", rule_sql(&rule, d)?);
        match window {
            EventWindow::AllHistory => {}
            EventWindow::LastDays(days) => {
                let _ = write!(condition, " AND ev.day > p.d - {days}");
            }
            EventWindow::DaysAfterSignup(days) => {
                let _ = write!(
                    condition,
                    " AND ev.day >= s.created_day AND ev.day < s.created_day + {days}"
                );
            }
        }
        let aggregate = match distinct {
            None => format!("SUM(CASE WHEN {condition} THEN 1 ELSE 0 END)"),
            Some(column) => format!(
                "COUNT(DISTINCT CASE WHEN {condition} THEN ev.{} END)",
                d.quote(column)
            ),
        };
        aggregates.push(format!("{aggregate} AS {}", d.quote(&custom.name)));
    }
    Ok(aggregates)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_and_identifiers_cannot_break_out() {
        assert_eq!(Dialect::Postgres.string("it's \\"), "'it''s \\'");
        assert_eq!(Dialect::MySql.string("it's \\"), "'it\\'s \\\\'");
        assert_eq!(Dialect::Postgres.quote("a\"b"), "\"a\"\"b\"");
        assert_eq!(Dialect::MySql.quote("a`b"), "`a``b`");
    }

    use proptest::prelude::*;

    use crate::rules::ValueType;

    fn schema() -> rules::Schema {
        rules::Schema::new([
            ("a".to_string(), ValueType::Integer),
            ("b".to_string(), ValueType::Float),
            ("c d".to_string(), ValueType::Text),
            ("created_at".to_string(), ValueType::Timestamp),
        ])
    }

    fn single_expression(rule: &CheckedRule, dialect: Dialect) -> std::result::Result<(), String> {
        let sql = rule_sql(rule, dialect).map_err(|e| e.to_string())?;
        one_select_item(&sql, dialect)
    }

    #[test]
    fn hostile_rules_stay_one_expression() {
        for text in [
            "\"c d\" = 'x''; DROP TABLE accounts; --'",
            "\"c d\" LIKE '%'' OR 1=1 --%'",
            "a > 1 OR \"c d\" IN ('a', 'b''), (SELECT 1')",
            "created_at > '2024-01-01' AND b / a > 0.5",
            "LOWER(\"c d\") = '/* */' AND a BETWEEN 1 AND 2",
            // Found by the rule_sql fuzz target: `- -8` must not print as `--8`.
            "-----8<8",
            "- -a = 1 OR \"c d\" = 'x\n; DROP TABLE t; --'",
        ] {
            let rule = rules::check_predicate(text, &schema()).expect(text);
            for dialect in Dialect::ALL {
                assert_eq!(
                    single_expression(&rule, dialect),
                    Ok(()),
                    "{text} ({})",
                    dialect.name()
                );
            }
        }
    }

    fn quoted(text: String) -> String {
        format!("'{}'", text.replace('\'', "''"))
    }

    /// Well-typed rule text over [`schema`]: numbers, text with any
    /// characters (quotes included), dates, and every operator family.
    fn typed_rule() -> impl Strategy<Value = String> {
        let number = prop_oneof![
            Just("a".to_string()),
            Just("b".to_string()),
            (-1000i64..1000).prop_map(|v| v.to_string()),
            (-100.0f64..100.0).prop_map(|v| format!("{v:.3}")),
        ]
        .prop_recursive(3, 12, 2, |inner| {
            prop_oneof![
                (
                    inner.clone(),
                    prop::sample::select(vec!["+", "-", "*", "/", "%"]),
                    inner.clone()
                )
                    .prop_map(|(l, op, r)| format!("({l} {op} {r})")),
                inner.clone().prop_map(|x| format!("ROUND({x})")),
                (inner.clone(), inner).prop_map(|(x, y)| format!("COALESCE({x}, {y})")),
            ]
        });
        let text = prop_oneof![
            Just("\"c d\"".to_string()),
            Just("LOWER(\"c d\")".to_string()),
            r"[^\\]{0,8}".prop_map(quoted),
            "[a' %_]{0,8}".prop_map(quoted),
        ];
        let leaf = prop_oneof![
            (
                number.clone(),
                prop::sample::select(vec!["=", "<>", "<", "<=", ">", ">="]),
                number.clone()
            )
                .prop_map(|(l, op, r)| format!("{l} {op} {r}")),
            (text.clone(), text.clone()).prop_map(|(l, r)| format!("{l} = {r}")),
            (text.clone(), r"[^\\]{0,6}".prop_map(quoted))
                .prop_map(|(l, r)| format!("{l} LIKE {r}")),
            (
                text.clone(),
                prop::collection::vec(r"[^\\]{0,5}".prop_map(quoted), 1..4)
            )
                .prop_map(|(l, items)| format!("{l} IN ({})", items.join(", "))),
            (number.clone(), number.clone(), number.clone())
                .prop_map(|(x, lo, hi)| format!("{x} BETWEEN {lo} AND {hi}")),
            number.prop_map(|x| format!("{x} IS NULL")),
            text.prop_map(|x| format!("{x} IS NOT NULL")),
            (0i32..20_000).prop_map(|day| {
                let date =
                    chrono::NaiveDate::from_num_days_from_ce_opt(719_163 + day).unwrap_or_default();
                format!("created_at > '{date}'")
            }),
        ];
        leaf.prop_recursive(3, 16, 2, |inner| {
            prop_oneof![
                (inner.clone(), inner.clone()).prop_map(|(l, r)| format!("({l}) AND ({r})")),
                (inner.clone(), inner.clone()).prop_map(|(l, r)| format!("({l}) OR ({r})")),
                inner.prop_map(|x| format!("NOT ({x})")),
            ]
        })
    }

    #[test]
    fn backslashes_cannot_end_a_string_where_they_escape() {
        for text in [
            "\"c d\" = '\\' OR \"c d\" = ' OR 1=1 --'",
            "\"c d\" IN ('\\''', '''\\') AND \"c d\" LIKE '\\%'",
        ] {
            let rule = rules::check_predicate(text, &schema()).expect(text);
            for dialect in Dialect::ALL.into_iter().filter(|d| d.backslash_escapes()) {
                assert_eq!(
                    single_expression(&rule, dialect),
                    Ok(()),
                    "{text} ({})",
                    dialect.name()
                );
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]

        #[test]
        fn any_rule_that_checks_is_one_sql_expression(text in typed_rule()) {
            let rule = rules::check_predicate(&text, &schema());
            prop_assert!(rule.is_ok(), "{} does not check: {:?}", text, rule.err());
            let rule = rule.unwrap_or_else(|_| unreachable!());
            for dialect in Dialect::ALL {
                prop_assert_eq!(single_expression(&rule, dialect), Ok(()), "{} ({})", text, dialect.name());
            }
        }
    }

    #[test]
    fn names_round_trip() {
        for dialect in Dialect::ALL {
            assert_eq!(Dialect::from_name(dialect.name()), Some(dialect));
        }
        assert_eq!(Dialect::from_name("oracle"), None);
    }
}
