//! A small PDF document builder for what Vamos prints: the minutes of a meeting (actas) and the
//! quarterly follow-up report (informe trimestral de seguimiento). [`Doc`] lays out headings,
//! paragraphs, lists, key–value rows, tables and simple charts on A4 pages with a footer on each
//! ("Página N de M"), and writes them with `pdf-writer`.
//!
//! Why the standard Type1 fonts Helvetica and Helvetica-Bold, in WinAnsiEncoding: every PDF reader
//! has them, so there is no font file to vendor, embed or fetch from the network, the files stay
//! small, and the text is extractable (pdftotext, search, screen readers). The price is the
//! Windows-1252 repertoire, which covers Spanish: a character outside it prints as '?'. Wrapping
//! lines needs the glyph widths, the Adobe Helvetica metrics (`HELVETICA_WIDTHS`).
//!
//! All pages are laid out first and written at [`Doc::finish`], so each footer knows the page
//! count. [`text_of`] reads the shown text back, for tests.

use std::io::{Read, Write};

use encoding_rs::WINDOWS_1252;
use pdf_writer::types::LineJoinStyle;
use pdf_writer::{Content, Filter, Finish, Name, Pdf, Rect, Ref, Str, TextStr};

/// A colour: red, green and blue, 0..=255 each.
type Rgb = (u8, u8, u8);

/// A4 portrait, in points.
const PAGE_W: f32 = 595.28;
const PAGE_H: f32 = 841.89;
const MARGIN: f32 = 50.0;
const TEXT_W: f32 = PAGE_W - 2.0 * MARGIN;
const TOP: f32 = PAGE_H - MARGIN;
const BOTTOM: f32 = MARGIN;
/// The footer sits in the bottom margin.
const FOOTER_BASELINE: f32 = 30.0;
const FOOTER_RULE: f32 = 40.0;
const FOOTER_SIZE: f32 = 8.0;
const BODY_SIZE: f32 = 10.0;
const CELL_SIZE: f32 = 9.0;
const CELL_PAD: f32 = 3.0;
const SMALL_SIZE: f32 = 7.0;
/// Line height as a multiple of the font size.
const LEADING: f32 = 1.25;

const DARK: Rgb = (33, 37, 41);
const GREY: Rgb = (108, 117, 125);
const RULE: Rgb = (140, 140, 140);
const GRID: Rgb = (215, 215, 215);
const HEADER_FILL: Rgb = (228, 232, 238);
const HEADING: Rgb = (22, 54, 92);
const TRACK: Rgb = (238, 238, 238);
const BAR: Rgb = (52, 101, 164);
const TARGET: Rgb = (200, 30, 30);
const OUTLINE: Rgb = (80, 80, 80);
const PALETTE: [Rgb; 6] = [
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
];

/// WinAnsi codes of the bullet and the ellipsis.
const BULLET: u8 = 0x95;
const ELLIPSIS: u8 = 0x85;

/// The two fonts, named F1 and F2 in each page's resources.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Font {
    Regular,
    Bold,
}

impl Font {
    fn widths(self) -> &'static [u16; 256] {
        match self {
            Font::Regular => &HELVETICA_WIDTHS,
            Font::Bold => &HELVETICA_BOLD_WIDTHS,
        }
    }

    fn resource(self) -> Name<'static> {
        match self {
            Font::Regular => Name(b"F1"),
            Font::Bold => Name(b"F2"),
        }
    }
}

/// The width of WinAnsi text, in points.
fn text_width(bytes: &[u8], font: Font, size: f32) -> f32 {
    let widths = font.widths();
    let units: u32 = bytes
        .iter()
        .map(|&b| u32::from(widths.get(usize::from(b)).copied().unwrap_or(0)))
        .sum();
    units as f32 * size / 1000.0
}

/// Text as WinAnsi (cp1252) bytes: a character the fonts cannot show becomes '?', a tab a space;
/// '\n' stays (it ends a line), '\r' goes.
fn encode(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let mut utf8 = [0u8; 4];
    for c in text.chars() {
        match c {
            '\n' => out.push(b'\n'),
            '\t' => out.push(b' '),
            '\r' => {}
            _ => {
                let (bytes, _, unmappable) = WINDOWS_1252.encode(c.encode_utf8(&mut utf8));
                let byte = match (unmappable, bytes.as_ref()) {
                    (false, &[b])
                        if HELVETICA_WIDTHS.get(usize::from(b)).is_some_and(|&w| w > 0) =>
                    {
                        b
                    }
                    _ => b'?',
                };
                out.push(byte);
            }
        }
    }
    out
}

/// [`encode`] for a one-line text (labels): line ends become spaces.
fn encode_line(text: &str) -> Vec<u8> {
    encode(text)
        .into_iter()
        .map(|b| if b == b'\n' { b' ' } else { b })
        .collect()
}

/// How many leading bytes fit in `width`.
fn fitting_prefix(bytes: &[u8], font: Font, size: f32, width: f32) -> usize {
    let widths = font.widths();
    let mut used = 0.0;
    for (n, &b) in bytes.iter().enumerate() {
        used += f32::from(widths.get(usize::from(b)).copied().unwrap_or(0)) * size / 1000.0;
        if used > width {
            return n;
        }
    }
    bytes.len()
}

/// Lines of at most `width` points: words are kept whole unless one alone is wider than a line;
/// '\n' starts a new line. Always at least one line (maybe empty).
fn wrap(bytes: &[u8], font: Font, size: f32, width: f32) -> Vec<Vec<u8>> {
    let space = text_width(b" ", font, size);
    let mut lines = Vec::new();
    for hard in bytes.split(|&b| b == b'\n') {
        let mut line: Vec<u8> = Vec::new();
        let mut line_w = 0.0;
        for word in hard.split(|&b| b == b' ').filter(|w| !w.is_empty()) {
            let word_w = text_width(word, font, size);
            if !line.is_empty() && line_w + space + word_w <= width {
                line.push(b' ');
                line.extend_from_slice(word);
                line_w += space + word_w;
                continue;
            }
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            let mut rest = word;
            while text_width(rest, font, size) > width && rest.len() > 1 {
                let n = fitting_prefix(rest, font, size, width).max(1);
                let Some((head, tail)) = rest.split_at_checked(n) else {
                    break;
                };
                lines.push(head.to_vec());
                rest = tail;
            }
            line = rest.to_vec();
            line_w = text_width(rest, font, size);
        }
        lines.push(line);
    }
    lines
}

/// The text cut to `width` with an ellipsis, when it is wider.
fn ellipsize(bytes: &[u8], font: Font, size: f32, width: f32) -> Vec<u8> {
    if text_width(bytes, font, size) <= width {
        return bytes.to_vec();
    }
    let room = (width - text_width(&[ELLIPSIS], font, size)).max(0.0);
    let n = fitting_prefix(bytes, font, size, room);
    let mut out = bytes.get(..n).unwrap_or_default().to_vec();
    out.push(ELLIPSIS);
    out
}

/// Whether a table cell reads as a number ("1.234", "45,3 %", "-2"): those are right-aligned.
fn looks_numeric(cell: &str) -> bool {
    let s = cell.trim();
    let s = s.strip_prefix(['-', '+']).unwrap_or(s);
    let s = s.strip_suffix('%').unwrap_or(s).trim_end();
    s.starts_with(|c: char| c.is_ascii_digit())
        && s.chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | ',' | ' ' | '\u{a0}'))
}

/// A number the Paraguayan way: '.' groups thousands, ',' marks decimals; a share (0..1) as a
/// percentage when `percent`. Not a number prints as "sin dato".
fn format_number(value: f64, percent: bool, decimals: usize) -> String {
    if !value.is_finite() {
        return "sin dato".to_owned();
    }
    let (value, suffix) = if percent {
        (value * 100.0, " %")
    } else {
        (value, "")
    };
    let digits = format!("{:.*}", decimals, value.abs());
    let (int, frac) = digits.split_once('.').unwrap_or((&digits, ""));
    let mut grouped = String::with_capacity(int.len() + int.len() / 3);
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push('.');
        }
        grouped.push(c);
    }
    let sign = if value < 0.0 && digits.chars().any(|c| matches!(c, '1'..='9')) {
        "-"
    } else {
        ""
    };
    if frac.is_empty() {
        format!("{sign}{grouped}{suffix}")
    } else {
        format!("{sign}{grouped},{frac}{suffix}")
    }
}

