//! The mail fixtures in `tests/fixtures/mail` (real-world kinds of `.eml`, indexed with their
//! expected outcomes in that folder's README.md), for unit tests.

use std::path::PathBuf;

/// `tests/fixtures/mail` of this repository.
pub fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mail")
}

/// The raw bytes of one fixture; panics with the path when it is missing.
pub fn case(name: &str) -> Vec<u8> {
    let p = dir().join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("mail fixture {}: {e}", p.display()))
}

/// Every `.eml` fixture, sorted by name.
pub fn all() -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<_> = eml_names()
        .into_iter()
        .map(|name| {
            let raw = case(&name);
            (name, raw)
        })
        .collect();
    v.sort();
    assert!(
        v.len() >= 30,
        "expected the mail fixtures in {}",
        dir().display()
    );
    v
}

/// File names of the `.eml` files in the fixture folder.
fn eml_names() -> Vec<String> {
    std::fs::read_dir(dir())
        .unwrap_or_else(|e| panic!("mail fixtures folder {}: {e}", dir().display()))
        .filter_map(|e| e.ok())
        .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

/// The `.eml` names the fixture index (the folder's README.md) has a row for: table rows whose
/// first cell names one file in backticks.
fn indexed_names(index: &str) -> Vec<String> {
    index
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|rest| rest.split_once('`'))
        .map(|(name, _)| name.to_string())
        .filter(|name| name.ends_with(".eml"))
        .collect()
}

mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn fixture_index_matches_the_folder() {
        let path = dir().join("README.md");
        let index = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("fixture index {}: {e}", path.display()));
        let rows = indexed_names(&index);
        let listed: BTreeSet<String> = rows.iter().cloned().collect();
        assert_eq!(listed.len(), rows.len(), "a fixture has two rows: {rows:?}");
        let present: BTreeSet<String> = eml_names().into_iter().collect();
        let missing: Vec<_> = listed.difference(&present).collect();
        let unlisted: Vec<_> = present.difference(&listed).collect();
        assert!(
            missing.is_empty() && unlisted.is_empty(),
            "{}: rows for missing files {missing:?}; files without a row {unlisted:?}",
            path.display()
        );
    }

    #[test]
    fn index_rows_are_read_from_the_first_cell_only() {
        let index = "| file | what | outcome |\n|---|---|---|\n\
                     | `01-a.eml` | uses `02-b.eml` | ok |\n\
                     - `03-c.eml` in prose\n| `04-d.eml` | x | y |\n";
        assert_eq!(indexed_names(index), ["01-a.eml", "04-d.eml"]);
    }
}
