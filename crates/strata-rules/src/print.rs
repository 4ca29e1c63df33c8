//! The printer: an [`Expr`] back to canonical rule text.
//!
//! Canonical text has keywords and function names in upper case, single
//! spaces around operators, identifiers in double quotes only when they must
//! be (not a bare identifier, or a reserved word), and parentheses only where
//! precedence needs them. Parsing the printed text gives back the same tree,
//! ignoring spans; the proptest at the bottom of this file checks exactly
//! that on random trees.
//!
//! Two details keep that promise. Comparison-level operators do not chain, so
//! their operands are parenthesized whenever they are comparisons themselves.
//! And since the parser folds `-5` into one negative literal, negating a
//! number prints as `-(5)`, which parses back to a negation.

use std::fmt;

use super::ast::{BinaryOp, Expr, ExprKind, Literal, Precedence, UnaryOp};
use super::lexer::is_keyword;
use super::temporal;

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ExprKind::Column(name) => write_identifier(f, name),
            ExprKind::Literal(literal) => write!(f, "{literal}"),
            ExprKind::Unary {
                op: UnaryOp::Not,
                operand,
            } => {
                f.write_str("NOT ")?;
                write_operand(f, operand, Precedence::Not)
            }
            ExprKind::Unary {
                op: UnaryOp::Negate,
                operand,
            } => {
                f.write_str("-")?;
                if matches!(
                    operand.kind,
                    ExprKind::Literal(Literal::Integer(_) | Literal::Float(_))
                ) {
                    write!(f, "({operand})")
                } else {
                    write_operand(f, operand, Precedence::Negate)
                }
            }
            ExprKind::Binary {
                op, left, right, ..
            } => {
                let (left_precedence, right_precedence) = operand_precedences(*op);
                write_operand(f, left, left_precedence)?;
                write!(f, " {} ", op.symbol())?;
                write_operand(f, right, right_precedence)
            }
            ExprKind::Between {
                expr,
                negated,
                low,
                high,
            } => {
                write_operand(f, expr, Precedence::Additive)?;
                f.write_str(if *negated {
                    " NOT BETWEEN "
                } else {
                    " BETWEEN "
                })?;
                write_operand(f, low, Precedence::Additive)?;
                f.write_str(" AND ")?;
                write_operand(f, high, Precedence::Additive)
            }
            ExprKind::InList {
                expr,
                negated,
                list,
            } => {
                write_operand(f, expr, Precedence::Additive)?;
                f.write_str(if *negated { " NOT IN (" } else { " IN (" })?;
                write_list(f, list)?;
                f.write_str(")")
            }
            ExprKind::Like {
                expr,
                negated,
                case_insensitive,
                pattern,
            } => {
                write_operand(f, expr, Precedence::Additive)?;
                let keyword = match (*negated, *case_insensitive) {
                    (false, false) => " LIKE ",
                    (false, true) => " ILIKE ",
                    (true, false) => " NOT LIKE ",
                    (true, true) => " NOT ILIKE ",
                };
                f.write_str(keyword)?;
                write_operand(f, pattern, Precedence::Additive)
            }
            ExprKind::IsNull { expr, negated } => {
                write_operand(f, expr, Precedence::Additive)?;
                f.write_str(if *negated { " IS NOT NULL" } else { " IS NULL" })
            }
            ExprKind::Function { function, args, .. } => {
                write!(f, "{}(", function.name())?;
                write_list(f, args)?;
                f.write_str(")")
            }
        }
    }
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Literal::Null => f.write_str("NULL"),
            Literal::Boolean(true) => f.write_str("TRUE"),
            Literal::Boolean(false) => f.write_str("FALSE"),
            Literal::Integer(value) => write!(f, "{value}"),
            // `Debug` writes the shortest text that reads back as the same float,
            // always with a `.` or an exponent, so it never reads back as an integer.
            Literal::Float(value) => write!(f, "{value:?}"),
            Literal::Text(content) => write!(f, "'{}'", content.replace('\'', "''")),
            Literal::Date(date) => write!(f, "DATE '{}'", temporal::format_date(*date)),
            Literal::Timestamp(timestamp) => {
                write!(f, "TIMESTAMP '{}'", temporal::format_timestamp(*timestamp))
            }
        }
    }
}

