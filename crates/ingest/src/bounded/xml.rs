//! A byte scanner for the XML parts of a workbook, run while they inflate and before the
//! spreadsheet library parses them. It measures what that parser would buffer — each tag, each
//! run of text, each comment or CDATA section, each cell (`<c>`) of a sheet and each entry
//! (`<si>`) of the shared-strings table — and counts the shared strings, holding nothing but a
//! few counters. Its tokens never end before the parser's do (quotes in attributes, comment and
//! CDATA ends are followed the same way; a name's local part follows its first `:`, as the
//! parser splits it), so what it lets through the parser buffers no more. A DTD (`<!DOCTYPE`)
//! is refused: no workbook has one.
//!
//! It also checks what the library would otherwise answer with a panic: a sheet's cell that
//! names a shared string (`t="s"`) by an index the table does not have. It counts the entries
//! the library keeps (an `<si>` with text, before `</sst>`) and the highest index the cells
//! name, read as the library reads it; the workbook inspection compares the two.

/// Which rules apply to a part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartKind {
    /// `xl/sharedStrings.xml`: entries counted, each bounded.
    SharedStrings,
    /// A worksheet: each cell bounded, the shared-string indexes it names collected.
    Sheet,
    /// The workbook, its relationships, the styles: tokens bounded.
    Other,
}

/// Why a part was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanError {
    TooManySharedStrings,
    ElementTooLarge,
    Dtd,
    NulByte,
    /// Markup the library would misread: an `<si>` inside another or closed by another name,
    /// a tag or an entity inside a shared-string cell's `<v>`.
    Malformed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Text,
    /// Just after `<`.
    Open,
    /// After `<!` and `dashes` dashes of `<!--`.
    Bang {
        dashes: u8,
    },
    /// A tag's name.
    Name,
    /// A tag's attributes; `quote` is the open quote character, if any.
    Attrs {
        quote: Option<u8>,
    },
    /// Inside `<!-- … -->`, after `dashes` consecutive dashes.
    Comment {
        dashes: u8,
    },
    /// Inside `<![CDATA[ … ]]>`, after `brackets` consecutive `]`.
    CData {
        brackets: u8,
    },
    /// Inside `<? … ?>`, right after a `?` or not.
    Pi {
        question: bool,
    },
}

/// Longest name kept (the names that matter are `c`, `v`, `si`, `t`, `r`, `rPh`, `sst`).
const NAME: usize = 16;

/// Longest attribute list read for a sheet's `<c>` (Excel's are a few dozen bytes); a longer
/// one is taken for a shared-string cell, the cautious side.
const ATTRS: usize = 256;

/// A name as the scanner keeps it: its first [`NAME`] bytes and its full length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Name {
    bytes: [u8; NAME],
    len: usize,
}

impl Name {
    fn push(&mut self, b: u8) {
        if let Some(slot) = self.bytes.get_mut(self.len) {
            *slot = b;
        }
        self.len = self.len.saturating_add(1);
    }

    /// The name; nothing when longer than [`NAME`] (then none of those that matter).
    fn get(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or_default()
    }
}

/// The open `<si>` of a shared-strings part.
#[derive(Debug, Clone, Copy)]
struct Entry {
    name: Name,
    has_text: bool,
    phonetic: bool,
}

/// The open `<v>` of a shared-string cell: its name, and its index as the library reads it
/// (digits only, else 0; `None` past `u64`, also read as 0).
#[derive(Debug, Clone, Copy)]
struct Value {
    name: Name,
    index: Option<u64>,
    digits: bool,
    other: bool,
}

