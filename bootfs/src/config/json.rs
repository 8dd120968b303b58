//! JSON (RFC 8259) for configuration files: every value keeps the line and
//! column it starts at, and every error says where it is.
//!
//! Bounded for untrusted input: nesting deeper than [`MAX_DEPTH`] is an
//! error, nothing recurses without that bound, and the text is never
//! indexed past its end. A UTF-8 byte-order mark at the start is skipped
//! (Windows Notepad writes one).

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

/// Arrays and objects nested deeper than this are refused.
pub const MAX_DEPTH: usize = 64;

/// A place in the text: 1-based line, 1-based column counted in characters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pos {
    pub line: u32,
    pub column: u32,
}

impl core::fmt::Display for Pos {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "line {}, column {}", self.line, self.column)
    }
}

/// A syntax error and where it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JsonError {
    pub pos: Pos,
    pub what: String,
}

impl core::fmt::Display for JsonError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}: {}", self.pos, self.what)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    /// The number as written (configuration values are read as text).
    Number(String),
    String(String),
    Array(Vec<Node>),
    /// Members in file order; a repeated key is kept twice.
    Object(Vec<Member>),
}

/// A value and where it starts.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub pos: Pos,
    pub value: Value,
}

/// One `"key": value` of an object.
#[derive(Clone, Debug, PartialEq)]
pub struct Member {
    pub key: String,
    pub key_pos: Pos,
    pub node: Node,
}

impl Value {
    /// What kind of value this is, for messages ("expected a string, found an array").
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "true or false",
            Value::Number(_) => "a number",
            Value::String(_) => "a string",
            Value::Array(_) => "an array",
            Value::Object(_) => "an object",
        }
    }
}

/// Parses one JSON document (a value with only whitespace around it).
pub fn parse(text: &[u8]) -> Result<Node, JsonError> {
    let text = text.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(text);
    let mut p = Parser { text, at: 0, line: 1, line_start: 0, counted: (0, 0) };
    p.skip_space();
    if p.peek().is_none() {
        return Err(p.error("the file is empty; expected a JSON object such as {}"));
    }
    let node = p.value()?;
    p.skip_space();
    if p.peek().is_some() {
        return Err(p.error("unexpected text after the end of the JSON value"));
    }
    Ok(node)
}

struct Parser<'a> {
    text: &'a [u8],
    at: usize,
    line: u32,
    line_start: usize,
    /// (byte offset, characters from the line start to it): the last
    /// column worked out.
    counted: (usize, usize),
}