/// The top of a chart's scale: `max` when it is a positive number, else the largest value
/// rounded up to 1, 2, 2.5 or 5 times a power of ten (a readable axis), else 1.
fn scale_max(max: f64, values: impl Iterator<Item = f64>) -> f64 {
    if max.is_finite() && max > 0.0 {
        return max;
    }
    let largest = values.filter(|v| v.is_finite()).fold(0.0, f64::max);
    if largest <= 0.0 || !largest.is_finite() {
        return 1.0;
    }
    let power = 10f64.powf(largest.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|step| step * power)
        .find(|&top| top >= largest * (1.0 - 1e-9))
        .unwrap_or(largest)
}

/// One drawing operation, in PDF coordinates (points, y upwards).
#[derive(Clone, Debug)]
enum Op {
    Text {
        x: f32,
        y: f32,
        size: f32,
        font: Font,
        color: Rgb,
        bytes: Vec<u8>,
    },
    Line {
        from: (f32, f32),
        to: (f32, f32),
        width: f32,
        color: Rgb,
    },
    Fill {
        x: f32,
        y: f32,
        w: f32,
        h: f32,
        color: Rgb,
    },
    Polyline {
        points: Vec<(f32, f32)>,
        width: f32,
        color: Rgb,
    },
    Polygon {
        rings: Vec<Vec<(f32, f32)>>,
        fill: Rgb,
        stroke: f32,
    },
}

impl Op {
    fn shifted(mut self, dy: f32) -> Op {
        match &mut self {
            Op::Text { y, .. } | Op::Fill { y, .. } => *y += dy,
            Op::Line { from, to, .. } => {
                from.1 += dy;
                to.1 += dy;
            }
            Op::Polyline { points, .. } => points.iter_mut().for_each(|p| p.1 += dy),
            Op::Polygon { rings, .. } => rings.iter_mut().flatten().for_each(|p| p.1 += dy),
        }
        self
    }
}

/// A unit of layout that is never split across pages: its operations are relative to its top
/// (y = 0, negative downwards). `collapse` points of leading space vanish at the top of a page.
#[derive(Clone, Debug, Default)]
struct Block {
    height: f32,
    collapse: f32,
    ops: Vec<Op>,
}

impl Block {
    fn new(height: f32) -> Block {
        Block {
            height,
            ..Block::default()
        }
    }

    /// Empty space that vanishes at the top of a page.
    fn space(height: f32) -> Block {
        Block {
            height,
            collapse: height,
            ops: Vec::new(),
        }
    }

    /// This block with `next` below it.
    fn then(mut self, next: Block) -> Block {
        if self.ops.is_empty() && self.collapse >= self.height {
            self.collapse += next.collapse;
        }
        let dy = -self.height;
        self.ops
            .extend(next.ops.into_iter().map(|op| op.shifted(dy)));
        self.height += next.height;
        self
    }

    /// One line of text whose line box starts `top` points below the block's top.
    fn text(&mut self, x: f32, top: f32, size: f32, font: Font, color: Rgb, bytes: Vec<u8>) {
        let baseline = top + size * (LEADING - 1.0) / 2.0 + size * 0.8;
        self.label(x, -baseline, size, font, color, bytes);
    }

    /// Text on the baseline `y` (relative, negative downwards).
    fn label(&mut self, x: f32, y: f32, size: f32, font: Font, color: Rgb, bytes: Vec<u8>) {
        if !bytes.is_empty() {
            self.ops.push(Op::Text {
                x,
                y,
                size,
                font,
                color,
                bytes,
            });
        }
    }

    fn line(&mut self, from: (f32, f32), to: (f32, f32), width: f32, color: Rgb) {
        self.ops.push(Op::Line {
            from,
            to,
            width,
            color,
        });
    }

    /// A filled rectangle whose lower left corner is (x, y).
    fn fill(&mut self, x: f32, y: f32, w: f32, h: f32, color: Rgb) {
        self.ops.push(Op::Fill { x, y, w, h, color });
    }
}

/// A filled polygon (with holes: even-odd rule) in an abstract plane whose y grows downwards,
/// as in SVG; [`Doc::polygons`] scales the shapes to the page and flips them.
#[derive(Clone, Debug, PartialEq)]
pub struct Shape {
    /// Closed rings of (x, y) points; the first is the outline, the others holes or islands.
    pub rings: Vec<Vec<(f64, f64)>>,
    /// The fill colour (red, green, blue).
    pub fill: (u8, u8, u8),
    /// The outline's width in points; 0 draws no outline.
    pub stroke_width: f32,
}

/// A PDF document being laid out: A4 portrait, 50 pt margins, a footer on each page with a
/// fixed text on the left and "Página N de M" on the right. Blocks are added top to bottom and
/// break onto new pages as needed; [`Doc::finish`] returns the file.
#[derive(Debug)]
pub struct Doc {
    title: String,
    footer: Vec<u8>,
    pages: Vec<Vec<Op>>,
    current: Vec<Op>,
    /// Where the next block starts on the current page.
    y: f32,
    /// Headings (and the space after them) waiting for the content they introduce, so that a
    /// heading never ends a page alone.
    pending: Vec<Block>,
}

impl Doc {
    /// An empty document; `title` goes into the PDF's Info dictionary, `footer` to the left of
    /// every page's footer.
    #[must_use]
    pub fn new(title: &str, footer: &str) -> Doc {
        Doc {
            title: title.to_owned(),
            footer: encode_line(footer),
            pages: Vec::new(),
            current: Vec::new(),
            y: TOP,
            pending: Vec::new(),
        }
    }

    /// A heading: level 1 (or 0) is 18 pt bold, 2 is 14 pt, 3 (and deeper) 11 pt. It is kept on the
    /// same page as what follows it.
    pub fn heading(&mut self, text: &str, level: u8) {
        let (size, before, after) = match level {
            0 | 1 => (18.0, 12.0, 6.0),
            2 => (14.0, 10.0, 4.0),
            _ => (11.0, 8.0, 3.0),
        };
        let line_h = size * LEADING;
        let mut block = Block::space(before);
        for line in wrap(&encode(text), Font::Bold, size, TEXT_W) {
            let mut row = Block::new(line_h);
            row.text(MARGIN, 0.0, size, Font::Bold, HEADING, line);
            block = block.then(row);
        }
        self.pending.push(block.then(Block::new(after)));
    }

    /// A paragraph in 10 pt, wrapped to the text width; '\n' starts a new line.
    pub fn paragraph(&mut self, text: &str) {
        let line_h = BODY_SIZE * LEADING;
        for line in wrap(&encode(text), Font::Regular, BODY_SIZE, TEXT_W) {
            let mut row = Block::new(line_h);
            row.text(MARGIN, 0.0, BODY_SIZE, Font::Regular, DARK, line);
            self.place(row);
        }
        self.spacer(6.0);
    }

    /// A bulleted list ("•"), each item wrapped with a hanging indent.
    pub fn bullets(&mut self, items: &[String]) {
        let markers = items.iter().map(|_| vec![BULLET]).collect();
        self.list(items, markers);
    }

    /// A numbered list ("1.", "2.", …), each item wrapped with a hanging indent.
    pub fn numbered(&mut self, items: &[String]) {
        let markers = (1..=items.len())
            .map(|n| format!("{n}.").into_bytes())
            .collect();
        self.list(items, markers);
    }

