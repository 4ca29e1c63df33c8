//! The lexer: rule text to a list of tokens, each with its byte span.
//!
//! The lexer is hand-written because the language is tiny and because every
//! error must point at an exact byte range of the user's text. It knows
//! nothing about grammar: it only splits the text into words, numbers,
//! strings and operator symbols. Numbers are kept as text so that the parser,
//! which knows whether a minus sign precedes them, can read
//! `-9223372036854775808` without overflowing.

use super::{RuleError, RuleErrorKind, Span};

/// A reserved word, recognised without regard to case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Keyword {
    And,
    Or,
    Not,
    Between,
    In,
    Like,
    Ilike,
    Is,
    Null,
    True,
    False,
    Date,
    Timestamp,
}

impl Keyword {
    /// The keyword spelled `word` in any case.
    fn from_word(word: &str) -> Option<Keyword> {
        let keyword = match word.to_ascii_uppercase().as_str() {
            "AND" => Keyword::And,
            "OR" => Keyword::Or,
            "NOT" => Keyword::Not,
            "BETWEEN" => Keyword::Between,
            "IN" => Keyword::In,
            "LIKE" => Keyword::Like,
            "ILIKE" => Keyword::Ilike,
            "IS" => Keyword::Is,
            "NULL" => Keyword::Null,
            "TRUE" => Keyword::True,
            "FALSE" => Keyword::False,
            "DATE" => Keyword::Date,
            "TIMESTAMP" => Keyword::Timestamp,
            _ => return None,
        };
        Some(keyword)
    }
}

/// True when `word` is a reserved word in any case.
///
/// `DATE` and `TIMESTAMP` count too: the parser reads them as column names
/// when no string follows, but the printer still quotes columns with those
/// names so that printed text never depends on that leniency.
pub(crate) fn is_keyword(word: &str) -> bool {
    Keyword::from_word(word).is_some()
}

/// What a token is.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum TokenKind {
    /// A bare word that is not a keyword, as written.
    Word(String),
    /// A double-quoted identifier, with `""` already turned into `"`.
    QuotedIdent(String),
    /// A reserved word.
    Keyword(Keyword),
    /// A number as written: digits with an optional fraction and exponent, no sign.
    Number {
        text: String,
        is_float: bool,
    },
    /// A single-quoted string, with `''` already turned into `'`.
    String(String),
    Eq,
    NotEq,
    Lt,
    LtEq,
    Gt,
    GtEq,
    Plus,
    Minus,
    Star,
    Slash,
    Percent,
    LeftParen,
    RightParen,
    Comma,
    /// The end of the text; always the last token.
    End,
}

/// One token and where it is.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub(crate) kind: TokenKind,
    pub(crate) span: Span,
}

/// Splits `text` into tokens, ending with one [`TokenKind::End`].
pub(crate) fn tokenize(text: &str) -> Result<Vec<Token>, RuleError> {
    let mut lexer = Lexer {
        text,
        position: 0,
        tokens: Vec::new(),
    };
    lexer.run()?;
    Ok(lexer.tokens)
}

struct Lexer<'a> {
    text: &'a str,
    position: usize,
    tokens: Vec<Token>,
}

