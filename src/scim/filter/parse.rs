//! The filter and path parser (RFC 7644 sections 3.4.2.2 and 3.5.2): hand-written
//! recursive descent over chars, with 0-based char positions in every error and
//! bounds on input size and nesting, so no input can panic it or overflow the stack.

use std::fmt;

use super::ast::{AttrPath, CompValue, CompareOp, Filter, PatchPath};
use crate::scim::error::ScimError;

/// The longest filter or path accepted, in bytes.
pub const MAX_FILTER_LEN: usize = 4096;

/// The deepest nesting accepted, counted two ways that both must hold: brackets as
/// written (each `(`, `not (` and `[` is a level), and the parsed tree (each `and`, `or`,
/// `not` and value filter is a level, as each is one bracket level when printed). A flat
/// `a or b or c ...` chain is built as a balanced tree, so long `or` lists stay shallow.
pub const MAX_FILTER_DEPTH: usize = 32;

/// A syntax error in a filter or path: where (0-based char offset) and what was expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterError {
    /// 0-based char offset in the input where the problem was found.
    pub position: usize,
    /// What was wrong and what was expected instead.
    pub message: String,
}

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at position {}: {}", self.position, self.message)
    }
}

impl std::error::Error for FilterError {}

impl From<FilterError> for ScimError {
    /// 400 invalidFilter, e.g. `invalid filter at position 9: expected a comparison operator ...`.
    fn from(e: FilterError) -> Self {
        ScimError::invalid_filter(format!("invalid filter {e}"))
    }
}

type Result<T> = std::result::Result<T, FilterError>;

/// Parses a `filter` query parameter (or `.search` body field).
pub fn parse_filter(input: &str) -> Result<Filter> {
    let mut p = Parser::new(input, "filter")?;
    p.skip_ws();
    if p.at_end() {
        return Err(p.error_at(
            0,
            "the filter is empty; expected an expression such as userName eq \"bjensen\"",
        ));
    }
    let node = p.or_expr()?;
    p.expect_end("\"and\", \"or\" or the end of the filter")?;
    Ok(node.filter)
}

/// Parses a PATCH `path`: `attrPath` or `valuePath[.subAttr]`
/// (`name.familyName`, `members[value eq "2819c223"]`, `emails[type eq "work"].value`).
pub fn parse_patch_path(input: &str) -> Result<PatchPath> {
    let mut p = Parser::new(input, "path")?;
    let (attr, attr_at) = p.attr_path()?;
    let mut filter = None;
    let mut sub = None;
    p.skip_ws();
    if p.peek() == Some('[') {
        filter = Some(p.value_filter(&attr, attr_at)?.filter);
        sub = p.sub_after_bracket()?;
    }
    p.expect_end("the end of the path")?;
    Ok(PatchPath { attr, filter, sub })
}

/// Parses a bare attribute path, as in `sortBy` and `attributes=` lists.
pub fn parse_attr_path(input: &str) -> Result<AttrPath> {
    let mut p = Parser::new(input, "path")?;
    let (path, _) = p.attr_path()?;
    p.expect_end("the end of the attribute path")?;
    Ok(path)
}

/// Chars that may appear in an attribute path, URN prefix included.
fn is_path_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':' | '$')
}

/// Chars that may appear in an attribute name (after its first char).
fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-')
}

/// Quotes a snippet of input for an error message.
fn quote(s: &str) -> String {
    if s.contains('"') {
        format!("'{s}'")
    } else {
        format!("\"{s}\"")
    }
}

/// A parsed expression, where it starts, and its depth: the nesting of `and`, `or`, `not`
/// and value filters, which is also how deeply its printed form nests brackets. Keeping
/// it within [`MAX_FILTER_DEPTH`] keeps `parse(print(f)) == f` true for parsed filters.
struct Node {
    filter: Filter,
    depth: usize,
    at: usize,
}

impl Node {
    fn leaf(filter: Filter, at: usize) -> Self {
        Node {
            filter,
            depth: 0,
            at,
        }
    }

    /// Wraps the expression one level deeper (`not`, value filter).
    fn wrap(self, wrap: impl FnOnce(Box<Filter>) -> Filter) -> Self {
        Node {
            filter: wrap(Box::new(self.filter)),
            depth: self.depth + 1,
            at: self.at,
        }
    }
}

type Join = fn(Box<Filter>, Box<Filter>) -> Filter;