    fn list(&mut self, items: &[String], markers: Vec<Vec<u8>>) {
        let line_h = BODY_SIZE * LEADING;
        let marker_w = markers
            .iter()
            .map(|m| text_width(m, Font::Regular, BODY_SIZE))
            .fold(0.0, f32::max);
        let marker_end = MARGIN + 8.0 + marker_w;
        let indent = marker_end + 6.0 - MARGIN;
        for (item, marker) in items.iter().zip(markers) {
            let lines = wrap(&encode(item), Font::Regular, BODY_SIZE, TEXT_W - indent);
            let mut marker = Some(marker);
            for line in lines {
                let mut row = Block::new(line_h);
                if let Some(m) = marker.take() {
                    let x = marker_end - text_width(&m, Font::Regular, BODY_SIZE);
                    row.text(x, 0.0, BODY_SIZE, Font::Regular, DARK, m);
                }
                row.text(MARGIN + indent, 0.0, BODY_SIZE, Font::Regular, DARK, line);
                self.place(row);
            }
            self.spacer(2.0);
        }
        self.spacer(4.0);
    }

    /// Rows of a bold key and its value, in two columns; both wrap.
    pub fn key_values(&mut self, rows: &[(String, String)]) {
        let line_h = BODY_SIZE * LEADING;
        let keys: Vec<Vec<u8>> = rows.iter().map(|(k, _)| encode(k)).collect();
        let widest = keys
            .iter()
            .map(|k| text_width(k, Font::Bold, BODY_SIZE))
            .fold(0.0, f32::max);
        let key_w = (widest + 12.0).clamp(60.0, TEXT_W * 0.35);
        for ((_, value), key) in rows.iter().zip(&keys) {
            let key_lines = wrap(key, Font::Bold, BODY_SIZE, key_w - 12.0);
            let value_lines = wrap(&encode(value), Font::Regular, BODY_SIZE, TEXT_W - key_w);
            let count = key_lines.len().max(value_lines.len());
            let mut key_lines = key_lines.into_iter();
            let mut value_lines = value_lines.into_iter();
            for _ in 0..count {
                let mut row = Block::new(line_h);
                if let Some(k) = key_lines.next() {
                    row.text(MARGIN, 0.0, BODY_SIZE, Font::Bold, DARK, k);
                }
                if let Some(v) = value_lines.next() {
                    row.text(MARGIN + key_w, 0.0, BODY_SIZE, Font::Regular, DARK, v);
                }
                self.place(row);
            }
            self.spacer(3.0);
        }
        self.spacer(4.0);
    }

    /// A table with a bold header on a grey band, repeated at the top of each page it runs
    /// onto. `widths` are the columns' relative shares of the text width (equal shares when
    /// they are not one positive number per column). Cells wrap; cells that read as numbers
    /// are right-aligned, and so is the header of a column whose first cell is one.
    pub fn table(&mut self, header: &[String], rows: &[Vec<String>], widths: &[f32]) {
        let columns = header
            .len()
            .max(rows.iter().map(Vec::len).max().unwrap_or(0));
        if columns == 0 {
            return;
        }
        let bounds = column_bounds(widths, columns);
        let numeric: Vec<bool> = (0..columns)
            .map(|c| {
                rows.first()
                    .and_then(|r| r.get(c))
                    .is_some_and(|s| looks_numeric(s))
            })
            .collect();
        let head = table_row(header, &bounds, Font::Bold, &numeric);
        let mut first = true;
        for row in rows {
            let right: Vec<bool> = (0..columns)
                .map(|c| row.get(c).is_some_and(|s| looks_numeric(s)))
                .collect();
            let block = table_row(row, &bounds, Font::Regular, &right);
            if first {
                first = false;
                self.place(head.clone().then(block));
                continue;
            }
            if !self.fits(block.height) {
                self.new_page();
                self.put(head.clone());
            }
            self.put(block);
        }
        if first {
            self.place(head);
        }
        self.spacer(8.0);
    }

    /// Horizontal bars from 0 to `max` (a `max` that is not a positive number takes the
    /// largest value): a label, the bar with its value printed at its end, and the target, if
    /// any, as a red vertical tick. A value that is not a number (NaN) reads "sin dato". With
    /// `max` ≤ 1 the values are shares and print as percentages.
    pub fn bar_chart(&mut self, title: &str, bars: &[(String, f64, Option<f64>)], max: f64) {
        let max = scale_max(
            max,
            bars.iter()
                .flat_map(|(_, value, target)| [Some(*value), *target])
                .flatten(),
        );
        let labels: Vec<Vec<u8>> = bars.iter().map(|(l, ..)| encode_line(l)).collect();
        let widest = labels
            .iter()
            .map(|l| text_width(l, Font::Regular, CELL_SIZE))
            .fold(0.0, f32::max);
        let label_w = (widest + 8.0).clamp(60.0, TEXT_W * 0.35);
        let geometry = BarGeometry {
            label_w,
            bar_x: MARGIN + label_w,
            bar_w: TEXT_W - label_w - 56.0,
            max,
            percent: max <= 1.0,
        };
        let mut head = Some(chart_title(title));
        for ((_, value, target), label) in bars.iter().zip(labels) {
            let row = bar_row(&geometry, label, *value, *target);
            match head.take() {
                Some(h) => self.place(h.then(row)),
                None => self.place(row),
            }
        }
        if let Some(h) = head {
            self.place(h);
        }
        if bars.iter().any(|(_, _, t)| t.is_some_and(f64::is_finite)) {
            self.place(target_key(geometry.bar_x));
        }
        self.spacer(8.0);
    }

    /// A small trend chart: one line per series over the x labels (dates, in the order they
    /// first appear), y from 0 to `max` (a `max` that is not a positive number takes the
    /// largest value; with `max` ≤ 1 the axis reads as percentages). Points that are not
    /// numbers break the line. A legend names the series.
    pub fn line_chart(&mut self, title: &str, series: &[(String, Vec<(String, f64)>)], max: f64) {
        let max = scale_max(
            max,
            series
                .iter()
                .flat_map(|(_, points)| points.iter().map(|p| p.1)),
        );
        let key: Vec<(Vec<u8>, Rgb)> = series
            .iter()
            .enumerate()
            .map(|(i, (name, _))| (encode_line(name), palette(i)))
            .collect();
        let block = chart_title(title)
            .then(line_plot(series, max))
            .then(legend(&key, Swatch::Line));
        self.place(block);
        self.spacer(8.0);
    }

    /// Filled polygons (a map already projected to a plane whose y grows downwards), fitted
    /// into the text width × `height` points keeping their aspect ratio, with a legend of
    /// colours below. A height that does not fit on a page is reduced to what does.
    pub fn polygons(
        &mut self,
        title: &str,
        shapes: &[Shape],
        legend_items: &[(String, (u8, u8, u8))],
        height: f32,
    ) {
        let key: Vec<(Vec<u8>, Rgb)> = legend_items
            .iter()
            .map(|(label, color)| (encode_line(label), *color))
            .collect();
        let head = chart_title(title);
        let key = legend(&key, Swatch::Square);
        let room = TOP - BOTTOM - head.height - key.height - 8.0;
        let height = if height.is_finite() && height > 0.0 {
            height.min(room)
        } else {
            room.min(200.0)
        };
        self.place(head.then(shapes_block(shapes, height)).then(key));
        self.spacer(8.0);
    }

    /// Vertical space; none at the top of a page.
    pub fn spacer(&mut self, pt: f32) {
        if !pt.is_finite() || pt <= 0.0 {
            return;
        }
        if !self.pending.is_empty() {
            self.pending.push(Block::space(pt));
        } else if !self.current.is_empty() {
            self.y -= pt;
        }
    }

    /// What follows starts on a new page (nothing happens on an empty page).
    pub fn page_break(&mut self) {
        if !self.current.is_empty() {
            self.new_page();
        }
    }

    /// The PDF file.
    #[must_use]
    pub fn finish(mut self) -> Vec<u8> {
        self.place(Block::default());
        if !self.current.is_empty() || self.pages.is_empty() {
            self.new_page();
        }
        write_pdf(&self.title, &self.footer, &self.pages)
    }

    /// Whether `height` more points fit on the current page (always, on an empty one).
    fn fits(&self, height: f32) -> bool {
        self.current.is_empty() || self.y - height >= BOTTOM
    }

