//! CSV for spreadsheets (RFC 4180): cells quoted when they hold a comma, a quote or a line
//! break, and cells a spreadsheet would run as a formula (starting with `=`, `+`, `-`, `@`,
//! a tab or a carriage return) prefixed with `'` (OWASP's advice against CSV injection).

/// One cell, escaped and quoted as needed.
pub fn cell(value: &str) -> String {
    let value = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_string()
    };
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
    }
}

/// One line of cells, ending in CRLF.
pub fn line<S: AsRef<str>>(cells: &[S]) -> String {
    let mut out = cells
        .iter()
        .map(|c| cell(c.as_ref()))
        .collect::<Vec<_>>()
        .join(",");
    out.push_str("\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_defused_and_special_characters_quoted() {
        assert_eq!(cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(cell("+1"), "'+1");
        assert_eq!(cell("-2"), "'-2");
        assert_eq!(cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(cell("a, b"), "\"a, b\"");
        assert_eq!(cell("plain"), "plain");
        assert_eq!(cell("1.5"), "1.5");
        assert_eq!(line(&["a", "b\nc"]), "a,\"b\nc\"\r\n");
    }
}
