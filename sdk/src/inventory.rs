//! `InventoryItem`: what an inventory collector returns, shaped as SSM
//! Inventory shapes it (a type name, a schema version, a capture time, and
//! entries of string fields).

/// One inventory item, e.g. `AWS:Application` or `Custom:RackInfo`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InventoryItem {
    pub type_name: String,
    pub schema_version: String,
    /// RFC 3339.
    pub capture_time: String,
    /// Entries, each a list of (field, value) pairs in order.
    pub content: Vec<Vec<(String, String)>>,
}

impl InventoryItem {
    pub fn new(type_name: impl Into<String>, schema_version: impl Into<String>, capture_time: impl Into<String>) -> Self {
        InventoryItem {
            type_name: type_name.into(),
            schema_version: schema_version.into(),
            capture_time: capture_time.into(),
            content: Vec::new(),
        }
    }

    /// Adds one entry.
    pub fn entry<I, K, V>(mut self, fields: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        self.content.push(fields.into_iter().map(|(k, v)| (k.into(), v.into())).collect());
        self
    }

    /// Adds entries already built.
    pub fn entry_list(mut self, entries: Vec<Vec<(String, String)>>) -> Self {
        self.content.extend(entries);
        self
    }
}

impl InventoryItem {
    /// An item captured now (see [`capture_time_now`]).
    pub fn now(type_name: impl Into<String>, schema_version: impl Into<String>) -> Self {
        InventoryItem::new(type_name, schema_version, capture_time_now())
    }
}

/// The current time as RFC 3339 in UTC with seconds, e.g. `2026-11-27T04:41:07Z`,
/// from the WASI clock (or the system clock in native tests).
pub fn capture_time_now() -> String {
    let seconds = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    rfc3339_utc(seconds)
}

/// `seconds` after the Unix epoch as RFC 3339 in UTC (proleptic Gregorian calendar).
pub fn rfc3339_utc(seconds: u64) -> String {
    let (days, rest) = (seconds / 86_400, seconds % 86_400);
    // Howard Hinnant's civil_from_days, shifted so the era starts on 0000-03-01.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", rest / 3600, rest % 3600 / 60, rest % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_rfc3339() {
        assert_eq!(rfc3339_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339_utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339_utc(1_798_777_445), "2027-01-01T04:24:05Z");
        assert_eq!(capture_time_now().len(), 20);
    }
}
