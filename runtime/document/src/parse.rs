//! Text to [`Node`]: YAML (from `saphyr-parser` events) and JSON (a small strict parser of
//! our own), with 1-based positions on every node and map key, and caps on input size,
//! nesting depth and alias expansion so that hostile input cannot exhaust memory or stack.
//!
//! Why a JSON parser of our own: `saphyr-parser` reads most JSON, but rejects valid JSON
//! such as surrogate-pair escapes (`"\ud83d\ude00"`), and `serde_json` keeps no positions.
//! The JSON grammar is small, so [`json`] below implements RFC 8259 with positions.
use std::path::Path;

use crate::diag::{DiagKind, Diagnostic};
use crate::node::{Node, NodeValue, Pos};

/// Documents larger than this are refused before parsing.
pub const MAX_INPUT_BYTES: usize = 4 * 1024 * 1024;
/// Maps and lists nested deeper than this are refused.
pub const MAX_DEPTH: usize = 256;
/// At most this many values (map keys not counted, alias copies counted).
pub const MAX_NODES: usize = 100_000;

/// Parses `text` (`.json` files as JSON, anything else as YAML) into a tree with positions.
/// A syntax error becomes one diagnostic of kind `Syntax` at the error's position.
pub fn parse(file_name: &str, text: &str) -> Result<Node, Diagnostic> {
    if text.len() > MAX_INPUT_BYTES {
        let message = format!("the document is {} bytes long, more than the limit of 4 MiB ({MAX_INPUT_BYTES} bytes)", text.len());
        return Err(syntax_error(Pos::new(1, 1), message));
    }
    if is_json_name(file_name) { json::parse(text) } else { yaml::parse(text) }
}

fn is_json_name(file_name: &str) -> bool {
    Path::new(file_name).extension().is_some_and(|ext| ext.eq_ignore_ascii_case("json"))
}

