//! CQL2 text: a tokenizer and a recursive-descent parser of the grammar's boolean expressions
//! (`OR` below `AND` below `NOT`), predicates and literals, WKT geometries and `BBOX(...)`.
//! Keywords and function names are case-insensitive; properties are plain or "double-quoted"
//! identifiers. Errors name the character where reading stopped and what could stand there.

use geo_types::{Coord, Geometry, GeometryCollection, LineString, MultiLineString, MultiPoint, MultiPolygon, Point};

use super::geometry::{self, Budget};
use super::{Comparison, Expr, Operand, SpatialOp, MAX_DEPTH, SPATIAL_FUNCTIONS};

#[derive(Debug, Clone, PartialEq)]
enum Token {
    /// An unquoted identifier or keyword.
    Word(String),
    /// A "double-quoted" identifier.
    Quoted(String),
    /// A 'single-quoted' string.
    Str(String),
    Number(f64),
    Open,
    Close,
    Comma,
    Op(&'static str),
    End,
}

fn describe(token: &Token) -> String {
    match token {
        Token::Word(w) => format!("'{w}'"),
        Token::Quoted(w) => format!("\"{w}\""),
        Token::Str(s) => format!("the string '{s}'"),
        Token::Number(n) => format!("the number {n}"),
        Token::Open => "'('".into(),
        Token::Close => "')'".into(),
        Token::Comma => "','".into(),
        Token::Op(o) => format!("'{o}'"),
        Token::End => "the end of the filter".into(),
    }
}

/// The tokens of `text`, each with the character position it starts at.
fn tokenize(text: &str) -> Result<Vec<(Token, usize)>, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let start = i;
        let token = match c {
            c if c.is_whitespace() => {
                i += 1;
                continue;
            }
            '(' | ')' | ',' => {
                i += 1;
                match c {
                    '(' => Token::Open,
                    ')' => Token::Close,
                    _ => Token::Comma,
                }
            }
            '=' => {
                i += 1;
                Token::Op("=")
            }
            '<' | '>' => {
                let next = chars.get(i + 1).copied();
                let (op, len) = match (c, next) {
                    ('<', Some('>')) => ("<>", 2),
                    ('<', Some('=')) => ("<=", 2),
                    ('>', Some('=')) => (">=", 2),
                    ('<', _) => ("<", 1),
                    _ => (">", 1),
                };
                i += len;
                Token::Op(op)
            }
            '\'' | '"' => {
                let (value, end) = quoted(&chars, i, c)?;
                i = end;
                if c == '\'' {
                    Token::Str(value)
                } else {
                    Token::Quoted(value)
                }
            }
            c if c.is_ascii_digit() || c == '.' || c == '-' || c == '+' => {
                let (value, end) = number(&chars, i)?;
                i = end;
                Token::Number(value)
            }
            c if c.is_alphabetic() || c == '_' => {
                while i < chars.len() && (chars[i].is_alphanumeric() || matches!(chars[i], '_' | '.' | ':')) {
                    i += 1;
                }
                Token::Word(chars[start..i].iter().collect())
            }
            '!' if chars.get(i + 1) == Some(&'=') => return Err(format!("at character {}: '!=' is not CQL2; write '<>'", i + 1)),
            other => return Err(format!("at character {}: '{other}' cannot start a token", i + 1)),
        };
        tokens.push((token, start));
    }
    tokens.push((Token::End, chars.len()));
    Ok(tokens)
}

/// A string or identifier quoted by `quote` (doubled inside), from `chars[start]`; its value and
/// the position after its closing quote.
fn quoted(chars: &[char], start: usize, quote: char) -> Result<(String, usize), String> {
    let mut value = String::new();
    let mut i = start + 1;
    loop {
        match chars.get(i) {
            None => {
                return Err(format!(
                    "at character {}: the {quote}...{quote} opened here is never closed",
                    start + 1
                ))
            }
            Some(&c) if c == quote => {
                if chars.get(i + 1) == Some(&quote) {
                    value.push(quote);
                    i += 2;
                } else {
                    return Ok((value, i + 1));
                }
            }
            Some(&c) => {
                value.push(c);
                i += 1;
            }
        }
    }
}