    /// Adds a block after the pending headings, on a new page when they do not fit together.
    fn place(&mut self, block: Block) {
        let pending: f32 = self.pending.iter().map(|b| b.height).sum();
        if !self.fits(pending + block.height) {
            self.new_page();
        }
        for b in std::mem::take(&mut self.pending) {
            self.put(b);
        }
        self.put(block);
    }

    /// Adds a block at the current position, whether it fits or not.
    fn put(&mut self, block: Block) {
        let collapse = if self.current.is_empty() {
            block.collapse.min(block.height)
        } else {
            0.0
        };
        let dy = self.y + collapse;
        self.current
            .extend(block.ops.into_iter().map(|op| op.shifted(dy)));
        self.y -= block.height - collapse;
    }

    fn new_page(&mut self) {
        self.pages.push(std::mem::take(&mut self.current));
        self.y = TOP;
    }
}

fn palette(i: usize) -> Rgb {
    PALETTE.get(i % PALETTE.len()).copied().unwrap_or(DARK)
}

/// A chart's title: 10 pt bold, then a little space.
fn chart_title(title: &str) -> Block {
    let line_h = BODY_SIZE * LEADING;
    let mut block = Block::new(0.0);
    for line in wrap(&encode(title), Font::Bold, BODY_SIZE, TEXT_W) {
        let mut row = Block::new(line_h);
        row.text(MARGIN, 0.0, BODY_SIZE, Font::Bold, DARK, line);
        block = block.then(row);
    }
    block.then(Block::new(4.0))
}

/// The left edge and width of each column.
fn column_bounds(widths: &[f32], columns: usize) -> Vec<(f32, f32)> {
    let valid = widths.len() == columns && widths.iter().all(|w| w.is_finite() && *w > 0.0);
    let shares: Vec<f32> = if valid {
        widths.to_vec()
    } else {
        vec![1.0; columns]
    };
    let total: f32 = shares.iter().sum();
    let mut x = MARGIN;
    shares
        .iter()
        .map(|share| {
            let w = share / total * TEXT_W;
            let column = (x, w);
            x += w;
            column
        })
        .collect()
}

/// One table row with its grid; the header (bold) on a grey band.
fn table_row(cells: &[String], bounds: &[(f32, f32)], font: Font, right: &[bool]) -> Block {
    let line_h = CELL_SIZE * LEADING;
    let wrapped: Vec<Vec<Vec<u8>>> = bounds
        .iter()
        .enumerate()
        .map(|(i, &(_, w))| {
            let text = cells.get(i).map_or("", String::as_str);
            wrap(
                &encode(text),
                font,
                CELL_SIZE,
                (w - 2.0 * CELL_PAD).max(1.0),
            )
        })
        .collect();
    let lines = wrapped.iter().map(Vec::len).max().unwrap_or(1).max(1);
    let height = lines as f32 * line_h + 2.0 * CELL_PAD;
    let mut block = Block::new(height);
    if font == Font::Bold {
        block.fill(MARGIN, -height, TEXT_W, height, HEADER_FILL);
    }
    for ((&(x, w), cell), &right) in bounds.iter().zip(wrapped).zip(right) {
        for (i, line) in cell.into_iter().enumerate() {
            let line_w = text_width(&line, font, CELL_SIZE);
            let tx = if right {
                x + w - CELL_PAD - line_w
            } else {
                x + CELL_PAD
            };
            block.text(
                tx,
                CELL_PAD + i as f32 * line_h,
                CELL_SIZE,
                font,
                DARK,
                line,
            );
        }
    }
    let end = MARGIN + TEXT_W;
    block.line((MARGIN, 0.0), (end, 0.0), 0.5, RULE);
    block.line((MARGIN, -height), (end, -height), 0.5, RULE);
    for x in bounds.iter().map(|b| b.0).chain([end]) {
        block.line((x, 0.0), (x, -height), 0.5, RULE);
    }
    block
}

/// Where the parts of a bar chart go.
struct BarGeometry {
    label_w: f32,
    bar_x: f32,
    bar_w: f32,
    max: f64,
    percent: bool,
}

/// One bar: its label, a light track for the whole scale, the bar, its value and target.
fn bar_row(g: &BarGeometry, label: Vec<u8>, value: f64, target: Option<f64>) -> Block {
    const ROW: f32 = 16.0;
    const BAR_H: f32 = 10.0;
    let mut block = Block::new(ROW);
    let text_top = (ROW - CELL_SIZE * LEADING) / 2.0;
    let label = ellipsize(&label, Font::Regular, CELL_SIZE, g.label_w - 8.0);
    block.text(MARGIN, text_top, CELL_SIZE, Font::Regular, DARK, label);
    let bar_top = (ROW - BAR_H) / 2.0;
    block.fill(g.bar_x, -(bar_top + BAR_H), g.bar_w, BAR_H, TRACK);
    let tick = target
        .filter(|t| t.is_finite())
        .map(|t| g.bar_x + (t / g.max).clamp(0.0, 1.0) as f32 * g.bar_w);
    if value.is_finite() {
        let w = (value / g.max).clamp(0.0, 1.0) as f32 * g.bar_w;
        if w > 0.0 {
            block.fill(g.bar_x, -(bar_top + BAR_H), w, BAR_H, BAR);
        }
        let decimals = usize::from(g.percent || value.fract() != 0.0);
        let text = encode_line(&format_number(value, g.percent, decimals));
        let text_w = text_width(&text, Font::Regular, CELL_SIZE - 1.0);
        let mut x = g.bar_x + w + 3.0;
        // Step over the target's tick rather than print across it.
        if let Some(t) = tick.filter(|&t| t >= x - 2.0 && t <= x + text_w + 2.0) {
            x = t + 3.0;
        }
        block.text(
            x,
            text_top + 0.5,
            CELL_SIZE - 1.0,
            Font::Regular,
            DARK,
            text,
        );
    } else {
        let text = encode_line("sin dato");
        block.text(
            g.bar_x + 3.0,
            text_top + 0.5,
            CELL_SIZE - 1.0,
            Font::Regular,
            GREY,
            text,
        );
    }
    if let Some(x) = tick {
        block.line(
            (x, -(bar_top - 2.0)),
            (x, -(bar_top + BAR_H + 2.0)),
            1.5,
            TARGET,
        );
    }
    block
}

/// The key under a bar chart with targets: a red tick reads "Meta".
fn target_key(x: f32) -> Block {
    let mut block = Block::new(14.0);
    block.line((x, -4.0), (x, -13.0), 1.5, TARGET);
    block.text(
        x + 5.0,
        3.0,
        SMALL_SIZE + 1.0,
        Font::Regular,
        GREY,
        encode_line("Meta"),
    );
    block
}

/// How a legend shows a colour.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Swatch {
    Square,
    Line,
}

/// Colour swatches and their labels, flowing in rows across the text width.
fn legend(items: &[(Vec<u8>, Rgb)], swatch: Swatch) -> Block {
    const ROW: f32 = 12.0;
    const SIZE: f32 = 8.0;
    let mut ops = Block::new(0.0);
    let (mut x, mut row) = (MARGIN, 0u16);
    for (label, color) in items {
        let label = ellipsize(label, Font::Regular, SIZE, TEXT_W - 30.0);
        let w = 14.0 + text_width(&label, Font::Regular, SIZE) + 12.0;
        if x > MARGIN && x + w > MARGIN + TEXT_W {
            row += 1;
            x = MARGIN;
        }
        let top = 4.0 + f32::from(row) * ROW;
        match swatch {
            Swatch::Square => ops.fill(x, -(top + 8.5), 8.0, 8.0, *color),
            Swatch::Line => ops.line((x, -(top + 5.0)), (x + 10.0, -(top + 5.0)), 2.0, *color),
        }
        ops.text(x + 14.0, top, SIZE, Font::Regular, DARK, label);
        x += w;
    }
    if !items.is_empty() {
        ops.height = 4.0 + f32::from(row + 1) * ROW;
    }
    ops
}

