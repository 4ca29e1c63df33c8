//! The type checker: does every column exist, and do the operand types fit?
//!
//! The checker walks the tree bottom-up and gives each node a type. `NULL`
//! has no type of its own and fits anywhere, which the code writes as `None`.
//! The rules are SQL's, kept strict where a mistake is likely: Integer and
//! Float mix freely, Date and Timestamp compare with each other, and any
//! other pair of different types is an error naming both. Text never turns
//! into a number, with one exception that rules need all the time: a string
//! literal compared with a date or timestamp (`created >= '2024-01-01'`) is
//! read as a date, and the checked tree holds the date literal from then on.
//!
//! The first problem found, in reading order, is the error returned; its span
//! points at the unknown column, the operator whose operands do not fit, or
//! the operand of the wrong type.

use super::ast::{BinaryOp, Expr, ExprKind, Function, Literal, UnaryOp};
use super::{RuleError, RuleErrorKind, Schema, Span, ValueType, suggest, temporal};

/// A node's type, where `None` is the type of `NULL`, which fits any type.
type Inferred = Option<ValueType>;

/// Checks `expr` (parsed from `text`) against `schema`; returns the rewritten tree and its type.
pub(crate) fn check_expr(
    expr: Expr,
    schema: &Schema,
    text: &str,
) -> Result<(Expr, Inferred), RuleError> {
    Checker { schema, text }.check(expr)
}

struct Checker<'a> {
    schema: &'a Schema,
    text: &'a str,
}