/// The weakest precedence each operand of `op` may have without parentheses.
fn operand_precedences(op: BinaryOp) -> (Precedence, Precedence) {
    match op.precedence() {
        Precedence::Or => (Precedence::Or, Precedence::And),
        Precedence::And => (Precedence::And, Precedence::Not),
        Precedence::Comparison => (Precedence::Additive, Precedence::Additive),
        Precedence::Additive => (Precedence::Additive, Precedence::Multiplicative),
        Precedence::Multiplicative => (Precedence::Multiplicative, Precedence::Negate),
        // Binary operators live only on the levels above.
        Precedence::Not | Precedence::Negate | Precedence::Atom => {
            (Precedence::Atom, Precedence::Atom)
        }
    }
}

/// Writes `operand`, in parentheses when it binds more loosely than `min_precedence`.
fn write_operand(
    f: &mut fmt::Formatter<'_>,
    operand: &Expr,
    min_precedence: Precedence,
) -> fmt::Result {
    if operand.precedence() < min_precedence {
        write!(f, "({operand})")
    } else {
        write!(f, "{operand}")
    }
}

fn write_list(f: &mut fmt::Formatter<'_>, items: &[Expr]) -> fmt::Result {
    for (item_idx, item) in items.iter().enumerate() {
        if item_idx > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{item}")?;
    }
    Ok(())
}

/// Writes a column name bare when it reads back as itself, and in double quotes otherwise.
fn write_identifier(f: &mut fmt::Formatter<'_>, name: &str) -> fmt::Result {
    if is_bare_identifier(name) {
        f.write_str(name)
    } else {
        write!(f, "\"{}\"", name.replace('"', "\"\""))
    }
}

/// True when `name` can be written without quotes: `[A-Za-z_][A-Za-z0-9_]*` and not a reserved word.
pub(crate) fn is_bare_identifier(name: &str) -> bool {
    let mut characters = name.chars();
    let starts_well = characters
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic() || first == '_');
    starts_well
        && characters.all(|character| character.is_ascii_alphanumeric() || character == '_')
        && !is_keyword(name)
}

/// Significant digits of the numbers in frozen rules.
const DIGITS: usize = 9;

/// A number with [`DIGITS`] significant digits, without trailing zeros, and
/// never in exponent notation (the rule language has none).
pub fn number(value: f64) -> String {
    if value == 0.0 || !value.is_finite() {
        return "0".to_string();
    }
    let magnitude = value.abs().log10().floor() as i64;
    let decimals = (DIGITS as i64 - 1 - magnitude).clamp(0, 30) as usize;
    let text = format!("{value:.decimals$}");
    let text = if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    };
    if text == "-0" { "0".to_string() } else { text }
}

#[cfg(test)]
mod tests {
    use chrono::{NaiveDate, NaiveDateTime};
    use proptest::prelude::*;

    use super::super::ast::Function;
    use super::super::{Span, parse};
    use super::*;