/// The plot of a line chart: the y grid with its labels, the x labels, the series.
fn line_plot(series: &[(String, Vec<(String, f64)>)], max: f64) -> Block {
    const PLOT_H: f32 = 130.0;
    const AXIS_W: f32 = 42.0;
    const X_LABELS: f32 = 16.0;
    let percent = max <= 1.0;
    let mut block = Block::new(6.0 + PLOT_H + X_LABELS);
    let (left, right) = (MARGIN + AXIS_W, MARGIN + TEXT_W - 8.0);
    let bottom = -(6.0 + PLOT_H);
    for i in 0..=4u8 {
        let share = f32::from(i) / 4.0;
        let y = bottom + PLOT_H * share;
        let (width, color) = if i == 0 { (0.8, RULE) } else { (0.4, GRID) };
        block.line((left, y), (right, y), width, color);
        let value = max * f64::from(share);
        let decimals = usize::from(!percent && value.fract() != 0.0);
        let text = encode_line(&format_number(value, percent, decimals));
        let x = left - 4.0 - text_width(&text, Font::Regular, SMALL_SIZE);
        block.label(x, y - 2.5, SMALL_SIZE, Font::Regular, GREY, text);
    }
    let mut xs: Vec<&str> = Vec::new();
    for (label, _) in series.iter().flat_map(|(_, points)| points) {
        if !xs.contains(&label.as_str()) {
            xs.push(label);
        }
    }
    let inner = right - left - 20.0;
    let step = if xs.len() > 1 {
        inner / (xs.len() - 1) as f32
    } else {
        inner
    };
    let x_of = |i: usize| {
        if xs.len() > 1 {
            left + 10.0 + step * i as f32
        } else {
            (left + right) / 2.0
        }
    };
    let labels: Vec<Vec<u8>> = xs.iter().map(|l| encode_line(l)).collect();
    let widest = labels
        .iter()
        .map(|l| text_width(l, Font::Regular, SMALL_SIZE))
        .fold(0.0, f32::max);
    // Show every n-th label so that neighbours never touch.
    let every = ((widest + 6.0) / step).ceil().max(1.0) as usize;
    for (i, text) in labels.into_iter().enumerate() {
        let x = x_of(i);
        block.line((x, bottom), (x, bottom - 3.0), 0.5, RULE);
        if i % every == 0 {
            let w = text_width(&text, Font::Regular, SMALL_SIZE);
            let tx = (x - w / 2.0).clamp(MARGIN, MARGIN + TEXT_W - w);
            block.label(tx, bottom - 11.0, SMALL_SIZE, Font::Regular, GREY, text);
        }
    }
    for (k, (_, points)) in series.iter().enumerate() {
        let color = palette(k);
        let mut run: Vec<(f32, f32)> = Vec::new();
        for (label, value) in points {
            let i = xs.iter().position(|x| x == label).unwrap_or(0);
            if !value.is_finite() {
                push_run(&mut block, std::mem::take(&mut run), color);
                continue;
            }
            let y = bottom + (value / max).clamp(0.0, 1.0) as f32 * PLOT_H;
            block.fill(x_of(i) - 1.75, y - 1.75, 3.5, 3.5, color);
            run.push((x_of(i), y));
        }
        push_run(&mut block, run, color);
    }
    block
}

/// A stretch of a series' line, when it joins two points or more.
fn push_run(block: &mut Block, points: Vec<(f32, f32)>, color: Rgb) {
    if points.len() > 1 {
        block.ops.push(Op::Polyline {
            points,
            width: 1.5,
            color,
        });
    }
}

/// The shapes scaled into the text width × `height`, centred, y flipped.
fn shapes_block(shapes: &[Shape], height: f32) -> Block {
    let mut block = Block::new(height + 4.0);
    let points = || {
        shapes
            .iter()
            .flat_map(|s| s.rings.iter().flatten())
            .filter(|(x, y)| x.is_finite() && y.is_finite())
    };
    let (x0, x1) = points().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| {
        (lo.min(p.0), hi.max(p.0))
    });
    let (y0, y1) = points().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| {
        (lo.min(p.1), hi.max(p.1))
    });
    let (w, h) = (x1 - x0, y1 - y0);
    let (room_w, room_h) = (f64::from(TEXT_W), f64::from(height));
    let scale = match (w > 0.0, h > 0.0) {
        (true, true) => (room_w / w).min(room_h / h),
        (true, false) => room_w / w,
        (false, true) => room_h / h,
        (false, false) => return block,
    };
    let left = f64::from(MARGIN) + (room_w - w * scale) / 2.0;
    let top = 4.0 + (room_h - h * scale) / 2.0;
    for shape in shapes {
        let rings: Vec<Vec<(f32, f32)>> = shape
            .rings
            .iter()
            .map(|ring| {
                ring.iter()
                    .filter(|(x, y)| x.is_finite() && y.is_finite())
                    .map(|(x, y)| {
                        let px = left + (x - x0) * scale;
                        let py = -(top + (y - y0) * scale);
                        (px as f32, py as f32)
                    })
                    .collect::<Vec<_>>()
            })
            .filter(|ring| ring.len() >= 3)
            .collect();
        if !rings.is_empty() {
            block.ops.push(Op::Polygon {
                rings,
                fill: shape.fill,
                stroke: shape.stroke_width,
            });
        }
    }
    block
}

/// The footer of page `n` of `total`: a rule, the fixed text, "Página n de total".
fn footer_ops(footer: &[u8], n: usize, total: usize) -> Vec<Op> {
    let page = encode_line(&format!("Página {n} de {total}"));
    let page_w = text_width(&page, Font::Regular, FOOTER_SIZE);
    let left = ellipsize(footer, Font::Regular, FOOTER_SIZE, TEXT_W - page_w - 20.0);
    let mut block = Block::new(0.0);
    block.line(
        (MARGIN, FOOTER_RULE),
        (MARGIN + TEXT_W, FOOTER_RULE),
        0.5,
        RULE,
    );
    block.label(
        MARGIN,
        FOOTER_BASELINE,
        FOOTER_SIZE,
        Font::Regular,
        GREY,
        left,
    );
    block.label(
        MARGIN + TEXT_W - page_w,
        FOOTER_BASELINE,
        FOOTER_SIZE,
        Font::Regular,
        GREY,
        page,
    );
    block.ops
}

/// Object number `n`, within what PDF allows.
fn object(n: usize) -> Ref {
    Ref::new(i32::try_from(n).unwrap_or(i32::MAX).max(1))
}

/// The file: catalog, page tree, Info, the two fonts, then each page and its content stream.
fn write_pdf(title: &str, footer: &[u8], pages: &[Vec<Op>]) -> Vec<u8> {
    let mut pdf = Pdf::new();
    let (catalog, tree, info) = (object(1), object(2), object(3));
    let (regular, bold) = (object(4), object(5));
    let ids: Vec<(Ref, Ref)> = (0..pages.len())
        .map(|i| (object(6 + 2 * i), object(7 + 2 * i)))
        .collect();
    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree)
        .kids(ids.iter().map(|(page, _)| *page))
        .count(i32::try_from(pages.len()).unwrap_or(i32::MAX));
    pdf.document_info(info)
        .title(TextStr(title))
        .producer(TextStr("Vamos"));
    for (id, name) in [(regular, &b"Helvetica"[..]), (bold, &b"Helvetica-Bold"[..])] {
        pdf.type1_font(id)
            .base_font(Name(name))
            .encoding_predefined(Name(b"WinAnsiEncoding"));
    }
    let total = pages.len();
    for (n, (ops, &(page_id, content_id))) in pages.iter().zip(&ids).enumerate() {
        let mut page = pdf.page(page_id);
        page.media_box(Rect::new(0.0, 0.0, PAGE_W, PAGE_H))
            .parent(tree)
            .contents(content_id);
        page.resources()
            .fonts()
            .pair(Font::Regular.resource(), regular)
            .pair(Font::Bold.resource(), bold);
        page.finish();
        let content = render(ops.iter().chain(&footer_ops(footer, n + 1, total)));
        match deflate(&content) {
            Some(packed) => {
                pdf.stream(content_id, &packed).filter(Filter::FlateDecode);
            }
            None => {
                pdf.stream(content_id, &content);
            }
        }
    }
    pdf.finish()
}