fn syntax_error(pos: Pos, message: impl Into<String>) -> Diagnostic {
    Diagnostic::error(pos, "", message).with_kind(DiagKind::Syntax)
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Counts values against [`MAX_NODES`] and nesting against [`MAX_DEPTH`].
#[derive(Debug, Default)]
struct Budget {
    nodes: usize,
}

impl Budget {
    fn spend(&mut self, count: usize, pos: Pos) -> Result<(), Diagnostic> {
        self.nodes = self.nodes.saturating_add(count);
        if self.nodes > MAX_NODES {
            let message = format!("the document has more than {MAX_NODES} values (counting copies made by aliases); refusing to expand it");
            return Err(syntax_error(pos, message));
        }
        Ok(())
    }

    fn check_depth(depth: usize, pos: Pos) -> Result<(), Diagnostic> {
        if depth >= MAX_DEPTH {
            let message = format!("maps and lists are nested more than {MAX_DEPTH} levels deep");
            return Err(syntax_error(pos, message));
        }
        Ok(())
    }
}

/// Resolves a plain (unquoted) YAML scalar with the YAML 1.2 core schema.
fn resolve_plain(text: &str) -> NodeValue {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => NodeValue::Null,
        "true" | "True" | "TRUE" => NodeValue::Bool(true),
        "false" | "False" | "FALSE" => NodeValue::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => NodeValue::Float(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => NodeValue::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => NodeValue::Float(f64::NAN),
        _ => resolve_number(text).unwrap_or_else(|| NodeValue::String(text.to_owned())),
    }
}

fn resolve_number(text: &str) -> Option<NodeValue> {
    if let Some(hex) = text.strip_prefix("0x") {
        return radix_int(hex, 16);
    }
    if let Some(oct) = text.strip_prefix("0o") {
        return radix_int(oct, 8);
    }
    let unsigned = text.strip_prefix(['-', '+']).unwrap_or(text);
    if is_digits(unsigned) {
        // Too large for i64: keep the magnitude as a float rather than failing.
        return Some(text.parse().map_or_else(|_| float(text), NodeValue::Int));
    }
    is_core_float(unsigned).then(|| float(text))
}

fn radix_int(digits: &str, radix: u32) -> Option<NodeValue> {
    let valid = !digits.is_empty() && digits.chars().all(|c| c.is_digit(radix));
    valid.then(|| i64::from_str_radix(digits, radix).ok().map(NodeValue::Int)).flatten()
}

fn float(text: &str) -> NodeValue {
    text.parse().map_or_else(|_| NodeValue::String(text.to_owned()), NodeValue::Float)
}

fn is_digits(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}

/// `(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`, without the sign.
fn is_core_float(text: &str) -> bool {
    let (mantissa, exponent) = match text.find(['e', 'E']) {
        Some(at) => (&text[..at], Some(&text[at + 1..])),
        None => (text, None),
    };
    let mantissa_ok = match mantissa.split_once('.') {
        Some(("", frac)) => is_digits(frac),
        Some((int, frac)) => is_digits(int) && frac.bytes().all(|b| b.is_ascii_digit()),
        None => is_digits(mantissa),
    };
    mantissa_ok && exponent.is_none_or(|e| is_digits(e.strip_prefix(['-', '+']).unwrap_or(e)))
}

/// The text of a scalar used as a map key.
fn key_text(node: &Node) -> Option<String> {
    match &node.value {
        NodeValue::Null => Some(String::new()),
        NodeValue::Bool(b) => Some(b.to_string()),
        NodeValue::Int(i) => Some(i.to_string()),
        NodeValue::Float(f) => Some(f.to_string()),
        NodeValue::String(s) => Some(s.clone()),
        NodeValue::Seq(_) | NodeValue::Map(_) => None,
    }
}

/// YAML: builds the tree from `saphyr-parser` events with an explicit stack (no recursion).
mod yaml {
    use std::collections::HashMap;

    use saphyr_parser::{Event, Marker, Parser, ScalarStyle, ScanError, Span, Tag};

    use super::{Budget, key_text, resolve_plain, syntax_error, to_u32};
    use crate::diag::Diagnostic;
    use crate::node::{Key, Node, NodeValue, Pos};

    pub(super) fn parse(text: &str) -> Result<Node, Diagnostic> {
        let mut builder = Builder::default();
        for event in Parser::new_from_str(text) {
            let (event, span) = event.map_err(|e| scan_error(&e))?;
            builder.on_event(event, span)?;
        }
        Ok(builder.root.unwrap_or_else(|| Node::new(NodeValue::Null, Pos::new(1, 1))))
    }

    fn pos(marker: &Marker) -> Pos {
        Pos::new(to_u32(marker.line().max(1)), to_u32(marker.col().saturating_add(1)))
    }

    fn scan_error(error: &ScanError) -> Diagnostic {
        syntax_error(pos(error.marker()), format!("invalid YAML: {}", error.info()))
    }

    /// A map or list being read.
    #[derive(Debug)]
    struct Frame {
        pos: Pos,
        anchor: usize,
        /// Values in this subtree so far, the frame itself included.
        size: usize,
        items: Items,
    }

    #[derive(Debug)]
    enum Items {
        Seq(Vec<Node>),
        Map(Vec<(Key, Node)>, Option<Key>),
    }

    #[derive(Debug, Default)]
    struct Builder {
        stack: Vec<Frame>,
        /// Completed anchored values by anchor id, with their sizes.
        anchors: HashMap<usize, (Node, usize)>,
        budget: Budget,
        documents: usize,
        root: Option<Node>,
    }

    impl Builder {
        fn on_event(&mut self, event: Event<'_>, span: Span) -> Result<(), Diagnostic> {
            let at = pos(&span.start);
            match event {
                Event::DocumentStart(_) => self.start_document(at),
                Event::Scalar(text, style, anchor, tag) => {
                    self.budget.spend(1, at)?;
                    let value = if is_string(style, tag.as_deref()) { NodeValue::String(text.to_string()) } else { resolve_plain(&text) };
                    self.complete(Node::new(value, at), 1, anchor, Some(&text))
                }
                Event::Alias(id) => self.alias(id, at),
                Event::SequenceStart(anchor, _) => self.open(at, anchor, Items::Seq(Vec::new())),
                Event::MappingStart(anchor, _) => self.open(at, anchor, Items::Map(Vec::new(), None)),
                Event::SequenceEnd | Event::MappingEnd => self.close(),
                Event::Nothing | Event::StreamStart | Event::StreamEnd | Event::DocumentEnd => Ok(()),
            }
        }

        fn start_document(&mut self, at: Pos) -> Result<(), Diagnostic> {
            self.documents += 1;
            if self.documents > 1 {
                return Err(syntax_error(at, "expected one document, found a second one (a line `---` starts another YAML document)"));
            }
            Ok(())
        }

        fn open(&mut self, at: Pos, anchor: usize, items: Items) -> Result<(), Diagnostic> {
            Budget::check_depth(self.stack.len(), at)?;
            self.budget.spend(1, at)?;
            self.stack.push(Frame { pos: at, anchor, size: 1, items });
            Ok(())
        }

        fn close(&mut self) -> Result<(), Diagnostic> {
            let Some(frame) = self.stack.pop() else {
                return Ok(());
            };
            let value = match frame.items {
                Items::Seq(items) => NodeValue::Seq(items),
                Items::Map(entries, _) => NodeValue::Map(entries),
            };
            self.complete(Node::new(value, frame.pos), frame.size, frame.anchor, None)
        }

        fn alias(&mut self, id: usize, at: Pos) -> Result<(), Diagnostic> {
            let Some((node, size)) = self.anchors.get(&id) else {
                return Err(syntax_error(at, "alias to an anchor that is not complete (an alias inside its own anchor)"));
            };
            let size = *size;
            self.budget.spend(size, at)?;
            let mut copy = node.clone();
            copy.pos = at;
            self.complete(copy, size, 0, None)
        }

        /// Records a finished value: under its anchor, then in its parent (or as the root).
        fn complete(&mut self, node: Node, size: usize, anchor: usize, raw: Option<&str>) -> Result<(), Diagnostic> {
            if anchor != 0 {
                self.anchors.insert(anchor, (node.clone(), size));
            }
            let Some(parent) = self.stack.last_mut() else {
                self.root = Some(node);
                return Ok(());
            };
            parent.size = parent.size.saturating_add(size);
            match &mut parent.items {
                Items::Seq(items) => items.push(node),
                Items::Map(entries, pending) => match pending.take() {
                    Some(key) => entries.push((key, node)),
                    None => *pending = Some(map_key(&node, raw)?),
                },
            }
            Ok(())
        }
    }

    /// Quoted and block scalars, and plain ones tagged `!!str`, are strings.
    fn is_string(style: ScalarStyle, tag: Option<&Tag>) -> bool {
        style != ScalarStyle::Plain || tag.is_some_and(|t| t.is_yaml_core_schema() && t.suffix == "str")
    }

    fn map_key(node: &Node, raw: Option<&str>) -> Result<Key, Diagnostic> {
        let name = match raw {
            Some(text) => Some(text.to_owned()),
            None => key_text(node),
        };
        match name {
            Some(name) => Ok(Key { name, pos: node.pos }),
            None => Err(syntax_error(node.pos, format!("a map key must be a scalar, found {}", node.kind_name()))),
        }
    }
}

/// JSON (RFC 8259) with positions. Lenient in one way only: a raw tab inside a string is
/// accepted, as many hand-written SSM documents contain one.
mod json {
    use super::{Budget, syntax_error};
    use crate::diag::Diagnostic;
    use crate::node::{Key, Node, NodeValue, Pos};

    pub(super) fn parse(text: &str) -> Result<Node, Diagnostic> {
        let mut reader = Reader { text, at: 0, line: 1, col: 1, budget: Budget::default() };
        if text.starts_with('\u{feff}') {
            reader.at = '\u{feff}'.len_utf8();
        }
        reader.skip_space();
        let node = reader.value(0)?;
        reader.skip_space();
        match reader.peek() {
            None => Ok(node),
            Some(c) => Err(reader.error(format!("unexpected {} after the end of the JSON value", describe(c)))),
        }
    }

    fn describe(c: char) -> String {
        format!("character {c:?}")
    }

    struct Reader<'a> {
        text: &'a str,
        /// Byte offset of the next character.
        at: usize,
        line: u32,
        col: u32,
        budget: Budget,
    }

    impl Reader<'_> {
        fn pos(&self) -> Pos {
            Pos::new(self.line, self.col)
        }

        fn error(&self, message: impl std::fmt::Display) -> Diagnostic {
            syntax_error(self.pos(), format!("invalid JSON: {message}"))
        }

        fn peek(&self) -> Option<char> {
            self.text[self.at..].chars().next()
        }

        fn bump(&mut self) -> Option<char> {
            let c = self.peek()?;
            self.at += c.len_utf8();
            if c == '\n' {
                self.line = self.line.saturating_add(1);
                self.col = 1;
            } else {
                self.col = self.col.saturating_add(1);
            }
            Some(c)
        }

        fn skip_space(&mut self) {
            while matches!(self.peek(), Some(' ' | '\t' | '\n' | '\r')) {
                self.bump();
            }
        }

        fn expect(&mut self, wanted: char, context: &str) -> Result<(), Diagnostic> {
            match self.peek() {
                Some(c) if c == wanted => {
                    self.bump();
                    Ok(())
                }
                Some(c) => Err(self.error(format!("expected {wanted:?} {context}, found {}", describe(c)))),
                None => Err(self.error(format!("expected {wanted:?} {context}, found the end of the text"))),
            }
        }

        fn value(&mut self, depth: usize) -> Result<Node, Diagnostic> {
            let start = self.pos();
            self.budget.spend(1, start)?;
            let value = match self.peek() {
                Some('{') => self.object(depth)?,
                Some('[') => self.array(depth)?,
                Some('"') => NodeValue::String(self.string()?),
                Some('-' | '0'..='9') => self.number()?,
                Some('t') => self.literal("true", NodeValue::Bool(true))?,
                Some('f') => self.literal("false", NodeValue::Bool(false))?,
                Some('n') => self.literal("null", NodeValue::Null)?,
                Some(c) => {
                    return Err(self.error(format!("expected a value, found {}", describe(c))));
                }
                None => return Err(self.error("expected a value, found the end of the text")),
            };
            Ok(Node::new(value, start))
        }

        fn literal(&mut self, word: &str, value: NodeValue) -> Result<NodeValue, Diagnostic> {
            if !self.text[self.at..].starts_with(word) {
                return Err(self.error(format!("expected a value such as {word:?}")));
            }
            for _ in 0..word.len() {
                self.bump();
            }
            Ok(value)
        }

        fn object(&mut self, depth: usize) -> Result<NodeValue, Diagnostic> {
            Budget::check_depth(depth, self.pos())?;
            self.bump();
            self.skip_space();
            let mut entries = Vec::new();
            if self.peek() == Some('}') {
                self.bump();
                return Ok(NodeValue::Map(entries));
            }
            loop {
                let key_pos = self.pos();
                if self.peek() != Some('"') {
                    return Err(self.error("expected a key in double quotes"));
                }
                let key = Key { name: self.string()?, pos: key_pos };
                self.skip_space();
                self.expect(':', "after a key")?;
                self.skip_space();
                entries.push((key, self.value(depth + 1)?));
                if self.separator('}', "after a value in an object")? {
                    return Ok(NodeValue::Map(entries));
                }
            }
        }

        fn array(&mut self, depth: usize) -> Result<NodeValue, Diagnostic> {
            Budget::check_depth(depth, self.pos())?;
            self.bump();
            self.skip_space();
            let mut items = Vec::new();
            if self.peek() == Some(']') {
                self.bump();
                return Ok(NodeValue::Seq(items));
            }
            loop {
                items.push(self.value(depth + 1)?);
                if self.separator(']', "after a value in a list")? {
                    return Ok(NodeValue::Seq(items));
                }
            }
        }

        /// After a member: `,` (more follow: false) or the closing bracket (done: true).
        fn separator(&mut self, close: char, context: &str) -> Result<bool, Diagnostic> {
            self.skip_space();
            match self.peek() {
                Some(',') => {
                    self.bump();
                    self.skip_space();
                    Ok(false)
                }
                Some(c) if c == close => {
                    self.bump();
                    Ok(true)
                }
                Some(c) => Err(self.error(format!("expected ',' or {close:?} {context}, found {}", describe(c)))),
                None => Err(self.error(format!("expected ',' or {close:?} {context}, found the end of the text"))),
            }
        }

        fn string(&mut self) -> Result<String, Diagnostic> {
            self.bump();
            let mut out = String::new();
            loop {
                match self.peek() {
                    None => return Err(self.error("unterminated string")),
                    Some('"') => {
                        self.bump();
                        return Ok(out);
                    }
                    Some('\\') => out.push(self.escape()?),
                    Some(c) if c < ' ' && c != '\t' => {
                        return Err(self.error(format!("control character {c:?} inside a string (write it as an escape such as \\n)")));
                    }
                    Some(c) => {
                        self.bump();
                        out.push(c);
                    }
                }
            }
        }

        fn escape(&mut self) -> Result<char, Diagnostic> {
            self.bump();
            let Some(c) = self.bump() else {
                return Err(self.error("unterminated string"));
            };
            Ok(match c {
                '"' => '"',
                '\\' => '\\',
                '/' => '/',
                'b' => '\u{8}',
                'f' => '\u{c}',
                'n' => '\n',
                'r' => '\r',
                't' => '\t',
                'u' => return self.unicode_escape(),
                other => return Err(self.error(format!("unknown escape \\{other} in a string"))),
            })
        }

        /// After `\u`: four hex digits, and a low surrogate's `\uXXXX` after a high one.
        fn unicode_escape(&mut self) -> Result<char, Diagnostic> {
            let first = self.hex4()?;
            if !(0xD800..0xDC00).contains(&first) {
                return char::from_u32(first).ok_or_else(|| self.error("\\u escape of a lone low surrogate"));
            }
            if !self.text[self.at..].starts_with("\\u") {
                return Err(self.error("\\u escape of a high surrogate without its low surrogate"));
            }
            self.bump();
            self.bump();
            let second = self.hex4()?;
            if !(0xDC00..0xE000).contains(&second) {
                return Err(self.error("\\u escape of a high surrogate without its low surrogate"));
            }
            let code = 0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00);
            char::from_u32(code).ok_or_else(|| self.error("invalid \\u escape"))
        }

        fn hex4(&mut self) -> Result<u32, Diagnostic> {
            let digits = self.text.get(self.at..self.at + 4).filter(|d| d.bytes().all(|b| b.is_ascii_hexdigit()));
            let Some(code) = digits.and_then(|d| u32::from_str_radix(d, 16).ok()) else {
                return Err(self.error("expected four hex digits after \\u"));
            };
            for _ in 0..4 {
                self.bump();
            }
            Ok(code)
        }

        /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?`: an Int when it is integral and fits.
        fn number(&mut self) -> Result<NodeValue, Diagnostic> {
            let start = self.at;
            self.eat('-');
            let int_start = self.at;
            if !self.digits() {
                return Err(self.error("expected a digit in a number"));
            }
            if self.text[int_start..self.at].len() > 1 && self.text[int_start..].starts_with('0') {
                return Err(self.error("numbers must not have leading zeros"));
            }
            let mut integral = true;
            if self.eat('.') {
                integral = false;
                if !self.digits() {
                    return Err(self.error("expected a digit after the decimal point"));
                }
            }
            if self.eat('e') || self.eat('E') {
                integral = false;
                let _ = self.eat('+') || self.eat('-');
                if !self.digits() {
                    return Err(self.error("expected a digit in the exponent"));
                }
            }
            let text = &self.text[start..self.at];
            let int = if integral { text.parse().ok().map(NodeValue::Int) } else { None };
            let float = || text.parse().map(NodeValue::Float).map_err(|_| self.error("invalid number"));
            int.map_or_else(float, Ok)
        }

        fn eat(&mut self, wanted: char) -> bool {
            let found = self.peek() == Some(wanted);
            if found {
                self.bump();
            }
            found
        }

        /// Reads `[0-9]*`; true when at least one digit was read.
        fn digits(&mut self) -> bool {
            let start = self.at;
            while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                self.bump();
            }
            self.at > start
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml(text: &str) -> Node {
        parse("doc.yaml", text).expect("parses")
    }

    fn json(text: &str) -> Node {
        parse("doc.json", text).expect("parses")
    }

    fn err(name: &str, text: &str) -> (Pos, String) {
        let d = parse(name, text).expect_err("fails");
        assert_eq!(d.kind, DiagKind::Syntax);
        (d.pos, d.message)
    }

    /// Follows `a.b[2].c` from the root.
    fn at<'a>(node: &'a Node, path: &str) -> &'a Node {
        path.split('.').fold(node, |n, part| {
            let (key, index) = match part.split_once('[') {
                Some((k, i)) => (k, Some(i.trim_end_matches(']').parse::<usize>().expect("index"))),
                None => (part, None),
            };
            let n = if key.is_empty() { n } else { n.get(key).unwrap_or_else(|| panic!("no {key} in {path}")) };
            index.map_or(n, |i| &n.as_seq().expect("a list")[i])
        })
    }

    fn key_pos(node: &Node, key: &str) -> Pos {
        node.entry(key).expect("key").0.pos
    }

    #[test]
    fn yaml_block_positions() {
        let root = yaml("schemaVersion: \"0.3\"\nmainSteps:\n  - name: a\n    action: aws:sleep\n");
        assert_eq!(root.pos, Pos::new(1, 1));
        assert_eq!(key_pos(&root, "schemaVersion"), Pos::new(1, 1));
        assert_eq!(at(&root, "schemaVersion").pos, Pos::new(1, 16));
        assert_eq!(key_pos(&root, "mainSteps"), Pos::new(2, 1));
        assert_eq!(at(&root, "mainSteps").pos, Pos::new(3, 3));
        let step = at(&root, "mainSteps[0]");
        assert_eq!(step.pos, Pos::new(3, 5));
        assert_eq!(key_pos(step, "name"), Pos::new(3, 5));
        assert_eq!(at(step, "name").pos, Pos::new(3, 11));
        assert_eq!(key_pos(step, "action"), Pos::new(4, 5));
        assert_eq!(at(step, "action"), &Node::new(NodeValue::String("aws:sleep".into()), Pos::new(4, 13)));
    }

    #[test]
    fn yaml_flow_positions() {
        let root = yaml("a: [1, {b: \"x\"}]\n");
        assert_eq!(at(&root, "a").pos, Pos::new(1, 4));
        assert_eq!(at(&root, "a[0]"), &Node::new(NodeValue::Int(1), Pos::new(1, 5)));
        let inner = at(&root, "a[1]");
        assert_eq!(inner.pos, Pos::new(1, 8));
        assert_eq!(key_pos(inner, "b"), Pos::new(1, 9));
        assert_eq!(at(inner, "b"), &Node::new(NodeValue::String("x".into()), Pos::new(1, 12)));
    }

    #[test]
    fn json_positions_with_tabs() {
        let root = json("{\n\t\"a\": [1, \"x\"],\n  \"b\": {\"c\": null}\n}");
        assert_eq!(root.pos, Pos::new(1, 1));
        assert_eq!(key_pos(&root, "a"), Pos::new(2, 2));
        assert_eq!(at(&root, "a").pos, Pos::new(2, 7));
        assert_eq!(at(&root, "a[0]"), &Node::new(NodeValue::Int(1), Pos::new(2, 8)));
        assert_eq!(at(&root, "a[1]"), &Node::new(NodeValue::String("x".into()), Pos::new(2, 11)));
        assert_eq!(key_pos(&root, "b"), Pos::new(3, 3));
        let b = at(&root, "b");
        assert_eq!(b.pos, Pos::new(3, 8));
        assert_eq!(key_pos(b, "c"), Pos::new(3, 9));
        assert_eq!(at(b, "c"), &Node::new(NodeValue::Null, Pos::new(3, 14)));
    }

    #[test]
    fn json_columns_count_characters_not_bytes() {
        let root = json("{\"é\": \"ü\", \"k\": 1}");
        assert_eq!(key_pos(&root, "k"), Pos::new(1, 12));
    }

    #[test]
    fn plain_yaml_scalars_follow_the_core_schema() {
        use NodeValue::*;
        let cases: &[(&str, NodeValue)] = &[
            ("~", Null),
            ("null", Null),
            ("NULL", Null),
            ("", Null),
            ("true", Bool(true)),
            ("True", Bool(true)),
            ("FALSE", Bool(false)),
            ("yes", String("yes".into())),
            ("on", String("on".into())),
            ("12", Int(12)),
            ("-3", Int(-3)),
            ("+4", Int(4)),
            ("0x1F", Int(31)),
            ("0o17", Int(15)),
            ("0x", String("0x".into())),
            ("0x+1", String("0x+1".into())),
            ("1.5", Float(1.5)),
            ("0.3", Float(0.3)),
            ("1e3", Float(1000.0)),
            (".5", Float(0.5)),
            ("-.inf", Float(f64::NEG_INFINITY)),
            ("1_000", String("1_000".into())),
            ("99999999999999999999", Float(1e20)),
            ("1.2.3", String("1.2.3".into())),
            ("aws:sleep", String("aws:sleep".into())),
        ];
        for (text, want) in cases {
            let root = yaml(&format!("v: {text}\n"));
            assert_eq!(&at(&root, "v").value, want, "plain scalar {text:?}");
        }
        let nan = yaml("v: .nan\n");
        assert!(matches!(at(&nan, "v").value, Float(f) if f.is_nan()));
    }

    #[test]
    fn quoted_block_and_str_tagged_scalars_are_strings() {
        let root = yaml("a: '12'\nb: \"true\"\nc: |\n  null\nd: !!str 5\ne: !custom 5\n");
        assert_eq!(at(&root, "a").value, NodeValue::String("12".into()));
        assert_eq!(at(&root, "b").value, NodeValue::String("true".into()));
        assert_eq!(at(&root, "c").value, NodeValue::String("null\n".into()));
        assert_eq!(at(&root, "d").value, NodeValue::String("5".into()));
        assert_eq!(at(&root, "e").value, NodeValue::Int(5));
    }

    #[test]
    fn non_string_yaml_keys_keep_their_text() {
        let root = yaml("1.0: a\ntrue: b\n");
        let names: Vec<&str> = root.as_map().expect("map").iter().map(|(k, _)| k.name.as_str()).collect();
        assert_eq!(names, ["1.0", "true"]);
    }

    #[test]
    fn json_scalars() {
        let root = json(r#"{"i": 12, "f": 1.5, "e": 1e2, "b": false, "n": null, "s": "12", "big": 99999999999999999999}"#);
        assert_eq!(at(&root, "i").value, NodeValue::Int(12));
        assert_eq!(at(&root, "f").value, NodeValue::Float(1.5));
        assert_eq!(at(&root, "e").value, NodeValue::Float(100.0));
        assert_eq!(at(&root, "b").value, NodeValue::Bool(false));
        assert_eq!(at(&root, "n").value, NodeValue::Null);
        assert_eq!(at(&root, "s").value, NodeValue::String("12".into()));
        assert_eq!(at(&root, "big").value, NodeValue::Float(1e20));
    }

    #[test]
    fn json_escapes_including_surrogate_pairs() {
        let root = json(r#"{"s": "a\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00", "tab": "x	y"}"#);
        assert_eq!(at(&root, "s").as_str(), Some("a\"\\/\u{8}\u{c}\n\r\té😀"));
        assert_eq!(at(&root, "tab").as_str(), Some("x\ty"));
    }

    #[test]
    fn json_syntax_errors_have_positions() {
        let cases: &[(&str, Pos, &str)] = &[
            ("{\"a\": 1,}", Pos::new(1, 9), "invalid JSON: expected a key in double quotes"),
            ("{\"a\" 1}", Pos::new(1, 6), "invalid JSON: expected ':' after a key, found character '1'"),
            ("[1 2]", Pos::new(1, 4), "invalid JSON: expected ',' or ']' after a value in a list, found character '2'"),
            ("{\"a\": \"x", Pos::new(1, 9), "invalid JSON: unterminated string"),
            ("{}\n x", Pos::new(2, 2), "invalid JSON: unexpected character 'x' after the end of the JSON value"),
            ("[01]", Pos::new(1, 4), "invalid JSON: numbers must not have leading zeros"),
            ("[\"\\ud83d\"]", Pos::new(1, 9), "invalid JSON: \\u escape of a high surrogate without its low surrogate"),
            ("[\"a\nb\"]", Pos::new(1, 4), "invalid JSON: control character '\\n' inside a string (write it as an escape such as \\n)"),
            ("", Pos::new(1, 1), "invalid JSON: expected a value, found the end of the text"),
            ("[tru]", Pos::new(1, 2), "invalid JSON: expected a value such as \"true\""),
        ];
        for (text, pos, message) in cases {
            assert_eq!(err("doc.json", text), (*pos, message.to_string()), "for {text:?}");
        }
    }

    #[test]
    fn yaml_syntax_error_has_position() {
        let (pos, message) = err("doc.yaml", "a: [1,\n b: 2\n");
        assert_eq!(pos, Pos::new(3, 1));
        assert_eq!(message, "invalid YAML: while parsing a flow mapping, did not find expected ',' or '}'");
    }

    #[test]
    fn multi_document_stream_is_refused() {
        let (pos, message) = err("doc.yaml", "a: 1\n---\nb: 2\n");
        assert_eq!(pos, Pos::new(2, 1));
        assert!(message.starts_with("expected one document, found a second one"), "{message}");
        // One document with an explicit start is fine.
        assert_eq!(at(&yaml("---\na: 1\n"), "a").value, NodeValue::Int(1));
    }

    #[test]
    fn empty_yaml_is_null() {
        assert_eq!(yaml("# nothing\n"), Node::new(NodeValue::Null, Pos::new(1, 1)));
    }

    #[test]
    fn complex_yaml_keys_are_refused() {
        let (pos, message) = err("doc.yaml", "? [a]\n: b\n");
        assert_eq!((pos, message.as_str()), (Pos::new(1, 3), "a map key must be a scalar, found a list"));
    }

    #[test]
    fn depth_is_capped() {
        let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        let message = "maps and lists are nested more than 256 levels deep".to_string();
        assert_eq!(err("doc.json", &deep(300)), (Pos::new(1, 257), message.clone()));
        json(&deep(MAX_DEPTH));
        // Block lists: `- - - x`, one level per `- `.
        let block = |n: usize| format!("{}x\n", "- ".repeat(n));
        assert_eq!(err("doc.yaml", &block(300)), (Pos::new(1, 513), message));
        yaml(&block(MAX_DEPTH));
        // saphyr's scanner caps flow nesting at 255 levels by itself.
        let (pos, flow) = err("doc.yaml", &deep(300));
        assert_eq!((pos, flow.as_str()), (Pos::new(1, 256), "invalid YAML: recursion limit exceeded"));
    }

    #[test]
    fn size_is_capped() {
        let text = format!("a: \"{}\"", "x".repeat(MAX_INPUT_BYTES));
        let (pos, message) = err("doc.yaml", &text);
        assert_eq!(pos, Pos::new(1, 1));
        assert_eq!(message, format!("the document is {} bytes long, more than the limit of 4 MiB (4194304 bytes)", text.len()));
    }

    #[test]
    fn aliases_copy_the_anchored_value_at_the_alias_position() {
        let root = yaml("a: &x {k: v}\nb: *x\n");
        let b = at(&root, "b");
        assert_eq!(b.pos, Pos::new(2, 4));
        assert_eq!(at(b, "k").as_str(), Some("v"));
        assert_eq!(at(b, "k").pos, Pos::new(1, 11));
        // An alias as a key uses the anchored scalar's text.
        let keys = yaml("k: &n name\n*n : v\n");
        assert_eq!(at(&keys, "name").as_str(), Some("v"));
    }

    #[test]
    fn an_alias_inside_its_own_anchor_is_refused() {
        let (pos, message) = err("doc.yaml", "a: &x [1, *x]\n");
        assert_eq!(pos, Pos::new(1, 11));
        assert_eq!(message, "alias to an anchor that is not complete (an alias inside its own anchor)");
    }

    #[test]
    fn alias_expansion_is_capped() {
        let mut text = String::from("l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let prev = format!("*l{}", i - 1);
            text.push_str(&format!("l{i}: &l{i} [{}]\n", vec![prev; 10].join(", ")));
        }
        let (pos, message) = err("doc.yaml", &text);
        assert_eq!(pos.line, 5);
        assert_eq!(message, "the document has more than 100000 values (counting copies made by aliases); refusing to expand it");
    }

    #[test]
    fn node_count_is_capped_for_json() {
        let text = format!("[{}]", vec!["1"; MAX_NODES + 1].join(","));
        let (_, message) = err("doc.json", &text);
        assert!(message.starts_with("the document has more than 100000 values"), "{message}");
    }

    #[test]
    fn json_file_names_pick_the_json_parser() {
        assert!(is_json_name("a/b.JSON"));
        assert!(!is_json_name("b.yaml"));
        assert!(!is_json_name("json"));
        // Surrogate pairs are valid JSON but not valid YAML escapes.
        assert!(parse("doc.json", r#"["\ud83d\ude00"]"#).is_ok());
    }
}

/// Property tests: `load` never panics, on any text and on SSM-shaped YAML/JSON.
#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use crate::actions::StructureOnly;

    const KEYS: &[&str] = &[
        "schemaVersion",
        "mainSteps",
        "parameters",
        "outputs",
        "assumeRole",
        "description",
        "name",
        "action",
        "inputs",
        "nextStep",
        "isEnd",
        "isCritical",
        "onFailure",
        "onCancel",
        "maxAttempts",
        "timeoutSeconds",
        "type",
        "default",
        "allowedValues",
        "Choices",
        "NextStep",
        "Default",
        "Variable",
        "StringEquals",
        "NumericGreater",
        "Not",
        "And",
        "Or",
        "Duration",
        "Timestamp",
        "Approvers",
        "DocumentName",
        "Name",
        "Selector",
        "Type",
        "precondition",
        "runCommand",
    ];

    const SCALARS: &[&str] = &[
        "0.3",
        "2.2",
        "1.2",
        "aws:branch",
        "aws:sleep",
        "aws:pause",
        "aws:approve",
        "aws:executeAwsApi",
        "aws:runShellScript",
        "bosun:echo",
        "plugin:x@1",
        "aws:nope",
        "Abort",
        "Continue",
        "step:a",
        "step:",
        "a",
        "b",
        "String",
        "StringList",
        "Integer",
        "AWS::EC2::Instance::Id",
        "{{ a }}",
        "{{ a.b }}",
        "{{ P }}",
        "{{ global:REGION }}",
        "{{",
        "}}",
        "PT1S",
        "PT",
        "2026-01-01T00:00:00Z",
        "$.x",
        "$[",
        "1",
        "-1",
        "0",
        "1.5",
        "true",
        "null",
        "",
        "exit",
        "&x a",
        "*x",
        "é",
        "\t",
    ];

    #[derive(Debug, Clone)]
    enum Tree {
        Scalar(String),
        Seq(Vec<Tree>),
        Map(Vec<(String, Tree)>),
    }

    fn scalar() -> impl Strategy<Value = Tree> {
        prop_oneof![
            4 => prop::sample::select(SCALARS).prop_map(|s| Tree::Scalar(s.to_owned())),
            1 => "[a-zA-Z0-9 :{}.$-]{0,12}".prop_map(Tree::Scalar),
        ]
    }

    fn tree() -> impl Strategy<Value = Tree> {
        scalar().prop_recursive(5, 64, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..5).prop_map(Tree::Seq),
                prop::collection::vec((prop::sample::select(KEYS).prop_map(str::to_owned), inner), 0..6).prop_map(Tree::Map),
            ]
        })
    }

    /// A document-shaped tree: a schemaVersion and steps, plus random fields.
    fn document() -> impl Strategy<Value = Tree> {
        let step = prop::collection::vec((prop::sample::select(KEYS).prop_map(str::to_owned), tree()), 0..6);
        let version = prop::sample::select(&["0.3", "2.2", "1.2"][..]);
        (version, prop::collection::vec(step, 0..5), prop::collection::vec((prop::sample::select(KEYS), tree()), 0..3)).prop_map(
            |(version, steps, extra)| {
                let mut entries = vec![
                    ("schemaVersion".to_owned(), Tree::Scalar(version.to_owned())),
                    ("mainSteps".to_owned(), Tree::Seq(steps.into_iter().map(Tree::Map).collect())),
                ];
                entries.extend(extra.into_iter().map(|(k, v)| (k.to_owned(), v)));
                Tree::Map(entries)
            },
        )
    }

    fn json(tree: &Tree, out: &mut String) {
        match tree {
            Tree::Scalar(s) => match serde_json::from_str::<serde_json::Value>(s) {
                Ok(v) if !v.is_object() && !v.is_array() => out.push_str(s),
                _ => out.push_str(&serde_json::Value::String(s.clone()).to_string()),
            },
            Tree::Seq(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    out.push_str(if i == 0 { "" } else { ",\t" });
                    json(item, out);
                }
                out.push(']');
            }
            Tree::Map(entries) => {
                out.push_str("{\n");
                for (i, (k, v)) in entries.iter().enumerate() {
                    out.push_str(if i == 0 { "" } else { ",\n" });
                    out.push_str(&format!("{k:?}: "));
                    json(v, out);
                }
                out.push_str("\n}");
            }
        }
    }

    fn yaml_scalar(s: &str) -> String {
        let plain = s.chars().all(|c| c.is_ascii_alphanumeric() || ":._$-".contains(c));
        if plain || s.starts_with(['&', '*']) { s.to_owned() } else { format!("{s:?}") }
    }

    /// Block style, with flow style for every other nesting level.
    fn yaml(tree: &Tree, indent: usize, flow: bool, out: &mut String) {
        let pad = " ".repeat(indent);
        match tree {
            Tree::Scalar(s) => out.push_str(&yaml_scalar(s)),
            Tree::Seq(items) if flow || items.is_empty() => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    out.push_str(if i == 0 { "" } else { ", " });
                    yaml(item, indent, true, out);
                }
                out.push(']');
            }
            Tree::Map(entries) if flow || entries.is_empty() => {
                out.push('{');
                for (i, (k, v)) in entries.iter().enumerate() {
                    out.push_str(if i == 0 { "" } else { ", " });
                    out.push_str(&format!("{k}: "));
                    yaml(v, indent, true, out);
                }
                out.push('}');
            }
            Tree::Seq(items) => {
                for item in items {
                    out.push_str(&format!("\n{pad}- "));
                    yaml(item, indent + 2, indent % 4 == 2, out);
                }
            }
            Tree::Map(entries) => {
                for (k, v) in entries {
                    out.push_str(&format!("\n{pad}{k}: "));
                    yaml(v, indent + 2, indent % 4 == 2, out);
                }
            }
        }
    }

    fn render(tree: &Tree, as_json: bool) -> String {
        let mut out = String::new();
        if as_json {
            json(tree, &mut out)
        } else {
            yaml(tree, 0, false, &mut out)
        }
        out
    }

    fn load_both(text: &str) {
        for name in ["doc.yaml", "doc.json"] {
            let loaded = crate::load(name, text, &StructureOnly);
            for d in &loaded.diagnostics.0 {
                assert!(d.pos.line >= 1 && d.pos.col >= 1, "{name}: position {:?} of {d:?}", d.pos);
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn load_never_panics_on_any_text(text in any::<String>()) {
            load_both(&text);
        }

        #[test]
        fn load_never_panics_on_yaml_like_text(text in "[ -~\t\n{}\\[\\]:,&*!|>'\"#-]{0,200}") {
            load_both(&text);
        }

        #[test]
        fn load_never_panics_on_structured_documents(doc in document(), as_json in any::<bool>(), cut in any::<prop::sample::Index>()) {
            let text = render(&doc, as_json);
            load_both(&text);
            // And on every prefix: truncated input must fail cleanly.
            let mut end = cut.index(text.len() + 1);
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            load_both(&text[..end]);
        }

        #[test]
        fn structured_json_always_parses(doc in document()) {
            let text = render(&doc, true);
            prop_assert!(super::parse("doc.json", &text).is_ok(), "{}", text);
        }
    }
}
