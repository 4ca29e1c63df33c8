//! The rule language ([`strata_rules`], re-exported here) and its
//! compilation to a DataFusion expression ([`ToDataFusion`]).
//!
//! The compiler is a plain tree walk, one DataFusion node per rule node; it
//! needs no types because the checker has already turned string literals
//! that stand for dates into date literals. Three choices matter:
//!
//! - columns are built with `Column::new_unqualified`, never `col()`, which
//!   would read `plan.tier` as a qualified name and fold the case of names;
//! - `/` casts both sides to Float64 first, so `events_7d / events_28d` is a
//!   ratio rather than SQL's integer division, while `%` stays integer modulo;
//! - timestamps are naive UTC microseconds without a time zone, and dates
//!   are Date32 days since 1970-01-01.
//!
//! NULL handling needs no code: DataFusion follows SQL's three-valued logic,
//! and a filter keeps only rows where the rule is true.

use chrono::NaiveDate;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Column, ScalarValue};
use datafusion::functions::expr_fn as functions;
use datafusion::logical_expr::expr::{Between, InList, Like};
use datafusion::logical_expr::{Expr as DataFusionExpr, Operator, binary_expr, cast, lit};

pub use strata_rules::*;

use strata_rules::ast::{BinaryOp, Expr, ExprKind, Function, Literal, UnaryOp};

/// A checked rule as a DataFusion expression.
pub trait ToDataFusion {
    /// The rule as a DataFusion expression over unqualified columns of the
    /// same names.
    ///
    /// `/` divides as floating point, timestamps are naive UTC microseconds,
    /// and SQL's three-valued NULL logic applies as in any SQL engine.
    fn to_datafusion(&self) -> DataFusionExpr;
}

impl ToDataFusion for CheckedRule {
    fn to_datafusion(&self) -> DataFusionExpr {
        expr_to_datafusion(self.expr())
    }
}

/// Compiles `expr` to the equivalent DataFusion expression.
pub(crate) fn expr_to_datafusion(expr: &Expr) -> DataFusionExpr {
    let compile_boxed = |expr: &Expr| Box::new(expr_to_datafusion(expr));
    match &expr.kind {
        ExprKind::Column(name) => DataFusionExpr::Column(Column::new_unqualified(name.clone())),
        ExprKind::Literal(literal) => lit(literal_to_scalar(literal)),
        ExprKind::Unary {
            op: UnaryOp::Not,
            operand,
        } => DataFusionExpr::Not(compile_boxed(operand)),
        ExprKind::Unary {
            op: UnaryOp::Negate,
            operand,
        } => DataFusionExpr::Negative(compile_boxed(operand)),
        ExprKind::Binary {
            op: BinaryOp::Divide,
            left,
            right,
            ..
        } => binary_expr(
            cast(expr_to_datafusion(left), DataType::Float64),
            Operator::Divide,
            // `x / 0` is NULL in the rule language: engines disagree there
            // (inf, NaN or an error), and NULL is what a ratio with no
            // denominator means. The generated SQL carries the same NULLIF.
            functions::nullif(cast(expr_to_datafusion(right), DataType::Float64), lit(0.0)),
        ),
        ExprKind::Binary {
            op: BinaryOp::Modulo,
            left,
            right,
            ..
        } => binary_expr(
            expr_to_datafusion(left),
            Operator::Modulo,
            functions::nullif(expr_to_datafusion(right), lit(0i64)),
        ),
        ExprKind::Binary {
            op, left, right, ..
        } => binary_expr(
            expr_to_datafusion(left),
            operator(*op),
            expr_to_datafusion(right),
        ),
        ExprKind::Between {
            expr,
            negated,
            low,
            high,
        } => DataFusionExpr::Between(Between::new(
            compile_boxed(expr),
            *negated,
            compile_boxed(low),
            compile_boxed(high),
        )),
        ExprKind::InList {
            expr,
            negated,
            list,
        } => DataFusionExpr::InList(InList::new(
            compile_boxed(expr),
            list.iter().map(expr_to_datafusion).collect(),
            *negated,
        )),
        ExprKind::Like {
            expr,
            negated,
            case_insensitive,
            pattern,
        } => DataFusionExpr::Like(Like::new(
            *negated,
            compile_boxed(expr),
            compile_boxed(pattern),
            None,
            *case_insensitive,
        )),
        ExprKind::IsNull {
            expr,
            negated: false,
        } => DataFusionExpr::IsNull(compile_boxed(expr)),
        ExprKind::IsNull {
            expr,
            negated: true,
        } => DataFusionExpr::IsNotNull(compile_boxed(expr)),
        ExprKind::Function { function, args, .. } => {
            let args: Vec<DataFusionExpr> = args.iter().map(expr_to_datafusion).collect();
            let first = || {
                args.first()
                    .cloned()
                    .unwrap_or_else(|| lit(ScalarValue::Null))
            };
            match function {
                Function::Lower => functions::lower(first()),
                Function::Upper => functions::upper(first()),
                // The length is cast because DataFusion counts in Int32 for Utf8 columns, and an
                // Integer in a rule is always 64 bits.
                Function::Length => cast(functions::character_length(first()), DataType::Int64),
                Function::Trim => functions::btrim(args),
                Function::Abs => functions::abs(first()),
                Function::Floor => functions::floor(first()),
                Function::Ceil => functions::ceil(first()),
                // Undefined below and at 0, where SQL engines disagree (NaN, -inf or an
                // error): NULL there, so a rule behaves the same in every engine.
                Function::Ln => {
                    let number = cast(first(), DataType::Float64);
                    datafusion::logical_expr::when(
                        number.clone().gt(lit(0.0)),
                        functions::ln(number),
                    )
                    .end()
                    .unwrap_or_else(|_| lit(ScalarValue::Float64(None)))
                }
                Function::Round => functions::round(args),
                Function::Coalesce => functions::coalesce(args),
                Function::Least => functions::least(args),
                Function::Greatest => functions::greatest(args),
            }
        }
    }
}

