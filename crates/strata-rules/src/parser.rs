//! The parser: tokens to an [`Expr`] tree, by precedence climbing.
//!
//! Each call of `parse_expr(min_precedence)` reads one operand and then keeps
//! folding infix operators into it for as long as they bind at least as
//! tightly as `min_precedence`; the right operand of a left-associative
//! operator is read with the next tighter level. The levels are the usual SQL
//! ones (see [`Precedence`]). Comparisons, `BETWEEN`, `IN`, `LIKE` and
//! `IS NULL` do not chain, so `a = b = c` is an error that asks for
//! parentheses instead of a silent surprise.
//!
//! A minus sign directly before a number is folded into a negative literal,
//! which is how `-9223372036854775808` fits in an `i64`. Nesting is capped at
//! [`MAX_DEPTH`] levels so that no input, however hostile, can overflow the
//! stack of the parser or of anything that later walks the tree.

use super::ast::{BinaryOp, Expr, ExprKind, Function, Literal, Precedence, UnaryOp};
use super::lexer::{Keyword, Token, TokenKind, tokenize};
use super::{RuleError, RuleErrorKind, Span, suggest, temporal};

/// The greatest height a rule's tree may have: operators nested in operators.
///
/// Sixty-four levels is far beyond any rule a person writes, and shallow
/// enough that parsing, checking, printing and running the deepest rule stay
/// well inside a 2 MiB thread stack even in a debug build, where each level
/// of the parser alone takes several kilobytes.
pub const MAX_DEPTH: usize = 64;

/// How deep the parser itself may recurse: one level per operand and one per parenthesis.
///
/// Twice [`MAX_DEPTH`] is what the printed form of the tallest allowed tree
/// needs, since the printer may parenthesize an operand at every level (as in
/// `a = (NOT b = (NOT c))`); so every tree the parser accepts prints to text
/// it accepts again.
const MAX_NESTING: usize = 2 * MAX_DEPTH;

/// Parses a whole rule.
pub(crate) fn parse_rule(text: &str) -> Result<Expr, RuleError> {
    let tokens = tokenize(text)?;
    let mut parser = Parser {
        text,
        tokens,
        position: 0,
        nesting: 0,
    };
    if parser.peek().kind == TokenKind::End {
        return Err(parser
            .error(
                "rule is empty",
                Span {
                    start: 0,
                    end: text.len(),
                },
            )
            .with_help("write a condition such as `employees > 100`"));
    }
    let parsed = parser.parse_expr(Precedence::Or)?;
    let token = parser.peek().clone();
    match token.kind {
        TokenKind::End => Ok(parsed.expr),
        TokenKind::RightParen => Err(parser.error("unmatched `)`", token.span)),
        _ => Err(parser.error(
            format!(
                "expected an operator or the end of the rule, found {}",
                parser.describe(&token)
            ),
            token.span,
        )),
    }
}

/// An expression together with the height of its tree.
struct Parsed {
    expr: Expr,
    height: usize,
}

/// An infix operator found at the current position.
#[derive(Debug, Clone, Copy)]
enum Infix {
    Binary(BinaryOp),
    Between {
        negated: bool,
    },
    In {
        negated: bool,
    },
    Like {
        negated: bool,
        case_insensitive: bool,
    },
    IsNull,
    /// `NOT` followed by something other than `BETWEEN`, `IN`, `LIKE` or `ILIKE`.
    StrayNot,
}

impl Infix {
    fn precedence(self) -> Precedence {
        match self {
            Infix::Binary(op) => op.precedence(),
            _ => Precedence::Comparison,
        }
    }
}

struct Parser<'a> {
    text: &'a str,
    tokens: Vec<Token>,
    position: usize,
    nesting: usize,
}