    #[test]
    fn canonical_text() {
        check("a", "a");
        check("a or b and c", "a OR b AND c");
        check("(a OR b) AND c", "(a OR b) AND c");
        check("a OR (b AND c)", "a OR b AND c");
        check("(a AND b) AND c", "a AND b AND c");
        check("a AND (b AND c)", "a AND (b AND c)");
        check("not a = 1", "NOT a = 1");
        check("(NOT a) = 1", "(NOT a) = 1");
        check("NOT (NOT a)", "NOT NOT a");
        check("-x * 2", "-x * 2");
        check("-(x * 2)", "-(x * 2)");
        check("- 5", "-5");
        check("-(5)", "-(5)");
        check("-(-5)", "-(-5)");
        check("--x", "--x");
        check("a - -5", "a - -5");
        check("a - (b - c)", "a - (b - c)");
        check("(a - b) - c", "a - b - c");
        check("a / (b * c)", "a / (b * c)");
        check("(a = 1) = TRUE", "(a = 1) = TRUE");
        check("(a + 1) * 2 >= 3 % 2", "(a + 1) * 2 >= 3 % 2");
        check("a between 1 and 2 and b", "a BETWEEN 1 AND 2 AND b");
        check("a not between -1 and 1 + 1", "a NOT BETWEEN -1 AND 1 + 1");
        check(
            "(a BETWEEN 1 AND 2) BETWEEN FALSE AND TRUE",
            "(a BETWEEN 1 AND 2) BETWEEN FALSE AND TRUE",
        );
        check("a in (1, 2,3)", "a IN (1, 2, 3)");
        check("a not in ('x', b = 1)", "a NOT IN ('x', b = 1)");
        check(
            "a like 'x%' or a not ilike '_y'",
            "a LIKE 'x%' OR a NOT ILIKE '_y'",
        );
        check("a is null and b is not null", "a IS NULL AND b IS NOT NULL");
        check("(a IS NULL) IS NULL", "(a IS NULL) IS NULL");
        check(
            "lower(name) = 'x' and round(a, 2) > coalesce(b, 1, 2)",
            "LOWER(name) = 'x' AND ROUND(a, 2) > COALESCE(b, 1, 2)",
        );
        check("\"order\" = 1", "order = 1");
        check("\"in\" = \"Null\"", "\"in\" = \"Null\"");
        check("\"in\" = \"Null\"", "\"in\" = \"Null\"");
        check("\"Mixed Case\" = \"a\"\"b\"", "\"Mixed Case\" = \"a\"\"b\"");
        check("\"plain\"", "plain");
        check("date > DATE '2024-01-05'", "\"date\" > DATE '2024-01-05'");
        check("lower", "lower");
        check(
            "t >= timestamp '2024-01-05T10:00Z'",
            "t >= TIMESTAMP '2024-01-05 10:00:00'",
        );
        check("'it''s'", "'it''s'");
        check("1.50 + 1e3 + 2E-7 + .5", "1.5 + 1000.0 + 2e-7 + 0.5");
        check("null = true", "NULL = TRUE");
        check("-9223372036854775808", "-9223372036854775808");
    }

    /// Parses `text`, prints it, and compares with `expected`; the printed text must parse to the same tree.
    fn check(text: &str, expected: &str) {
        let parsed = parse(text).unwrap_or_else(|error| panic!("parsing {text:?}: {error}"));
        let printed = parsed.to_string();
        assert_eq!(printed, expected, "printing the parse of {text:?}");
        let reparsed =
            parse(&printed).unwrap_or_else(|error| panic!("reparsing {printed:?}: {error}"));
        assert_eq!(
            reparsed.strip_spans(),
            parsed.strip_spans(),
            "reparsing {printed:?}"
        );
    }

    fn node(kind: ExprKind) -> Expr {
        Expr::new(kind, Span::default())
    }

