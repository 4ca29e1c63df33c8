//! The typed syntax tree of the rule language.
//!
//! The parser turns rule text into an [`Expr`], and everything after it (the
//! type checker, the printer, the DataFusion compiler) walks this tree instead
//! of the text. Every node carries the [`Span`] of the text it came from, so
//! that later stages can point at the exact place of a problem. Parentheses
//! leave no node behind: `(a + b) * c` and the canonical text printed for it
//! give the same tree.
//!
//! The derived `PartialEq` compares spans too. To compare two trees by shape
//! only, as the round-trip tests do, compare their [`Expr::strip_spans`]
//! copies, which have every span set to `0..0`.

use chrono::{NaiveDate, NaiveDateTime};

use super::Span;

/// One expression node with the span of the text it was parsed from.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    /// What the node is.
    pub kind: ExprKind,
    /// The bytes of the rule text this node covers, operands included.
    pub span: Span,
}

/// The kinds of expression nodes.
#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    /// A reference to one of the row's columns, by its exact (case-sensitive) name.
    Column(String),
    /// A constant.
    Literal(Literal),
    /// `NOT x` or `-x`.
    Unary {
        /// Which prefix operator.
        op: UnaryOp,
        /// The operand.
        operand: Box<Expr>,
    },
    /// `left op right` for comparisons, arithmetic, `AND` and `OR`.
    Binary {
        /// Which infix operator.
        op: BinaryOp,
        /// Where the operator itself is written, for error messages.
        op_span: Span,
        /// The left operand.
        left: Box<Expr>,
        /// The right operand.
        right: Box<Expr>,
    },
    /// `expr [NOT] BETWEEN low AND high`, both bounds included.
    Between {
        /// The value tested.
        expr: Box<Expr>,
        /// True for `NOT BETWEEN`.
        negated: bool,
        /// The lower bound.
        low: Box<Expr>,
        /// The upper bound.
        high: Box<Expr>,
    },
    /// `expr [NOT] IN (item, ...)` with at least one item.
    InList {
        /// The value tested.
        expr: Box<Expr>,
        /// True for `NOT IN`.
        negated: bool,
        /// The candidates.
        list: Vec<Expr>,
    },
    /// `expr [NOT] LIKE pattern` or `expr [NOT] ILIKE pattern`.
    Like {
        /// The text tested.
        expr: Box<Expr>,
        /// True for `NOT LIKE` and `NOT ILIKE`.
        negated: bool,
        /// True for `ILIKE`.
        case_insensitive: bool,
        /// The pattern, with `%` and `_` wildcards.
        pattern: Box<Expr>,
    },
    /// `expr IS [NOT] NULL`.
    IsNull {
        /// The value tested.
        expr: Box<Expr>,
        /// True for `IS NOT NULL`.
        negated: bool,
    },
    /// A call of one of the supported functions, with an argument count it accepts.
    Function {
        /// Which function.
        function: Function,
        /// Where the function name is written.
        name_span: Span,
        /// The arguments in order.
        args: Vec<Expr>,
    },
}

/// A constant value written in the rule.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// `NULL`, which fits any type.
    Null,
    /// `TRUE` or `FALSE`.
    Boolean(bool),
    /// A whole number such as `42` or `-7`.
    Integer(i64),
    /// A number with a fraction or exponent such as `0.5` or `1e-3`; always finite.
    Float(f64),
    /// A string in single quotes, with `''` already turned into `'`.
    Text(String),
    /// `DATE 'YYYY-MM-DD'`.
    Date(NaiveDate),
    /// `TIMESTAMP 'YYYY-MM-DD HH:MM:SS[.ffffff]'`, a naive UTC time.
    Timestamp(NaiveDateTime),
}

/// Prefix operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnaryOp {
    /// Logical `NOT`.
    Not,
    /// Arithmetic `-`.
    Negate,
}

/// Infix operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryOp {
    /// `OR`.
    Or,
    /// `AND`.
    And,
    /// `=`.
    Eq,
    /// `<>`, also written `!=`.
    NotEq,
    /// `<`.
    Lt,
    /// `<=`.
    LtEq,
    /// `>`.
    Gt,
    /// `>=`.
    GtEq,
    /// `+`.
    Plus,
    /// `-`.
    Minus,
    /// `*`.
    Multiply,
    /// `/`, always a floating-point division.
    Divide,
    /// `%`.
    Modulo,
}