impl Checker<'_> {
    fn check(&self, expr: Expr) -> Result<(Expr, Inferred), RuleError> {
        let span = expr.span;
        match expr.kind {
            ExprKind::Column(name) => {
                let value_type = self.column_type(&name, span)?;
                Ok((Expr::new(ExprKind::Column(name), span), Some(value_type)))
            }
            ExprKind::Literal(literal) => {
                let value_type = literal_type(&literal);
                Ok((Expr::new(ExprKind::Literal(literal), span), value_type))
            }
            ExprKind::Unary { op, operand } => {
                let (operand, operand_type) = self.check(*operand)?;
                let result_type = match op {
                    UnaryOp::Not => {
                        self.require_boolean("NOT", &operand, operand_type)?;
                        Some(ValueType::Boolean)
                    }
                    UnaryOp::Negate => match operand_type {
                        None => None,
                        Some(value_type) if value_type.is_numeric() => Some(value_type),
                        Some(value_type) => {
                            let op_span = Span {
                                start: span.start,
                                end: span.start + 1,
                            };
                            return Err(
                                self.type_error(format!("cannot negate {value_type}"), op_span)
                            );
                        }
                    },
                };
                let kind = ExprKind::Unary {
                    op,
                    operand: Box::new(operand),
                };
                Ok((Expr::new(kind, span), result_type))
            }
            ExprKind::Binary {
                op,
                op_span,
                left,
                right,
            } => self.check_binary(op, op_span, *left, *right, span),
            ExprKind::Between {
                expr,
                negated,
                low,
                high,
            } => {
                let mut operands = self.check_all(vec![*expr, *low, *high])?;
                self.align_temporal_literals(&mut operands)?;
                self.require_comparable_to_first(&operands)?;
                let [(expr, _), (low, _), (high, _)] =
                    <[_; 3]>::try_from(operands).map_err(|_| self.internal(span))?;
                let kind = ExprKind::Between {
                    expr: Box::new(expr),
                    negated,
                    low: Box::new(low),
                    high: Box::new(high),
                };
                Ok((Expr::new(kind, span), Some(ValueType::Boolean)))
            }
            ExprKind::InList {
                expr,
                negated,
                list,
            } => {
                let mut operands = self.check_all(std::iter::once(*expr).chain(list).collect())?;
                self.align_temporal_literals(&mut operands)?;
                self.require_comparable_to_first(&operands)?;
                let mut checked = operands.into_iter().map(|(operand, _)| operand);
                let expr = checked.next().ok_or_else(|| self.internal(span))?;
                let kind = ExprKind::InList {
                    expr: Box::new(expr),
                    negated,
                    list: checked.collect(),
                };
                Ok((Expr::new(kind, span), Some(ValueType::Boolean)))
            }
            ExprKind::Like {
                expr,
                negated,
                case_insensitive,
                pattern,
            } => {
                let keyword = if case_insensitive { "ILIKE" } else { "LIKE" };
                let (expr, expr_type) = self.check(*expr)?;
                self.require_text(keyword, &expr, expr_type)?;
                let (pattern, pattern_type) = self.check(*pattern)?;
                self.require_text(keyword, &pattern, pattern_type)?;
                let kind = ExprKind::Like {
                    expr: Box::new(expr),
                    negated,
                    case_insensitive,
                    pattern: Box::new(pattern),
                };
                Ok((Expr::new(kind, span), Some(ValueType::Boolean)))
            }
            ExprKind::IsNull { expr, negated } => {
                let (expr, _) = self.check(*expr)?;
                let kind = ExprKind::IsNull {
                    expr: Box::new(expr),
                    negated,
                };
                Ok((Expr::new(kind, span), Some(ValueType::Boolean)))
            }
            ExprKind::Function {
                function,
                name_span,
                args,
            } => self.check_function(function, name_span, args, span),
        }
    }

    fn check_binary(
        &self,
        op: BinaryOp,
        op_span: Span,
        left: Expr,
        right: Expr,
        span: Span,
    ) -> Result<(Expr, Inferred), RuleError> {
        let (left, left_type) = self.check(left)?;
        let (right, right_type) = self.check(right)?;
        let build = |left: Expr, right: Expr| {
            Expr::new(
                ExprKind::Binary {
                    op,
                    op_span,
                    left: Box::new(left),
                    right: Box::new(right),
                },
                span,
            )
        };
        match op {
            BinaryOp::And | BinaryOp::Or => {
                self.require_boolean(op.symbol(), &left, left_type)?;
                self.require_boolean(op.symbol(), &right, right_type)?;
                Ok((build(left, right), Some(ValueType::Boolean)))
            }
            _ if op.is_comparison() => {
                let mut operands = vec![(left, left_type), (right, right_type)];
                self.align_temporal_literals(&mut operands)?;
                let [(left, left_type), (right, right_type)] =
                    <[_; 2]>::try_from(operands).map_err(|_| self.internal(span))?;
                if !are_comparable(left_type, right_type) {
                    return Err(self.type_error(
                        format!(
                            "cannot compare {} with {}",
                            describe(left_type),
                            describe(right_type)
                        ),
                        op_span,
                    ));
                }
                Ok((build(left, right), Some(ValueType::Boolean)))
            }
            _ => {
                let both_numeric = [left_type, right_type]
                    .iter()
                    .all(|operand_type| operand_type.is_none_or(ValueType::is_numeric));
                if !both_numeric {
                    let mut error = self.type_error(
                        format!(
                            "cannot apply `{}` to {} and {}",
                            op.symbol(),
                            describe(left_type),
                            describe(right_type)
                        ),
                        op_span,
                    );
                    if op == BinaryOp::Plus
                        && (left_type == Some(ValueType::Text)
                            || right_type == Some(ValueType::Text))
                    {
                        error = error.with_help("arithmetic needs numbers; text cannot be added");
                    }
                    return Err(error);
                }
                let result_type = match (op, left_type, right_type) {
                    (BinaryOp::Divide, _, _) => Some(ValueType::Float),
                    (_, None, None) => None,
                    (_, Some(ValueType::Float), _) | (_, _, Some(ValueType::Float)) => {
                        Some(ValueType::Float)
                    }
                    _ => Some(ValueType::Integer),
                };
                Ok((build(left, right), result_type))
            }
        }
    }

    fn check_function(
        &self,
        function: Function,
        name_span: Span,
        args: Vec<Expr>,
        span: Span,
    ) -> Result<(Expr, Inferred), RuleError> {
        let mut operands = self.check_all(args)?;
        let name = function.name();
        let result_type = match function {
            Function::Lower | Function::Upper | Function::Trim | Function::Length => {
                for (argument, argument_type) in &operands {
                    self.require_text(name, argument, *argument_type)?;
                }
                if function == Function::Length {
                    Some(ValueType::Integer)
                } else {
                    Some(ValueType::Text)
                }
            }
            Function::Abs | Function::Round | Function::Floor | Function::Ceil | Function::Ln => {
                let mut numbers = operands.iter();
                let (first, first_type) = numbers.next().ok_or_else(|| self.internal(span))?;
                self.require_numeric(name, first, *first_type)?;
                if let Some((decimal_places, decimal_places_type)) = numbers.next()
                    && decimal_places_type
                        .is_some_and(|value_type| value_type != ValueType::Integer)
                {
                    return Err(self.type_error(
                        format!(
                            "the decimal places of ROUND must be Integer, found {}",
                            describe(*decimal_places_type)
                        ),
                        decimal_places.span,
                    ));
                }
                // These follow DataFusion: ABS and ROUND keep the type of the number,
                // while FLOOR and CEIL always give a float.
                match function {
                    Function::Floor | Function::Ceil | Function::Ln => Some(ValueType::Float),
                    _ => *first_type,
                }
            }
            Function::Coalesce | Function::Least | Function::Greatest => {
                self.align_temporal_literals(&mut operands)?;
                let mut common_type: Inferred = None;
                for (argument, argument_type) in &operands {
                    common_type = unify(common_type, *argument_type).ok_or_else(|| {
                        self.type_error(
                            format!(
                                "the arguments of {name} must share a type, found {} and {}",
                                describe(common_type),
                                describe(*argument_type)
                            ),
                            argument.span,
                        )
                    })?;
                }
                common_type
            }
        };
        let args = operands.into_iter().map(|(argument, _)| argument).collect();
        Ok((
            Expr::new(
                ExprKind::Function {
                    function,
                    name_span,
                    args,
                },
                span,
            ),
            result_type,
        ))
    }

    fn check_all(&self, exprs: Vec<Expr>) -> Result<Vec<(Expr, Inferred)>, RuleError> {
        exprs.into_iter().map(|expr| self.check(expr)).collect()
    }

    fn column_type(&self, name: &str, span: Span) -> Result<ValueType, RuleError> {
        if let Some(value_type) = self.schema.get(name) {
            return Ok(value_type);
        }
        let help = match suggest(name, self.schema.names()) {
            Some(closest) => format!("did you mean `{closest}`?"),
            None => available_columns(self.schema),
        };
        Err(RuleError::new(
            RuleErrorKind::UnknownColumn,
            format!("unknown column `{name}`"),
            span,
            self.text,
        )
        .with_help(help))
    }

    /// Turns string literals into date or timestamp literals when the operands also hold a date or timestamp.
    ///
    /// The operands are those of one comparison, `BETWEEN`, `IN` or `COALESCE`-like call, which must all share a type.
    fn align_temporal_literals(&self, operands: &mut [(Expr, Inferred)]) -> Result<(), RuleError> {
        let is_text_literal =
            |expr: &Expr| matches!(expr.kind, ExprKind::Literal(Literal::Text(_)));
        let temporal_type = operands
            .iter()
            .find(|(expr, value_type)| {
                !is_text_literal(expr) && value_type.is_some_and(ValueType::is_temporal)
            })
            .and_then(|(_, value_type)| *value_type);
        let Some(temporal_type) = temporal_type else {
            return Ok(());
        };
        for (expr, value_type) in operands.iter_mut() {
            let ExprKind::Literal(Literal::Text(content)) = &expr.kind else {
                continue;
            };
            let (literal, literal_type) = match (
                temporal::parse_date(content),
                temporal::parse_timestamp(content),
            ) {
                (Some(date), _) if temporal_type == ValueType::Date => {
                    (Literal::Date(date), ValueType::Date)
                }
                (_, Some(timestamp)) => (Literal::Timestamp(timestamp), ValueType::Timestamp),
                _ => {
                    let (what, form) = match temporal_type {
                        ValueType::Date => ("date", "'YYYY-MM-DD'"),
                        _ => ("timestamp", "'YYYY-MM-DD HH:MM:SS'"),
                    };
                    return Err(self
                        .type_error(format!("`{content}` is not a valid {what}"), expr.span)
                        .with_help(format!("write a {what} as {form}")));
                }
            };
            expr.kind = ExprKind::Literal(literal);
            *value_type = Some(literal_type);
        }
        Ok(())
    }

    /// Requires every operand after the first to compare with the first, pointing at the first that does not.
    fn require_comparable_to_first(&self, operands: &[(Expr, Inferred)]) -> Result<(), RuleError> {
        let Some(((_, first_type), rest)) = operands.split_first() else {
            return Ok(());
        };
        for (operand, operand_type) in rest {
            if !are_comparable(*first_type, *operand_type) {
                return Err(self.type_error(
                    format!(
                        "cannot compare {} with {}",
                        describe(*first_type),
                        describe(*operand_type)
                    ),
                    operand.span,
                ));
            }
        }
        Ok(())
    }

    fn require_boolean(
        &self,
        what: &str,
        operand: &Expr,
        operand_type: Inferred,
    ) -> Result<(), RuleError> {
        self.require(
            what,
            operand,
            operand_type,
            ValueType::Boolean,
            |value_type| value_type == ValueType::Boolean,
        )
    }

    fn require_text(
        &self,
        what: &str,
        operand: &Expr,
        operand_type: Inferred,
    ) -> Result<(), RuleError> {
        self.require(what, operand, operand_type, ValueType::Text, |value_type| {
            value_type == ValueType::Text
        })
    }

    fn require_numeric(
        &self,
        what: &str,
        operand: &Expr,
        operand_type: Inferred,
    ) -> Result<(), RuleError> {
        self.require(
            what,
            operand,
            operand_type,
            ValueType::Float,
            ValueType::is_numeric,
        )
    }

    /// Requires `operand` to be NULL or to pass `accepts`; `expected` names the type in the message.
    fn require(
        &self,
        what: &str,
        operand: &Expr,
        operand_type: Inferred,
        expected: ValueType,
        accepts: impl Fn(ValueType) -> bool,
    ) -> Result<(), RuleError> {
        match operand_type {
            Some(value_type) if !accepts(value_type) => {
                let expected = if expected.is_numeric() {
                    "a number".to_string()
                } else {
                    expected.to_string()
                };
                Err(self.type_error(
                    format!("{what} needs {expected}, found {value_type}"),
                    operand.span,
                ))
            }
            _ => Ok(()),
        }
    }

    fn type_error(&self, message: String, span: Span) -> RuleError {
        RuleError::new(RuleErrorKind::Type, message, span, self.text)
    }

    /// An error for a state the parser rules out; reaching it is a bug in this module.
    fn internal(&self, span: Span) -> RuleError {
        RuleError::new(
            RuleErrorKind::Syntax,
            "internal error in the rule checker: unexpected tree shape (this is a bug)",
            span,
            self.text,
        )
    }
}