fn deflate(data: &[u8]) -> Option<Vec<u8>> {
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(data).ok()?;
    encoder.finish().ok()
}

fn inflate(data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    flate2::read::ZlibDecoder::new(data)
        .read_to_end(&mut out)
        .ok()?;
    Some(out)
}

/// A page's content stream.
fn render<'a>(ops: impl Iterator<Item = &'a Op>) -> Vec<u8> {
    let mut c = Content::new();
    c.set_line_join(LineJoinStyle::RoundJoin);
    for op in ops {
        draw(&mut c, op);
    }
    c.finish().into_vec()
}

fn rgb(color: Rgb) -> (f32, f32, f32) {
    (
        f32::from(color.0) / 255.0,
        f32::from(color.1) / 255.0,
        f32::from(color.2) / 255.0,
    )
}

fn draw(c: &mut Content, op: &Op) {
    match op {
        Op::Text {
            x,
            y,
            size,
            font,
            color,
            bytes,
        } => {
            let (r, g, b) = rgb(*color);
            c.begin_text()
                .set_font(font.resource(), *size)
                .set_fill_rgb(r, g, b)
                .next_line(*x, *y)
                .show(Str(bytes))
                .end_text();
        }
        Op::Line {
            from,
            to,
            width,
            color,
        } => {
            let (r, g, b) = rgb(*color);
            c.set_stroke_rgb(r, g, b)
                .set_line_width(*width)
                .move_to(from.0, from.1)
                .line_to(to.0, to.1)
                .stroke();
        }
        Op::Fill { x, y, w, h, color } => {
            let (r, g, b) = rgb(*color);
            c.set_fill_rgb(r, g, b).rect(*x, *y, *w, *h).fill_nonzero();
        }
        Op::Polyline {
            points,
            width,
            color,
        } => {
            let (r, g, b) = rgb(*color);
            c.set_stroke_rgb(r, g, b).set_line_width(*width);
            path(c, points);
            c.stroke();
        }
        Op::Polygon {
            rings,
            fill,
            stroke,
        } => {
            let (r, g, b) = rgb(*fill);
            c.set_fill_rgb(r, g, b);
            for ring in rings {
                path(c, ring);
                c.close_path();
            }
            if stroke.is_finite() && *stroke > 0.0 {
                let (r, g, b) = rgb(OUTLINE);
                c.set_stroke_rgb(r, g, b)
                    .set_line_width(*stroke)
                    .fill_even_odd_and_stroke();
            } else {
                c.fill_even_odd();
            }
        }
    }
}

fn path(c: &mut Content, points: &[(f32, f32)]) {
    let mut points = points.iter();
    if let Some(&(x, y)) = points.next() {
        c.move_to(x, y);
    }
    for &(x, y) in points {
        c.line_to(x, y);
    }
}

/// The text of a PDF made by [`Doc`] (for tests): the strings shown by the Tj and TJ operators
/// of every page, decoded from WinAnsi, in order; strings on one baseline are joined with a
/// space, lines with '\n', pages with a form feed ('\x0c'), as pdftotext does. It reads only
/// what [`Doc`] writes, not PDF files at large.
#[must_use]
pub fn text_of(pdf: &[u8]) -> String {
    content_streams(pdf)
        .iter()
        .map(|content| shown_text(content))
        .collect::<Vec<_>>()
        .join("\x0c")
}

fn find(haystack: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    haystack
        .get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|i| i + from)
}

/// The (inflated) data of every stream, in file order.
fn content_streams(pdf: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut from = 0;
    let mut object_start = 0;
    while let Some(at) = find(pdf, from, b"stream") {
        from = at + b"stream".len();
        if at >= 3 && pdf.get(at - 3..at) == Some(&b"end"[..]) {
            continue;
        }
        if let Some(obj) = pdf.get(object_start..at).and_then(|s| {
            s.windows(3)
                .rposition(|w| w == b"obj")
                .map(|i| i + object_start)
        }) {
            object_start = obj;
        }
        let dict = pdf.get(object_start..at).unwrap_or_default();
        let Some(length) = length_of(dict) else {
            continue;
        };
        let mut start = from;
        if pdf.get(start) == Some(&b'\r') {
            start += 1;
        }
        if pdf.get(start) == Some(&b'\n') {
            start += 1;
        }
        let Some(end) = start.checked_add(length) else {
            continue;
        };
        let Some(data) = pdf.get(start..end) else {
            continue;
        };
        let data = if find(dict, 0, b"/FlateDecode").is_some() {
            inflate(data)
        } else {
            Some(data.to_vec())
        };
        out.extend(data);
        from = end;
        object_start = from;
    }
    out
}

/// The /Length of a stream's dictionary.
fn length_of(dict: &[u8]) -> Option<usize> {
    let at = find(dict, 0, b"/Length")? + b"/Length".len();
    let rest = dict.get(at..)?;
    let digits: Vec<u8> = rest
        .iter()
        .skip_while(|b| b.is_ascii_whitespace())
        .take_while(|b| b.is_ascii_digit())
        .copied()
        .collect();
    std::str::from_utf8(&digits).ok()?.parse().ok()
}

/// An operand of a content-stream operator, as far as [`text_of`] cares.
enum Operand {
    Text(Vec<u8>),
    Number(f32),
    Other,
}

fn is_delimiter(b: u8) -> bool {
    b.is_ascii_whitespace() || b"()<>[]{}/%".contains(&b)
}

/// The strings a content stream shows, in order.
fn shown_text(content: &[u8]) -> String {
    let mut out = String::new();
    let mut operands: Vec<Operand> = Vec::new();
    let (mut y, mut last_y): (f32, Option<f32>) = (0.0, None);
    let mut i = 0;
    while let Some(&b) = content.get(i) {
        match b {
            b'(' => {
                let (s, next) = literal_string(content, i + 1);
                operands.push(Operand::Text(s));
                i = next;
            }
            b'<' => {
                let (s, next) = hex_string(content, i + 1);
                operands.push(Operand::Text(s));
                i = next;
            }
            b'[' => {
                let (s, next) = array_text(content, i + 1);
                operands.push(Operand::Text(s));
                i = next;
            }
            _ if b.is_ascii_whitespace() || is_delimiter(b) && b != b'/' => i += 1,
            _ => {
                let end = (i + 1..content.len())
                    .find(|&j| content.get(j).is_some_and(|&c| is_delimiter(c)))
                    .unwrap_or(content.len());
                let word = content.get(i..end).unwrap_or_default();
                i = end;
                if word.starts_with(b"/") {
                    operands.push(Operand::Other);
                    continue;
                }
                if let Some(n) = std::str::from_utf8(word).ok().and_then(|s| s.parse().ok()) {
                    operands.push(Operand::Number(n));
                    continue;
                }
                match word {
                    b"Td" | b"TD" | b"Tm" => {
                        if let Some(Operand::Number(n)) = operands.last() {
                            y = *n;
                        }
                    }
                    b"Tj" | b"TJ" | b"'" | b"\"" => {
                        if let Some(Operand::Text(s)) = operands.last() {
                            if let Some(prev) = last_y {
                                out.push(if (prev - y).abs() < 0.5 { ' ' } else { '\n' });
                            }
                            out.push_str(&WINDOWS_1252.decode_without_bom_handling(s).0);
                            last_y = Some(y);
                        }
                    }
                    _ => {}
                }
                operands.clear();
            }
        }
    }
    out
}