/// A number (`-12`, `3.5`, `.5`, `1e-3`) from `chars[start]`, and the position after it.
fn number(chars: &[char], start: usize) -> Result<(f64, usize), String> {
    let mut i = start;
    if matches!(chars.get(i), Some('-' | '+')) {
        i += 1;
    }
    while matches!(chars.get(i), Some(c) if c.is_ascii_digit() || *c == '.') {
        i += 1;
    }
    if matches!(chars.get(i), Some('e' | 'E')) {
        i += 1;
        if matches!(chars.get(i), Some('-' | '+')) {
            i += 1;
        }
        while matches!(chars.get(i), Some(c) if c.is_ascii_digit()) {
            i += 1;
        }
    }
    let text: String = chars[start..i].iter().collect();
    match text.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok((v, i)),
        _ => Err(format!("at character {}: '{text}' is not a number", start + 1)),
    }
}

const KEYWORDS: &[&str] = &["AND", "OR", "NOT", "LIKE", "BETWEEN", "IN", "IS", "NULL"];
const GEOMETRY_TYPES: &[&str] = &[
    "POINT",
    "LINESTRING",
    "POLYGON",
    "MULTIPOINT",
    "MULTILINESTRING",
    "MULTIPOLYGON",
    "GEOMETRYCOLLECTION",
];

struct Parser {
    tokens: Vec<(Token, usize)>,
    at: usize,
    depth: usize,
    budget: Budget,
}

/// Reads a CQL2 text filter.
pub fn parse(text: &str) -> Result<Expr, String> {
    let mut p = Parser {
        tokens: tokenize(text)?,
        at: 0,
        depth: 0,
        budget: Budget::default(),
    };
    let expr = p.or()?;
    if p.peek() != &Token::End {
        return Err(p.unexpected("AND, OR or the end of the filter"));
    }
    Ok(expr)
}

impl Parser {
    fn peek(&self) -> &Token {
        &self.tokens[self.at].0
    }

    fn peek_second(&self) -> &Token {
        &self.tokens[(self.at + 1).min(self.tokens.len() - 1)].0
    }

    fn next(&mut self) -> Token {
        let token = self.tokens[self.at].0.clone();
        if self.at + 1 < self.tokens.len() {
            self.at += 1;
        }
        token
    }

    fn unexpected(&self, wanted: &str) -> String {
        let (token, at) = &self.tokens[self.at];
        format!("at character {}: expected {wanted}, found {}", at + 1, describe(token))
    }

    /// Takes the keyword `word` if it comes next.
    fn keyword(&mut self, word: &str) -> bool {
        let found = matches!(self.peek(), Token::Word(w) if w.eq_ignore_ascii_case(word));
        if found {
            self.next();
        }
        found
    }

    fn expect(&mut self, token: Token, wanted: &str) -> Result<(), String> {
        if self.peek() == &token {
            self.next();
            Ok(())
        } else {
            Err(self.unexpected(wanted))
        }
    }

    /// Runs `f` one level deeper, refusing filters nested past [`MAX_DEPTH`].
    fn nested<T>(&mut self, f: impl FnOnce(&mut Parser) -> Result<T, String>) -> Result<T, String> {
        if self.depth >= MAX_DEPTH {
            return Err(format!("the filter nests deeper than {MAX_DEPTH} levels; write it flatter"));
        }
        self.depth += 1;
        let result = f(self);
        self.depth -= 1;
        result
    }

    fn or(&mut self) -> Result<Expr, String> {
        let mut parts = vec![self.and()?];
        while self.keyword("OR") {
            parts.push(self.and()?);
        }
        Ok(if parts.len() == 1 { parts.remove(0) } else { Expr::Or(parts) })
    }

    fn and(&mut self) -> Result<Expr, String> {
        let mut parts = vec![self.not()?];
        while self.keyword("AND") {
            parts.push(self.not()?);
        }
        Ok(if parts.len() == 1 { parts.remove(0) } else { Expr::And(parts) })
    }

    fn not(&mut self) -> Result<Expr, String> {
        if self.keyword("NOT") {
            return self.nested(|p| Ok(Expr::Not(Box::new(p.not()?))));
        }
        self.nested(Parser::primary)
    }

