//! Service-level agreements: business-hours calendars and the arithmetic of SLA clocks.
//!
//! [`calendar`] is pure (no database, no clock): open instants, business time between two
//! instants, and due times with pauses, counted in real UTC time across DST changes
//! (`shared/domain-notes.md` §1). Policies and the clocks on tickets build on it.

pub mod calendar;
