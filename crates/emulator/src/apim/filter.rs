//! The OData `$filter` subset APIM accepts on lists: `eq ne gt ge lt le`, `and`, `or`,
//! `not`, parentheses, and `contains`, `startswith`, `endswith`, `substringof`. String
//! comparisons ignore case, as APIM's do.

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum FieldValue {
    Str(String),
    Bool(bool),
    Null,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Literal {
    Str(String),
    Bool(bool),
    Null,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Op {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Func {
    Contains,
    StartsWith,
    EndsWith,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Filter {
    Compare(String, Op, Literal),
    Call(Func, String, String),
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Str(String),
    Open,
    Close,
    Comma,
}

fn tokenize(text: &str) -> Result<Vec<Token>, String> {
    let mut out = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            c if c.is_whitespace() => i += 1,
            '(' => {
                out.push(Token::Open);
                i += 1;
            }
            ')' => {
                out.push(Token::Close);
                i += 1;
            }
            ',' => {
                out.push(Token::Comma);
                i += 1;
            }
            '\'' => {
                let mut s = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err("unterminated string literal".into()),
                        Some('\'') if chars.get(i + 1) == Some(&'\'') => {
                            s.push('\'');
                            i += 2;
                        }
                        Some('\'') => {
                            i += 1;
                            break;
                        }
                        Some(ch) => {
                            s.push(*ch);
                            i += 1;
                        }
                    }
                }
                out.push(Token::Str(s));
            }
            _ => {
                let start = i;
                while i < chars.len()
                    && !chars[i].is_whitespace()
                    && !matches!(chars[i], '(' | ')' | ',' | '\'')
                {
                    i += 1;
                }
                out.push(Token::Word(chars[start..i].iter().collect()));
            }
        }
    }
    Ok(out)
}

struct Parser<'a> {
    tokens: Vec<Token>,
    at: usize,
    fields: &'a [&'a str],
}