impl Parser<'_> {
    // The recursive path (parse_expr, parse_prefix, parse_infix and the functions they
    // call with the next operand) keeps its frames small: error messages and leaf
    // tokens are built in separate functions, because in debug builds every local of
    // a function takes stack space in each of its recursive frames.

    fn parse_expr(&mut self, min_precedence: Precedence) -> Result<Parsed, RuleError> {
        self.nesting += 1;
        if self.nesting > MAX_NESTING {
            return Err(self.too_deep(self.peek().span));
        }
        let mut left = self.parse_prefix()?;
        let mut has_comparison = false;
        while let Some((infix, token_count)) = self.peek_infix() {
            let precedence = infix.precedence();
            if precedence < min_precedence {
                break;
            }
            let op_span = self.span_of_next(token_count);
            if precedence == Precedence::Comparison {
                if has_comparison {
                    return Err(self.chained_comparison(op_span));
                }
                has_comparison = true;
            }
            self.position += token_count;
            left = self.parse_infix(left, infix, op_span)?;
        }
        self.nesting -= 1;
        Ok(left)
    }

    /// Reads what may start an expression: a literal, column, function call, parenthesis or prefix operator.
    fn parse_prefix(&mut self) -> Result<Parsed, RuleError> {
        let token = self.next();
        let is_call = matches!(
            token.kind,
            TokenKind::Word(_) | TokenKind::Keyword(Keyword::Date | Keyword::Timestamp)
        ) && self.peek().kind == TokenKind::LeftParen;
        let is_negative_number = matches!(self.peek().kind, TokenKind::Number { .. });
        match token.kind {
            TokenKind::LeftParen => self.parse_parenthesized(token.span),
            TokenKind::Minus if !is_negative_number => {
                let operand = self.parse_expr(Precedence::Negate)?;
                self.unary(UnaryOp::Negate, token.span, operand)
            }
            TokenKind::Keyword(Keyword::Not) => {
                let operand = self.parse_expr(Precedence::Not)?;
                self.unary(UnaryOp::Not, token.span, operand)
            }
            _ if is_call => self.parse_call(token),
            _ => self.parse_leaf(token),
        }
    }

    /// Reads the rest of `( expr )` after the opening parenthesis at `opening_span`.
    fn parse_parenthesized(&mut self, opening_span: Span) -> Result<Parsed, RuleError> {
        let mut parsed = self.parse_expr(Precedence::Or)?;
        if self.peek().kind != TokenKind::RightParen {
            return Err(self.unclosed_parenthesis(opening_span));
        }
        let closing = self.next();
        parsed.expr.span = Span {
            start: opening_span.start,
            end: closing.span.end,
        };
        Ok(parsed)
    }

    /// Reads a token that is a whole operand on its own: a literal or a column.
    fn parse_leaf(&mut self, token: Token) -> Result<Parsed, RuleError> {
        let literal = match token.kind {
            TokenKind::Number { text, is_float } => {
                return self.number_literal(&text, is_float, token.span, false);
            }
            TokenKind::Minus => {
                // parse_prefix only sends a minus here when a number follows it.
                let number = self.next();
                let span = Span {
                    start: token.span.start,
                    end: number.span.end,
                };
                return match number.kind {
                    TokenKind::Number { text, is_float } => {
                        self.number_literal(&text, is_float, span, true)
                    }
                    _ => Err(self.unexpected("a value", &number)),
                };
            }
            TokenKind::String(content) => Literal::Text(content),
            TokenKind::QuotedIdent(name) | TokenKind::Word(name) => {
                return Ok(leaf(ExprKind::Column(name), token.span));
            }
            TokenKind::Keyword(Keyword::Null) => Literal::Null,
            TokenKind::Keyword(Keyword::True) => Literal::Boolean(true),
            TokenKind::Keyword(Keyword::False) => Literal::Boolean(false),
            TokenKind::Keyword(keyword @ (Keyword::Date | Keyword::Timestamp)) => {
                let TokenKind::String(content) = self.peek().kind.clone() else {
                    // Without a string after it, `date` is an ordinary column name.
                    let written = &self.text[token.span.start..token.span.end];
                    return Ok(leaf(ExprKind::Column(written.to_string()), token.span));
                };
                let string_token = self.next();
                let span = Span {
                    start: token.span.start,
                    end: string_token.span.end,
                };
                return self.temporal_literal(keyword, &content, span, string_token.span);
            }
            TokenKind::Keyword(_) => {
                let written = &self.text[token.span.start..token.span.end];
                return Err(self
                    .error(
                        format!(
                            "expected a value, found keyword `{}`",
                            written.to_ascii_uppercase()
                        ),
                        token.span,
                    )
                    .with_help(format!(
                        "if `{written}` is a column, write it in double quotes: \"{written}\""
                    )));
            }
            _ => return Err(self.unexpected("a value", &token)),
        };
        Ok(leaf(ExprKind::Literal(literal), token.span))
    }

    /// Reads what follows the operator `infix`, whose tokens have been consumed, with `left` as its first operand.
    fn parse_infix(
        &mut self,
        left: Parsed,
        infix: Infix,
        op_span: Span,
    ) -> Result<Parsed, RuleError> {
        match infix {
            Infix::Binary(op) => self.parse_binary(left, op, op_span),
            Infix::Between { negated } => self.parse_between(left, negated),
            Infix::In { negated } => self.parse_in(left, negated),
            Infix::Like {
                negated,
                case_insensitive,
            } => self.parse_like(left, negated, case_insensitive),
            Infix::IsNull => self.parse_is_null(left),
            Infix::StrayNot => Err(self.stray_not()),
        }
    }

    fn parse_binary(
        &mut self,
        left: Parsed,
        op: BinaryOp,
        op_span: Span,
    ) -> Result<Parsed, RuleError> {
        let right_precedence = match op.precedence() {
            // Comparisons do not chain, so both of their operands are arithmetic.
            Precedence::Comparison => Precedence::Additive,
            other => tighter(other),
        };
        let right = self.parse_expr(right_precedence)?;
        let span = Span {
            start: left.expr.span.start,
            end: right.expr.span.end,
        };
        let height = left.height.max(right.height);
        self.node(
            ExprKind::Binary {
                op,
                op_span,
                left: Box::new(left.expr),
                right: Box::new(right.expr),
            },
            span,
            height,
        )
    }

    fn parse_between(&mut self, left: Parsed, negated: bool) -> Result<Parsed, RuleError> {
        let low = self.parse_expr(Precedence::Additive)?;
        if self.peek().kind != TokenKind::Keyword(Keyword::And) {
            return Err(self.missing_between_and());
        }
        self.position += 1;
        let high = self.parse_expr(Precedence::Additive)?;
        let span = Span {
            start: left.expr.span.start,
            end: high.expr.span.end,
        };
        let height = left.height.max(low.height).max(high.height);
        self.node(
            ExprKind::Between {
                expr: Box::new(left.expr),
                negated,
                low: Box::new(low.expr),
                high: Box::new(high.expr),
            },
            span,
            height,
        )
    }

    fn parse_in(&mut self, left: Parsed, negated: bool) -> Result<Parsed, RuleError> {
        if self.peek().kind != TokenKind::LeftParen {
            return Err(self.missing_in_parenthesis());
        }
        let opening = self.next();
        let (list, closing_span, list_height) = self.parse_arguments(opening.span, "IN")?;
        if list.is_empty() {
            let span = Span {
                start: opening.span.start,
                end: closing_span.end,
            };
            return Err(self.error("IN needs at least one value", span));
        }
        let span = Span {
            start: left.expr.span.start,
            end: closing_span.end,
        };
        let height = left.height.max(list_height);
        self.node(
            ExprKind::InList {
                expr: Box::new(left.expr),
                negated,
                list,
            },
            span,
            height,
        )
    }

    fn parse_like(
        &mut self,
        left: Parsed,
        negated: bool,
        case_insensitive: bool,
    ) -> Result<Parsed, RuleError> {
        let pattern = self.parse_expr(Precedence::Additive)?;
        let span = Span {
            start: left.expr.span.start,
            end: pattern.expr.span.end,
        };
        let height = left.height.max(pattern.height);
        self.node(
            ExprKind::Like {
                expr: Box::new(left.expr),
                negated,
                case_insensitive,
                pattern: Box::new(pattern.expr),
            },
            span,
            height,
        )
    }

    fn parse_is_null(&mut self, left: Parsed) -> Result<Parsed, RuleError> {
        let negated = self.peek().kind == TokenKind::Keyword(Keyword::Not);
        if negated {
            self.position += 1;
        }
        let token = self.next();
        if token.kind != TokenKind::Keyword(Keyword::Null) {
            let expected = if negated {
                "NULL after IS NOT"
            } else {
                "NULL after IS"
            };
            return Err(self
                .unexpected(expected, &token)
                .with_help("only `IS NULL` and `IS NOT NULL` are supported"));
        }
        let span = Span {
            start: left.expr.span.start,
            end: token.span.end,
        };
        self.node(
            ExprKind::IsNull {
                expr: Box::new(left.expr),
                negated,
            },
            span,
            left.height,
        )
    }

    /// Looks at the next tokens and says which infix operator they spell, and how many tokens it takes.
    fn peek_infix(&self) -> Option<(Infix, usize)> {
        let infix = match &self.peek().kind {
            TokenKind::Keyword(Keyword::Or) => Infix::Binary(BinaryOp::Or),
            TokenKind::Keyword(Keyword::And) => Infix::Binary(BinaryOp::And),
            TokenKind::Eq => Infix::Binary(BinaryOp::Eq),
            TokenKind::NotEq => Infix::Binary(BinaryOp::NotEq),
            TokenKind::Lt => Infix::Binary(BinaryOp::Lt),
            TokenKind::LtEq => Infix::Binary(BinaryOp::LtEq),
            TokenKind::Gt => Infix::Binary(BinaryOp::Gt),
            TokenKind::GtEq => Infix::Binary(BinaryOp::GtEq),
            TokenKind::Plus => Infix::Binary(BinaryOp::Plus),
            TokenKind::Minus => Infix::Binary(BinaryOp::Minus),
            TokenKind::Star => Infix::Binary(BinaryOp::Multiply),
            TokenKind::Slash => Infix::Binary(BinaryOp::Divide),
            TokenKind::Percent => Infix::Binary(BinaryOp::Modulo),
            TokenKind::Keyword(Keyword::Between) => Infix::Between { negated: false },
            TokenKind::Keyword(Keyword::In) => Infix::In { negated: false },
            TokenKind::Keyword(Keyword::Like) => Infix::Like {
                negated: false,
                case_insensitive: false,
            },
            TokenKind::Keyword(Keyword::Ilike) => Infix::Like {
                negated: false,
                case_insensitive: true,
            },
            TokenKind::Keyword(Keyword::Is) => Infix::IsNull,
            TokenKind::Keyword(Keyword::Not) => {
                let negated_infix = match &self.peek_at(1).kind {
                    TokenKind::Keyword(Keyword::Between) => Infix::Between { negated: true },
                    TokenKind::Keyword(Keyword::In) => Infix::In { negated: true },
                    TokenKind::Keyword(Keyword::Like) => Infix::Like {
                        negated: true,
                        case_insensitive: false,
                    },
                    TokenKind::Keyword(Keyword::Ilike) => Infix::Like {
                        negated: true,
                        case_insensitive: true,
                    },
                    _ => return Some((Infix::StrayNot, 1)),
                };
                return Some((negated_infix, 2));
            }
            _ => return None,
        };
        Some((infix, 1))
    }

    /// Reads a call of the function named by `name_token`, whose `(` is the next token.
    fn parse_call(&mut self, name_token: Token) -> Result<Parsed, RuleError> {
        let name_span = name_token.span;
        let name = &self.text[name_span.start..name_span.end];
        let Some(function) = Function::from_name(name) else {
            return Err(self.unknown_function(name_span));
        };
        let opening = self.next();
        let (args, closing_span, height) = self.parse_arguments(opening.span, function.name())?;
        let span = Span {
            start: name_span.start,
            end: closing_span.end,
        };
        let (min_args, max_args) = function.arity();
        if args.len() < min_args || max_args.is_some_and(|max_args| args.len() > max_args) {
            return Err(self.wrong_argument_count(function, args.len(), span));
        }
        self.node(
            ExprKind::Function {
                function,
                name_span,
                args,
            },
            span,
            height,
        )
    }

    /// Reads `expr, expr, ...)` after an opening parenthesis; returns the items, the span of `)` and their height.
    fn parse_arguments(
        &mut self,
        opening_span: Span,
        owner: &str,
    ) -> Result<(Vec<Expr>, Span, usize), RuleError> {
        let mut items = Vec::new();
        let mut height = 0;
        if self.peek().kind == TokenKind::RightParen {
            let closing = self.next();
            return Ok((items, closing.span, height));
        }
        loop {
            let item = self.parse_expr(Precedence::Or)?;
            height = height.max(item.height);
            items.push(item.expr);
            let token = self.next();
            match token.kind {
                TokenKind::Comma => continue,
                TokenKind::RightParen => return Ok((items, token.span, height)),
                _ => return Err(self.bad_list_separator(opening_span, owner, &token)),
            }
        }
    }

    fn chained_comparison(&self, op_span: Span) -> RuleError {
        let written = &self.text[op_span.start..op_span.end];
        self.error(
            format!("comparisons cannot be chained: `{written}`"),
            op_span,
        )
        .with_help("add parentheses, or combine the comparisons with AND")
    }

    fn unclosed_parenthesis(&self, opening_span: Span) -> RuleError {
        let token = self.peek();
        if token.kind == TokenKind::End {
            self.error("unclosed `(`", opening_span)
                .with_help("add a matching `)`")
        } else {
            self.unexpected("`)` or an operator", token)
        }
    }

    fn missing_between_and(&self) -> RuleError {
        self.unexpected("AND in BETWEEN", self.peek())
            .with_help("write `x BETWEEN low AND high`")
    }

    fn missing_in_parenthesis(&self) -> RuleError {
        self.unexpected("`(` after IN", self.peek())
            .with_help("write `x IN ('a', 'b')`")
    }

    fn stray_not(&self) -> RuleError {
        self.unexpected("BETWEEN, IN, LIKE or ILIKE after NOT", self.peek())
            .with_help("to negate a condition, put NOT in front of it")
    }

    fn bad_list_separator(&self, opening_span: Span, owner: &str, token: &Token) -> RuleError {
        if token.kind == TokenKind::End {
            self.error(format!("unclosed `(` of {owner}"), opening_span)
                .with_help("add a matching `)`")
        } else {
            self.unexpected(&format!("`,` or `)` in {owner}"), token)
        }
    }

    fn unknown_function(&self, name_span: Span) -> RuleError {
        let name = &self.text[name_span.start..name_span.end];
        let names: Vec<&str> = Function::ALL
            .iter()
            .map(|function| function.name())
            .collect();
        let help = match suggest(&name.to_ascii_uppercase(), names.iter().copied()) {
            Some(closest) => format!("did you mean `{closest}`?"),
            None => format!("the functions are {}", names.join(", ")),
        };
        RuleError::new(
            RuleErrorKind::UnknownFunction,
            format!("unknown function `{name}`"),
            name_span,
            self.text,
        )
        .with_help(help)
    }

    fn wrong_argument_count(&self, function: Function, n_args: usize, span: Span) -> RuleError {
        let expected = match function.arity() {
            (1, Some(1)) => "1 argument".to_string(),
            (min_args, Some(max_args)) if min_args == max_args => format!("{min_args} arguments"),
            (min_args, Some(max_args)) => format!("{min_args} or {max_args} arguments"),
            (1, None) => "at least 1 argument".to_string(),
            (min_args, None) => format!("at least {min_args} arguments"),
        };
        self.error(
            format!("{} takes {expected}, found {n_args}", function.name()),
            span,
        )
    }

    /// "expected {expected}, found {token}".
    fn unexpected(&self, expected: &str, token: &Token) -> RuleError {
        self.error(
            format!("expected {expected}, found {}", self.describe(token)),
            token.span,
        )
    }

    /// Builds the literal for a number token, with the minus sign when `is_negative`.
    fn number_literal(
        &self,
        digits: &str,
        is_float: bool,
        span: Span,
        is_negative: bool,
    ) -> Result<Parsed, RuleError> {
        let written = if is_negative {
            format!("-{digits}")
        } else {
            digits.to_string()
        };
        let literal = if is_float {
            match written.parse::<f64>() {
                Ok(value) if value.is_finite() => Literal::Float(value),
                _ => return Err(self.error(format!("number `{written}` is out of range"), span)),
            }
        } else {
            match written.parse::<i64>() {
                Ok(value) => Literal::Integer(value),
                Err(_) => {
                    return Err(self
                        .error(format!("integer `{written}` is out of range"), span)
                        .with_help(format!(
                            "integers must fit in 64 bits; write `{written}.0` for a float"
                        )));
                }
            }
        };
        Ok(leaf(ExprKind::Literal(literal), span))
    }

    fn temporal_literal(
        &self,
        keyword: Keyword,
        content: &str,
        span: Span,
        string_span: Span,
    ) -> Result<Parsed, RuleError> {
        let literal = if keyword == Keyword::Date {
            temporal::parse_date(content)
                .map(Literal::Date)
                .ok_or_else(|| {
                    self.error(format!("invalid date `{content}`"), string_span)
                        .with_help("write dates as DATE 'YYYY-MM-DD'")
                })?
        } else {
            temporal::parse_timestamp(content)
                .map(Literal::Timestamp)
                .ok_or_else(|| {
                    self.error(format!("invalid timestamp `{content}`"), string_span)
                        .with_help("write timestamps as TIMESTAMP 'YYYY-MM-DD HH:MM:SS'")
                })?
        };
        Ok(leaf(ExprKind::Literal(literal), span))
    }

    fn unary(&self, op: UnaryOp, op_span: Span, operand: Parsed) -> Result<Parsed, RuleError> {
        let span = Span {
            start: op_span.start,
            end: operand.expr.span.end,
        };
        self.node(
            ExprKind::Unary {
                op,
                operand: Box::new(operand.expr),
            },
            span,
            operand.height,
        )
    }

    /// Builds an inner node whose tallest child has `child_height`, refusing trees taller than [`MAX_DEPTH`].
    fn node(&self, kind: ExprKind, span: Span, child_height: usize) -> Result<Parsed, RuleError> {
        let height = child_height + 1;
        if height > MAX_DEPTH {
            return Err(self.too_deep(span));
        }
        Ok(Parsed {
            expr: Expr::new(kind, span),
            height,
        })
    }

    fn too_deep(&self, span: Span) -> RuleError {
        self.error(
            "rule is nested too deeply",
            span,
        )
        .with_help(format!(
            "rules may nest {MAX_DEPTH} operators deep; split this one up, or use IN (...) for long OR chains"
        ))
    }

    fn peek(&self) -> &Token {
        self.peek_at(0)
    }

    fn peek_at(&self, offset: usize) -> &Token {
        // The token list always ends with `End`, and reading past it keeps answering `End`.
        let last_index = self.tokens.len().saturating_sub(1);
        &self.tokens[(self.position + offset).min(last_index)]
    }

    fn next(&mut self) -> Token {
        let token = self.peek().clone();
        if token.kind != TokenKind::End {
            self.position += 1;
        }
        token
    }

    /// The span covering the next `token_count` tokens.
    fn span_of_next(&self, token_count: usize) -> Span {
        let first = self.peek().span;
        let last = self.peek_at(token_count.saturating_sub(1)).span;
        Span {
            start: first.start,
            end: last.end,
        }
    }

    /// How a token reads in an error message.
    fn describe(&self, token: &Token) -> String {
        if token.kind == TokenKind::End {
            return "the end of the rule".to_string();
        }
        let written = &self.text[token.span.start..token.span.end];
        let shortened: String = written.chars().take(40).collect();
        if shortened.len() < written.len() {
            format!("`{shortened}...`")
        } else {
            format!("`{written}`")
        }
    }

    fn error(&self, message: impl Into<String>, span: Span) -> RuleError {
        RuleError::new(RuleErrorKind::Syntax, message, span, self.text)
    }
}