/// Joins `first` and `rest` with `join` as a balanced tree (left-leaning, so three
/// terms give `(a op b) op c`), keeping long flat chains shallow.
fn balance(first: Node, mut rest: Vec<Node>, join: Join) -> Node {
    if rest.is_empty() {
        return first;
    }
    let left_len = (rest.len() + 1).div_ceil(2);
    let mut right = rest.split_off(left_len - 1).into_iter();
    match right.next() {
        Some(right_first) => {
            let left = balance(first, rest, join);
            let right = balance(right_first, right.collect(), join);
            Node {
                depth: left.depth.max(right.depth) + 1,
                at: left.at,
                filter: join(Box::new(left.filter), Box::new(right.filter)),
            }
        }
        None => balance(first, rest, join),
    }
}

/// Checks `name` (found at char `at`) against `ATTRNAME = ALPHA *(nameChar)`, plus `$ref`.
fn check_name(name: &str, at: usize) -> Result<()> {
    let bare = name.strip_prefix('$').unwrap_or(name);
    let error = |message: String| {
        Err(FilterError {
            position: at,
            message,
        })
    };
    match bare.chars().next() {
        None => error(format!("expected an attribute name, found {}", quote(name))),
        Some(c) if !c.is_ascii_alphabetic() => error(format!(
            "attribute name {} must start with a letter",
            quote(name)
        )),
        Some(_) => match bare.char_indices().find(|&(_, c)| !is_name_char(c)) {
            Some((i, c)) => Err(FilterError {
                position: at + i + name.len() - bare.len(),
                message: format!(
                    "unexpected {} in attribute name {}",
                    quote(&c.to_string()),
                    quote(name)
                ),
            }),
            None => Ok(()),
        },
    }
}

/// Splits `[urn:]name[.sub]` (all ASCII, found at char `start`) into an [`AttrPath`].
/// The URN is everything up to the last ':'.
fn split_attr_path(word: &str, start: usize) -> Result<AttrPath> {
    let (urn, rest, rest_at) = match word.rfind(':') {
        Some(i) => (Some(&word[..i]), &word[i + 1..], start + i + 1),
        None => (None, word, start),
    };
    if urn == Some("") {
        return Err(FilterError {
            position: start,
            message: "expected a schema URN before \":\"".into(),
        });
    }
    let (name, sub) = match rest.split_once('.') {
        Some((name, sub)) => (name, Some(sub)),
        None => (rest, None),
    };
    check_name(name, rest_at)?;
    if let Some(sub) = sub {
        let sub_at = rest_at + name.len() + 1;
        if let Some(i) = sub.find('.') {
            return Err(FilterError {
                position: sub_at + i,
                message: format!(
                    "{} has more than one sub-attribute; at most one is allowed",
                    quote(word)
                ),
            });
        }
        check_name(sub, sub_at)?;
    }
    Ok(AttrPath {
        urn: urn.map(str::to_owned),
        name: name.to_owned(),
        sub: sub.map(str::to_owned),
    })
}

/// Parses a comparison operator keyword (any case).
fn compare_op(word: &str) -> Option<CompareOp> {
    let op = match word.to_ascii_lowercase().as_str() {
        "eq" => CompareOp::Eq,
        "ne" => CompareOp::Ne,
        "co" => CompareOp::Co,
        "sw" => CompareOp::Sw,
        "ew" => CompareOp::Ew,
        "gt" => CompareOp::Gt,
        "ge" => CompareOp::Ge,
        "lt" => CompareOp::Lt,
        "le" => CompareOp::Le,
        _ => return None,
    };
    Some(op)
}

/// The parser state: the input as chars, a cursor and the current nesting.
struct Parser {
    chars: Vec<char>,
    pos: usize,
    depth: usize,
    /// Position of the `[` of the value filter being parsed, if any.
    bracket: Option<usize>,
    /// "filter" or "path", for messages.
    what: &'static str,
}

impl Parser {
    fn new(input: &str, what: &'static str) -> Result<Self> {
        if input.len() > MAX_FILTER_LEN {
            let position = input
                .char_indices()
                .take_while(|&(b, _)| b < MAX_FILTER_LEN)
                .count();
            return Err(FilterError {
                position,
                message: format!(
                    "the {what} is {} bytes long; at most {MAX_FILTER_LEN} bytes are allowed",
                    input.len()
                ),
            });
        }
        Ok(Parser {
            chars: input.chars().collect(),
            pos: 0,
            depth: 0,
            bracket: None,
            what,
        })
    }

