//! Rows in COPY's binary format (PostgreSQL manual, "COPY", section "Binary Format"), for bulk
//! loads that skip the parsing of text COPY and the array decoding of `unnest` parameters: the
//! ingest's raw mail and messages, and the benchmark seeder.
//!
//! A load is [`header`], then per row [`row`] and one value per column in the COPY statement's
//! order, then [`trailer`]; [`CopyIn`] sends the bytes as they are written. Each value is a
//! big-endian `i32` length (`-1` for NULL) and the type's binary form.

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

/// How many bytes of rows [`CopyIn`] collects before it sends them: small enough to stay in
/// cache and to let the server load the first rows while the rest are built, large enough
/// that a chunk costs one write.
const CHUNK: usize = 256 * 1024;

/// A binary `COPY … from stdin` in progress, fed row by row: the rows go to the server in
/// chunks of [`CHUNK`] bytes as they are written, so the server loads while the caller builds
/// the rest, and no buffer holds the whole load. [`CopyIn::start`] writes the [`header`];
/// per row, [`row`] and the values go into [`CopyIn::buf`], then [`CopyIn::row_done`];
/// [`CopyIn::finish`] writes the [`trailer`] and ends the load.
pub struct CopyIn<'c> {
    copy: sqlx::postgres::PgCopyIn<&'c mut PgConnection>,
    buf: Vec<u8>,
}

impl<'c> CopyIn<'c> {
    /// Starts `statement` (a `copy … from stdin with (format binary)`).
    pub async fn start(conn: &'c mut PgConnection, statement: &str) -> sqlx::Result<Self> {
        let copy = conn.copy_in_raw(statement).await?;
        let mut buf = Vec::with_capacity(CHUNK + 64 * 1024);
        header(&mut buf);
        Ok(Self { copy, buf })
    }

    /// Where the current row's values go.
    pub fn buf(&mut self) -> &mut Vec<u8> {
        &mut self.buf
    }

    /// Ends a row: sends the rows written so far once they fill a chunk. An error here is the
    /// connection's (the server reports bad rows at [`CopyIn::finish`]); dropping the load then
    /// cancels it.
    pub async fn row_done(&mut self) -> sqlx::Result<()> {
        if self.buf.len() >= CHUNK {
            self.send().await?;
        }
        Ok(())
    }

    async fn send(&mut self) -> sqlx::Result<()> {
        self.copy.send(&self.buf[..]).await?;
        self.buf.clear();
        Ok(())
    }

    /// Sends the last rows and the trailer and ends the load; returns the number of rows
    /// copied. Errors as the server reports them (a constraint, bad data), after which the
    /// connection is usable again.
    pub async fn finish(mut self) -> sqlx::Result<u64> {
        trailer(&mut self.buf);
        if let Err(e) = self.send().await {
            self.copy.abort("sending the rows failed").await.ok();
            return Err(e);
        }
        self.copy.finish().await
    }
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