/// The scanner of one part: feed it the part's bytes in any chunks, then [`XmlScan::finish`].
#[derive(Debug, Clone)]
pub struct XmlScan {
    kind: PartKind,
    max_element: u64,
    max_shared: u64,
    state: State,
    pos: u64,
    token_start: u64,
    closing: bool,
    /// The tag's name, and its local part.
    name: Name,
    local: Name,
    prefixed: bool,
    /// The last byte of a tag that was not blank (a `/` before `>` closes an empty element).
    last: u8,
    /// The attributes of a sheet's `<c>` tag being read (`keeping`), or too long to keep.
    attrs: Vec<u8>,
    keeping: bool,
    attrs_too_long: bool,
    /// Where the open `<c>` or `<si>` began.
    element_start: Option<u64>,
    shared_strings: u64,
    /// Entries the library keeps: `<si>` with text, before `</sst>`.
    texts: u64,
    entry: Option<Entry>,
    table_closed: bool,
    shared_cell: bool,
    value: Option<Value>,
    max_index: Option<u64>,
}

impl XmlScan {
    /// A scanner with limits on each element (bytes) and on the shared strings (entries).
    pub fn new(kind: PartKind, max_element: u64, max_shared: u64) -> XmlScan {
        XmlScan {
            kind,
            max_element,
            max_shared,
            state: State::Text,
            pos: 0,
            token_start: 0,
            closing: false,
            name: Name::default(),
            local: Name::default(),
            prefixed: false,
            last: 0,
            attrs: Vec::with_capacity(ATTRS),
            keeping: false,
            attrs_too_long: false,
            element_start: None,
            shared_strings: 0,
            texts: 0,
            entry: None,
            table_closed: false,
            shared_cell: false,
            value: None,
            max_index: None,
        }
    }

    /// Entries of the shared-strings table seen so far.
    pub fn shared_strings(&self) -> u64 {
        self.shared_strings
    }

    /// Entries of the shared-strings table the library keeps (those with text).
    pub fn texts(&self) -> u64 {
        self.texts
    }

    /// The highest shared-string index the cells of a sheet name.
    pub fn max_index(&self) -> Option<u64> {
        self.max_index
    }

    /// Scans the next bytes of the part.
    pub fn feed(&mut self, mut data: &[u8]) -> Result<(), ScanError> {
        if memchr::memchr(0, data).is_some() {
            return Err(ScanError::NulByte);
        }
        while !data.is_empty() {
            // Fast paths: jump over text to the next tag, and over attributes to the next
            // quote or `>`.
            let jump = match self.state {
                State::Text => memchr::memchr(b'<', data),
                State::Attrs { quote: Some(q) } => memchr::memchr(q, data),
                State::Attrs { quote: None } => memchr::memchr3(b'>', b'"', b'\'', data),
                _ => Some(0),
            };
            let skip = jump.unwrap_or(data.len());
            if skip > 0 {
                self.skipped(data.get(..skip).unwrap_or_default())?;
                self.pos += skip as u64;
                self.check()?;
                data = data.get(skip..).unwrap_or_default();
            }
            let Some((&b, rest)) = data.split_first() else {
                break;
            };
            data = rest;
            self.pos += 1;
            self.step(b)?;
            self.check()?;
        }
        Ok(())
    }

    /// The end of the part.
    pub fn finish(&self) -> Result<(), ScanError> {
        self.check()
    }

    /// The limits on the current token and the open element.
    fn check(&self) -> Result<(), ScanError> {
        if self.pos - self.token_start > self.max_element {
            return Err(ScanError::ElementTooLarge);
        }
        match self.element_start {
            Some(s) if self.pos - s > self.max_element => Err(ScanError::ElementTooLarge),
            _ => Ok(()),
        }
    }

    /// Bytes jumped over: text (read as an index inside a shared-string cell's `<v>`) or
    /// attributes.
    fn skipped(&mut self, bytes: &[u8]) -> Result<(), ScanError> {
        match self.state {
            State::Text => {
                if let Some(v) = self.value.as_mut() {
                    for &b in bytes {
                        match b {
                            b'0'..=b'9' => {
                                v.digits = true;
                                v.index = v.index.and_then(|i| {
                                    i.checked_mul(10)?.checked_add(u64::from(b - b'0'))
                                });
                            }
                            // An entity could spell digits: not read here.
                            b'&' => return Err(ScanError::Malformed),
                            _ => v.other = true,
                        }
                    }
                }
            }
            State::Attrs { quote } => {
                if quote.is_none() {
                    if let Some(&b) = bytes.iter().rev().find(|b| !b.is_ascii_whitespace()) {
                        self.last = b;
                    }
                }
                self.keep_attrs(bytes);
            }
            _ => {}
        }
        Ok(())
    }

