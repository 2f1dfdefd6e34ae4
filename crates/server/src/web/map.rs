//! Maps and charts drawn on the server as SVG — no script, no tiles, nothing fetched from
//! elsewhere: the choropleth of the 18 departments (INE/DGEEC boundaries,
//! projected by `vamos_app::geo`)
//! coloured by a Logro's coverage in five classes, and the trend line across measurements.
//! Each figure has a table next to it on the page for readers who cannot see the picture.

use super::i18n::Lang;
use std::fmt::Write;
use std::sync::OnceLock;

/// Width and height of the map's drawing.
const W: f64 = 400.0;
const H: f64 = 420.0;

/// Colour classes: coverage below 20 %, 40 %, 60 %, 80 %, and up to 100 % (a sequential,
/// colour-blind-safe scale); grey when there is no figure (nobody identified, or suppressed).
pub const CLASSES: [(&str, f64); 5] = [
    ("#fde725", 0.2),
    ("#5ec962", 0.4),
    ("#21918c", 0.6),
    ("#3b528b", 0.8),
    ("#440154", 1.01),
];
pub const NO_DATA: &str = "#d0d0d0";

/// The colour of a coverage.
pub fn colour(coverage: Option<f64>) -> &'static str {
    match coverage {
        None => NO_DATA,
        Some(c) => CLASSES
            .iter()
            .find(|(_, upper)| c < *upper)
            .map_or(CLASSES[4].0, |(col, _)| col),
    }
}

/// Department code → SVG path data.
fn paths() -> &'static Vec<(u8, String)> {
    static PATHS: OnceLock<Vec<(u8, String)>> = OnceLock::new();
    PATHS.get_or_init(|| build_paths().unwrap_or_default())
}