    fn primary(&mut self) -> Result<Expr, String> {
        if self.peek() == &Token::Open {
            self.next();
            let inner = self.or()?;
            self.expect(Token::Close, "')' or AND/OR")?;
            return Ok(inner);
        }
        if let (Token::Word(name), Token::Open) = (self.peek(), self.peek_second()) {
            if let Some(op) = SpatialOp::from_name(name) {
                self.at += 2;
                let a = self.operand()?;
                self.expect(Token::Comma, "',' between the two geometries")?;
                let b = self.operand()?;
                self.expect(Token::Close, "')' after the second geometry")?;
                return Ok(Expr::Spatial(op, a, b));
            }
        }
        let left = self.operand()?;
        self.predicate(left)
    }

    /// What follows the first operand of a predicate.
    fn predicate(&mut self, left: Operand) -> Result<Expr, String> {
        if let Token::Op(symbol) = self.peek() {
            let op = Comparison::from_symbol(symbol).ok_or_else(|| self.unexpected("a comparison"))?;
            self.next();
            return Ok(Expr::Compare(op, left, self.operand()?));
        }
        if self.keyword("IS") {
            let negated = self.keyword("NOT");
            if !self.keyword("NULL") {
                return Err(self.unexpected("NULL after IS"));
            }
            let test = Expr::IsNull(left);
            return Ok(if negated { Expr::Not(Box::new(test)) } else { test });
        }
        let negated = self.keyword("NOT");
        let test = if self.keyword("LIKE") {
            Expr::Like(left, self.operand()?)
        } else if self.keyword("BETWEEN") {
            let low = self.operand()?;
            if !self.keyword("AND") {
                return Err(self.unexpected("AND between the bounds of BETWEEN"));
            }
            Expr::Between(left, low, self.operand()?)
        } else if self.keyword("IN") {
            self.expect(Token::Open, "'(' opening the IN list")?;
            let mut list = vec![self.operand()?];
            while self.peek() == &Token::Comma {
                self.next();
                list.push(self.operand()?);
            }
            self.expect(Token::Close, "',' or ')' closing the IN list")?;
            Expr::In(left, list)
        } else if let (Operand::Bool(b), false) = (&left, negated) {
            return Ok(Expr::Literal(*b));
        } else {
            return Err(self.unexpected("a comparison (=, <>, <, <=, >, >=), LIKE, BETWEEN, IN or IS [NOT] NULL"));
        };
        Ok(if negated { Expr::Not(Box::new(test)) } else { test })
    }

    /// A property or a literal.
    fn operand(&mut self) -> Result<Operand, String> {
        let wanted = "a property or a literal";
        match self.peek().clone() {
            Token::Str(s) => {
                self.next();
                Ok(Operand::Text(s))
            }
            Token::Number(n) => {
                self.next();
                Ok(Operand::Number(n))
            }
            Token::Quoted(name) => {
                self.next();
                Ok(Operand::Property(name))
            }
            Token::Word(word) => {
                let upper = word.to_ascii_uppercase();
                if GEOMETRY_TYPES.contains(&upper.as_str()) {
                    return Ok(Operand::Geometry(self.wkt()?));
                }
                if self.peek_second() == &Token::Open {
                    self.next();
                    return self.constructor(&upper, &word);
                }
                if KEYWORDS.contains(&upper.as_str()) {
                    return Err(self.unexpected(wanted));
                }
                self.next();
                Ok(match upper.as_str() {
                    "TRUE" => Operand::Bool(true),
                    "FALSE" => Operand::Bool(false),
                    _ => Operand::Property(word),
                })
            }
            _ => Err(self.unexpected(wanted)),
        }
    }