    fn keep_attrs(&mut self, bytes: &[u8]) {
        if self.keeping {
            if self.attrs.len() + bytes.len() > ATTRS {
                self.keeping = false;
                self.attrs_too_long = true;
            } else {
                self.attrs.extend_from_slice(bytes);
            }
        }
    }

    /// One byte of a tag, comment, CDATA section or processing instruction (or the `<` that
    /// ends a run of text).
    fn step(&mut self, b: u8) -> Result<(), ScanError> {
        self.state = match self.state {
            State::Text => {
                self.token_start = self.pos - 1;
                State::Open
            }
            State::Open => match b {
                b'!' => State::Bang { dashes: 0 },
                b'?' => State::Pi { question: false },
                _ => {
                    self.closing = b == b'/';
                    self.name = Name::default();
                    self.local = Name::default();
                    self.prefixed = false;
                    if !self.closing {
                        self.push_name(b);
                    }
                    self.last = if self.closing { 0 } else { b };
                    State::Name
                }
            },
            State::Bang { dashes: 0 } if b == b'-' => State::Bang { dashes: 1 },
            State::Bang { dashes: 1 } if b == b'-' => State::Comment { dashes: 0 },
            State::Bang { dashes: 0 } if b == b'[' => State::CData { brackets: 0 },
            State::Bang { .. } => return Err(ScanError::Dtd),
            State::Name => match b {
                b'>' => {
                    self.name_done();
                    self.end_tag(false)?
                }
                b'/' | b' ' | b'\t' | b'\r' | b'\n' => {
                    self.name_done();
                    if b == b'/' {
                        self.last = b;
                        self.keep_attrs(b"/");
                    }
                    State::Attrs { quote: None }
                }
                _ => {
                    self.last = b;
                    self.push_name(b);
                    State::Name
                }
            },
            State::Attrs { quote: Some(q) } => {
                self.last = b;
                self.keep_attrs(&[b]);
                State::Attrs {
                    quote: (b != q).then_some(q),
                }
            }
            State::Attrs { quote: None } => match b {
                b'>' => self.end_tag(self.last == b'/')?,
                _ => {
                    if !b.is_ascii_whitespace() {
                        self.last = b;
                    }
                    self.keep_attrs(&[b]);
                    State::Attrs {
                        quote: matches!(b, b'"' | b'\'').then_some(b),
                    }
                }
            },
            State::Comment { dashes } => match b {
                b'-' => State::Comment {
                    dashes: dashes.saturating_add(1),
                },
                b'>' if dashes >= 2 => self.end_token(),
                _ => State::Comment { dashes: 0 },
            },
            State::CData { brackets } => match b {
                b']' => State::CData {
                    brackets: brackets.saturating_add(1),
                },
                b'>' if brackets >= 2 => self.end_token(),
                _ => State::CData { brackets: 0 },
            },
            State::Pi { question } => match b {
                b'?' => State::Pi { question: true },
                b'>' if question => self.end_token(),
                _ => State::Pi { question: false },
            },
        };
        Ok(())
    }

    /// A byte of a tag's name: the local part starts after the first `:`.
    fn push_name(&mut self, b: u8) {
        self.name.push(b);
        if b == b':' && !self.prefixed {
            self.prefixed = true;
            self.local = Name::default();
        } else {
            self.local.push(b);
        }
    }

    /// A tag's name is read: a sheet's `<c>` has its attributes kept.
    fn name_done(&mut self) {
        self.keeping = self.kind == PartKind::Sheet && !self.closing && self.local.get() == b"c";
        self.attrs.clear();
        self.attrs_too_long = false;
    }