/// The type of a literal; `None` for `NULL`.
fn literal_type(literal: &Literal) -> Inferred {
    match literal {
        Literal::Null => None,
        Literal::Boolean(_) => Some(ValueType::Boolean),
        Literal::Integer(_) => Some(ValueType::Integer),
        Literal::Float(_) => Some(ValueType::Float),
        Literal::Text(_) => Some(ValueType::Text),
        Literal::Date(_) => Some(ValueType::Date),
        Literal::Timestamp(_) => Some(ValueType::Timestamp),
    }
}

/// True when values of the two types can be compared: equal types, two numbers, two temporal types, or a NULL.
fn are_comparable(left: Inferred, right: Inferred) -> bool {
    match (left, right) {
        (None, _) | (_, None) => true,
        (Some(left), Some(right)) => {
            left == right
                || (left.is_numeric() && right.is_numeric())
                || (left.is_temporal() && right.is_temporal())
        }
    }
}

/// The type that holds values of both types, or `None` (the outer one) when there is none.
#[allow(
    clippy::option_option,
    reason = "the inner None is the NULL type, the outer one a mismatch"
)]
fn unify(left: Inferred, right: Inferred) -> Option<Inferred> {
    match (left, right) {
        (None, other) | (other, None) => Some(other),
        (Some(left), Some(right)) if left == right => Some(Some(left)),
        (Some(left), Some(right)) if left.is_numeric() && right.is_numeric() => {
            Some(Some(ValueType::Float))
        }
        (Some(left), Some(right)) if left.is_temporal() && right.is_temporal() => {
            Some(Some(ValueType::Timestamp))
        }
        _ => None,
    }
}