    /// A literal written as `NAME(...)` (the name taken, the '(' next).
    fn constructor(&mut self, upper: &str, word: &str) -> Result<Operand, String> {
        match upper {
            "DATE" | "TIMESTAMP" => {
                self.next();
                let Token::Str(value) = self.peek().clone() else {
                    return Err(self.unexpected(&format!("a quoted {upper} such as '2024-05-01'")));
                };
                self.next();
                self.expect(Token::Close, "')'")?;
                Ok(if upper == "DATE" {
                    Operand::Date(value)
                } else {
                    Operand::Timestamp(value)
                })
            }
            "BBOX" => {
                self.next();
                let mut numbers = vec![self.number()?];
                while self.peek() == &Token::Comma {
                    self.next();
                    numbers.push(self.number()?);
                }
                self.expect(Token::Close, "',' or ')' in BBOX")?;
                Ok(Operand::Geometry(geometry::bbox(&numbers, &mut self.budget)?))
            }
            _ => Err(format!(
                    "unknown function '{word}': this server's filters take the spatial functions {SPATIAL_FUNCTIONS}, DATE(), TIMESTAMP(), BBOX() and WKT geometries"
            )),
        }
    }

    fn number(&mut self) -> Result<f64, String> {
        match self.peek() {
            Token::Number(n) => {
                let n = *n;
                self.next();
                Ok(n)
            }
            _ => Err(self.unexpected("a number")),
        }
    }

    /// A WKT geometry starting at the current word.
    fn wkt(&mut self) -> Result<Geometry<f64>, String> {
        let kind = match self.peek() {
            Token::Word(word) if GEOMETRY_TYPES.contains(&word.to_ascii_uppercase().as_str()) => word.to_ascii_uppercase(),
            _ => return Err(self.unexpected("a WKT geometry")),
        };
        self.next();
        self.keyword("Z");
        self.nested(|p| p.wkt_body(&kind))
    }

    fn wkt_body(&mut self, kind: &str) -> Result<Geometry<f64>, String> {
        Ok(match kind {
            "POINT" => {
                let [c] = self.list(|p| p.position())?[..] else {
                    return Err("a POINT has one position".into());
                };
                Geometry::Point(Point(c))
            }
            "LINESTRING" => Geometry::LineString(self.line()?),
            "POLYGON" => Geometry::Polygon(self.polygon()?),
            "MULTIPOINT" => Geometry::MultiPoint(MultiPoint(self.list(|p| {
                // MULTIPOINT((1 2), (3 4)) and MULTIPOINT(1 2, 3 4) are both WKT.
                if p.peek() == &Token::Open {
                    p.next();
                    let c = p.position()?;
                    p.expect(Token::Close, "')' after the point")?;
                    Ok(Point(c))
                } else {
                    Ok(Point(p.position()?))
                }
            })?)),
            "MULTILINESTRING" => Geometry::MultiLineString(MultiLineString(self.list(Parser::line)?)),
            "MULTIPOLYGON" => Geometry::MultiPolygon(MultiPolygon(self.list(Parser::polygon)?)),
            _ => Geometry::GeometryCollection(GeometryCollection(self.list(Parser::wkt)?)),
        })
    }

    /// `( item, item, ... )`.
    fn list<T>(&mut self, mut item: impl FnMut(&mut Parser) -> Result<T, String>) -> Result<Vec<T>, String> {
        self.expect(Token::Open, "'('")?;
        let mut items = vec![item(self)?];
        while self.peek() == &Token::Comma {
            self.next();
            items.push(item(self)?);
        }
        self.expect(Token::Close, "',' or ')'")?;
        Ok(items)
    }

    fn position(&mut self) -> Result<Coord<f64>, String> {
        let mut numbers = vec![self.number()?, self.number()?];
        if let Token::Number(z) = self.peek() {
            numbers.push(*z);
            self.next();
        }
        geometry::position(&numbers, &mut self.budget)
    }

    fn line(&mut self) -> Result<LineString<f64>, String> {
        geometry::line(self.list(Parser::position)?)
    }