    /// A token ends: text starts after it.
    fn end_token(&mut self) -> State {
        self.token_start = self.pos;
        State::Text
    }

    /// A tag ends (`empty`: it closed itself).
    fn end_tag(&mut self, empty: bool) -> Result<State, ScanError> {
        if let Some(v) = self.value {
            // Inside a shared-string cell's `<v>`, the library reads on to the `</v>` of the
            // same name; any other tag there is refused.
            if !(self.closing && self.name == v.name && v.name.len <= NAME) {
                return Err(ScanError::Malformed);
            }
            self.value = None;
            let index = if v.other || !v.digits {
                Some(0)
            } else {
                v.index
            };
            self.note_index(index.unwrap_or(0));
            return Ok(self.end_token());
        }
        match self.kind {
            PartKind::Sheet => self.sheet_tag(empty),
            PartKind::SharedStrings => self.table_tag(empty)?,
            PartKind::Other => {}
        }
        Ok(self.end_token())
    }

    fn note_index(&mut self, index: u64) {
        self.max_index = Some(self.max_index.map_or(index, |m| m.max(index)));
    }

    /// A tag of a sheet: a cell opens or closes; a shared-string cell's `<v>` opens.
    fn sheet_tag(&mut self, empty: bool) {
        match self.local.get() {
            b"c" if self.closing => {
                self.shared_cell = false;
                self.element_start = None;
            }
            b"c" => {
                self.shared_cell = !empty && (self.attrs_too_long || names_shared(&self.attrs));
                self.keeping = false;
                if !empty && self.element_start.is_none() {
                    self.element_start = Some(self.token_start);
                }
            }
            b"v" if self.shared_cell && !self.closing => {
                if empty {
                    self.note_index(0);
                } else {
                    self.value = Some(Value {
                        name: self.name,
                        index: Some(0),
                        digits: false,
                        other: false,
                    });
                }
            }
            _ => {}
        }
    }

    /// A tag of the shared-strings table: entries counted, with text or without.
    fn table_tag(&mut self, empty: bool) -> Result<(), ScanError> {
        let opening = !self.closing;
        match self.local.get() {
            b"si" if self.closing => match self.entry.take() {
                Some(e) if e.name == self.name => {
                    if e.has_text && !self.table_closed {
                        self.texts += 1;
                    }
                    self.element_start = None;
                }
                _ => return Err(ScanError::Malformed),
            },
            b"si" => {
                self.shared_strings += 1;
                if self.shared_strings > self.max_shared {
                    return Err(ScanError::TooManySharedStrings);
                }
                if self.entry.is_some() || self.name.len > NAME {
                    return Err(ScanError::Malformed);
                }
                if !empty {
                    self.entry = Some(Entry {
                        name: self.name,
                        has_text: false,
                        phonetic: false,
                    });
                    self.element_start = Some(self.token_start);
                }
            }
            b"sst" if self.closing => self.table_closed = true,
            local => {
                if let Some(e) = self.entry.as_mut() {
                    match local {
                        b"r" if opening => e.has_text = true,
                        b"t" if opening && !e.phonetic => e.has_text = true,
                        b"rPh" => e.phonetic = opening && !empty,
                        _ => {}
                    }
                }
            }
        }
        Ok(())
    }
}