/// The DataFusion operator for every binary operator except `/` and `%`,
/// which are compiled with casts and a NULL divisor for 0.
fn operator(op: BinaryOp) -> Operator {
    match op {
        BinaryOp::Or => Operator::Or,
        BinaryOp::And => Operator::And,
        BinaryOp::Eq => Operator::Eq,
        BinaryOp::NotEq => Operator::NotEq,
        BinaryOp::Lt => Operator::Lt,
        BinaryOp::LtEq => Operator::LtEq,
        BinaryOp::Gt => Operator::Gt,
        BinaryOp::GtEq => Operator::GtEq,
        BinaryOp::Plus => Operator::Plus,
        BinaryOp::Minus => Operator::Minus,
        BinaryOp::Multiply => Operator::Multiply,
        BinaryOp::Divide => Operator::Divide,
        BinaryOp::Modulo => Operator::Modulo,
    }
}

fn literal_to_scalar(literal: &Literal) -> ScalarValue {
    match literal {
        Literal::Null => ScalarValue::Null,
        Literal::Boolean(value) => ScalarValue::Boolean(Some(*value)),
        Literal::Integer(value) => ScalarValue::Int64(Some(*value)),
        Literal::Float(value) => ScalarValue::Float64(Some(*value)),
        Literal::Text(content) => ScalarValue::Utf8(Some(content.clone())),
        Literal::Date(date) => {
            let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
            // Dates in rules have four-digit years, so the day count always fits.
            let days =
                i32::try_from(date.signed_duration_since(epoch).num_days()).unwrap_or(i32::MAX);
            ScalarValue::Date32(Some(days))
        }
        Literal::Timestamp(timestamp) => {
            ScalarValue::TimestampMicrosecond(Some(timestamp.and_utc().timestamp_micros()), None)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::{
        Array, ArrayRef, BooleanArray, Date32Array, Float64Array, Int64Array, RecordBatch,
        StringArray, TimestampMicrosecondArray,
    };
    use datafusion::arrow::datatypes::{Field, Schema as ArrowSchema, TimeUnit};
    use datafusion::prelude::SessionContext;

    use super::*;
    use strata_rules::check as check_rule;

    /// Days since 1970-01-01 of a `YYYY-MM-DD` date, for building test columns.
    fn days(text: &str) -> i32 {
        match chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .ok()
            .map(|date| literal_to_scalar(&Literal::Date(date)))
        {
            Some(ScalarValue::Date32(Some(days))) => days,
            _ => panic!("bad test date {text}"),
        }
    }

    fn micros(text: &str) -> i64 {
        match chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f")
            .ok()
            .map(|timestamp| timestamp.and_utc().timestamp_micros())
        {
            Some(micros) => micros,
            None => panic!("bad test timestamp {text}"),
        }
    }

    /// Five accounts; row 4 is NULL almost everywhere.
    fn accounts() -> RecordBatch {
        let columns: Vec<(&str, ArrayRef)> = vec![
            ("id", Arc::new(Int64Array::from(vec![1, 2, 3, 4, 5]))),
            (
                "employees",
                Arc::new(Int64Array::from(vec![
                    Some(10),
                    Some(250),
                    Some(1200),
                    None,
                    Some(50),
                ])),
            ),
            (
                "industry",
                Arc::new(StringArray::from(vec![
                    Some("SaaS"),
                    Some("Fintech"),
                    Some("saas tools"),
                    None,
                    Some("Health"),
                ])),
            ),
            (
                "api_share",
                Arc::new(Float64Array::from(vec![
                    Some(0.5),
                    None,
                    Some(0.9),
                    Some(0.0),
                    Some(0.25),
                ])),
            ),
            (
                "created",
                Arc::new(Date32Array::from(vec![
                    Some(days("2023-01-15")),
                    Some(days("2024-03-01")),
                    Some(days("2024-06-30")),
                    None,
                    Some(days("2022-12-31")),
                ])),
            ),
            (
                "last_seen",
                Arc::new(TimestampMicrosecondArray::from(vec![
                    Some(micros("2024-06-01 08:00:00")),
                    Some(micros("2024-05-31 23:59:59.999999")),
                    None,
                    Some(micros("2024-07-01 00:00:00")),
                    Some(micros("2024-01-01 00:00:00")),
                ])),
            ),
            (
                "events_7d",
                Arc::new(Int64Array::from(vec![
                    Some(3),
                    Some(1),
                    Some(0),
                    Some(5),
                    None,
                ])),
            ),
            (
                "events_28d",
                Arc::new(Int64Array::from(vec![
                    Some(4),
                    Some(4),
                    Some(10),
                    Some(6),
                    Some(8),
                ])),
            ),
            (
                "is_paying",
                Arc::new(BooleanArray::from(vec![
                    Some(true),
                    Some(false),
                    Some(true),
                    None,
                    Some(false),
                ])),
            ),
            (
                "plan.tier",
                Arc::new(StringArray::from(vec![
                    Some("pro"),
                    Some("free"),
                    Some("pro"),
                    Some("pro"),
                    None,
                ])),
            ),
        ];
        let fields: Vec<Field> = columns
            .iter()
            .map(|(name, array)| Field::new(*name, array.data_type().clone(), true))
            .collect();
        let arrays = columns.into_iter().map(|(_, array)| array).collect();
        RecordBatch::try_new(Arc::new(ArrowSchema::new(fields)), arrays)
            .unwrap_or_else(|error| panic!("{error}"))
    }

    fn rule_schema() -> Schema {
        Schema::new(
            [
                ("id", ValueType::Integer),
                ("employees", ValueType::Integer),
                ("industry", ValueType::Text),
                ("api_share", ValueType::Float),
                ("created", ValueType::Date),
                ("last_seen", ValueType::Timestamp),
                ("events_7d", ValueType::Integer),
                ("events_28d", ValueType::Integer),
                ("is_paying", ValueType::Boolean),
                ("plan.tier", ValueType::Text),
            ]
            .map(|(name, value_type)| (name.to_string(), value_type)),
        )
    }

    #[tokio::test]
    async fn rules_select_the_right_rows() {
        check("employees < 200", &[1, 5]).await;
        check("employees BETWEEN 200 AND 1200", &[2, 3]).await;
        check("employees NOT BETWEEN 200 AND 1000", &[1, 3, 5]).await;
        check("employees = 10", &[1]).await;
        check("employees <> 10", &[2, 3, 5]).await;
        check("employees != 10 AND employees <= 250", &[2, 5]).await;
        check("employees >= 250 OR employees > 1000", &[2, 3]).await;
        check("employees = NULL", &[]).await;
        check("employees <> NULL", &[]).await;
        check("NULL OR employees = 10", &[1]).await;
        check("NULL", &[]).await;
        check("NOT NULL", &[]).await;
        check("industry IN ('SaaS', 'Health')", &[1, 5]).await;
        check("industry NOT IN ('SaaS', 'Health')", &[2, 3]).await;
        check("industry NOT IN ('SaaS', NULL)", &[]).await;
        check("industry LIKE 'Saa%'", &[1]).await;
        check("industry ILIKE 'saa%'", &[1, 3]).await;
        check("industry NOT LIKE '%a%'", &[2]).await;
        check("industry NOT ILIKE '%S%'", &[2, 5]).await;
        check("industry LIKE '_ealth'", &[5]).await;
        check("api_share IS NULL", &[2]).await;
        check("api_share IS NOT NULL AND api_share >= 0.5", &[1, 3]).await;
        check("api_share < 0.3", &[4, 5]).await;
        check("NOT api_share < 0.3", &[1, 3]).await;
        check("api_share > 0", &[1, 3, 5]).await;
        check("events_7d / events_28d > 0.5", &[1, 4]).await;
        check("events_7d / events_28d = 0.25", &[2]).await;
        check("events_7d % 4 = 1", &[2, 4]).await;
        check("events_28d - events_7d * 2 = -2", &[1]).await;
        check("-employees * 2 < -100", &[2, 3]).await;
        check("employees + api_share > 100", &[3]).await;
        check("created >= '2024-01-01'", &[2, 3]).await;
        check(
            "created < DATE '2024-01-01' OR employees > 1000",
            &[1, 3, 5],
        )
        .await;
        check("created BETWEEN '2023-01-15' AND '2024-03-01'", &[1, 2]).await;
        check("created IN ('2022-12-31', '2024-06-30')", &[3, 5]).await;
        check("last_seen >= '2024-06-01'", &[1, 4]).await;
        check(
            "last_seen < TIMESTAMP '2024-06-01 00:00:00' AND last_seen > '2024-01-01'",
            &[2],
        )
        .await;
        check("created < last_seen", &[1, 2, 5]).await;
        check("is_paying", &[1, 3]).await;
        check("NOT is_paying", &[2, 5]).await;
        check("is_paying = FALSE OR is_paying IS NULL", &[2, 4, 5]).await;
        check("\"plan.tier\" = 'pro'", &[1, 3, 4]).await;
        check("LOWER(industry) = 'saas'", &[1]).await;
        check("UPPER(TRIM(industry)) LIKE 'SAAS%'", &[1, 3]).await;
        check("LENGTH(industry) = 4", &[1]).await;
        check("ABS(employees - 100) < 60", &[5]).await;
        check(
            "ROUND(api_share, 1) = 0.9 OR ROUND(api_share * 10) = 5",
            &[1, 3],
        )
        .await;
        check("FLOOR(api_share * 4) = 1", &[5]).await;
        check("CEIL(api_share) = 1", &[1, 3, 5]).await;
        // LN is NULL at and below 0 (id 4 has api_share 0), in every engine.
        check("LN(api_share) IS NULL", &[2, 4]).await;
        check("LN(1 + employees) > 5", &[2, 3]).await;
        check("ROUND(LN(employees), 2) = 2.3", &[1]).await;
        check("COALESCE(api_share, 1.0) = 1.0", &[2]).await;
        check("COALESCE(employees, events_7d) = 5", &[4]).await;
        check("GREATEST(employees, 100) = 100", &[1, 4, 5]).await;
        check("LEAST(employees, 100) = 10", &[1]).await;
        check(
            "(employees > 100 OR industry = 'Health') AND NOT (api_share IS NULL)",
            &[3, 5],
        )
        .await;
    }

    #[tokio::test]
    async fn value_types_match_datafusion() {
        for (rule, expected) in [
            ("employees + 1", DataType::Int64),
            ("employees * api_share", DataType::Float64),
            ("events_7d / events_28d", DataType::Float64),
            ("employees % 3", DataType::Int64),
            ("-employees", DataType::Int64),
            ("ABS(employees)", DataType::Int64),
            ("ABS(api_share)", DataType::Float64),
            ("ROUND(api_share, 2)", DataType::Float64),
            ("ROUND(employees)", DataType::Int64),
            ("FLOOR(employees)", DataType::Float64),
            ("CEIL(employees)", DataType::Float64),
            ("CEIL(api_share)", DataType::Float64),
            ("LENGTH(industry)", DataType::Int64),
            ("GREATEST(employees, 1.5)", DataType::Float64),
            ("COALESCE(created, '2024-01-01')", DataType::Date32),
            ("industry LIKE 'a%'", DataType::Boolean),
            (
                "TIMESTAMP '2024-01-01 00:00:00'",
                DataType::Timestamp(TimeUnit::Microsecond, None),
            ),
        ] {
            let rule = check_rule(rule, &rule_schema()).unwrap_or_else(|error| panic!("{error}"));
            let context = SessionContext::new();
            let frame = context
                .read_batch(accounts())
                .and_then(|frame| frame.select(vec![rule.to_datafusion().alias("value")]))
                .unwrap_or_else(|error| panic!("{}: {error}", rule.text()));
            let actual = frame.schema().field(0).data_type().clone();
            assert_eq!(actual, expected, "DataFusion type of {}", rule.text());
            let expected_value_type = match expected {
                DataType::Int64 => ValueType::Integer,
                DataType::Float64 => ValueType::Float,
                DataType::Boolean => ValueType::Boolean,
                DataType::Date32 => ValueType::Date,
                DataType::Timestamp(..) => ValueType::Timestamp,
                _ => ValueType::Text,
            };
            assert_eq!(
                rule.value_type(),
                expected_value_type,
                "value type of {}",
                rule.text()
            );
        }
    }

    /// The tallest rules the parser accepts go through every stage on a 2 MiB stack, the
    /// default for Rust and Tokio threads, even in a debug build.
    #[test]
    fn deepest_rules_run_on_a_small_stack() {
        type MakeRule = fn(usize) -> String;
        let shapes: [(&str, MakeRule); 6] = [
            ("parentheses", |n| {
                format!("{}employees > 1{}", "(".repeat(n), ")".repeat(n))
            }),
            ("AND chain", |n| vec!["employees > 1"; n].join(" AND ")),
            ("NOT chain", |n| "NOT ".repeat(n) + "is_paying"),
            ("nested calls", |n| {
                format!("{}employees{} > 0", "ABS(".repeat(n), ")".repeat(n))
            }),
            ("negations", |n| "-".repeat(n) + "employees > 0"),
            ("printer adds parentheses", |n| {
                "is_paying = NOT ".repeat(n) + "is_paying"
            }),
        ];
        for (shape, make_rule) in shapes {
            let Some(deepest) = (1..=2 * MAX_DEPTH)
                .rev()
                .map(make_rule)
                .find(|rule| parse(rule).is_ok())
            else {
                panic!("no {shape} rule parses");
            };
            let worker = std::thread::Builder::new()
                .stack_size(2 << 20)
                .spawn(move || {
                    let rule = check_predicate_or_panic(&deepest);
                    let printed = rule.expr().to_string();
                    let reparsed = parse(&printed).map(|expr| expr.strip_spans());
                    assert_eq!(
                        reparsed,
                        Ok(rule.expr().strip_spans()),
                        "printed {printed:?}"
                    );
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .build()
                        .unwrap_or_else(|error| panic!("{error}"));
                    runtime.block_on(async {
                        let context = SessionContext::new();
                        let frame = context
                            .read_batch(accounts())
                            .and_then(|frame| frame.filter(rule.to_datafusion()));
                        let batches = match frame {
                            Ok(frame) => frame.collect().await,
                            Err(error) => Err(error),
                        };
                        assert!(
                            batches.is_ok(),
                            "running the deepest {shape} rule: {:?}",
                            batches.err()
                        );
                    });
                });
            let outcome = worker
                .map_err(|error| error.to_string())
                .and_then(|handle| handle.join().map_err(|_| "panicked".to_string()));
            assert_eq!(outcome, Ok(()), "deepest {shape} rule");
        }
    }

    /// Checks `rule`, filters the accounts with it through DataFusion and compares the ids of the rows kept.
    async fn check(rule: &str, expected_ids: &[i64]) {
        let checked = check_predicate_or_panic(rule);
        let context = SessionContext::new();
        let batches = match context
            .read_batch(accounts())
            .and_then(|frame| frame.filter(checked.to_datafusion()))
        {
            Ok(frame) => frame.collect().await,
            Err(error) => Err(error),
        }
        .unwrap_or_else(|error| panic!("running {rule:?}: {error}"));
        let mut actual_ids: Vec<i64> = Vec::new();
        for batch in &batches {
            let ids = batch
                .column_by_name("id")
                .and_then(|column| column.as_any().downcast_ref::<Int64Array>())
                .unwrap_or_else(|| panic!("no id column"));
            actual_ids.extend(ids.iter().flatten());
        }
        actual_ids.sort_unstable();
        assert_eq!(actual_ids, expected_ids, "rows matching {rule:?}");
    }

    fn check_predicate_or_panic(rule: &str) -> CheckedRule {
        check_predicate(rule, &rule_schema())
            .unwrap_or_else(|error| panic!("checking {rule:?}: {error}"))
    }
}