/// A container being filled, for the explicit parse stack.
enum Open {
    Array(Pos, Vec<Node>),
    Object(Pos, Vec<Member>, String, Pos),
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.text.get(self.at).copied()
    }

    /// Where the parser is. Columns count characters (bytes that do not
    /// continue a UTF-8 sequence), carried forward along a line so that a
    /// long line costs no more than its length.
    fn pos(&mut self) -> Pos {
        if self.counted.0 < self.line_start || self.counted.0 > self.at {
            self.counted = (self.line_start, 0);
        }
        let (from, chars) = self.counted;
        let more = self.text[from..self.at].iter().filter(|&&b| b & 0xC0 != 0x80).count();
        self.counted = (self.at, chars + more);
        Pos { line: self.line, column: (chars + more) as u32 + 1 }
    }

    fn error(&mut self, what: &str) -> JsonError {
        JsonError { pos: self.pos(), what: what.into() }
    }

    fn skip_space(&mut self) {
        while let Some(b) = self.peek() {
            match b {
                b' ' | b'\t' | b'\r' => self.at += 1,
                b'\n' => {
                    self.at += 1;
                    self.line += 1;
                    self.line_start = self.at;
                }
                _ => break,
            }
        }
    }

    fn expect(&mut self, b: u8, what: &str) -> Result<(), JsonError> {
        self.skip_space();
        if self.peek() == Some(b) {
            self.at += 1;
            Ok(())
        } else {
            Err(self.unexpected(what))
        }
    }

    /// "expected X, found Y" at the current place.
    fn unexpected(&mut self, expected: &str) -> JsonError {
        let found = match self.peek() {
            None => String::from("the end of the file"),
            Some(b) if b.is_ascii_graphic() => format!("'{}'", b as char),
            Some(b'\n') => String::from("the end of the line"),
            Some(b) => format!("byte {b:#04x}"),
        };
        self.error(&format!("expected {expected}, found {found}"))
    }

    /// One value; arrays and objects are built on an explicit stack, so
    /// the depth of the input never becomes depth of the call stack.
    fn value(&mut self) -> Result<Node, JsonError> {
        let mut stack: Vec<Open> = Vec::new();
        loop {
            // Read a value start: a scalar, or the opening of a container.
            self.skip_space();
            let pos = self.pos();
            let mut done = match self.peek() {
                Some(b'{') | Some(b'[') => {
                    if stack.len() >= MAX_DEPTH {
                        return Err(self.error(&format!("nested deeper than {MAX_DEPTH} levels")));
                    }
                    let object = self.peek() == Some(b'{');
                    self.at += 1;
                    self.skip_space();
                    let close = if object { b'}' } else { b']' };
                    if self.peek() == Some(close) {
                        self.at += 1;
                        let value = if object { Value::Object(Vec::new()) } else { Value::Array(Vec::new()) };
                        Node { pos, value }
                    } else if object {
                        let (key, key_pos) = self.key()?;
                        stack.push(Open::Object(pos, Vec::new(), key, key_pos));
                        continue;
                    } else {
                        stack.push(Open::Array(pos, Vec::new()));
                        continue;
                    }
                }
                _ => Node { pos, value: self.scalar()? },
            };
            // Hand the finished value to its container; close containers
            // while their closing bracket follows.
            loop {
                match stack.last_mut() {
                    None => return Ok(done),
                    Some(Open::Array(_, items)) => {
                        items.push(done);
                        self.skip_space();
                        match self.peek() {
                            Some(b',') => {
                                self.at += 1;
                                break;
                            }
                            Some(b']') => self.at += 1,
                            _ => return Err(self.unexpected("',' or ']'")),
                        }
                    }
                    Some(Open::Object(_, members, key, key_pos)) => {
                        members.push(Member { key: core::mem::take(key), key_pos: *key_pos, node: done });
                        self.skip_space();
                        match self.peek() {
                            Some(b',') => {
                                self.at += 1;
                                let (k, kp) = self.key()?;
                                *key = k;
                                *key_pos = kp;
                                break;
                            }
                            Some(b'}') => self.at += 1,
                            _ => return Err(self.unexpected("',' or '}'")),
                        }
                    }
                }
                done = match stack.pop() {
                    Some(Open::Array(pos, items)) => Node { pos, value: Value::Array(items) },
                    Some(Open::Object(pos, members, _, _)) => Node { pos, value: Value::Object(members) },
                    None => return Err(self.error("internal: a container closed twice")),
                };
            }
        }
    }

    /// `"key" :` — the key and where it starts.
    fn key(&mut self) -> Result<(String, Pos), JsonError> {
        self.skip_space();
        let pos = self.pos();
        if self.peek() != Some(b'"') {
            return Err(self.unexpected("a quoted key"));
        }
        let key = self.string()?;
        self.expect(b':', "':' after the key")?;
        Ok((key, pos))
    }

    fn scalar(&mut self) -> Result<Value, JsonError> {
        match self.peek() {
            Some(b'"') => Ok(Value::String(self.string()?)),
            Some(b't') => self.word("true", Value::Bool(true)),
            Some(b'f') => self.word("false", Value::Bool(false)),
            Some(b'n') => self.word("null", Value::Null),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(b'/') => Err(self.error("comments are not allowed in JSON")),
            Some(b) if b.is_ascii_alphabetic() || b == b'\'' => Err(self.unexpected("a value (strings need double quotes)")),
            _ => Err(self.unexpected("a value")),
        }
    }

    fn word(&mut self, word: &str, value: Value) -> Result<Value, JsonError> {
        if self.text[self.at..].starts_with(word.as_bytes()) {
            self.at += word.len();
            Ok(value)
        } else {
            Err(self.unexpected("a value (strings need double quotes)"))
        }
    }

    fn number(&mut self) -> Result<Value, JsonError> {
        let start = self.at;
        if self.peek() == Some(b'-') {
            self.at += 1;
        }
        let digits = |p: &mut Self| {
            let from = p.at;
            while p.peek().is_some_and(|b| b.is_ascii_digit()) {
                p.at += 1;
            }
            p.at - from
        };
        let int = self.at;
        if digits(self) == 0 {
            return Err(self.unexpected("a digit"));
        }
        if self.text[int] == b'0' && self.at - int > 1 {
            self.at = int;
            return Err(self.error("numbers cannot start with 0"));
        }
        if self.peek() == Some(b'.') {
            self.at += 1;
            if digits(self) == 0 {
                return Err(self.unexpected("a digit after '.'"));
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.at += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.at += 1;
            }
            if digits(self) == 0 {
                return Err(self.unexpected("a digit in the exponent"));
            }
        }
        Ok(Value::Number(String::from_utf8_lossy(&self.text[start..self.at]).into_owned()))
    }

    /// A quoted string at the current place (on its opening quote).
    fn string(&mut self) -> Result<String, JsonError> {
        self.at += 1;
        let mut out = String::new();
        loop {
            let run = self.at;
            while self.peek().is_some_and(|b| b != b'"' && b != b'\\' && b >= 0x20) {
                self.at += 1;
            }
            match core::str::from_utf8(&self.text[run..self.at]) {
                Ok(s) => out.push_str(s),
                Err(e) => {
                    self.at = run + e.valid_up_to();
                    return Err(self.error("text that is not UTF-8 (save the file as UTF-8)"));
                }
            }
            match self.peek() {
                Some(b'"') => {
                    self.at += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.at += 1;
                    out.push(self.escape()?);
                }
                Some(b'\n') | None => return Err(self.error("a string is not closed (missing '\"')")),
                Some(_) => return Err(self.error("a control character inside a string")),
            }
        }
    }

    /// The character of an escape, after its backslash.
    fn escape(&mut self) -> Result<char, JsonError> {
        let c = match self.peek() {
            Some(b'"') => '"',
            Some(b'\\') => '\\',
            Some(b'/') => '/',
            Some(b'b') => '\u{8}',
            Some(b'f') => '\u{c}',
            Some(b'n') => '\n',
            Some(b'r') => '\r',
            Some(b't') => '\t',
            Some(b'u') => {
                self.at += 1;
                let high = self.hex4()?;
                if (0xD800..0xDC00).contains(&high) && self.text[self.at..].starts_with(b"\\u") {
                    self.at += 2;
                    let low = self.hex4()?;
                    if (0xDC00..0xE000).contains(&low) {
                        let c = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00);
                        return Ok(char::from_u32(c).unwrap_or('\u{FFFD}'));
                    }
                    return Ok('\u{FFFD}');
                }
                return Ok(char::from_u32(high).unwrap_or('\u{FFFD}'));
            }
            _ => {
                // Windows paths written with single backslashes land here.
                return Err(self.error("an unknown escape after '\\' (write paths with '/')"));
            }
        };
        self.at += 1;
        Ok(c)
    }

    fn hex4(&mut self) -> Result<u32, JsonError> {
        let mut v = 0;
        for _ in 0..4 {
            let d = self.peek().and_then(|b| (b as char).to_digit(16)).ok_or_else(|| self.unexpected("a hex digit"))?;
            v = v * 16 + d;
            self.at += 1;
        }
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> (u32, u32, String) {
        let e = parse(text.as_bytes()).expect_err(text);
        (e.pos.line, e.pos.column, e.what)
    }

    #[test]
    fn values_keep_where_they_start() {
        let doc = parse(b"{\n  \"control\": [\n    { \"VTOY_MENU_TIMEOUT\": \"5\" }\n  ],\n  \"n\": -1.5e3, \"t\": true }").expect("valid");
        let Value::Object(members) = doc.value else { panic!("object") };
        assert_eq!(members[0].key, "control");
        assert_eq!(members[0].key_pos, Pos { line: 2, column: 3 });
        let Value::Array(items) = &members[0].node.value else { panic!("array") };
        assert_eq!(items[0].pos, Pos { line: 3, column: 5 });
        assert_eq!(members[1].node.value, Value::Number("-1.5e3".into()));
        assert_eq!(members[2].node.value, Value::Bool(true));
    }

    #[test]
    fn strings_decode_escapes_and_utf8() {
        let doc = parse("[\"a\\\"b\\\\c\\/d\\u00e9\\ud83d\\ude00 Übersicht\"]".as_bytes()).expect("valid");
        let Value::Array(items) = doc.value else { panic!() };
        assert_eq!(items[0].value, Value::String("a\"b\\c/dé😀 Übersicht".into()));
    }

    #[test]
    fn errors_name_the_line_and_column() {
        assert_eq!(err("{\n  \"a\": \"1\"\n  \"b\": 2\n}"), (3, 3, "expected ',' or '}', found '\"'".into()));
        assert_eq!(err("{ \"a\": [1, 2,, 3] }").0, 1);
        assert_eq!(err("{ \"a\": [1, 2,, 3] }").1, 14);
        assert_eq!(err("{ \"a\": \"C:\\isos\" }").2, "an unknown escape after '\\' (write paths with '/')");
        assert_eq!(err("{ \"a\": 1, }").2, "expected a quoted key, found '}'");
        assert_eq!(err("// x\n{}").2, "comments are not allowed in JSON");
        assert_eq!(err("{ \"a\": \"open\n}").0, 1);
        assert_eq!(err("").2, "the file is empty; expected a JSON object such as {}");
        assert_eq!(err("{} {}").2, "unexpected text after the end of the JSON value");
        assert_eq!(err("{\"é\": yes}"), (1, 7, "expected a value (strings need double quotes), found 'y'".into()));
    }

    #[test]
    fn a_byte_order_mark_is_skipped_and_bad_utf8_is_named() {
        assert!(parse(b"\xEF\xBB\xBF{}").is_ok());
        assert_eq!(err("[\"a\u{0}\"]").2, "a control character inside a string");
        let e = parse(b"[\"ab\xFF\"]").expect_err("not UTF-8");
        assert_eq!((e.pos.column, e.what.as_str()), (5, "text that is not UTF-8 (save the file as UTF-8)"));
    }

    #[test]
    fn deep_nesting_is_refused_without_deep_recursion() {
        let deep = "[".repeat(100_000);
        assert!(err(&deep).2.starts_with("nested deeper than"));
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(parse(ok.as_bytes()).is_ok());
    }
}
