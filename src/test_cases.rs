//! Access to the shared real-world `.eml` cases for unit tests.
//! `FRONTDESK_TEST_SHARED` points at the folder; by default `../shared/cases/email`.

use std::path::PathBuf;

pub fn dir() -> PathBuf {
    std::env::var_os("FRONTDESK_TEST_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/cases/email"))
}

/// The raw bytes of one case file; panics with the path when it is missing.
pub fn case(name: &str) -> Vec<u8> {
    let p = dir().join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("shared case {}: {e}", p.display()))
}

/// Every `.eml` case, sorted by name.
pub fn all() -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<_> = std::fs::read_dir(dir())
        .expect("shared cases folder")
        .filter_map(|e| e.ok())
        .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    v.sort();
    assert!(
        v.len() >= 30,
        "expected the shared cases in {}",
        dir().display()
    );
    v
}
