//! Small display helpers for templates. Times are shown in UTC until agents have time zones.

use time::OffsetDateTime;
use time::macros::format_description;

/// `2026-11-29 14:05 UTC`.
pub fn datetime(t: OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC)
        .format(format_description!(
            "[year]-[month]-[day] [hour]:[minute] UTC"
        ))
        .unwrap_or_default()
}

/// How long ago, compactly: `now`, `5m`, `3h`, `2d`, `6w`, `1y`.
pub fn age(t: OffsetDateTime) -> String {
    let s = (OffsetDateTime::now_utc() - t).whole_seconds().max(0);
    match s {
        0..60 => "now".into(),
        60..3600 => format!("{}m", s / 60),
        3600..86_400 => format!("{}h", s / 3600),
        86_400..3_024_000 => format!("{}d", s / 86_400),
        3_024_000..31_536_000 => format!("{}w", s / 604_800),
        _ => format!("{}y", s / 31_536_000),
    }
}

/// `12 KB`, `3.4 MB`.
pub fn size(bytes: i64) -> String {
    match bytes {
        0..1024 => format!("{bytes} B"),
        1024..1_048_576 => format!("{} KB", bytes / 1024),
        _ => format!("{:.1} MB", bytes as f64 / 1_048_576.0),
    }
}

/// Splits a plain-text body into what the sender wrote and the quoted history below it
/// (a `>` block, or a client's "On … wrote:" / "-----Original Message-----" line).
pub fn split_quoted(text: &str) -> (String, String) {
    let lines: Vec<&str> = text.lines().collect();
    let markers = [
        "-----original message-----",
        "-----ursprüngliche nachricht-----",
        "-----ursprungliche nachricht-----",
    ];
    for (i, line) in lines.iter().enumerate() {
        let l = line.trim().to_lowercase();
        let wrote = (l.starts_with("on ") && l.ends_with("wrote:"))
            || (l.starts_with("am ") && l.ends_with("schrieb:"));
        let quote_block = l.starts_with('>')
            && lines[i..]
                .iter()
                .take(3)
                .all(|x| x.trim_start().starts_with('>') || x.trim().is_empty());
        if i > 0 && (markers.iter().any(|m| l.starts_with(m)) || wrote || quote_block) {
            return (
                lines[..i].join("\n").trim_end().to_string(),
                lines[i..].join("\n"),
            );
        }
    }
    (text.trim_end().to_string(), String::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_history_is_split_off() {
        let (main, quoted) = split_quoted("Thanks!\n\nOn Mon, Dana wrote:\n> hi\n");
        assert_eq!(main, "Thanks!");
        assert!(quoted.starts_with("On Mon"));
        let (main, quoted) = split_quoted("no quote here");
        assert_eq!((main.as_str(), quoted.as_str()), ("no quote here", ""));
    }

    #[test]
    fn sizes_and_ages_are_compact() {
        assert_eq!(size(113), "113 B");
        assert_eq!(size(4096), "4 KB");
        assert_eq!(
            age(OffsetDateTime::now_utc() - time::Duration::hours(3)),
            "3h"
        );
    }
}