/// Whether a `<c>` tag's attributes say `t="s"` (a shared string), read as the parser reads
/// them (the first `t` counts); attributes that do not read are taken to say so.
fn names_shared(attrs: &[u8]) -> bool {
    let mut rest = attrs;
    loop {
        rest = rest.trim_ascii_start();
        if rest.is_empty() || rest == b"/" {
            return false;
        }
        let Some(end) = rest
            .iter()
            .position(|&b| b == b'=' || b.is_ascii_whitespace())
        else {
            return true;
        };
        let (name, after) = rest.split_at(end);
        let after = after.trim_ascii_start();
        let Some(after) = after.strip_prefix(b"=") else {
            return true;
        };
        let after = after.trim_ascii_start();
        let Some((&q, value)) = after
            .split_first()
            .filter(|(q, _)| matches!(q, b'"' | b'\''))
        else {
            return true;
        };
        let Some(close) = value.iter().position(|&b| b == q) else {
            return true;
        };
        if name == b"t" {
            return value.get(..close) == Some(b"s".as_slice());
        }
        rest = value.get(close + 1..).unwrap_or_default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(kind: PartKind, xml: &[u8]) -> Result<u64, ScanError> {
        let mut s = XmlScan::new(kind, 64, 3);
        s.feed(xml)?;
        s.finish()?;
        Ok(s.shared_strings())
    }

    #[test]
    fn counts_shared_strings_with_or_without_prefix_and_refuses_past_the_limit() {
        let ok = br#"<?xml version="1.0"?><sst count="3"><si><t>a</t></si><x:si/><si><t>c</t></si></sst>"#;
        assert_eq!(scan(PartKind::SharedStrings, ok), Ok(3));
        let more = br#"<sst><si><t>a</t></si><si/><si/><si/></sst>"#;
        assert_eq!(
            scan(PartKind::SharedStrings, more),
            Err(ScanError::TooManySharedStrings)
        );
        // Elements whose names merely start with "si", or end tags, are not entries.
        let others = br#"<sst><sid/><si></si><sis></sis></sst>"#;
        assert_eq!(scan(PartKind::SharedStrings, others), Ok(1));
    }

    #[test]
    fn a_cell_a_text_run_or_a_tag_past_the_limit_is_refused() {
        let long = "x".repeat(70);
        let cell = format!(
            r#"<row><c r="A1" t="inlineStr"><is><t>{}</t><t>{}</t></is></c></row>"#,
            &long[..30],
            &long[..30]
        );
        assert_eq!(
            scan(PartKind::Sheet, cell.as_bytes()),
            Err(ScanError::ElementTooLarge)
        );
        // The same bytes split into cells of their own pass.
        let cells = format!(
            r#"<row><c><v>{}</v></c><c><v>{}</v></c></row>"#,
            &long[..30],
            &long[..30]
        );
        assert_eq!(scan(PartKind::Sheet, cells.as_bytes()), Ok(0));
        let text = format!("<a>{long}</a>");
        assert_eq!(
            scan(PartKind::Other, text.as_bytes()),
            Err(ScanError::ElementTooLarge)
        );
        let tag = format!(r#"<a b="{long}"/>"#);
        assert_eq!(
            scan(PartKind::Other, tag.as_bytes()),
            Err(ScanError::ElementTooLarge)
        );
    }

    #[test]
    fn quotes_comments_and_cdata_end_where_the_parser_ends_them() {
        // A `>` inside quotes, a comment or CDATA does not end the token.
        let quoted = format!(r#"<a b="{}"/>"#, ">".repeat(70));
        assert_eq!(
            scan(PartKind::Other, quoted.as_bytes()),
            Err(ScanError::ElementTooLarge)
        );
        let comment = format!("<!--->{}-->", "-> ".repeat(30));
        assert_eq!(
            scan(PartKind::Other, comment.as_bytes()),
            Err(ScanError::ElementTooLarge)
        );
        let cdata = format!("<![CDATA[{}]]>", "]> ".repeat(30));
        assert_eq!(
            scan(PartKind::Other, cdata.as_bytes()),
            Err(ScanError::ElementTooLarge)
        );
        assert_eq!(
            scan(PartKind::Other, b"<!-- a > b --><![CDATA[x]]><?pi x?><a/>"),
            Ok(0)
        );
    }

    #[test]
    fn a_dtd_or_a_nul_byte_is_refused() {
        assert_eq!(
            scan(PartKind::Other, b"<!DOCTYPE x [<!ENTITY a 'b'>]><x/>"),
            Err(ScanError::Dtd)
        );
        assert_eq!(scan(PartKind::Other, b"<\0a/>"), Err(ScanError::NulByte));
        assert_eq!(
            scan(PartKind::Other, b"\xff\xfe<\0a\0/\0>\0"),
            Err(ScanError::NulByte)
        );
    }

    #[test]
    fn the_entries_the_library_keeps_are_those_with_text_before_the_table_ends() {
        let mut s = XmlScan::new(PartKind::SharedStrings, 64, 9);
        s.feed(br#"<sst><si><t>a</t></si><si/><si><rPh><t>x</t></rPh></si><x:si><r><t>b</t></r></x:si><si><t/></si></sst><si><t>z</t></si>"#).unwrap();
        assert_eq!((s.shared_strings(), s.texts()), (6, 3));
    }

    #[test]
    fn an_entry_inside_another_or_closed_by_another_name_is_refused() {
        let nested = br#"<sst><si><si><t>a</t></si></si></sst>"#;
        assert_eq!(
            scan(PartKind::SharedStrings, nested),
            Err(ScanError::Malformed)
        );
        let crossed = br#"<sst><x:si><t>a</t></y:si></sst>"#;
        assert_eq!(
            scan(PartKind::SharedStrings, crossed),
            Err(ScanError::Malformed)
        );
        // A prefix too long to compare does not hide an entry from the count.
        let long = br#"<sst><abcdefghijklmnopq:si><t>a</t></abcdefghijklmnopq:si></sst>"#;
        assert_eq!(
            scan(PartKind::SharedStrings, long),
            Err(ScanError::Malformed)
        );
    }

    #[test]
    fn a_sheet_names_shared_strings_by_index_as_the_library_reads_them() {
        let index = |xml: &[u8]| {
            let mut s = XmlScan::new(PartKind::Sheet, 64, 0);
            s.feed(xml)
                .and_then(|()| s.finish())
                .map(|()| s.max_index())
        };
        assert_eq!(
            index(br#"<c r="A1" t="s"><v>5</v></c><c t='s'><v>12</v></c>"#),
            Ok(Some(12))
        );
        assert_eq!(
            index(br#"<c r="A1"><v>99</v></c><c t="str"><v>99</v></c>"#),
            Ok(None)
        );
        // Not a plain number: the library reads 0; split by a comment: the digits join.
        assert_eq!(index(br#"<c t="s"><v> 5</v></c>"#), Ok(Some(0)));
        assert_eq!(index(br#"<c t="s"><v>1<!-- -->2</v></c>"#), Ok(Some(12)));
        assert_eq!(index(br#"<c t = "s"><v/></c>"#), Ok(Some(0)));
        // An entity or a tag inside the value is not read here: refused.
        assert_eq!(
            index(br#"<c t="s"><v>&#53;</v></c>"#),
            Err(ScanError::Malformed)
        );
        assert_eq!(
            index(br#"<c t="s"><v>1<x/></v></c>"#),
            Err(ScanError::Malformed)
        );
    }

    #[test]
    fn cell_attributes_are_read_as_the_parser_reads_them() {
        assert!(names_shared(br#" r="A1" t="s""#));
        assert!(names_shared(br#" t = 's' s="3""#));
        assert!(!names_shared(br#" t="n" t="s""#));
        assert!(!names_shared(br#" x:t="s" s="3"/"#));
        assert!(names_shared(br#" t"#));
    }

    #[test]
    fn any_split_of_the_bytes_gives_the_same_answer() {
        let xml = br#"<sst><si><t a='>'>x</t></si><!-- c --><si/></sst>"#;
        for at in 0..xml.len() {
            let mut s = XmlScan::new(PartKind::SharedStrings, 64, 3);
            let (a, b) = xml.split_at(at);
            s.feed(a).unwrap();
            s.feed(b).unwrap();
            s.finish().unwrap();
            assert_eq!(s.shared_strings(), 2, "split at {at}");
        }
    }
}