impl BinaryOp {
    /// The operator as written in canonical rule text.
    pub fn symbol(self) -> &'static str {
        match self {
            BinaryOp::Or => "OR",
            BinaryOp::And => "AND",
            BinaryOp::Eq => "=",
            BinaryOp::NotEq => "<>",
            BinaryOp::Lt => "<",
            BinaryOp::LtEq => "<=",
            BinaryOp::Gt => ">",
            BinaryOp::GtEq => ">=",
            BinaryOp::Plus => "+",
            BinaryOp::Minus => "-",
            BinaryOp::Multiply => "*",
            BinaryOp::Divide => "/",
            BinaryOp::Modulo => "%",
        }
    }

    /// How tightly the operator binds; a higher number binds tighter.
    pub fn precedence(self) -> Precedence {
        match self {
            BinaryOp::Or => Precedence::Or,
            BinaryOp::And => Precedence::And,
            BinaryOp::Eq
            | BinaryOp::NotEq
            | BinaryOp::Lt
            | BinaryOp::LtEq
            | BinaryOp::Gt
            | BinaryOp::GtEq => Precedence::Comparison,
            BinaryOp::Plus | BinaryOp::Minus => Precedence::Additive,
            BinaryOp::Multiply | BinaryOp::Divide | BinaryOp::Modulo => Precedence::Multiplicative,
        }
    }

    /// True for `=`, `<>`, `<`, `<=`, `>` and `>=`.
    pub fn is_comparison(self) -> bool {
        self.precedence() == Precedence::Comparison
    }

    /// True for `+`, `-`, `*`, `/` and `%`.
    pub fn is_arithmetic(self) -> bool {
        matches!(
            self.precedence(),
            Precedence::Additive | Precedence::Multiplicative
        )
    }
}

/// The precedence levels of the rule language, loosest first.
///
/// These are the usual SQL levels. Comparisons, `BETWEEN`, `IN`, `LIKE` and
/// `IS NULL` share one level and do not chain: `a = b = c` is an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Precedence {
    /// `OR`.
    Or,
    /// `AND`.
    And,
    /// Prefix `NOT`.
    Not,
    /// Comparisons, `BETWEEN`, `IN`, `LIKE`, `ILIKE`, `IS [NOT] NULL`.
    Comparison,
    /// `+` and `-`.
    Additive,
    /// `*`, `/` and `%`.
    Multiplicative,
    /// Prefix `-`.
    Negate,
    /// Columns, literals, function calls and parenthesized expressions.
    Atom,
}

/// The functions a rule may call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    /// `LOWER(text)`.
    Lower,
    /// `UPPER(text)`.
    Upper,
    /// `LENGTH(text)`, in characters.
    Length,
    /// `TRIM(text)`, spaces removed from both ends.
    Trim,
    /// `ABS(number)`.
    Abs,
    /// `ROUND(number)` or `ROUND(number, decimal_places)`.
    Round,
    /// `FLOOR(number)`.
    Floor,
    /// `CEIL(number)`.
    Ceil,
    /// `LN(number)`: the natural logarithm; NULL for a number <= 0.
    Ln,
    /// `COALESCE(value, ...)`: the first argument that is not NULL.
    Coalesce,
    /// `LEAST(value, ...)`.
    Least,
    /// `GREATEST(value, ...)`.
    Greatest,
}

impl Function {
    /// Every supported function, in the order help messages list them.
    pub const ALL: [Function; 12] = [
        Function::Lower,
        Function::Upper,
        Function::Length,
        Function::Trim,
        Function::Abs,
        Function::Round,
        Function::Floor,
        Function::Ceil,
        Function::Ln,
        Function::Coalesce,
        Function::Least,
        Function::Greatest,
    ];

    /// The canonical (upper-case) name.
    pub fn name(self) -> &'static str {
        match self {
            Function::Lower => "LOWER",
            Function::Upper => "UPPER",
            Function::Length => "LENGTH",
            Function::Trim => "TRIM",
            Function::Abs => "ABS",
            Function::Round => "ROUND",
            Function::Floor => "FLOOR",
            Function::Ceil => "CEIL",
            Function::Ln => "LN",
            Function::Coalesce => "COALESCE",
            Function::Least => "LEAST",
            Function::Greatest => "GREATEST",
        }
    }

    /// The function called `name`, ignoring case.
    pub fn from_name(name: &str) -> Option<Function> {
        Function::ALL
            .into_iter()
            .find(|function| function.name().eq_ignore_ascii_case(name))
    }

    /// The smallest and largest number of arguments; `None` means no upper limit.
    pub fn arity(self) -> (usize, Option<usize>) {
        match self {
            Function::Lower
            | Function::Upper
            | Function::Length
            | Function::Trim
            | Function::Abs
            | Function::Floor
            | Function::Ceil
            | Function::Ln => (1, Some(1)),
            Function::Round => (1, Some(2)),
            Function::Coalesce | Function::Least | Function::Greatest => (1, None),
        }
    }
}