impl Lexer<'_> {
    fn run(&mut self) -> Result<(), RuleError> {
        while let Some(character) = self.peek_char() {
            let start = self.position;
            if character.is_whitespace() {
                self.position += character.len_utf8();
                continue;
            }
            let kind = if character.is_ascii_alphabetic() || character == '_' {
                self.lex_word()
            } else if character.is_ascii_digit()
                || (character == '.' && self.peek_byte_at(1).is_some_and(|b| b.is_ascii_digit()))
            {
                self.lex_number()?
            } else if character == '\'' {
                TokenKind::String(self.lex_quoted('\'', "string literal")?)
            } else if character == '"' {
                let name = self.lex_quoted('"', "quoted identifier")?;
                if name.is_empty() {
                    return Err(self.error(
                        "a quoted identifier cannot be empty",
                        start,
                        self.position,
                    ));
                }
                TokenKind::QuotedIdent(name)
            } else {
                self.lex_symbol(character)?
            };
            self.tokens.push(Token {
                kind,
                span: Span {
                    start,
                    end: self.position,
                },
            });
        }
        let end = self.text.len();
        self.tokens.push(Token {
            kind: TokenKind::End,
            span: Span { start: end, end },
        });
        Ok(())
    }

    fn peek_char(&self) -> Option<char> {
        self.text[self.position..].chars().next()
    }

    fn peek_byte_at(&self, offset: usize) -> Option<u8> {
        self.text.as_bytes().get(self.position + offset).copied()
    }

    fn lex_word(&mut self) -> TokenKind {
        let start = self.position;
        while self
            .peek_byte_at(0)
            .is_some_and(|byte| byte.is_ascii_alphanumeric() || byte == b'_')
        {
            self.position += 1;
        }
        let word = &self.text[start..self.position];
        match Keyword::from_word(word) {
            Some(keyword) => TokenKind::Keyword(keyword),
            None => TokenKind::Word(word.to_string()),
        }
    }

    fn lex_number(&mut self) -> Result<TokenKind, RuleError> {
        let start = self.position;
        let mut is_float = false;
        self.skip_digits();
        if self.peek_byte_at(0) == Some(b'.') {
            is_float = true;
            self.position += 1;
            self.skip_digits();
        }
        if matches!(self.peek_byte_at(0), Some(b'e' | b'E')) {
            let sign_length = usize::from(matches!(self.peek_byte_at(1), Some(b'+' | b'-')));
            if self
                .peek_byte_at(1 + sign_length)
                .is_some_and(|byte| byte.is_ascii_digit())
            {
                is_float = true;
                self.position += 1 + sign_length;
                self.skip_digits();
            }
        }
        // A number glued to a word (`12abc`, `1e`) is a typo, not two tokens.
        if let Some(next) = self.peek_char()
            && (next.is_alphanumeric() || next == '_' || next == '.')
        {
            let mut end = self.position;
            for (offset, character) in self.text[self.position..].char_indices() {
                if !(character.is_alphanumeric() || character == '_' || character == '.') {
                    break;
                }
                end = self.position + offset + character.len_utf8();
            }
            let written = &self.text[start..end];
            return Err(self.error(format!("invalid number `{written}`"), start, end));
        }
        Ok(TokenKind::Number {
            text: self.text[start..self.position].to_string(),
            is_float,
        })
    }

    fn skip_digits(&mut self) {
        while self
            .peek_byte_at(0)
            .is_some_and(|byte| byte.is_ascii_digit())
        {
            self.position += 1;
        }
    }

    /// Reads text between two `quote` characters, where a doubled quote stands for one.
    fn lex_quoted(&mut self, quote: char, what: &str) -> Result<String, RuleError> {
        let start = self.position;
        self.position += 1;
        let mut content = String::new();
        loop {
            let Some(character) = self.peek_char() else {
                return Err(self
                    .error(format!("unterminated {what}"), start, self.text.len())
                    .with_help(format!("close it with {quote}")));
            };
            self.position += character.len_utf8();
            if character == quote {
                if self.peek_char() == Some(quote) {
                    content.push(quote);
                    self.position += 1;
                } else {
                    return Ok(content);
                }
            } else {
                content.push(character);
            }
        }
    }

    fn lex_symbol(&mut self, character: char) -> Result<TokenKind, RuleError> {
        let start = self.position;
        let next = self.peek_byte_at(1);
        let (kind, length) = match (character, next) {
            ('<', Some(b'>')) => (TokenKind::NotEq, 2),
            ('!', Some(b'=')) => (TokenKind::NotEq, 2),
            ('<', Some(b'=')) => (TokenKind::LtEq, 2),
            ('>', Some(b'=')) => (TokenKind::GtEq, 2),
            ('=', Some(b'=')) => {
                return Err(self
                    .error("unexpected `==`", start, start + 2)
                    .with_help("use `=` to compare"));
            }
            ('=', _) => (TokenKind::Eq, 1),
            ('<', _) => (TokenKind::Lt, 1),
            ('>', _) => (TokenKind::Gt, 1),
            ('+', _) => (TokenKind::Plus, 1),
            ('-', _) => (TokenKind::Minus, 1),
            ('*', _) => (TokenKind::Star, 1),
            ('/', _) => (TokenKind::Slash, 1),
            ('%', _) => (TokenKind::Percent, 1),
            ('(', _) => (TokenKind::LeftParen, 1),
            (')', _) => (TokenKind::RightParen, 1),
            (',', _) => (TokenKind::Comma, 1),
            (';', _) => {
                return Err(self
                    .error("unexpected `;`", start, start + 1)
                    .with_help("a rule is a single expression, without `;`"));
            }
            _ => {
                let end = start + character.len_utf8();
                return Err(self.error(format!("unexpected character `{character}`"), start, end));
            }
        };
        self.position += length;
        Ok(kind)
    }

    fn error(&self, message: impl Into<String>, start: usize, end: usize) -> RuleError {
        RuleError::new(
            RuleErrorKind::Syntax,
            message,
            Span { start, end },
            self.text,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens() {
        check("a", "Word(a)");
        check("  a_1 \n", "Word(a_1)");
        check("and Or NOT", "AND OR NOT");
        check("\"order\" \"a\"\"b\"", "Quoted(order) Quoted(a\"b)");
        check("'it''s' ''", "String(it's) String()");
        check(
            "1 2.5 .5 1. 1e3 1E-3 2e+10",
            "Int(1) Float(2.5) Float(.5) Float(1.) Float(1e3) Float(1E-3) Float(2e+10)",
        );
        check(
            "a<=b<>c!=d>=e<f>g=h",
            "Word(a) <= Word(b) <> Word(c) <> Word(d) >= Word(e) < Word(f) > Word(g) = Word(h)",
        );
        check("-1+2*3/4%5", "- Int(1) + Int(2) * Int(3) / Int(4) % Int(5)");
        check("f(a, b)", "Word(f) ( Word(a) , Word(b) )");
        check("'é☃'", "String(é☃)");
        check("", "");
        check("12abc", "error: invalid number `12abc` at 0..5");
        check("1.2.3", "error: invalid number `1.2.3` at 0..5");
        check("1e", "error: invalid number `1e` at 0..2");
        check("'abc", "error: unterminated string literal at 0..4");
        check("a = \"abc", "error: unterminated quoted identifier at 4..8");
        check("\"\"", "error: a quoted identifier cannot be empty at 0..2");
        check("a; b", "error: unexpected `;` at 1..2");
        check("a == b", "error: unexpected `==` at 2..4");
        check("a ☃ b", "error: unexpected character `☃` at 2..5");
        check("é", "error: unexpected character `é` at 0..2");
    }

    /// Tokenizes `text` and compares a compact rendering of the tokens (or the error) with `expected`.
    fn check(text: &str, expected: &str) {
        let actual = match tokenize(text) {
            Ok(tokens) => {
                assert_eq!(
                    tokens.last().map(|token| &token.kind),
                    Some(&TokenKind::End)
                );
                let rendered: Vec<String> = tokens
                    .iter()
                    .filter(|token| token.kind != TokenKind::End)
                    .map(|token| match &token.kind {
                        TokenKind::Word(word) => format!("Word({word})"),
                        TokenKind::QuotedIdent(name) => format!("Quoted({name})"),
                        TokenKind::Keyword(keyword) => format!("{keyword:?}").to_uppercase(),
                        TokenKind::Number {
                            text,
                            is_float: false,
                        } => format!("Int({text})"),
                        TokenKind::Number {
                            text,
                            is_float: true,
                        } => format!("Float({text})"),
                        TokenKind::String(content) => format!("String({content})"),
                        TokenKind::NotEq => "<>".to_string(),
                        _ => text[token.span.start..token.span.end].to_string(),
                    })
                    .collect();
                rendered.join(" ")
            }
            Err(error) => format!(
                "error: {} at {}..{}",
                error.message, error.span.start, error.span.end
            ),
        };
        assert_eq!(actual, expected, "tokenizing {text:?}");
    }
}
