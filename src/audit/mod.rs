//! The audit log (Decree 85/2016 level 3): every request by an authenticated identity, every
//! refused one, and every administrative action (import, token create and revoke, policy
//! reload), kept in an append-only table of the store where each row carries the hash of the
//! previous one: a tamper-evident chain ([`chain_hash`], [`verify`]).
//!
//! Owns: what a record holds, the hash of a row, the check of a chain, and the bounded queue a
//! server writes through ([`queue::Auditor`]: a request never waits for the store). Does not
//! know HTTP (the server fills the records) or SQL (each store appends and reads the rows).

pub mod queue;

use sha2::{Digest, Sha256};

pub use queue::Auditor;

/// What kind of event a record is.
pub const REQUEST: &str = "request";
pub const TOKEN_CREATE: &str = "token.create";
pub const TOKEN_REVOKE: &str = "token.revoke";
pub const POLICY_RELOAD: &str = "policy.reload";
pub const IMPORT: &str = "import";
/// The queue was full: `features` holds how many records were lost.
pub const DROPPED: &str = "audit.dropped";

/// One event, as written. Empty strings and `None` mean "not known" or "not applicable".
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuditEntry {
    /// RFC 3339 UTC with milliseconds.
    pub time: String,
    /// [`REQUEST`], [`TOKEN_CREATE`], ...
    pub action: String,
    /// `token:ID`, `jwt:SUBJECT`, `anonymous`, or the operating-system user of a CLI action.
    pub identity: String,
    pub role: String,
    pub client_ip: String,
    /// Method and path with its query (never a token: `access_token` is cut before), or what an
    /// administrative action was done to.
    pub route: String,
    /// The layers or scenario a request named, comma-separated.
    pub layers: String,
    /// The area asked for: a bbox, a point and radius, or the units of a scope.
    pub area: String,
    /// Features returned, where the route knows it; records lost for [`DROPPED`].
    pub features: Option<i64>,
    /// The HTTP status, or 0 for a CLI action.
    pub status: i64,
}

/// A stored row: the entry, its place in the chain, the previous row's hash and its own.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRow {
    pub id: i64,
    pub entry: AuditEntry,
    pub prev_hash: String,
    pub hash: String,
}

/// The `prev_hash` of the first row.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The hash of a row: SHA-256 over the previous hash, its id and every field, each
/// length-prefixed so that no two different rows encode alike. Hex.
pub fn chain_hash(prev_hash: &str, id: i64, e: &AuditEntry) -> String {
    let mut h = Sha256::new();
    let mut field = |bytes: &[u8]| {
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    };
    field(prev_hash.as_bytes());
    field(&id.to_le_bytes());
    for text in [&e.time, &e.action, &e.identity, &e.role, &e.client_ip, &e.route, &e.layers, &e.area] {
        field(text.as_bytes());
    }
    field(&e.features.map_or(i64::MIN, |f| f).to_le_bytes());
    field(&e.status.to_le_bytes());
    hex::encode(h.finalize())
}

/// What is wrong with a chain: the first row that does not hold.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ChainBreak {
    #[error("audit row {id} was changed: its content no longer gives its hash")]
    Altered { id: i64 },
    #[error("audit row {id} does not follow row {previous}: a row between them was removed or the chain was rewritten")]
    Unlinked { id: i64, previous: i64 },
    #[error("audit row {id} is the first row but does not start the chain: earlier rows were removed")]
    Truncated { id: i64 },
}

/// Checks every link and hash of `rows` (in id order); `Ok(n)` is the number of rows checked.
pub fn verify(rows: impl IntoIterator<Item = AuditRow>) -> Result<u64, ChainBreak> {
    let mut previous: Option<(i64, String)> = None;
    let mut n = 0;
    for row in rows {
        match &previous {
            None if row.prev_hash != GENESIS || row.id != 1 => return Err(ChainBreak::Truncated { id: row.id }),
            Some((id, hash)) if row.prev_hash != *hash || row.id != id + 1 => {
                return Err(ChainBreak::Unlinked { id: row.id, previous: *id })
            }
            _ => {}
        }
        if chain_hash(&row.prev_hash, row.id, &row.entry) != row.hash {
            return Err(ChainBreak::Altered { id: row.id });
        }
        previous = Some((row.id, row.hash));
        n += 1;
    }
    Ok(n)
}

/// Now as the audit writes it.
pub fn now() -> String {
    time_text(time::OffsetDateTime::now_utc())
}

/// A time as the audit writes it: UTC, milliseconds, so that text order is time order.
pub fn time_text(t: time::OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

/// An administrative action done from the command line by the operating-system user.
pub fn cli_action(action: &str, route: String, role: &str) -> AuditEntry {
    AuditEntry {
        time: now(),
        action: action.to_string(),
        identity: format!("cli:{}", std::env::var("USER").unwrap_or_else(|_| "unknown".into())),
        role: role.to_string(),
        route,
        ..AuditEntry::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: i64) -> Vec<AuditRow> {
        let mut prev = GENESIS.to_string();
        (1..=n)
            .map(|id| {
                let entry = AuditEntry {
                    time: format!("2026-12-03T10:00:{id:02}.000Z"),
                    action: REQUEST.into(),
                    identity: format!("token:{id}"),
                    status: 200,
                    ..AuditEntry::default()
                };
                let hash = chain_hash(&prev, id, &entry);
                let row = AuditRow {
                    id,
                    entry,
                    prev_hash: prev.clone(),
                    hash: hash.clone(),
                };
                prev = hash;
                row
            })
            .collect()
    }

    #[test]
    fn a_chain_verifies_and_each_kind_of_tampering_names_its_row() {
        assert_eq!(verify(chain(5)), Ok(5));
        let mut altered = chain(5);
        altered[2].entry.status = 403;
        assert_eq!(verify(altered), Err(ChainBreak::Altered { id: 3 }));
        let mut removed = chain(5);
        removed.remove(3);
        assert_eq!(verify(removed), Err(ChainBreak::Unlinked { id: 5, previous: 3 }));
        assert_eq!(verify(chain(5).split_off(1)), Err(ChainBreak::Truncated { id: 2 }));
        let a = AuditEntry {
            route: "ab".into(),
            layers: "c".into(),
            ..AuditEntry::default()
        };
        let b = AuditEntry {
            route: "a".into(),
            layers: "bc".into(),
            ..AuditEntry::default()
        };
        assert_ne!(chain_hash(GENESIS, 1, &a), chain_hash(GENESIS, 1, &b), "fields are length-prefixed");
        assert_eq!(now().len(), "2026-12-03T10:00:00.000Z".len());
    }
}