/// A literal string's bytes, from just after its '(' ; and where it ends.
fn literal_string(content: &[u8], mut i: usize) -> (Vec<u8>, usize) {
    let mut out = Vec::new();
    let mut depth = 1;
    while let Some(&b) = content.get(i) {
        i += 1;
        match b {
            b'\\' => {
                let Some(&e) = content.get(i) else { break };
                i += 1;
                match e {
                    b'n' => out.push(b'\n'),
                    b'r' => out.push(b'\r'),
                    b't' => out.push(b'\t'),
                    b'b' => out.push(0x08),
                    b'f' => out.push(0x0c),
                    b'0'..=b'7' => {
                        let mut value = u32::from(e - b'0');
                        for _ in 0..2 {
                            match content.get(i) {
                                Some(&d @ b'0'..=b'7') => {
                                    value = value * 8 + u32::from(d - b'0');
                                    i += 1;
                                }
                                _ => break,
                            }
                        }
                        out.push(u8::try_from(value & 0xff).unwrap_or(b'?'));
                    }
                    b'\r' => {
                        if content.get(i) == Some(&b'\n') {
                            i += 1;
                        }
                    }
                    b'\n' => {}
                    other => out.push(other),
                }
            }
            b'(' => {
                depth += 1;
                out.push(b);
            }
            b')' => {
                depth -= 1;
                if depth == 0 {
                    break;
                }
                out.push(b);
            }
            _ => out.push(b),
        }
    }
    (out, i)
}

/// A hex string's bytes, from just after its '<'; and where it ends.
fn hex_string(content: &[u8], mut i: usize) -> (Vec<u8>, usize) {
    let mut nibbles = Vec::new();
    while let Some(&b) = content.get(i) {
        i += 1;
        if b == b'>' {
            break;
        }
        if let Some(d) = char::from(b).to_digit(16) {
            nibbles.push(u8::try_from(d).unwrap_or(0));
        }
    }
    let out = nibbles
        .chunks(2)
        .map(|pair| {
            let high = pair.first().copied().unwrap_or(0);
            let low = pair.get(1).copied().unwrap_or(0);
            high << 4 | low
        })
        .collect();
    (out, i)
}

/// The strings of a TJ array, joined, from just after its '['; and where it ends.
fn array_text(content: &[u8], mut i: usize) -> (Vec<u8>, usize) {
    let mut out = Vec::new();
    while let Some(&b) = content.get(i) {
        match b {
            b']' => return (out, i + 1),
            b'(' => {
                let (s, next) = literal_string(content, i + 1);
                out.extend(s);
                i = next;
            }
            b'<' => {
                let (s, next) = hex_string(content, i + 1);
                out.extend(s);
                i = next;
            }
            _ => i += 1,
        }
    }
    (out, i)
}

// Glyph widths (1/1000 em) of Helvetica and Helvetica-Bold for each WinAnsiEncoding code, in
// code order; 0 where the encoding has no glyph (controls and 0x7F, 0x81, 0x8D, 0x8F, 0x90,
// 0x9D). Generated from the AFM files of URW's Nimbus Sans (fonts-urw-base35:
// /usr/share/fonts/type1/urw-base35/NimbusSans-Regular.afm and NimbusSans-Bold.afm), which are
// metric-compatible with Adobe's Helvetica, by looking up the glyph names of WinAnsiEncoding
// (ISO 32000-1, Annex D.2) in each AFM's "C … ; WX … ; N name" lines. Code 0xA0 is the space
// glyph, 0xAD the hyphen, as WinAnsiEncoding defines them.

/// Helvetica's glyph widths by WinAnsi code (see the comment above for their source).
pub(crate) const HELVETICA_WIDTHS: [u16; 256] = [
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278, 556, 556, 556,
    556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556, 1015, 667, 667, 722, 722, 667,
    611, 778, 722, 278, 500, 667, 556, 833, 722, 778, 667, 778, 722, 667, 611, 722, 667, 944, 667,
    667, 611, 278, 278, 278, 469, 556, 333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500,
    222, 833, 556, 556, 556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584,
    0, 556, 0, 222, 556, 333, 1000, 556, 556, 333, 1000, 667, 333, 1000, 0, 611, 0, 0, 222, 222,
    333, 333, 350, 556, 1000, 333, 1000, 500, 333, 944, 0, 500, 667, 278, 333, 556, 556, 556, 556,
    260, 556, 333, 737, 370, 556, 584, 333, 737, 333, 400, 584, 333, 333, 333, 556, 537, 278, 333,
    333, 365, 556, 834, 834, 834, 611, 667, 667, 667, 667, 667, 667, 1000, 722, 667, 667, 667, 667,
    278, 278, 278, 278, 722, 722, 778, 778, 778, 778, 778, 584, 778, 722, 722, 722, 722, 667, 667,
    611, 556, 556, 556, 556, 556, 556, 889, 500, 556, 556, 556, 556, 278, 278, 278, 278, 556, 556,
    556, 556, 556, 556, 556, 584, 611, 556, 556, 556, 556, 500, 556, 500,
];

