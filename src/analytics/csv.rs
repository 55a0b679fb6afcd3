//! CSV for spreadsheets (RFC 4180): cells quoted when they hold a comma, a quote or a line
//! break, and cells a spreadsheet would run as a formula (starting with `=`, `+`, `-`, `@`,
//! a tab or a carriage return) prefixed with `'` (OWASP's advice against CSV injection).

/// One cell, escaped and quoted as needed.
pub fn cell(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    push_cell(&mut out, value, true);
    out
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

/// Appends one cell, escaped and quoted as needed, to `out`, after a comma unless `first`:
/// exports of many rows write every cell into one buffer instead of allocating it.
pub fn push_cell(out: &mut String, value: &str, first: bool) {
    if !first {
        out.push(',');
    }
    // A byte scan: the four are ASCII, and exports call this for every cell of every row.
    let quoted = value
        .bytes()
        .any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r'));
    if quoted {
        out.push('"');
    }
    if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        out.push('\'');
    }
    if quoted {
        for (i, part) in value.split('"').enumerate() {
            if i > 0 {
                out.push_str("\"\"");
            }
            out.push_str(part);
        }
        out.push('"');
    } else {
        out.push_str(value);
    }
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

    #[test]
    fn push_cell_appends_after_a_comma() {
        let mut out = String::from("1");
        push_cell(&mut out, "=2", false);
        push_cell(&mut out, "a \"b\"", false);
        push_cell(&mut out, "", false);
        assert_eq!(out, "1,'=2,\"a \"\"b\"\"\",");
        let mut out = String::new();
        push_cell(&mut out, "x,y", true);
        assert_eq!(out, "\"x,y\"");
    }
}
