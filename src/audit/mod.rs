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

/// How many features an answer holds, handed from the route that made it to the record of the
/// request (the server carries it as a response extension; [`AuditEntry::features`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Returned(pub u64);

/// How a field of a record is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    /// An integer that may be unknown ([`AuditEntry::features`]).
    MaybeInt,
    Int,
}

/// The fields of a record, in the order of the stores' columns, of the chain's hash and of
/// `bando audit --format csv|json`: the one list they all follow.
pub const FIELDS: [(&str, Kind); 10] = [
    ("time", Kind::Text),
    ("action", Kind::Text),
    ("identity", Kind::Text),
    ("role", Kind::Text),
    ("client_ip", Kind::Text),
    ("route", Kind::Text),
    ("layers", Kind::Text),
    ("area", Kind::Text),
    ("features", Kind::MaybeInt),
    ("status", Kind::Int),
];

/// The value of one field of a record.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Field<'a> {
    Text(&'a str),
    Int(Option<i64>),
}

impl AuditEntry {
    /// The values of [`FIELDS`], in their order.
    pub fn fields(&self) -> [Field<'_>; 10] {
        [
            Field::Text(&self.time),
            Field::Text(&self.action),
            Field::Text(&self.identity),
            Field::Text(&self.role),
            Field::Text(&self.client_ip),
            Field::Text(&self.route),
            Field::Text(&self.layers),
            Field::Text(&self.area),
            Field::Int(self.features),
            Field::Int(Some(self.status)),
        ]
    }

    /// A record read back from a store's row, each of [`FIELDS`] asked by name: `text` for a
    /// text field, `int` for an integer one. A field whose column the row lacks (`has` says
    /// which it holds: a store written before the field existed) reads as empty or unknown,
    /// so an old log still exports and verifies.
    pub fn from_fields<E>(
        has: impl Fn(&str) -> bool,
        mut text: impl FnMut(&str) -> Result<String, E>,
        mut int: impl FnMut(&str) -> Result<Option<i64>, E>,
    ) -> Result<AuditEntry, E> {
        let mut text = |name: &str| if has(name) { text(name) } else { Ok(String::new()) };
        let mut int = |name: &str| if has(name) { int(name) } else { Ok(None) };
        let [time, action, identity, role, client_ip, route, layers, area, features, status] = FIELDS.map(|(name, _)| name);
        Ok(AuditEntry {
            time: text(time)?,
            action: text(action)?,
            identity: text(identity)?,
            role: text(role)?,
            client_ip: text(client_ip)?,
            route: text(route)?,
            layers: text(layers)?,
            area: text(area)?,
            features: int(features)?,
            status: int(status)?.unwrap_or_default(),
        })
    }
}

/// The column definitions of the log's table: `id`, [`FIELDS`], `prev_hash`, `hash`, in a
/// store's SQL types for text and integers.
pub fn columns(text: &str, int: &str) -> String {
    let mut columns = vec![format!("id {int} PRIMARY KEY")];
    columns.extend(FIELDS.iter().map(|&(name, kind)| field_column(name, kind, text, int)));
    columns.extend(["prev_hash", "hash"].map(|name| format!("{name} {text} NOT NULL")));
    columns.join(", ")
}

/// One field's column definition. Required ones have a default so that `ADD COLUMN` can give
/// an older table a field it lacks (its old rows then read the default, as [`AuditEntry::from_fields`]
/// reads a missing column).
pub fn field_column(name: &str, kind: Kind, text: &str, int: &str) -> String {
    match kind {
        Kind::Text => format!("{name} {text} NOT NULL DEFAULT ''"),
        Kind::MaybeInt => format!("{name} {int}"),
        Kind::Int => format!("{name} {int} NOT NULL DEFAULT 0"),
    }
}

/// The names of the columns a row is written to, in the order of its values: `id`,
/// [`FIELDS`], `prev_hash`, `hash` (named, so that a column added later at the end of an old
/// table still gets its value).
pub fn column_names() -> String {
    let mut names = vec!["id"];
    names.extend(FIELDS.iter().map(|(name, _)| *name));
    names.extend(["prev_hash", "hash"]);
    names.join(", ")
}

/// How many columns a row of the log has: `id`, [`FIELDS`], `prev_hash` and `hash`.
pub const COLUMNS: usize = FIELDS.len() + 3;

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
    for value in e.fields() {
        match value {
            Field::Text(text) => field(text.as_bytes()),
            Field::Int(n) => field(&n.unwrap_or(i64::MIN).to_le_bytes()),
        }
    }
    hex::encode(h.finalize())
}

impl AuditRow {
    /// The header of the CSV export: `id`, [`FIELDS`], `hash`.
    pub fn csv_header() -> Vec<&'static str> {
        let mut header = vec!["id"];
        header.extend(FIELDS.iter().map(|(name, _)| *name));
        header.push("hash");
        header
    }

    /// This row as a line of the CSV export (an unknown number is empty).
    pub fn csv_record(&self) -> Vec<String> {
        let mut record = vec![self.id.to_string()];
        record.extend(self.entry.fields().iter().map(|value| match value {
            Field::Text(text) => text.to_string(),
            Field::Int(n) => n.map(|n| n.to_string()).unwrap_or_default(),
        }));
        record.push(self.hash.clone());
        record
    }

    /// This row as an object of the JSON export: `id`, [`FIELDS`] (an unknown number is null),
    /// `prev_hash`, `hash`.
    pub fn to_json(&self) -> serde_json::Value {
        let mut object = serde_json::Map::new();
        object.insert("id".into(), self.id.into());
        for ((name, _), value) in FIELDS.iter().zip(self.entry.fields()) {
            let value = match value {
                Field::Text(text) => text.into(),
                Field::Int(n) => n.into(),
            };
            object.insert(name.to_string(), value);
        }
        object.insert("prev_hash".into(), self.prev_hash.clone().into());
        object.insert("hash".into(), self.hash.clone().into());
        serde_json::Value::Object(object)
    }
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