impl Expr {
    /// A node of `kind` covering `span`.
    pub fn new(kind: ExprKind, span: Span) -> Self {
        Expr { kind, span }
    }

    /// A copy of this tree with every span (operator and name spans included) set to `0..0`.
    ///
    /// Two trees that differ only in where their text was are equal after this.
    pub fn strip_spans(&self) -> Expr {
        let no_span = Span::default();
        let boxed = |expr: &Expr| Box::new(expr.strip_spans());
        let kind = match &self.kind {
            ExprKind::Column(name) => ExprKind::Column(name.clone()),
            ExprKind::Literal(literal) => ExprKind::Literal(literal.clone()),
            ExprKind::Unary { op, operand } => ExprKind::Unary {
                op: *op,
                operand: boxed(operand),
            },
            ExprKind::Binary {
                op, left, right, ..
            } => ExprKind::Binary {
                op: *op,
                op_span: no_span,
                left: boxed(left),
                right: boxed(right),
            },
            ExprKind::Between {
                expr,
                negated,
                low,
                high,
            } => ExprKind::Between {
                expr: boxed(expr),
                negated: *negated,
                low: boxed(low),
                high: boxed(high),
            },
            ExprKind::InList {
                expr,
                negated,
                list,
            } => ExprKind::InList {
                expr: boxed(expr),
                negated: *negated,
                list: list.iter().map(Expr::strip_spans).collect(),
            },
            ExprKind::Like {
                expr,
                negated,
                case_insensitive,
                pattern,
            } => ExprKind::Like {
                expr: boxed(expr),
                negated: *negated,
                case_insensitive: *case_insensitive,
                pattern: boxed(pattern),
            },
            ExprKind::IsNull { expr, negated } => ExprKind::IsNull {
                expr: boxed(expr),
                negated: *negated,
            },
            ExprKind::Function { function, args, .. } => ExprKind::Function {
                function: *function,
                name_span: no_span,
                args: args.iter().map(Expr::strip_spans).collect(),
            },
        };
        Expr::new(kind, no_span)
    }

    /// The precedence level of this node, which decides where the printer needs parentheses.
    pub fn precedence(&self) -> Precedence {
        match &self.kind {
            ExprKind::Column(_) | ExprKind::Literal(_) | ExprKind::Function { .. } => {
                Precedence::Atom
            }
            ExprKind::Unary {
                op: UnaryOp::Not, ..
            } => Precedence::Not,
            ExprKind::Unary {
                op: UnaryOp::Negate,
                ..
            } => Precedence::Negate,
            ExprKind::Binary { op, .. } => op.precedence(),
            ExprKind::Between { .. }
            | ExprKind::InList { .. }
            | ExprKind::Like { .. }
            | ExprKind::IsNull { .. } => Precedence::Comparison,
        }
    }

    /// Calls `visit` on this node and then on its children, left to right as they are written.
    pub fn walk(&self, visit: &mut dyn FnMut(&Expr)) {
        visit(self);
        match &self.kind {
            ExprKind::Column(_) | ExprKind::Literal(_) => {}
            ExprKind::Unary { operand, .. } => operand.walk(visit),
            ExprKind::Binary { left, right, .. } => {
                left.walk(visit);
                right.walk(visit);
            }
            ExprKind::Between {
                expr, low, high, ..
            } => {
                expr.walk(visit);
                low.walk(visit);
                high.walk(visit);
            }
            ExprKind::InList { expr, list, .. } => {
                expr.walk(visit);
                for item in list {
                    item.walk(visit);
                }
            }
            ExprKind::Like { expr, pattern, .. } => {
                expr.walk(visit);
                pattern.walk(visit);
            }
            ExprKind::IsNull { expr, .. } => expr.walk(visit),
            ExprKind::Function { args, .. } => {
                for argument in args {
                    argument.walk(visit);
                }
            }
        }
    }
}