    fn polygon(&mut self) -> Result<geo_types::Polygon<f64>, String> {
        let rings = self.list(|p| geometry::ring(p.list(Parser::position)?))?;
        geometry::polygon(rings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prop(name: &str) -> Operand {
        Operand::Property(name.into())
    }

    #[test]
    fn precedence_is_or_and_not() {
        let e = parse("a = 1 OR b = 2 AND NOT c = 3").unwrap();
        let cmp = |n: &str, v: f64| Expr::Compare(Comparison::Eq, prop(n), Operand::Number(v));
        assert_eq!(
            e,
            Expr::Or(vec![
                cmp("a", 1.0),
                Expr::And(vec![cmp("b", 2.0), Expr::Not(Box::new(cmp("c", 3.0)))])
            ])
        );
        assert_eq!(parse("(a = 1)").unwrap(), cmp("a", 1.0));
    }

    #[test]
    fn literals_identifiers_and_keywords() {
        assert_eq!(
            parse(r#""use" <> 'it''s' and x is not null"#).unwrap(),
            Expr::And(vec![
                Expr::Compare(Comparison::Ne, prop("use"), Operand::Text("it's".into())),
                Expr::Not(Box::new(Expr::IsNull(prop("x")))),
            ])
        );
        assert_eq!(
            parse("n NOT BETWEEN -1.5 AND 2e3").unwrap(),
            Expr::Not(Box::new(Expr::Between(prop("n"), Operand::Number(-1.5), Operand::Number(2000.0))))
        );
        assert_eq!(parse("TRUE").unwrap(), Expr::Literal(true));
        assert_eq!(
            parse("d >= DATE('2024-01-01')").unwrap(),
            Expr::Compare(Comparison::Ge, prop("d"), Operand::Date("2024-01-01".into()))
        );
    }

    #[test]
    fn wkt_geometries() {
        for wkt in [
            "POINT(1 2)",
            "POINT Z(1 2 3)",
            "LINESTRING(0 0, 1 1)",
            "POLYGON((0 0, 1 0, 1 1, 0 0), (0.2 0.1, 0.3 0.1, 0.3 0.2, 0.2 0.1))",
            "MULTIPOINT((0 0), (1 1))",
            "MULTIPOINT(0 0, 1 1)",
            "MULTILINESTRING((0 0, 1 1), (2 2, 3 3))",
            "MULTIPOLYGON(((0 0, 1 0, 1 1, 0 0)))",
            "GEOMETRYCOLLECTION(POINT(0 0), LINESTRING(0 0, 1 1))",
        ] {
            let e = parse(&format!("S_INTERSECTS(geometry, {wkt})")).unwrap();
            assert!(matches!(e, Expr::Spatial(SpatialOp::Intersects, _, Operand::Geometry(_))), "{wkt}");
        }
    }

    #[test]
    fn mistakes_are_located_and_named() {
        for (filter, says) in [
            ("a = ", "at character 5: expected a property or a literal"),
            ("a == 1", "at character 4"),
            ("a != 1", "write '<>'"),
            ("a = 'open", "never closed"),
            ("a LIKE", "expected a property or a literal"),
            ("a BETWEEN 1 OR 2", "AND between the bounds"),
            ("a IN (1, 2", "closing the IN list"),
            ("a = 1 b = 2", "AND, OR or the end"),
            ("floors", "a comparison"),
            ("CASEI(a) = 'x'", "unknown function 'CASEI'"),
            ("S_INTERSECTS(geometry, POLYGON((0 0, 1 0, 1 1)))", "at least 4 positions"),
            ("S_INTERSECTS(geometry, BBOX(2, 0, 1, 1))", "minimum before its maximum"),
            ("S_INTERSECTS(geometry POINT(1 2))", "',' between the two geometries"),
            ("a = 1 AND", "expected a property or a literal, found the end"),
            ("AND = 1", "found 'AND'"),
        ] {
            let e = parse(filter).unwrap_err();
            assert!(e.contains(says), "{filter}: {e}");
        }
    }

    #[test]
    fn nesting_and_size_are_bounded() {
        let deep = format!("{}a = 1{}", "(".repeat(200), ")".repeat(200));
        assert!(parse(&deep).unwrap_err().contains("nests deeper"));
        let nots = format!("{}a = 1", "NOT ".repeat(200));
        assert!(parse(&nots).unwrap_err().contains("nests deeper"));
        let collections = format!(
            "S_INTERSECTS(geometry, {}POINT(0 0){})",
            "GEOMETRYCOLLECTION(".repeat(100),
            ")".repeat(100)
        );
        assert!(parse(&collections).unwrap_err().contains("nests deeper"));
        let points: Vec<String> = (0..100_001).map(|i| format!("{i} 0")).collect();
        let big = format!("S_INTERSECTS(geometry, LINESTRING({}))", points.join(","));
        assert!(parse(&big).unwrap_err().contains("more than 100000 positions"));
    }
}
