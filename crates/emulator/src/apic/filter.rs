//! The `$filter` subset the emulator understands: `field eq|ne literal` clauses joined by
//! `and`. Fields are `name`, `properties/a/b`, or a bare property name (`kind`, `title`).
//! Literals are `'quoted strings'` (`''` escapes a quote), numbers, `true`, `false`, `null`.
//! Anything else is rejected with 400 rather than silently ignored.

use axum::http::StatusCode;
use serde_json::Value;

use crate::arm::ArmError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
}

#[derive(Debug, Clone)]
struct Clause {
    field: Vec<String>,
    op: Op,
    literal: Value,
}

#[derive(Debug, Clone)]
pub(crate) struct Filter {
    clauses: Vec<Clause>,
}

fn invalid(filter: &str, why: &str) -> ArmError {
    ArmError::new(
        StatusCode::BAD_REQUEST,
        "InvalidQueryParameterValue",
        format!("The $filter '{filter}' is not supported: {why}. Supported: clauses 'field eq|ne literal' joined by 'and'."),
    )
    .with_target("$filter")
}

#[derive(Debug, PartialEq)]
enum Token {
    Word(String),
    Quoted(String),
}

fn tokenize(filter: &str) -> Result<Vec<Token>, ArmError> {
    let mut tokens = Vec::new();
    let mut chars = filter.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '\'' {
            chars.next();
            let mut text = String::new();
            loop {
                match chars.next() {
                    Some('\'') if chars.peek() == Some(&'\'') => {
                        chars.next();
                        text.push('\'');
                    }
                    Some('\'') => break,
                    Some(other) => text.push(other),
                    None => return Err(invalid(filter, "unterminated string literal")),
                }
            }
            tokens.push(Token::Quoted(text));
        } else {
            let mut word = String::new();
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() || c == '\'' {
                    break;
                }
                word.push(c);
                chars.next();
            }
            tokens.push(Token::Word(word));
        }
    }
    Ok(tokens)
}

fn literal(filter: &str, token: &Token) -> Result<Value, ArmError> {
    match token {
        Token::Quoted(text) => Ok(Value::String(text.clone())),
        Token::Word(word) => match word.as_str() {
            "true" => Ok(Value::Bool(true)),
            "false" => Ok(Value::Bool(false)),
            "null" => Ok(Value::Null),
            number => serde_json::from_str::<serde_json::Number>(number)
                .map(Value::Number)
                .map_err(|_| invalid(filter, &format!("'{number}' is not a literal"))),
        },
    }
}

fn field(filter: &str, token: &Token) -> Result<Vec<String>, ArmError> {
    let Token::Word(word) = token else {
        return Err(invalid(filter, "a clause must start with a field name"));
    };
    let parts: Vec<String> = word.split('/').map(str::to_string).collect();
    let valid = parts
        .iter()
        .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
    if !valid {
        return Err(invalid(filter, &format!("'{word}' is not a field")));
    }
    Ok(match parts.first().map(String::as_str) {
        Some("name" | "properties") => parts,
        _ => std::iter::once("properties".to_string())
            .chain(parts)
            .collect(),
    })
}

impl Filter {
    pub(crate) fn parse(filter: &str) -> Result<Filter, ArmError> {
        let tokens = tokenize(filter)?;
        let mut clauses = Vec::new();
        let mut rest = tokens.as_slice();
        loop {
            let [f, Token::Word(op), lit, tail @ ..] = rest else {
                return Err(invalid(filter, "incomplete clause"));
            };
            let op = match op.as_str() {
                "eq" => Op::Eq,
                "ne" => Op::Ne,
                other => return Err(invalid(filter, &format!("operator '{other}'"))),
            };
            clauses.push(Clause {
                field: field(filter, f)?,
                op,
                literal: literal(filter, lit)?,
            });
            match tail {
                [] => break,
                [Token::Word(and), more @ ..] if and == "and" => rest = more,
                _ => return Err(invalid(filter, "clauses must be joined by 'and'")),
            }
        }
        Ok(Filter { clauses })
    }

    /// Whether a rendered resource envelope satisfies every clause.
    pub(crate) fn matches(&self, resource: &Value) -> bool {
        self.clauses.iter().all(|clause| {
            let actual = clause
                .field
                .iter()
                .try_fold(resource, |value, part| value.get(part))
                .unwrap_or(&Value::Null);
            let equal = if clause.field.len() == 1 && clause.field[0] == "name" {
                // Resource names are case-insensitive.
                match (actual.as_str(), clause.literal.as_str()) {
                    (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
                    _ => actual == &clause.literal,
                }
            } else {
                actual == &clause.literal
            };
            equal == (clause.op == Op::Eq)
        })
    }
}