/// How a type reads in a message; `NULL` has no type name of its own.
fn describe(value_type: Inferred) -> String {
    value_type.map_or_else(|| "NULL".to_string(), |value_type| value_type.to_string())
}

/// A help line listing a few of the schema's columns.
fn available_columns(schema: &Schema) -> String {
    const SHOWN: usize = 8;
    let names: Vec<String> = schema
        .names()
        .take(SHOWN)
        .map(|name| format!("`{name}`"))
        .collect();
    let n_columns = schema.columns().len();
    match n_columns {
        0 => "no columns are available".to_string(),
        _ if n_columns <= SHOWN => format!("available columns: {}", names.join(", ")),
        _ => format!(
            "available columns: {} and {} more",
            names.join(", "),
            n_columns - SHOWN
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Schema, ValueType, check, check_predicate};
    use super::*;

    fn schema() -> Schema {
        Schema::new(
            [
                ("employees", ValueType::Integer),
                ("industry", ValueType::Text),
                ("api_share", ValueType::Float),
                ("created", ValueType::Date),
                ("last_seen", ValueType::Timestamp),
                ("is_paying", ValueType::Boolean),
            ]
            .map(|(name, value_type)| (name.to_string(), value_type)),
        )
    }

    #[test]
    fn accepted_rules() {
        check_ok("employees > 10", "Boolean", "employees > 10");
        check_ok("employees + api_share", "Float", "employees + api_share");
        check_ok("employees * 2 % 3", "Integer", "employees * 2 % 3");
        check_ok("employees / 2", "Float", "employees / 2");
        check_ok("-employees", "Integer", "-employees");
        check_ok(
            "employees = 1.5 AND api_share < 1",
            "Boolean",
            "employees = 1.5 AND api_share < 1",
        );
        check_ok(
            "created >= '2024-01-01'",
            "Boolean",
            "created >= DATE '2024-01-01'",
        );
        check_ok(
            "'2024-01-01' < created",
            "Boolean",
            "DATE '2024-01-01' < created",
        );
        check_ok(
            "created > '2024-01-01 10:00'",
            "Boolean",
            "created > TIMESTAMP '2024-01-01 10:00:00'",
        );
        check_ok(
            "last_seen > '2024-01-01'",
            "Boolean",
            "last_seen > TIMESTAMP '2024-01-01 00:00:00'",
        );
        check_ok(
            "created BETWEEN '2024-01-01' AND '2024-12-31'",
            "Boolean",
            "created BETWEEN DATE '2024-01-01' AND DATE '2024-12-31'",
        );
        check_ok(
            "created IN ('2024-01-01', NULL)",
            "Boolean",
            "created IN (DATE '2024-01-01', NULL)",
        );
        check_ok(
            "created < last_seen AND created = DATE '2024-01-01'",
            "Boolean",
            "created < last_seen AND created = DATE '2024-01-01'",
        );
        check_ok(
            "COALESCE(created, '2020-02-02')",
            "Date",
            "COALESCE(created, DATE '2020-02-02')",
        );
        check_ok(
            "industry = NULL OR NULL",
            "Boolean",
            "industry = NULL OR NULL",
        );
        check_ok("NULL", "Boolean", "NULL");
        check_ok("NULL + 1", "Integer", "NULL + 1");
        check_ok(
            "industry LIKE 'Fin%' AND NOT is_paying",
            "Boolean",
            "industry LIKE 'Fin%' AND NOT is_paying",
        );
        check_ok(
            "employees IN (1, 2.5, NULL)",
            "Boolean",
            "employees IN (1, 2.5, NULL)",
        );
        check_ok(
            "LENGTH(LOWER(TRIM(industry)))",
            "Integer",
            "LENGTH(LOWER(TRIM(industry)))",
        );
        check_ok("UPPER(industry)", "Text", "UPPER(industry)");
        check_ok("ABS(employees)", "Integer", "ABS(employees)");
        check_ok(
            "ROUND(employees) + ABS(-1)",
            "Integer",
            "ROUND(employees) + ABS(-1)",
        );
        check_ok("ROUND(api_share, 2)", "Float", "ROUND(api_share, 2)");
        check_ok(
            "FLOOR(employees) + CEIL(api_share)",
            "Float",
            "FLOOR(employees) + CEIL(api_share)",
        );
        check_ok(
            "GREATEST(employees, api_share, 3)",
            "Float",
            "GREATEST(employees, api_share, 3)",
        );
        check_ok("LEAST(industry, 'b')", "Text", "LEAST(industry, 'b')");
        check_ok(
            "(industry IS NULL) = is_paying",
            "Boolean",
            "(industry IS NULL) = is_paying",
        );
        check_ok("employees IS NOT NULL", "Boolean", "employees IS NOT NULL");
    }

    #[test]
    fn rejected_rules() {
        check_err(
            "«employes» > 10",
            "unknown column `employes`",
            Some("did you mean `employees`?"),
        );
        check_err(
            "industry = 'x' AND «Employees» > 10",
            "unknown column `Employees`",
            Some("did you mean `employees`?"),
        );
        check_err(
            "«\"api share\"» > 1",
            "unknown column `api share`",
            Some("did you mean `api_share`?"),
        );
        check_err(
            "«revenue» > 1",
            "unknown column `revenue`",
            Some(
                "available columns: `employees`, `industry`, `api_share`, `created`, `last_seen`, `is_paying`",
            ),
        );
        check_err("industry «=» 5", "cannot compare Text with Integer", None);
        check_err(
            "employees «<» created",
            "cannot compare Integer with Date",
            None,
        );
        check_err(
            "is_paying «=» 1",
            "cannot compare Boolean with Integer",
            None,
        );
        check_err(
            "employees BETWEEN 1 AND «'x'»",
            "cannot compare Integer with Text",
            None,
        );
        check_err(
            "industry IN ('a', «2»)",
            "cannot compare Text with Integer",
            None,
        );
        check_err(
            "industry «+» 1",
            "cannot apply `+` to Text and Integer",
            Some("arithmetic needs numbers; text cannot be added"),
        );
        check_err(
            "created «-» 1 > 0",
            "cannot apply `-` to Date and Integer",
            None,
        );
        check_err("«-»industry", "cannot negate Text", None);
        check_err(
            "«employees» AND is_paying",
            "AND needs Boolean, found Integer",
            None,
        );
        check_err(
            "is_paying OR «api_share»",
            "OR needs Boolean, found Float",
            None,
        );
        check_err("NOT «industry»", "NOT needs Boolean, found Text", None);
        check_err(
            "«employees» LIKE '1%'",
            "LIKE needs Text, found Integer",
            None,
        );
        check_err(
            "industry NOT ILIKE «1»",
            "ILIKE needs Text, found Integer",
            None,
        );
        check_err(
            "LOWER(«employees»)",
            "LOWER needs Text, found Integer",
            None,
        );
        check_err("ABS(«industry»)", "ABS needs a number, found Text", None);
        check_err(
            "ROUND(api_share, «1.5»)",
            "the decimal places of ROUND must be Integer, found Float",
            None,
        );
        check_err(
            "COALESCE(employees, NULL, «industry»)",
            "the arguments of COALESCE must share a type, found Integer and Text",
            None,
        );
        check_err(
            "created > «'2024-13-01'»",
            "`2024-13-01` is not a valid date",
            Some("write a date as 'YYYY-MM-DD'"),
        );
        check_err(
            "last_seen BETWEEN «'soon'» AND '2025-01-01'",
            "`soon` is not a valid timestamp",
            Some("write a timestamp as 'YYYY-MM-DD HH:MM:SS'"),
        );
        check_err(
            "«employees + 1»",
            "rule must be a true/false condition, found Integer",
            Some("compare the value with something, as in `employees > 100`"),
        );
        check_err(
            "«industry»",
            "rule must be a true/false condition, found Text",
            Some("compare the value with something, as in `employees > 100`"),
        );
        check_err(
            "employees > «»",
            "expected a value, found the end of the rule",
            None,
        );
        check_err(
            "«lowr»(industry) = 'x'",
            "unknown function `lowr`",
            Some("did you mean `LOWER`?"),
        );
    }

    #[test]
    fn unknown_column_help_lists_a_few_columns() {
        let many_columns =
            Schema::new((0..12).map(|column_idx| (format!("c{column_idx}"), ValueType::Integer)));
        let error = check("zzz > 1", &many_columns)
            .err()
            .map(|error| error.help);
        let expected =
            "available columns: `c0`, `c1`, `c2`, `c3`, `c4`, `c5`, `c6`, `c7` and 4 more";
        assert_eq!(error, Some(Some(expected.to_string())));
        let error = check("zzz > 1", &Schema::default())
            .err()
            .map(|error| error.help);
        assert_eq!(error, Some(Some("no columns are available".to_string())));
    }

    #[test]
    fn columns_in_order_of_first_appearance() {
        let rule = check(
            "industry = 'x' AND (employees > 1 OR industry IS NULL) AND created > '2020-01-01'",
            &schema(),
        );
        let columns = rule.map(|rule| rule.columns());
        assert_eq!(
            columns,
            Ok(vec![
                "industry".to_string(),
                "employees".to_string(),
                "created".to_string()
            ])
        );
    }

    /// Checks `text` with `check`, expecting the type and the canonical text of the checked tree.
    fn check_ok(text: &str, expected_type: &str, expected_text: &str) {
        let rule =
            check(text, &schema()).unwrap_or_else(|error| panic!("checking {text:?}: {error}"));
        assert_eq!(
            rule.value_type().to_string(),
            expected_type,
            "type of {text:?}"
        );
        assert_eq!(
            rule.expr().to_string(),
            expected_text,
            "checked tree of {text:?}"
        );
        assert_eq!(rule.text(), text);
    }

    /// Checks the text with `check_predicate`, where `«...»` marks the expected span of the error.
    fn check_err(marked_text: &str, expected_message: &str, expected_help: Option<&str>) {
        let (text, expected_span) = unmark(marked_text);
        let error = match check_predicate(&text, &schema()) {
            Ok(rule) => panic!("{text:?} was accepted as {}", rule.expr()),
            Err(error) => error,
        };
        assert_eq!(error.message, expected_message, "message for {text:?}");
        assert_eq!(error.help.as_deref(), expected_help, "help for {text:?}");
        assert_eq!(
            error.span,
            expected_span,
            "span for {text:?}: {}",
            error.render_snippet()
        );
    }

    /// Removes the `«` and `»` markers from `marked_text` and returns the byte span between them.
    pub(crate) fn unmark(marked_text: &str) -> (String, Span) {
        let start = marked_text
            .find('«')
            .unwrap_or_else(|| panic!("no « in {marked_text:?}"));
        let without_start = marked_text.replacen('«', "", 1);
        let end = without_start
            .find('»')
            .unwrap_or_else(|| panic!("no » in {marked_text:?}"));
        (without_start.replacen('»', "", 1), Span { start, end })
    }
}