    fn arbitrary_column() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("employees".to_string()),
            Just("Employees".to_string()),
            Just("_x1".to_string()),
            Just("order".to_string()),
            Just("date".to_string()),
            Just("lower".to_string()),
            Just("my col".to_string()),
            Just("a\"b".to_string()),
            "[a-zA-Z_][a-zA-Z0-9_]{0,6}",
            "[^\"]{1,5}",
            ".{1,5}",
        ]
    }

    fn arbitrary_literal() -> impl Strategy<Value = Literal> {
        prop_oneof![
            Just(Literal::Null),
            any::<bool>().prop_map(Literal::Boolean),
            any::<i64>().prop_map(Literal::Integer),
            (-100i64..100).prop_map(Literal::Integer),
            any::<f64>()
                .prop_filter("finite", |value| value.is_finite())
                .prop_map(Literal::Float),
            (-100.0f64..100.0).prop_map(Literal::Float),
            ".{0,6}".prop_map(Literal::Text),
            "[a' %_]{0,6}".prop_map(Literal::Text),
            (0i64..3_652_059).prop_map(|days| {
                let epoch = NaiveDate::from_ymd_opt(1, 1, 1).unwrap_or_default();
                Literal::Date(epoch + chrono::Days::new(days as u64))
            }),
            (0i64..253_402_300_799, 0u32..1_000_000_000).prop_map(|(seconds, nanoseconds)| {
                let base = NaiveDateTime::default();
                Literal::Timestamp(
                    base + chrono::Duration::seconds(seconds - 62_135_596_800)
                        + chrono::Duration::nanoseconds(i64::from(nanoseconds)),
                )
            }),
        ]
    }

    fn arbitrary_binary_op() -> impl Strategy<Value = BinaryOp> {
        prop_oneof![
            Just(BinaryOp::Or),
            Just(BinaryOp::And),
            Just(BinaryOp::Eq),
            Just(BinaryOp::NotEq),
            Just(BinaryOp::Lt),
            Just(BinaryOp::LtEq),
            Just(BinaryOp::Gt),
            Just(BinaryOp::GtEq),
            Just(BinaryOp::Plus),
            Just(BinaryOp::Minus),
            Just(BinaryOp::Multiply),
            Just(BinaryOp::Divide),
            Just(BinaryOp::Modulo),
        ]
    }

    /// Random trees of bounded depth, built directly so they include shapes no human would write.
    pub(crate) fn arbitrary_expr() -> impl Strategy<Value = Expr> {
        let leaf = prop_oneof![
            arbitrary_column().prop_map(|name| node(ExprKind::Column(name))),
            arbitrary_literal().prop_map(|literal| node(ExprKind::Literal(literal))),
        ];
        leaf.prop_recursive(5, 48, 4, |inner| {
            let boxed = inner.clone().prop_map(Box::new);
            prop_oneof![
                (
                    prop_oneof![Just(UnaryOp::Not), Just(UnaryOp::Negate)],
                    boxed.clone()
                )
                    .prop_map(|(op, operand)| node(ExprKind::Unary { op, operand })),
                (arbitrary_binary_op(), boxed.clone(), boxed.clone()).prop_map(
                    |(op, left, right)| {
                        node(ExprKind::Binary {
                            op,
                            op_span: Span::default(),
                            left,
                            right,
                        })
                    }
                ),
                (boxed.clone(), any::<bool>(), boxed.clone(), boxed.clone()).prop_map(
                    |(expr, negated, low, high)| node(ExprKind::Between {
                        expr,
                        negated,
                        low,
                        high
                    })
                ),
                (
                    boxed.clone(),
                    any::<bool>(),
                    prop::collection::vec(inner.clone(), 1..4)
                )
                    .prop_map(|(expr, negated, list)| node(ExprKind::InList {
                        expr,
                        negated,
                        list
                    })),
                (boxed.clone(), any::<bool>(), any::<bool>(), boxed.clone()).prop_map(
                    |(expr, negated, case_insensitive, pattern)| {
                        node(ExprKind::Like {
                            expr,
                            negated,
                            case_insensitive,
                            pattern,
                        })
                    }
                ),
                (boxed.clone(), any::<bool>())
                    .prop_map(|(expr, negated)| node(ExprKind::IsNull { expr, negated })),
                (
                    prop::sample::select(Function::ALL.to_vec()),
                    prop::collection::vec(inner, 1..4)
                )
                    .prop_map(|(function, mut args)| {
                        let (min_args, max_args) = function.arity();
                        args.truncate(max_args.unwrap_or(usize::MAX));
                        while args.len() < min_args {
                            args.push(node(ExprKind::Literal(Literal::Null)));
                        }
                        node(ExprKind::Function {
                            function,
                            name_span: Span::default(),
                            args,
                        })
                    }),
            ]
        })
    }

    /// Checks that every node's span covers text that parses, on its own, to that node.
    fn check_spans(text: &str, expr: &Expr) {
        expr.walk(&mut |node| {
            let covered = text
                .get(node.span.start..node.span.end)
                .unwrap_or_else(|| panic!("span {:?} of {node} is not inside {text:?}", node.span));
            let reparsed =
                parse(covered).unwrap_or_else(|error| panic!("span text {covered:?}: {error}"));
            assert_eq!(
                reparsed.strip_spans(),
                node.strip_spans(),
                "span text {covered:?} of {text:?}"
            );
        });
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(500))]

        #[test]
        fn printed_trees_parse_back(expr in arbitrary_expr()) {
            let printed = expr.to_string();
            let reparsed = parse(&printed);
            prop_assert!(reparsed.is_ok(), "printed {:?} fails: {:?}", printed, reparsed);
            let reparsed = reparsed.unwrap_or_else(|_| unreachable!());
            prop_assert_eq!(reparsed.strip_spans(), expr.strip_spans(), "printed {:?}", printed);
            prop_assert_eq!(reparsed.to_string(), printed);
            check_spans(&reparsed.to_string(), &reparsed);
        }
    }
}
