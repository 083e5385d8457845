//! `datetime`: an instant (`2024-05-01T10:00:00Z`, `2024-05-01`) or an interval (`a/b`, open
//! ends `..` or empty), matched against a layer's time field. A date stands for its whole day
//! (UTC); a date-time without an offset is UTC. A layer's time field is its first text field
//! named `datetime`, `timestamp`, `time` or `date`, or ending in `_at`, `_time` or `_date`.

use time::format_description::well_known::{Iso8601, Rfc3339};
use time::{Date, OffsetDateTime};

use super::OgcError;
use crate::feature::{FieldType, Value};
use crate::store::LayerMeta;

/// Nanoseconds since 1970-01-01T00:00:00Z.
type Instant = i128;

const DAY_NANOS: i128 = 86_400 * 1_000_000_000;

/// A closed span of time; `None` ends are open.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interval {
    start: Option<Instant>,
    end: Option<Instant>,
}

impl Interval {
    /// Whether the time written in `value` (a text value of the time field) falls in the span.
    pub fn holds(&self, value: &Value) -> bool {
        let Value::Text(text) = value else { return false };
        let Some((start, end)) = span(text) else { return false };
        self.start.is_none_or(|s| end >= s) && self.end.is_none_or(|e| start <= e)
    }
}

/// `text` in RFC 3339 spelling when it is written as GDAL writes date-times into a store
/// (`2024/05/01 10:00:00+07`): dashes in the date, `T` before the time, `+HH:MM` offsets.
fn rfc3339_spelling(text: &str) -> String {
    let mut s: Vec<u8> = text.trim().bytes().collect();
    if s.len() >= 10 && s[4] == b'/' && s[7] == b'/' {
        (s[4], s[7]) = (b'-', b'-');
    }
    if s.len() > 10 && s[10] == b' ' {
        s[10] = b'T';
    }
    // The offset after a time of at least HH:MM:SS (19 bytes of date and time).
    if let Some(sign) = s.iter().skip(19).rposition(|&b| b == b'+' || b == b'-').map(|i| i + 19) {
        let offset = &s[sign + 1..];
        if offset.len() == 2 && offset.iter().all(u8::is_ascii_digit) {
            s.extend_from_slice(b":00");
        } else if offset.len() == 4 && offset.iter().all(u8::is_ascii_digit) {
            s.insert(sign + 3, b':');
        }
    }
    String::from_utf8(s).unwrap_or_default()
}

/// The first and last instant `text` stands for: one instant, or a whole day for a date.
fn span(text: &str) -> Option<(Instant, Instant)> {
    let text = &rfc3339_spelling(text);
    if let Ok(t) = OffsetDateTime::parse(text, &Rfc3339) {
        let t = t.unix_timestamp_nanos();
        return Some((t, t));
    }
    if let Ok(t) = OffsetDateTime::parse(&format!("{text}Z"), &Rfc3339) {
        let t = t.unix_timestamp_nanos();
        return Some((t, t));
    }
    let day = Date::parse(text, &Iso8601::DATE).ok()?;
    let start = day.midnight().assume_utc().unix_timestamp_nanos();
    Some((start, start + DAY_NANOS - 1))
}

/// The instant a time field's `text` stands for (the start of the day for a date).
pub fn instant(text: &str) -> Option<Instant> {
    span(text).map(|(start, _)| start)
}

/// A CQL2 `DATE('2024-05-01')`: midnight UTC of the day.
pub fn date(text: &str) -> Option<Instant> {
    let day = Date::parse(text.trim(), &Iso8601::DATE).ok()?;
    Some(day.midnight().assume_utc().unix_timestamp_nanos())
}

/// A CQL2 `TIMESTAMP('2024-05-01T10:00:00Z')` (RFC 3339).
pub fn timestamp(text: &str) -> Option<Instant> {
    OffsetDateTime::parse(text.trim(), &Rfc3339).ok().map(|t| t.unix_timestamp_nanos())
}

/// Parses the `datetime` parameter.
pub fn parse(text: &str) -> Result<Interval, OgcError> {
    let bad = || {
        OgcError::bad(
            "datetime",
            format!("'{text}' is not an RFC 3339 date-time or date, or an interval start/end with '..' for an open end (e.g. 2024-01-01T00:00:00Z/..)"),
        )
    };
    let bound = |part: &str| -> Result<Option<(Instant, Instant)>, OgcError> {
        match part.trim() {
            "" | ".." => Ok(None),
            p => span(p).map(Some).ok_or_else(bad),
        }
    };
    match text.split_once('/') {
        None => {
            let (start, end) = span(text).ok_or_else(bad)?;
            Ok(Interval {
                start: Some(start),
                end: Some(end),
            })
        }
        Some((a, b)) => {
            if a.trim().is_empty() && b.trim().is_empty() {
                return Err(bad());
            }
            let (start, end) = (bound(a)?, bound(b)?);
            let interval = Interval {
                start: start.map(|s| s.0),
                end: end.map(|e| e.1),
            };
            if let (Some(s), Some(e)) = (interval.start, interval.end) {
                if s > e {
                    return Err(OgcError::bad("datetime", format!("'{text}' ends before it starts")));
                }
            }
            Ok(interval)
        }
    }
}

/// The layer's time field, if it has one.
pub fn time_field(meta: &LayerMeta) -> Option<usize> {
    meta.fields.iter().position(|f| {
        let name = f.name.to_ascii_lowercase();
        f.ty == FieldType::Text
            && (["datetime", "timestamp", "time", "date"].contains(&name.as_str())
                || ["_at", "_time", "_date"].iter().any(|s| name.ends_with(s)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Value {
        Value::Text(s.into())
    }

    #[test]
    fn instants_dates_and_open_intervals() {
        let day = parse("2024-05-01").unwrap();
        assert!(day.holds(&text("2024-05-01T23:59:59Z")));
        assert!(!day.holds(&text("2024-05-02T00:00:00Z")));
        let after = parse("2024-05-01T12:00:00+07:00/..").unwrap();
        assert!(after.holds(&text("2024-05-01T05:00:00Z")));
        assert!(!after.holds(&text("2024-05-01T04:59:59Z")));
        let before = parse("/2024-01-31").unwrap();
        assert!(before.holds(&text("2024-01-31")) && !before.holds(&text("2024-02-01")));
        assert!(parse("../..").unwrap().holds(&text("1999-01-01")));
        assert!(!parse("../..").unwrap().holds(&text("not a time")));
        let gdal = parse("2024-05-01T03:00:00Z").unwrap();
        assert!(gdal.holds(&text("2024/05/01 10:00:00+07")) && gdal.holds(&text("2024/05/01 10:00:00+0700")));
        assert!(parse("2024-05-01").unwrap().holds(&text("2024/05/01")));
    }

    #[test]
    fn nonsense_is_refused() {
        for bad in ["yesterday", "2024-13-01", "2024-05-02/2024-05-01", "/", "a/b"] {
            let err = parse(bad).unwrap_err().to_string();
            assert!(err.contains("datetime"), "{bad}: {err}");
        }
    }
}