/// Helvetica-Bold's glyph widths by WinAnsi code (same source).
pub(crate) const HELVETICA_BOLD_WIDTHS: [u16; 256] = [
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    278, 333, 474, 556, 556, 889, 722, 238, 333, 333, 389, 584, 278, 333, 278, 278, 556, 556, 556,
    556, 556, 556, 556, 556, 556, 556, 333, 333, 584, 584, 584, 611, 975, 722, 722, 722, 722, 667,
    611, 778, 722, 278, 556, 722, 611, 833, 722, 778, 667, 778, 722, 667, 611, 722, 667, 944, 667,
    667, 611, 333, 278, 333, 584, 556, 333, 556, 611, 556, 611, 556, 333, 611, 611, 278, 278, 556,
    278, 889, 611, 611, 611, 611, 389, 556, 333, 611, 556, 778, 556, 556, 500, 389, 280, 389, 584,
    0, 556, 0, 278, 556, 500, 1000, 556, 556, 333, 1000, 667, 333, 1000, 0, 611, 0, 0, 278, 278,
    500, 500, 350, 556, 1000, 333, 1000, 556, 333, 944, 0, 500, 667, 278, 333, 556, 556, 556, 556,
    280, 556, 333, 737, 370, 556, 584, 333, 737, 333, 400, 584, 333, 333, 333, 611, 556, 278, 333,
    333, 365, 556, 834, 834, 834, 611, 722, 722, 722, 722, 722, 722, 1000, 722, 667, 667, 667, 667,
    278, 278, 278, 278, 722, 722, 778, 778, 778, 778, 778, 584, 778, 722, 722, 722, 722, 667, 667,
    611, 556, 556, 556, 556, 556, 556, 889, 556, 556, 556, 556, 556, 278, 278, 278, 278, 611, 611,
    611, 611, 611, 611, 611, 584, 611, 611, 611, 611, 611, 556, 611, 556,
];

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(n: usize, prefix: &str) -> Vec<String> {
        (1..=n).map(|i| format!("{prefix} {i}")).collect()
    }

    /// "Página 1 de N" → N, read from the first page's footer.
    fn page_count(text: &str) -> usize {
        let at = text.find("Página 1 de ").unwrap() + "Página 1 de ".len();
        text[at..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect::<String>()
            .parse()
            .unwrap()
    }

    /// A document with every kind of block; `VAMOS_PDF_SAMPLE=/path` also writes it there, to
    /// look at.
    fn sample() -> Vec<u8> {
        let mut doc = Doc::new("Informe trimestral", "Vamos · Informe de seguimiento");
        doc.heading("Informe trimestral de seguimiento", 1);
        doc.paragraph("Cobertura de los programas por departamento, según el registro de hogares.");
        doc.key_values(&[
            ("Período".to_owned(), "Enero a marzo de 2025".to_owned()),
            ("Fuente".to_owned(), "Registro Social de Hogares".to_owned()),
        ]);
        doc.heading("Cobertura", 2);
        let rows: Vec<Vec<String>> = [
            ("Concepción", "12.340", "45,3 %"),
            ("San Pedro", "8.002", "61,0 %"),
        ]
        .iter()
        .map(|(a, b, c)| vec![(*a).to_owned(), (*b).to_owned(), (*c).to_owned()])
        .collect();
        let header = lines(3, "Columna");
        doc.table(&header, &rows, &[2.0, 1.0, 1.0]);
        doc.bar_chart(
            "Cobertura frente a la meta",
            &[
                ("Concepción".to_owned(), 0.453, Some(0.6)),
                ("San Pedro".to_owned(), 0.61, Some(0.5)),
                ("Boquerón".to_owned(), f64::NAN, Some(0.4)),
            ],
            1.0,
        );
        let points = |v: [f64; 4]| {
            ["2024-06", "2024-09", "2024-12", "2025-03"]
                .iter()
                .zip(v)
                .map(|(d, v)| ((*d).to_owned(), v))
                .collect::<Vec<_>>()
        };
        doc.line_chart(
            "Evolución de la cobertura",
            &[
                ("Tekoporã".to_owned(), points([0.31, 0.35, 0.42, 0.45])),
                (
                    "Adultos mayores".to_owned(),
                    points([0.52, f64::NAN, 0.58, 0.6]),
                ),
            ],
            1.0,
        );
        let square = |x: f64, y: f64, s: f64| vec![(x, y), (x + s, y), (x + s, y + s), (x, y + s)];
        doc.polygons(
            "Departamentos",
            &[
                Shape {
                    rings: vec![square(0.0, 0.0, 10.0), square(3.0, 3.0, 2.0)],
                    fill: (52, 101, 164),
                    stroke_width: 0.5,
                },
                Shape {
                    rings: vec![vec![(10.0, 0.0), (20.0, 5.0), (10.0, 10.0)]],
                    fill: (255, 127, 14),
                    stroke_width: 0.5,
                },
            ],
            &[
                ("Baja".to_owned(), (52, 101, 164)),
                ("Alta".to_owned(), (255, 127, 14)),
            ],
            120.0,
        );
        doc.bullets(&["Primer punto".to_owned(), "Segundo punto".to_owned()]);
        doc.numbered(&["Aprobar el acta".to_owned(), "Cerrar la sesión".to_owned()]);
        let pdf = doc.finish();
        if let Some(path) = std::env::var_os("VAMOS_PDF_SAMPLE") {
            std::fs::write(path, &pdf).unwrap();
        }
        pdf
    }

    #[test]
    fn text_of_finds_spanish_text_with_accents_and_enye() {
        let mut doc = Doc::new("Acta", "Acta de reunión");
        doc.paragraph("Añoranza: información pública");
        let text = text_of(&doc.finish());
        assert!(text.contains("Añoranza: información pública"), "{text}");
        assert!(text.contains("Acta de reunión Página 1 de 1"), "{text}");
    }

    #[test]
    fn a_long_paragraph_wraps_and_breaks_onto_a_second_page() {
        let mut doc = Doc::new("Acta", "Acta");
        let long = "palabra ".repeat(1500);
        doc.paragraph(&long);
        let text = text_of(&doc.finish());
        assert!(page_count(&text) >= 2, "{text}");
        assert!(text.contains("Página 2 de"));
        let first = text.lines().next().unwrap();
        assert!(
            first.starts_with("palabra palabra") && first.len() < 120,
            "{first}"
        );
    }

    #[test]
    fn the_table_header_repeats_on_a_new_page() {
        let mut doc = Doc::new("Informe", "Informe");
        let header = vec!["Distrito".to_owned(), "Hogares".to_owned()];
        let rows: Vec<Vec<String>> = (1..=120)
            .map(|i| vec![format!("Distrito {i}"), format!("{}", i * 10)])
            .collect();
        doc.table(&header, &rows, &[3.0, 1.0]);
        let text = text_of(&doc.finish());
        let pages: Vec<&str> = text.split('\x0c').collect();
        assert!(pages.len() >= 2);
        for page in &pages {
            assert!(page.starts_with("Distrito Hogares\n"), "{page}");
        }
        assert!(text.contains("Distrito 120 1200"));
    }

    #[test]
    fn a_character_outside_cp1252_becomes_a_question_mark() {
        let mut doc = Doc::new("Acta", "Acta");
        doc.paragraph("Guaraní: ẽ y 中");
        let text = text_of(&doc.finish());
        assert!(text.contains("Guaraní: ? y ?"), "{text}");
    }

    #[test]
    fn the_output_is_a_whole_pdf_file() {
        let pdf = sample();
        assert!(pdf.starts_with(b"%PDF-"));
        assert!(pdf.trim_ascii_end().ends_with(b"%%EOF"));
    }

    #[test]
    fn the_widths_are_helveticas_afm_values() {
        assert_eq!(HELVETICA_WIDTHS[usize::from(b'a')], 556);
        assert_eq!(HELVETICA_WIDTHS[usize::from(b'W')], 944);
        assert_eq!(HELVETICA_WIDTHS[usize::from(b' ')], 278);
        assert_eq!(HELVETICA_BOLD_WIDTHS[usize::from(b'a')], 556);
        assert_eq!(HELVETICA_BOLD_WIDTHS[usize::from(b'W')], 944);
        assert_eq!(HELVETICA_BOLD_WIDTHS[usize::from(b'i')], 278);
    }

    #[test]
    fn every_block_shows_its_text() {
        let text = text_of(&sample());
        for wanted in [
            "Informe trimestral de seguimiento",
            "Período Enero a marzo de 2025",
            "Concepción 12.340 45,3 %",
            "45,3 %",
            "sin dato",
            "Meta",
            "2024-06",
            "Tekoporã",
            "Baja",
            "• Primer punto",
            "2. Cerrar la sesión",
        ] {
            assert!(text.contains(wanted), "{wanted:?} not in {text}");
        }
    }

    #[test]
    fn a_heading_is_kept_with_what_follows_it() {
        // Fill the first page so that a level-2 heading (10 + 17.5 + 4 pt) still fits below
        // the text, but not with one more line of text.
        let line_h = BODY_SIZE * LEADING;
        let n = ((TOP - BOTTOM - 6.0 - 31.5) / line_h) as usize;
        let build = |follow: bool| {
            let mut doc = Doc::new("Acta", "Acta");
            doc.paragraph(&lines(n, "línea").join("\n"));
            doc.heading("Título", 2);
            if follow {
                doc.paragraph("Texto del apartado");
            }
            text_of(&doc.finish())
        };
        let alone = build(false);
        assert_eq!(alone.split('\x0c').count(), 1, "{alone}");
        let text = build(true);
        let pages: Vec<&str> = text.split('\x0c').collect();
        assert_eq!(pages.len(), 2, "{text}");
        assert!(
            pages[1].starts_with("Título\nTexto del apartado"),
            "{}",
            pages[1]
        );
    }

    #[test]
    fn numeric_looking_cells_are_right_aligned() {
        for cell in ["1.234", "45,3 %", "-2", "0"] {
            assert!(looks_numeric(cell), "{cell}");
        }
        for cell in ["2024-01-15", "15/03/2024", "Distrito 3", "", "%"] {
            assert!(!looks_numeric(cell), "{cell}");
        }
    }

    #[test]
    fn numbers_print_the_paraguayan_way() {
        assert_eq!(format_number(1_234_567.0, false, 0), "1.234.567");
        assert_eq!(format_number(0.453, true, 1), "45,3 %");
        assert_eq!(format_number(-1234.5, false, 1), "-1.234,5");
        assert_eq!(format_number(f64::NAN, true, 1), "sin dato");
    }

    #[test]
    fn a_scale_without_a_maximum_rounds_up_the_largest_value() {
        assert!((scale_max(0.8, [5.0].into_iter()) - 0.8).abs() < 1e-12);
        assert!((scale_max(f64::NAN, [962.5, f64::NAN].into_iter()) - 1000.0).abs() < 1e-9);
        assert!((scale_max(0.0, [5_678.5].into_iter()) - 10_000.0).abs() < 1e-9);
        assert!((scale_max(0.0, [0.21].into_iter()) - 0.25).abs() < 1e-12);
        assert!((scale_max(0.0, [200.0].into_iter()) - 200.0).abs() < 1e-9);
        assert!((scale_max(-1.0, std::iter::empty()) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn wrapped_lines_fit_the_width() {
        let text = encode(&"información ".repeat(40));
        for line in wrap(&text, Font::Regular, BODY_SIZE, 200.0) {
            assert!(text_width(&line, Font::Regular, BODY_SIZE) <= 200.0);
        }
        let word = encode(&"x".repeat(300));
        assert!(wrap(&word, Font::Bold, BODY_SIZE, 100.0).len() > 1);
    }
}
