//! Rows in COPY's binary format (PostgreSQL manual, "COPY", section "Binary Format"), for bulk
//! loads that skip the parsing of text COPY and the array decoding of `unnest` parameters: the
//! ingest's raw mail and messages, and the benchmark seeder.
//!
//! A load is [`header`], then per row [`row`] and one value per column in the COPY statement's
//! order, then [`trailer`]; the bytes go to [`copy_in`]. Each value is a big-endian `i32`
//! length (`-1` for NULL) and the type's binary form.

use sqlx::PgConnection;
use time::OffsetDateTime;

/// Seconds from the Unix epoch to PostgreSQL's (2000-01-01 UTC).
const PG_EPOCH: i64 = 946_684_800;

/// The file header: signature, flags (no OIDs), no header extension.
pub fn header(b: &mut Vec<u8>) {
    b.extend_from_slice(b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0");
}

/// The end-of-data marker.
pub fn trailer(b: &mut Vec<u8>) {
    b.extend_from_slice(&(-1i16).to_be_bytes());
}

/// Starts a row of `fields` values.
pub fn row(b: &mut Vec<u8>, fields: i16) {
    b.extend_from_slice(&fields.to_be_bytes());
}

fn len(b: &mut Vec<u8>, n: usize) {
    b.extend_from_slice(&(n as i32).to_be_bytes());
}

/// NULL.
pub fn null(b: &mut Vec<u8>) {
    b.extend_from_slice(&(-1i32).to_be_bytes());
}

/// A `bigint`.
pub fn int8(b: &mut Vec<u8>, v: i64) {
    len(b, 8);
    b.extend_from_slice(&v.to_be_bytes());
}

/// A `text` (UTF-8, as the database's encoding is).
pub fn text(b: &mut Vec<u8>, s: &str) {
    len(b, s.len());
    b.extend_from_slice(s.as_bytes());
}

/// A `text`, NULL for `None`.
pub fn opt_text(b: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => text(b, s),
        None => null(b),
    }
}

/// A `bytea`.
pub fn bytea(b: &mut Vec<u8>, bytes: &[u8]) {
    len(b, bytes.len());
    b.extend_from_slice(bytes);
}

/// A `jsonb` from its JSON text.
pub fn jsonb(b: &mut Vec<u8>, json: &str) {
    len(b, json.len() + 1);
    b.push(1); // jsonb binary format version
    b.extend_from_slice(json.as_bytes());
}

/// A `timestamptz` from seconds since the Unix epoch.
pub fn timestamptz_unix(b: &mut Vec<u8>, unix_secs: i64) {
    int8(b, (unix_secs - PG_EPOCH) * 1_000_000);
}

/// A `timestamptz` (microsecond precision, as PostgreSQL keeps it).
pub fn timestamptz(b: &mut Vec<u8>, at: OffsetDateTime) {
    let micros = (at.unix_timestamp_nanos() / 1_000) as i64;
    int8(b, micros - PG_EPOCH * 1_000_000);
}

/// A one-dimensional `text[]` without nulls.
pub fn text_array<S: AsRef<str>>(b: &mut Vec<u8>, items: &[S]) {
    const TEXT_OID: i32 = 25;
    let size = 12
        + if items.is_empty() { 0 } else { 8 }
        + items.iter().map(|s| 4 + s.as_ref().len()).sum::<usize>();
    len(b, size);
    let ndim: i32 = if items.is_empty() { 0 } else { 1 };
    b.extend_from_slice(&ndim.to_be_bytes());
    b.extend_from_slice(&0i32.to_be_bytes()); // no nulls
    b.extend_from_slice(&TEXT_OID.to_be_bytes());
    if !items.is_empty() {
        b.extend_from_slice(&(items.len() as i32).to_be_bytes());
        b.extend_from_slice(&1i32.to_be_bytes()); // lower bound
    }
    for s in items {
        text(b, s.as_ref());
    }
}

/// Runs `statement` (a `copy … from stdin with (format binary)`) with `data` (header, rows,
/// trailer) as its input, in one round trip; returns the number of rows copied. Errors as the
/// server reports them (a constraint, bad data), after which the connection is usable again.
pub async fn copy_in(conn: &mut PgConnection, statement: &str, data: Vec<u8>) -> sqlx::Result<u64> {
    let mut copy = conn.copy_in_raw(statement).await?;
    if let Err(e) = copy.send(data).await {
        copy.abort("sending the rows failed").await.ok();
        return Err(e);
    }
    copy.finish().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_count_microseconds_from_2000() {
        let mut b = Vec::new();
        timestamptz(&mut b, time::macros::datetime!(2000-01-01 00:00:01.5 UTC));
        assert_eq!(
            b,
            [&8i32.to_be_bytes()[..], &1_500_000i64.to_be_bytes()].concat()
        );
        let mut u = Vec::new();
        timestamptz_unix(&mut u, PG_EPOCH + 1);
        assert_eq!(
            u,
            [&8i32.to_be_bytes()[..], &1_000_000i64.to_be_bytes()].concat()
        );
    }
}