fn build_paths() -> Option<Vec<(u8, String)>> {
    let shapes = vamos_app::geo::departments(W, H);
    if shapes.is_empty() {
        return None;
    }
    Some(
        shapes
            .into_iter()
            .map(|(code, rings)| {
                let mut d = String::new();
                for ring in rings {
                    for (i, (x, y)) in ring.iter().enumerate() {
                        let _ = write!(d, "{}{:.1},{:.1}", if i == 0 { "M" } else { "L" }, x, y);
                    }
                    d.push('Z');
                }
                (code, d)
            })
            .collect(),
    )
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The departments coloured by coverage: `values` are (department, coverage, name); each
/// department links to its dashboard for Logro `logro`; `highlighted` is outlined.
pub fn departments_svg(
    values: &[(u8, Option<f64>, String)],
    highlighted: Option<u8>,
    logro: u8,
    lang: Lang,
    title: &str,
) -> String {
    choropleth(
        values,
        highlighted,
        &|code| format!("/logros?t={code:02}&amp;logro={logro}"),
        &CLASSES,
        lang,
        title,
    )
}

/// Classes of a share where more is worse (the incidence of multidimensional poverty): below
/// 10 %, 20 %, 30 %, 40 %, and above, on the same colour-blind-safe scale.
pub const SHARE_CLASSES: [(&str, f64); 5] = [
    ("#fde725", 0.1),
    ("#5ec962", 0.2),
    ("#21918c", 0.3),
    ("#3b528b", 0.4),
    ("#440154", 1.01),
];

/// The legend of some classes: (colour, lower bound, upper bound) in percent.
pub fn legend_of(classes: &[(&str, f64)]) -> Vec<(String, u32, u32)> {
    let mut lower = 0;
    classes
        .iter()
        .map(|(c, upper)| {
            let u = ((upper * 100.0).round() as u32).min(100);
            let row = (c.to_string(), lower, u);
            lower = u;
            row
        })
        .collect()
}

/// The departments coloured by a share in `classes`: `values` are (department, share, name),
/// each department links to `href(code)` (already escaped); `highlighted` is outlined.
pub fn choropleth(
    values: &[(u8, Option<f64>, String)],
    highlighted: Option<u8>,
    href: &dyn Fn(u8) -> String,
    classes: &[(&str, f64)],
    lang: Lang,
    title: &str,
) -> String {
    let colour = |x: Option<f64>| match x {
        None => NO_DATA,
        Some(c) => classes
            .iter()
            .find(|(_, upper)| c < *upper)
            .or(classes.last())
            .map_or(NO_DATA, |(col, _)| col),
    };
    let mut s = format!(
        "<svg class=\"map\" viewBox=\"0 0 {W} {H}\" role=\"group\" aria-label=\"{}\" xmlns=\"http://www.w3.org/2000/svg\">",
        escape(title)
    );
    let mut last = String::new();
    for (code, d) in paths() {
        let (cov, name) = values
            .iter()
            .find(|(c, _, _)| c == code)
            .map(|(_, v, n)| (*v, n.clone()))
            .unwrap_or((None, format!("{code:02}")));
        let label = format!("{}: {}", name, lang.pct(cov));
        let path = format!(
            "<a href=\"{href}\" aria-label=\"{label}\"><path d=\"{d}\" fill=\"{fill}\" class=\"dep{sel}\"><title>{label}</title></path></a>",
            href = href(*code),
            label = escape(&label),
            fill = colour(cov),
            sel = if highlighted == Some(*code) { " sel" } else { "" },
        );
        // The highlighted department is drawn last so that its outline is on top.
        if highlighted == Some(*code) {
            last = path;
        } else {
            s.push_str(&path);
        }
    }
    s.push_str(&last);
    s.push_str("</svg>");
    s
}

/// The legend: (colour, lower bound, upper bound) of each class, in percent.
pub fn legend() -> Vec<(String, u32, u32)> {
    let mut lower = 0;
    CLASSES
        .iter()
        .map(|(c, upper)| {
            let u = ((upper * 100.0).round() as u32).min(100);
            let row = (c.to_string(), lower, u);
            lower = u;
            row
        })
        .collect()
}

/// Horizontal bars of shares (`items`: label and share of 1), longest first as given — the
/// percentage contributions of the indicators to the poverty index.
pub fn bars_svg(items: &[(String, f64)], lang: Lang, title: &str) -> String {
    let (label_w, bar_w, row) = (350.0, 260.0, 22.0);
    let h = row * items.len() as f64 + 8.0;
    let mut s = format!(
        "<svg class=\"contrib\" viewBox=\"0 0 {} {h}\" role=\"img\" aria-label=\"{}\" xmlns=\"http://www.w3.org/2000/svg\">",
        label_w + bar_w + 60.0,
        escape(title)
    );
    let max = items
        .iter()
        .map(|(_, x)| *x)
        .fold(0.0_f64, f64::max)
        .max(1e-9);
    for (i, (label, x)) in items.iter().enumerate() {
        let y = 4.0 + row * i as f64;
        let w = (x / max * bar_w).max(0.0);
        let _ = write!(
            s,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\" class=\"lbl\">{}</text><rect x=\"{label_w}\" y=\"{}\" width=\"{w:.1}\" height=\"{}\" fill=\"#21918c\"/><text x=\"{}\" y=\"{}\" class=\"val\">{}</text>",
            label_w - 6.0,
            y + 14.0,
            escape(label),
            y + 3.0,
            row - 6.0,
            label_w + w + 4.0,
            y + 14.0,
            escape(&lang.pct(Some(*x)))
        );
    }
    s.push_str("</svg>");
    s
}

/// A line of coverage across measurements (oldest first); gaps where there is no figure.
pub fn trend_svg(points: &[Option<f64>], title: &str) -> String {
    let (w, h, pad) = (320.0, 120.0, 16.0);
    let mut s = format!(
        "<svg class=\"trend\" viewBox=\"0 0 {w} {h}\" role=\"img\" aria-label=\"{}\" xmlns=\"http://www.w3.org/2000/svg\">",
        escape(title)
    );
    for pct in [0.0, 0.5, 1.0] {
        let y = h - pad - pct * (h - 2.0 * pad);
        let _ = write!(
            s,
            "<line x1=\"{pad}\" x2=\"{}\" y1=\"{y:.1}\" y2=\"{y:.1}\" class=\"grid\"/><text x=\"0\" y=\"{:.1}\" class=\"axis\">{}</text>",
            w - pad,
            y + 4.0,
            (pct * 100.0) as u32
        );
    }
    let n = points.len().max(1);
    let step = if n > 1 {
        (w - 2.0 * pad - 12.0) / (n - 1) as f64
    } else {
        0.0
    };
    let mut line = String::new();
    for (i, p) in points.iter().enumerate() {
        let x = pad + 12.0 + step * i as f64;
        match p {
            Some(c) => {
                let y = h - pad - c * (h - 2.0 * pad);
                let _ = write!(
                    line,
                    "{}{x:.1},{y:.1} ",
                    if line.is_empty() { "M" } else { "L" }
                );
                let _ = write!(
                    s,
                    "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"3.5\" class=\"dot\"/>"
                );
            }
            None => {
                if !line.is_empty() {
                    let _ = write!(s, "<path d=\"{line}\" class=\"line\"/>");
                    line.clear();
                }
            }
        }
    }
    if !line.is_empty() {
        let _ = write!(s, "<path d=\"{line}\" class=\"line\"/>");
    }
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_department_is_drawn_inside_the_frame() {
        let p = paths();
        assert_eq!(p.len(), 18);
        for (_, d) in p {
            for n in d
                .split(|c: char| "MLZ,".contains(c))
                .filter(|x| !x.is_empty())
            {
                let v: f64 = n.parse().unwrap();
                assert!((0.0..=H.max(W)).contains(&v), "{v}");
            }
        }
    }

    #[test]
    fn coverage_picks_its_class_and_missing_figures_are_grey() {
        assert_eq!(colour(None), NO_DATA);
        assert_eq!(colour(Some(0.0)), "#fde725");
        assert_eq!(colour(Some(0.39)), "#5ec962");
        assert_eq!(colour(Some(1.0)), "#440154");
        let svg = departments_svg(
            &[(11, Some(0.5), "Central".into())],
            Some(11),
            4,
            Lang::Es,
            "Mapa",
        );
        assert!(svg.contains("Central: 50,0 %"));
        assert!(svg.contains("/logros?t=11&amp;logro=4"));
        assert!(svg.ends_with("</a></svg>"));
        assert_eq!(legend().first().unwrap().1, 0);
        assert_eq!(legend().last().unwrap().2, 100);
    }

    #[test]
    fn the_trend_breaks_where_a_figure_is_missing() {
        let svg = trend_svg(&[Some(0.2), None, Some(0.4), Some(0.5)], "t");
        assert_eq!(svg.matches("class=\"line\"").count(), 2);
        assert_eq!(svg.matches("class=\"dot\"").count(), 3);
    }
}