/// A node without children.
fn leaf(kind: ExprKind, span: Span) -> Parsed {
    Parsed {
        expr: Expr::new(kind, span),
        height: 1,
    }
}

/// The next tighter precedence level, used for the right operand of left-associative operators.
fn tighter(precedence: Precedence) -> Precedence {
    match precedence {
        Precedence::Or => Precedence::And,
        Precedence::And => Precedence::Not,
        Precedence::Not => Precedence::Comparison,
        Precedence::Comparison => Precedence::Additive,
        Precedence::Additive => Precedence::Multiplicative,
        Precedence::Multiplicative => Precedence::Negate,
        Precedence::Negate | Precedence::Atom => Precedence::Atom,
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::super::ast::Literal;
    use super::super::{Schema, ValueType, check as check_rule, parse};
    use super::*;

    #[test]
    fn precedence_and_shapes() {
        check("a", "a");
        check("a OR b AND c", "(OR a (AND b c))");
        check("a AND b OR c", "(OR (AND a b) c)");
        check("a or b or c", "(OR (OR a b) c)");
        check("NOT a = 1", "(NOT (= a 1))");
        check("NOT a AND b", "(AND (NOT a) b)");
        check("not not a", "(NOT (NOT a))");
        check("-x * 2", "(* (- x) 2)");
        check("-(x * 2)", "(- (* x 2))");
        check("-5 * 2", "(* -5 2)");
        check("- 5", "-5");
        check("-(5)", "(- 5)");
        check("--5", "(- -5)");
        check("1 - -2.5", "(- 1 -2.5)");
        check("1 - 2 - 3", "(- (- 1 2) 3)");
        check("1 + 2 * 3 % 4", "(+ 1 (% (* 2 3) 4))");
        check("(1 + 2) * 3", "(* (+ 1 2) 3)");
        check("a + 1 > b * 2", "(> (+ a 1) (* b 2))");
        check("a BETWEEN 1 AND 2 AND b", "(AND (BETWEEN a 1 2) b)");
        check(
            "a NOT BETWEEN 1 + 1 AND 2 * 3 OR c",
            "(OR (NOT BETWEEN a (+ 1 1) (* 2 3)) c)",
        );
        check("NOT a BETWEEN 1 AND 2", "(NOT (BETWEEN a 1 2))");
        check("a IN (1, 'x', b + 1)", "(IN a 1 'x' (+ b 1))");
        check("a not in (1)", "(NOT IN a 1)");
        check(
            "a LIKE 'x%' AND b NOT ILIKE c",
            "(AND (LIKE a 'x%') (NOT ILIKE b c))",
        );
        check(
            "a IS NULL OR b IS NOT NULL",
            "(OR (IS NULL a) (IS NOT NULL b))",
        );
        check("a + 1 IS NULL", "(IS NULL (+ a 1))");
        check("(a = 1) = (b = 2)", "(= (= a 1) (= b 2))");
        check("a = NOT b", "(= a (NOT b))");
        check("lower(name) = 'x'", "(= (LOWER name) 'x')");
        check("Round(a, 2)", "(ROUND a 2)");
        check("COALESCE(a, b, NULL)", "(COALESCE a b NULL)");
        check("lower", "lower");
        check("date = DATE '2024-02-29'", "(= date 2024-02-29)");
        check(
            "TIMESTAMP = timestamp '2024-02-29 10:00:00.5'",
            "(= TIMESTAMP 2024-02-29T10:00:00.500)",
        );
        check("\"select\" = \"a\"\"b\"", "(= select a\"b)");
        check("TRUE AND false OR NULL", "(OR (AND true false) NULL)");
        check("'it''s' = ''", "(= 'it's' '')");
        check(
            "1e3 = 1000.0 AND .5 = 0.5",
            "(AND (= 1000.0 1000.0) (= 0.5 0.5))",
        );
        check(
            "9223372036854775807 + -9223372036854775808",
            "(+ 9223372036854775807 -9223372036854775808)",
        );
        check(" \n a\t=\r\n1 ", "(= a 1)");
        check("a <> b AND a != b", "(AND (<> a b) (<> a b))");
    }

    #[test]
    fn syntax_errors() {
        check_err("«»", "rule is empty");
        check_err("«   »", "rule is empty");
        check_err(
            "a = 1 «b»",
            "expected an operator or the end of the rule, found `b`",
        );
        check_err("a = 1«)»", "unmatched `)`");
        check_err("«(»a = 1", "unclosed `(`");
        check_err("((a = 1) «b»", "expected `)` or an operator, found `b`");
        check_err("a = «»", "expected a value, found the end of the rule");
        check_err("a = «)»", "expected a value, found `)`");
        check_err("«,»", "expected a value, found `,`");
        check_err("a = 1 AND «OR» b", "expected a value, found keyword `OR`");
        check_err("«in» = 1", "expected a value, found keyword `IN`");
        check_err("a «=» b «=» c", "comparisons cannot be chained: `=`");
        check_err(
            "a < b «BETWEEN» 1 AND 2",
            "comparisons cannot be chained: `BETWEEN`",
        );
        check_err("a IS NULL «IS» NULL", "comparisons cannot be chained: `IS`");
        check_err("a NOT IN (1) «=» b", "comparisons cannot be chained: `=`");
        check_err("a BETWEEN 1 «OR» 2", "expected AND in BETWEEN, found `OR`");
        check_err("a IN «1»", "expected `(` after IN, found `1`");
        check_err("a IN «()»", "IN needs at least one value");
        check_err("a IN «(»1, 2", "unclosed `(` of IN");
        check_err("a IN (1 «2»)", "expected `,` or `)` in IN, found `2`");
        check_err("a IS «TRUE»", "expected NULL after IS, found `TRUE`");
        check_err("a IS NOT «1»", "expected NULL after IS NOT, found `1`");
        check_err(
            "a NOT «=» 1",
            "expected BETWEEN, IN, LIKE or ILIKE after NOT, found `=`",
        );
        check_err("«lowr»(a)", "unknown function `lowr`");
        check_err("«DATE»('2024-01-01')", "unknown function `DATE`");
        check_err("«LOWER(a, b)»", "LOWER takes 1 argument, found 2");
        check_err("«ROUND()»", "ROUND takes 1 or 2 arguments, found 0");
        check_err(
            "«COALESCE()»",
            "COALESCE takes at least 1 argument, found 0",
        );
        check_err("DATE «'2024-02-30'»", "invalid date `2024-02-30`");
        check_err("TIMESTAMP «'noon'»", "invalid timestamp `noon`");
        check_err(
            "«9223372036854775808»",
            "integer `9223372036854775808` is out of range",
        );
        check_err(
            "«- 9223372036854775809»",
            "integer `-9223372036854775809` is out of range",
        );
        check_err("«1e999»", "number `1e999` is out of range");
        check_err("a = 1«;»", "unexpected `;`");
        check_err("a = «'abc»", "unterminated string literal");
        check_err("a «@» b", "unexpected character `@`");
        check_err(
            "SELECT * FROM «t»",
            "expected an operator or the end of the rule, found `t`",
        );
        check_err("a = 1 /«*» c */", "expected a value, found `*`");
    }

    #[test]
    fn nesting_is_bounded() {
        // Each shape gives the largest size that parses and checks that one more is refused.
        let parentheses = |n: usize| format!("{}a{}", "(".repeat(n), ")".repeat(n));
        check_limit("parentheses", &parentheses, MAX_NESTING - 1);
        check_limit(
            "AND chain",
            &|n: usize| vec!["a"; n].join(" AND "),
            MAX_DEPTH,
        );
        check_limit(
            "NOT chain",
            &|n: usize| "NOT ".repeat(n) + "a",
            MAX_DEPTH - 1,
        );
        check_limit(
            "nested calls",
            &|n: usize| format!("{}a{}", "ABS(".repeat(n), ")".repeat(n)),
            MAX_DEPTH - 1,
        );
        for hostile in [
            parentheses(100_000),
            "(".repeat(100_000),
            "NOT ".repeat(100_000) + "a",
            "-".repeat(100_000) + "a",
            vec!["a"; 100_000].join(" + "),
            vec!["a = 1"; 100_000].join(" OR "),
            format!("{}1{}", "ABS(".repeat(100_000), ")".repeat(100_000)),
            "a IN (".repeat(100_000),
        ] {
            let error = parse(&hostile).err().map(|error| error.message);
            assert_eq!(
                error.as_deref(),
                Some("rule is nested too deeply"),
                "{}...",
                &hostile[..20]
            );
        }
    }

    fn check_limit(shape: &str, make_rule: &dyn Fn(usize) -> String, largest_accepted: usize) {
        let largest = make_rule(largest_accepted);
        assert!(
            parse(&largest).is_ok(),
            "{shape} of {largest_accepted}: {:?}",
            parse(&largest).err()
        );
        let error = parse(&make_rule(largest_accepted + 1))
            .err()
            .map(|error| error.message);
        assert_eq!(
            error.as_deref(),
            Some("rule is nested too deeply"),
            "{shape} of {}",
            largest_accepted + 1
        );
    }

    /// Parses `text` and compares the tree, rendered as an S-expression, with `expected`.
    fn check(text: &str, expected: &str) {
        let expr = parse(text).unwrap_or_else(|error| panic!("parsing {text:?}: {error}"));
        assert_eq!(sexpr(&expr), expected, "parsing {text:?}");
    }

    /// Parses the text, where `«...»` marks the expected span (the last pair when there are two), and expects a syntax error.
    fn check_err(marked_text: &str, expected_message: &str) {
        let (text, expected_span) = unmark(marked_text);
        let error = match parse(&text) {
            Ok(expr) => panic!("{text:?} parsed as {}", sexpr(&expr)),
            Err(error) => error,
        };
        assert_eq!(error.message, expected_message, "message for {text:?}");
        assert_eq!(
            error.span,
            expected_span,
            "span for {text:?}:\n{}",
            error.render_snippet()
        );
        let expected_kind = if error.message.starts_with("unknown function") {
            RuleErrorKind::UnknownFunction
        } else {
            RuleErrorKind::Syntax
        };
        assert_eq!(error.kind, expected_kind);
        assert_eq!(error.rule_text, text);
    }

    /// Removes every `«` and `»`, returning the text and the span of the last marked pair.
    fn unmark(marked_text: &str) -> (String, Span) {
        let mut text = String::new();
        let mut span = Span::default();
        for character in marked_text.chars() {
            match character {
                '«' => span.start = text.len(),
                '»' => span.end = text.len(),
                _ => text.push(character),
            }
        }
        (text, span)
    }

    /// A compact, fully parenthesized rendering of a tree that shows its shape unambiguously.
    fn sexpr(expr: &Expr) -> String {
        let join = |exprs: &[&Expr]| {
            exprs
                .iter()
                .map(|expr| sexpr(expr))
                .collect::<Vec<_>>()
                .join(" ")
        };
        let not = |negated: bool| if negated { "NOT " } else { "" };
        match &expr.kind {
            ExprKind::Column(name) => name.clone(),
            ExprKind::Literal(Literal::Null) => "NULL".to_string(),
            ExprKind::Literal(Literal::Boolean(value)) => value.to_string(),
            ExprKind::Literal(Literal::Integer(value)) => value.to_string(),
            ExprKind::Literal(Literal::Float(value)) => format!("{value:?}"),
            ExprKind::Literal(Literal::Text(content)) => format!("'{content}'"),
            ExprKind::Literal(Literal::Date(date)) => date.to_string(),
            ExprKind::Literal(Literal::Timestamp(timestamp)) => format!("{timestamp:?}"),
            ExprKind::Unary {
                op: UnaryOp::Not,
                operand,
            } => format!("(NOT {})", sexpr(operand)),
            ExprKind::Unary {
                op: UnaryOp::Negate,
                operand,
            } => format!("(- {})", sexpr(operand)),
            ExprKind::Binary {
                op, left, right, ..
            } => format!("({} {})", op.symbol(), join(&[left, right])),
            ExprKind::Between {
                expr,
                negated,
                low,
                high,
            } => {
                format!("({}BETWEEN {})", not(*negated), join(&[expr, low, high]))
            }
            ExprKind::InList {
                expr,
                negated,
                list,
            } => {
                let items: Vec<&Expr> = std::iter::once(&**expr).chain(list).collect();
                format!("({}IN {})", not(*negated), join(&items))
            }
            ExprKind::Like {
                expr,
                negated,
                case_insensitive,
                pattern,
            } => {
                let keyword = if *case_insensitive { "ILIKE" } else { "LIKE" };
                format!("({}{keyword} {})", not(*negated), join(&[expr, pattern]))
            }
            ExprKind::IsNull { expr, negated } => {
                format!("(IS {}NULL {})", not(*negated), sexpr(expr))
            }
            ExprKind::Function { function, args, .. } => {
                let args: Vec<&Expr> = args.iter().collect();
                format!("({} {})", function.name(), join(&args))
            }
        }
    }

    fn soup_schema() -> Schema {
        Schema::new([
            ("a".to_string(), ValueType::Integer),
            ("b".to_string(), ValueType::Boolean),
            ("c d".to_string(), ValueType::Text),
            ("DATE".to_string(), ValueType::Date),
        ])
    }

    /// Pieces of rule text that glue together into many near-valid and invalid rules.
    fn rule_fragment() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec![
            "a",
            "b",
            "\"c d\"",
            "1",
            "-",
            "2.5",
            "'x'",
            "''",
            "(",
            ")",
            ",",
            "NOT",
            "AND",
            "OR",
            "=",
            "<>",
            "<",
            ">=",
            "+",
            "*",
            "/",
            "%",
            "BETWEEN",
            "IN",
            "LIKE",
            "ILIKE",
            "IS",
            "NULL",
            "TRUE",
            "DATE",
            "'2024-01-01'",
            "LOWER",
            "ROUND",
            "COALESCE",
            "é",
            "'",
            "\"",
            " ",
            "\n",
        ])
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn arbitrary_text_never_panics(text in any::<String>()) {
            let _ = parse(&text);
        }

        #[test]
        fn fragment_soup_never_panics_and_round_trips(fragments in prop::collection::vec(rule_fragment(), 0..24)) {
            let text = fragments.join(" ");
            match parse(&text) {
                Ok(expr) => {
                    let printed = expr.to_string();
                    let reparsed = parse(&printed).map(|expr| expr.strip_spans());
                    prop_assert_eq!(reparsed, Ok(expr.strip_spans()), "{:?} printed as {:?}", text, printed);
                    // Checking whatever parses must not panic either.
                    match check_rule(&text, &soup_schema()) {
                        Ok(_) => {}
                        Err(error) => {
                            prop_assert!(error.span.start <= error.span.end && error.span.end <= text.len());
                            let _ = error.render_snippet();
                        }
                    }
                }
                Err(error) => {
                    prop_assert!(error.span.start <= error.span.end && error.span.end <= text.len());
                    prop_assert!(text.is_char_boundary(error.span.start) && text.is_char_boundary(error.span.end));
                    let _ = error.render_snippet();
                    let _ = error.to_string();
                }
            }
        }
    }
}