    fn error_at(&self, position: usize, message: impl Into<String>) -> FilterError {
        FilterError {
            position,
            message: message.into(),
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn at_end(&self) -> bool {
        self.pos >= self.chars.len()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    fn take_while(&mut self, pred: impl Fn(char) -> bool) -> String {
        let start = self.pos;
        while self.peek().is_some_and(&pred) {
            self.pos += 1;
        }
        self.chars[start..self.pos].iter().collect()
    }

    /// Describes what is at the cursor, for "expected X, found Y" messages.
    fn found(&self) -> String {
        match self.peek() {
            None => format!("the end of the {}", self.what),
            Some(c) if is_path_char(c) => {
                let word: String = self.chars[self.pos..]
                    .iter()
                    .take_while(|&&c| is_path_char(c))
                    .take(40)
                    .collect();
                quote(&word)
            }
            Some(c) => quote(&c.to_string()),
        }
    }

    /// Whether the input at the cursor (after whitespace) is the keyword `kw`, in any case,
    /// not followed by a name char.
    fn at_keyword(&mut self, kw: &str) -> bool {
        self.skip_ws();
        let mut end = self.pos;
        for k in kw.chars() {
            match self.chars.get(end) {
                Some(c) if c.eq_ignore_ascii_case(&k) => end += 1,
                _ => return false,
            }
        }
        !self.chars.get(end).is_some_and(|&c| is_path_char(c))
    }

    fn eat_keyword(&mut self, kw: &str) -> bool {
        let found = self.at_keyword(kw);
        if found {
            self.pos += kw.len();
        }
        found
    }

    fn expect_end(&mut self, expected: &str) -> Result<()> {
        self.skip_ws();
        if self.at_end() {
            return Ok(());
        }
        Err(self.error_at(
            self.pos,
            format!("expected {expected}, found {}", self.found()),
        ))
    }

    /// Enters one level of nesting opened at `at`.
    fn enter(&mut self, at: usize) -> Result<()> {
        self.depth += 1;
        if self.depth > MAX_FILTER_DEPTH {
            return Err(self.error_at(
                at,
                format!(
                    "the {} nests more than {MAX_FILTER_DEPTH} levels of parentheses, \"not\" and value filters; simplify it",
                    self.what
                ),
            ));
        }
        Ok(())
    }

    /// Rejects an expression nested deeper than [`MAX_FILTER_DEPTH`].
    fn bounded(&self, node: Node) -> Result<Node> {
        self.check_depth(node.depth, node.at)?;
        Ok(node)
    }

    fn check_depth(&self, depth: usize, at: usize) -> Result<()> {
        if depth <= MAX_FILTER_DEPTH {
            return Ok(());
        }
        Err(self.error_at(
            at,
            format!(
                "the {} nests \"and\", \"or\", \"not\" and value filters more than {MAX_FILTER_DEPTH} levels deep; simplify it",
                self.what
            ),
        ))
    }

    /// Expects `close` (after whitespace), which ends the group opened at `open`.
    fn close(&mut self, close: char, open: usize) -> Result<()> {
        self.skip_ws();
        if self.peek() == Some(close) {
            self.pos += 1;
            self.depth -= 1;
            return Ok(());
        }
        let opener = if close == ')' { '(' } else { '[' };
        Err(self.error_at(
            self.pos,
            format!(
                "expected \"and\", \"or\" or \"{close}\" to close the \"{opener}\" at position {open}, found {}",
                self.found()
            ),
        ))
    }

    /// `or_expr = and_expr *("or" and_expr)`
    fn or_expr(&mut self) -> Result<Node> {
        let first = self.and_expr()?;
        let mut rest = Vec::new();
        while self.eat_keyword("or") {
            rest.push(self.and_expr()?);
        }
        self.bounded(balance(first, rest, Filter::Or))
    }

    /// `and_expr = unary *("and" unary)`
    fn and_expr(&mut self) -> Result<Node> {
        let first = self.unary()?;
        let mut rest = Vec::new();
        while self.eat_keyword("and") {
            rest.push(self.unary()?);
        }
        self.bounded(balance(first, rest, Filter::And))
    }

    /// `unary = "not" "(" or_expr ")" / "(" or_expr ")" / attrExp / valuePath`
    fn unary(&mut self) -> Result<Node> {
        self.skip_ws();
        let at = self.pos;
        if self.peek() == Some('(') {
            self.enter(at)?;
            self.pos += 1;
            let inner = self.or_expr()?;
            self.close(')', at)?;
            return Ok(inner);
        }
        if self.eat_keyword("not") {
            self.skip_ws();
            if self.peek() != Some('(') {
                return Err(self.error_at(
                    self.pos,
                    format!("expected \"(\" after \"not\", found {}", self.found()),
                ));
            }
            let open = self.pos;
            self.enter(at)?;
            self.pos += 1;
            let inner = self.or_expr()?;
            self.close(')', open)?;
            return self.bounded(Node { at, ..inner }.wrap(Filter::Not));
        }
        if self.at_end()
            || self.at_keyword("and")
            || self.at_keyword("or")
            || !self.peek().is_some_and(is_path_char)
        {
            return Err(self.error_at(
                at,
                format!(
                    "expected an attribute path, \"not\" or \"(\", found {}",
                    self.found()
                ),
            ));
        }
        self.attr_expr()
    }

    /// `attrExp / valuePath`, and `valuePath "." subAttr (compareOp compValue / "pr")`,
    /// which clients send (`emails[type eq "work"].value eq "x"`) and which means
    /// `emails[type eq "work" and value eq "x"]`.
    fn attr_expr(&mut self) -> Result<Node> {
        let (path, path_at) = self.attr_path()?;
        self.skip_ws();
        if self.peek() != Some('[') {
            return Ok(Node::leaf(self.comparison(path)?, path_at));
        }
        let inner = self.value_filter(&path, path_at)?;
        let inner = match self.sub_after_bracket()? {
            Some(sub) => {
                let sub_path = AttrPath {
                    urn: None,
                    name: sub,
                    sub: None,
                };
                let compare = Node::leaf(self.comparison(sub_path)?, path_at);
                self.bounded(balance(inner, vec![compare], Filter::And))?
            }
            None => inner,
        };
        self.bounded(
            Node {
                at: path_at,
                ..inner
            }
            .wrap(|filter| Filter::ValuePath { path, filter }),
        )
    }

    /// `attrPath = [URI ":"] ATTRNAME *1subAttr`; returns the path and where it starts.
    fn attr_path(&mut self) -> Result<(AttrPath, usize)> {
        self.skip_ws();
        let start = self.pos;
        let word = self.take_while(is_path_char);
        if word.is_empty() {
            return Err(self.error_at(
                start,
                format!("expected an attribute name, found {}", self.found()),
            ));
        }
        Ok((split_attr_path(&word, start)?, start))
    }

    /// `"[" valFilter "]"` after `path` (which starts at `path_at`); the cursor is on `[`.
    fn value_filter(&mut self, path: &AttrPath, path_at: usize) -> Result<Node> {
        let open = self.pos;
        if let Some(outer) = self.bracket {
            return Err(self.error_at(
                open,
                format!("value filters cannot be nested (one is already open at position {outer})"),
            ));
        }
        if path.sub.is_some() {
            return Err(self.error_at(
                path_at,
                format!(
                    "a value filter \"[...]\" must follow an attribute, not the sub-attribute {}",
                    quote(&path.to_string())
                ),
            ));
        }
        self.enter(open)?;
        self.pos += 1;
        self.bracket = Some(open);
        let inner = self.or_expr()?;
        self.close(']', open)?;
        self.bracket = None;
        // The brackets count as a level (as they do in the printed form).
        self.check_depth(inner.depth + 1, path_at)?;
        Ok(inner)
    }

    /// The optional `.subAttr` right after a value filter's `]`.
    fn sub_after_bracket(&mut self) -> Result<Option<String>> {
        if self.peek() != Some('.') {
            return Ok(None);
        }
        self.pos += 1;
        let at = self.pos;
        let name = self.take_while(|c| is_name_char(c) || c == '$');
        if name.is_empty() {
            return Err(self.error_at(
                at,
                format!(
                    "expected a sub-attribute name after \"].\", found {}",
                    self.found()
                ),
            ));
        }
        check_name(&name, at)?;
        Ok(Some(name))
    }

    /// `path SP "pr" / path SP compareOp SP compValue`
    fn comparison(&mut self, path: AttrPath) -> Result<Filter> {
        self.skip_ws();
        let at = self.pos;
        let word = self.take_while(is_path_char);
        if word.eq_ignore_ascii_case("pr") {
            return Ok(Filter::Present(path));
        }
        let Some(op) = compare_op(&word) else {
            self.pos = at;
            return Err(self.error_at(
                at,
                format!(
                    "expected a comparison operator (eq, ne, co, sw, ew, gt, ge, lt, le, pr) after {}, found {}",
                    quote(&path.to_string()),
                    self.found()
                ),
            ));
        };
        let value = self.value(op)?;
        Ok(Filter::Compare { path, op, value })
    }

    /// `compValue = false / null / true / number / string`
    fn value(&mut self, op: CompareOp) -> Result<CompValue> {
        self.skip_ws();
        let at = self.pos;
        match self.peek() {
            Some('"') => self.string().map(CompValue::Str),
            Some(c) if c == '-' || c.is_ascii_digit() => self.number(),
            Some(c) if c.is_ascii_alphabetic() => {
                let word = self.take_while(is_path_char);
                match word.to_ascii_lowercase().as_str() {
                    "true" => Ok(CompValue::Bool(true)),
                    "false" => Ok(CompValue::Bool(false)),
                    "null" => Ok(CompValue::Null),
                    _ => Err(self.error_at(
                        at,
                        format!(
                            "expected a value after \"{}\" (a \"quoted string\", a number, true, false or null), found {}; strings must be in double quotes",
                            op.as_str(),
                            quote(&word)
                        ),
                    )),
                }
            }
            _ => Err(self.error_at(
                at,
                format!(
                    "expected a value after \"{}\" (a \"quoted string\", a number, true, false or null), found {}",
                    op.as_str(),
                    self.found()
                ),
            )),
        }
    }

    /// A JSON number: `-? int frac? exp?`.
    fn number(&mut self) -> Result<CompValue> {
        let at = self.pos;
        let text =
            self.take_while(|c| c.is_ascii_digit() || matches!(c, '-' | '+' | '.' | 'e' | 'E'));
        let exact = |n: serde_json::Number| {
            if n.is_f64() {
                // Rust's parser rounds correctly; serde_json's default one may be off by an ulp.
                text.parse::<f64>()
                    .ok()
                    .and_then(serde_json::Number::from_f64)
            } else {
                Some(n)
            }
        };
        match text.parse::<serde_json::Number>().ok().and_then(exact) {
            Some(n) => Ok(CompValue::Num(n)),
            None => Err(self.error_at(
                at,
                format!(
                    "invalid number {}; expected a JSON number such as 42, -1.5 or 2e3",
                    quote(&text)
                ),
            )),
        }
    }

    /// A JSON string literal; the cursor is on the opening quote.
    fn string(&mut self) -> Result<String> {
        let open = self.pos;
        self.pos += 1;
        let mut out = String::new();
        loop {
            let Some(c) = self.peek() else {
                return Err(self.error_at(open, "unterminated string: expected a closing '\"'"));
            };
            self.pos += 1;
            match c {
                '"' => return Ok(out),
                '\\' => out.push(self.escape(open)?),
                c => out.push(c),
            }
        }
    }

    /// One escape sequence; the cursor is just after the backslash.
    fn escape(&mut self, open: usize) -> Result<char> {
        let at = self.pos - 1;
        let Some(c) = self.peek() else {
            return Err(self.error_at(open, "unterminated string: expected a closing '\"'"));
        };
        self.pos += 1;
        let ch = match c {
            '"' => '"',
            '\\' => '\\',
            '/' => '/',
            'b' => '\u{8}',
            'f' => '\u{c}',
            'n' => '\n',
            'r' => '\r',
            't' => '\t',
            'u' => return self.unicode_escape(at),
            other => {
                return Err(self.error_at(
                    at,
                    format!(
                        "invalid escape \"\\{other}\" in string; valid escapes are \\\" \\\\ \\/ \\b \\f \\n \\r \\t and \\uXXXX"
                    ),
                ));
            }
        };
        Ok(ch)
    }

    /// `\uXXXX`, or a surrogate pair `\uD83D\uDE00`; `at` is the backslash.
    fn unicode_escape(&mut self, at: usize) -> Result<char> {
        let high = self.hex4(at)?;
        let code = if (0xD800..0xDC00).contains(&high) {
            if self.peek() != Some('\\') || self.chars.get(self.pos + 1) != Some(&'u') {
                return Err(self.error_at(
                    at,
                    "\\u escape of a high surrogate must be followed by a \\u low surrogate",
                ));
            }
            self.pos += 2;
            let low = self.hex4(at)?;
            if !(0xDC00..0xE000).contains(&low) {
                return Err(self.error_at(
                    at,
                    "\\u escape of a high surrogate must be followed by a \\u low surrogate",
                ));
            }
            0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)
        } else {
            high
        };
        char::from_u32(code).ok_or_else(|| {
            self.error_at(at, "\\u escape of a lone low surrogate is not a character")
        })
    }

    /// Four hex digits.
    fn hex4(&mut self, at: usize) -> Result<u32> {
        let mut code = 0;
        for _ in 0..4 {
            let digit = self.peek().and_then(|c| c.to_digit(16));
            let Some(d) = digit else {
                return Err(self.error_at(at, "\\u must be followed by four hex digits"));
            };
            code = code * 16 + d;
            self.pos += 1;
        }
        Ok(code)
    }
}
