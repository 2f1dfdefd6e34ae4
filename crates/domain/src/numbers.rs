//! Numbers as people read them: thousands grouped (`1.234.567` in Spanish, `1,234,567` in
//! English), for the web pages and the command line alike.

/// `n` with its thousands separated by `sep`.
pub fn grouped(n: i64, sep: char) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(sep);
        }
        out.push(c);
    }
    out
}

/// `x` with `places` decimals and a decimal comma (Spanish: `15,67`).
pub fn decimal_es(x: f64, places: usize) -> String {
    format!("{x:.places$}").replace('.', ",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_are_written_with_a_comma() {
        assert_eq!(decimal_es(15.674, 2), "15,67");
        assert_eq!(decimal_es(0.1234, 4), "0,1234");
    }

    #[test]
    fn thousands_are_grouped_with_the_separator_given() {
        assert_eq!(grouped(0, '.'), "0");
        assert_eq!(grouped(999, '.'), "999");
        assert_eq!(grouped(1_234_567, '.'), "1.234.567");
        assert_eq!(grouped(-40_500_000, ','), "-40,500,000");
    }
}