impl Parser<'_> {
    fn peek_word(&self, word: &str) -> bool {
        matches!(self.tokens.get(self.at), Some(Token::Word(w)) if w.eq_ignore_ascii_case(word))
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.at).cloned();
        self.at += 1;
        t
    }

    fn expect(&mut self, token: Token) -> Result<(), String> {
        match self.next() {
            Some(t) if t == token => Ok(()),
            other => Err(format!("expected {token:?}, found {other:?}")),
        }
    }

    fn field(&mut self) -> Result<String, String> {
        match self.next() {
            Some(Token::Word(w)) => self
                .fields
                .iter()
                .find(|f| f.eq_ignore_ascii_case(&w))
                .map(|f| (*f).to_string())
                .ok_or_else(|| format!("'{w}' is not a field that can be filtered")),
            other => Err(format!("expected a field name, found {other:?}")),
        }
    }

    fn string(&mut self) -> Result<String, String> {
        match self.next() {
            Some(Token::Str(s)) => Ok(s),
            other => Err(format!("expected a string literal, found {other:?}")),
        }
    }

    fn or(&mut self) -> Result<Filter, String> {
        let mut left = self.and()?;
        while self.peek_word("or") {
            self.at += 1;
            left = Filter::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Filter, String> {
        let mut left = self.unary()?;
        while self.peek_word("and") {
            self.at += 1;
            left = Filter::And(Box::new(left), Box::new(self.unary()?));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Filter, String> {
        if self.peek_word("not") {
            self.at += 1;
            return Ok(Filter::Not(Box::new(self.unary()?)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Filter, String> {
        if self.tokens.get(self.at) == Some(&Token::Open) {
            self.at += 1;
            let inner = self.or()?;
            self.expect(Token::Close)?;
            return Ok(inner);
        }
        let func = match self.tokens.get(self.at) {
            Some(Token::Word(w)) if self.tokens.get(self.at + 1) == Some(&Token::Open) => {
                Some(w.to_ascii_lowercase())
            }
            _ => None,
        };
        if let Some(func) = func {
            self.at += 2;
            let call = match func.as_str() {
                "substringof" => {
                    let needle = self.string()?;
                    self.expect(Token::Comma)?;
                    Filter::Call(Func::Contains, self.field()?, needle)
                }
                "contains" | "startswith" | "endswith" => {
                    let field = self.field()?;
                    self.expect(Token::Comma)?;
                    let f = match func.as_str() {
                        "contains" => Func::Contains,
                        "startswith" => Func::StartsWith,
                        _ => Func::EndsWith,
                    };
                    Filter::Call(f, field, self.string()?)
                }
                other => return Err(format!("unsupported function '{other}'")),
            };
            self.expect(Token::Close)?;
            return Ok(call);
        }
        let field = self.field()?;
        let op = match self.next() {
            Some(Token::Word(w)) => match w.to_ascii_lowercase().as_str() {
                "eq" => Op::Eq,
                "ne" => Op::Ne,
                "gt" => Op::Gt,
                "ge" => Op::Ge,
                "lt" => Op::Lt,
                "le" => Op::Le,
                other => return Err(format!("unsupported operator '{other}'")),
            },
            other => return Err(format!("expected an operator, found {other:?}")),
        };
        let literal = match self.next() {
            Some(Token::Str(s)) => Literal::Str(s),
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("true") => Literal::Bool(true),
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("false") => Literal::Bool(false),
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("null") => Literal::Null,
            other => return Err(format!("expected a literal, found {other:?}")),
        };
        Ok(Filter::Compare(field, op, literal))
    }
}

impl Filter {
    /// Parses `text`, accepting only the given field names.
    pub fn parse(text: &str, fields: &[&str]) -> Result<Self, String> {
        let mut parser = Parser {
            tokens: tokenize(text)?,
            at: 0,
            fields,
        };
        let filter = parser.or()?;
        if parser.at < parser.tokens.len() {
            return Err(format!(
                "unexpected {:?} after the expression",
                parser.tokens[parser.at]
            ));
        }
        Ok(filter)
    }

    pub fn matches(&self, field: &dyn Fn(&str) -> FieldValue) -> bool {
        match self {
            Filter::And(a, b) => a.matches(field) && b.matches(field),
            Filter::Or(a, b) => a.matches(field) || b.matches(field),
            Filter::Not(a) => !a.matches(field),
            Filter::Call(func, name, needle) => match field(name) {
                FieldValue::Str(s) => {
                    let (s, n) = (s.to_lowercase(), needle.to_lowercase());
                    match func {
                        Func::Contains => s.contains(&n),
                        Func::StartsWith => s.starts_with(&n),
                        Func::EndsWith => s.ends_with(&n),
                    }
                }
                _ => false,
            },
            Filter::Compare(name, op, literal) => compare(&field(name), *op, literal),
        }
    }
}

fn compare(value: &FieldValue, op: Op, literal: &Literal) -> bool {
    let ordering = match (value, literal) {
        (FieldValue::Str(a), Literal::Str(b)) => a.to_lowercase().cmp(&b.to_lowercase()),
        (FieldValue::Bool(a), Literal::Bool(b)) => a.cmp(b),
        (FieldValue::Null, Literal::Null) => std::cmp::Ordering::Equal,
        _ => {
            return op == Op::Ne;
        }
    };
    match op {
        Op::Eq => ordering.is_eq(),
        Op::Ne => ordering.is_ne(),
        Op::Gt => ordering.is_gt(),
        Op::Ge => ordering.is_ge(),
        Op::Lt => ordering.is_lt(),
        Op::Le => ordering.is_le(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const FIELDS: &[&str] = &["name", "displayName", "isCurrent"];

    fn record(name: &str) -> FieldValue {
        match name {
            "name" => FieldValue::Str("Orders-V1".into()),
            "displayName" => FieldValue::Str("Orders".into()),
            "isCurrent" => FieldValue::Bool(true),
            _ => FieldValue::Null,
        }
    }

    fn eval(text: &str) -> bool {
        Filter::parse(text, FIELDS).unwrap().matches(&record)
    }

    #[test]
    fn comparisons_and_functions() {
        assert!(eval("isCurrent eq true"));
        assert!(!eval("isCurrent eq false"));
        assert!(eval("name eq 'orders-v1'"));
        assert!(eval("contains(name, 'V1')"));
        assert!(eval("startswith(displayName,'ord')"));
        assert!(eval("substringof('ders', name)"));
        assert!(eval("not endswith(name, 'v2')"));
        assert!(eval(
            "name ne 'x' and (isCurrent eq false or displayName eq 'ORDERS')"
        ));
        assert!(eval("name gt 'a'"));
    }

    #[test]
    fn errors_are_reported() {
        for bad in [
            "foo eq 'x'",
            "name eq",
            "name like 'x'",
            "name eq 'x",
            "(name eq 'x'",
            "name eq 'x' extra",
            "upper(name) eq 'x'",
        ] {
            assert!(Filter::parse(bad, FIELDS).is_err(), "accepted {bad}");
        }
    }
}
