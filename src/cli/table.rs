//! How the list commands print: aligned plain-text tables, UTC times, first lines.

/// `2026-11-29 15:05 UTC`, or `never`.
pub(super) fn utc(at: Option<time::OffsetDateTime>) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    at.and_then(|t| t.to_offset(time::UtcOffset::UTC).format(&format).ok())
        .unwrap_or_else(|| "never".into())
}

/// The items joined with `, `, or `-` when there are none.
pub(super) fn list_or_dash(items: &[String]) -> String {
    if items.is_empty() {
        "-".into()
    } else {
        items.join(", ")
    }
}

/// The first non-empty line of `text`, cut to `max` characters with `…`.
pub(super) fn first_line(text: &str, max: usize) -> String {
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    if line.chars().count() > max {
        let cut: String = line.chars().take(max - 1).collect();
        format!("{cut}…")
    } else {
        line.to_string()
    }
}

/// A plain table: a header row, then one line per row, each column padded to its widest cell
/// and two spaces from the next; the last column is not padded, and no line ends in spaces.
pub(super) fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let header: Vec<String> = header.iter().map(|h| h.to_string()).collect();
    for row in std::iter::once(&header).chain(rows) {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            line.push_str(cell);
            if i + 1 < row.len() {
                let pad = widths[i] - cell.chars().count() + 2;
                line.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_columns_and_leave_no_trailing_spaces() {
        let rows = vec![
            vec!["1".into(), "dana@example.com".into(), "Dana Lee".into()],
            vec!["12".into(), "jo@example.com".into(), String::new()],
        ];
        assert_eq!(
            table(&["ID", "EMAIL", "NAME"], &rows),
            "ID  EMAIL             NAME\n\
             1   dana@example.com  Dana Lee\n\
             12  jo@example.com\n"
        );
    }

    #[test]
    fn first_lines_are_cut_on_characters() {
        assert_eq!(first_line("\n  Hallo Jürgen,\nmore", 40), "Hallo Jürgen,");
        assert_eq!(first_line("äöüäöü", 4), "äöü…");
    }
}
