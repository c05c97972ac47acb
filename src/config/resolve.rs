//! The `[resolve]` table, parsed while the file is parsed: each entry is
//! `"host" = "ip"` or `"host" = "ip:port"`, and the configuration holds
//! the parsed addresses ([`ResolveTable`]), not strings.
//!
//! As with the pattern keys ([`super::patterns`]), a bad entry is an error
//! through serde, so it names the key and gets toml's line and column;
//! before, it surfaced only when the HTTP client was built, with no line.
//! Host names are lower-cased here, once, the way DNS compares them. The
//! table serializes back to the strings as written.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

use serde::de::{self, Deserialize, Deserializer};
use serde::{Serialize, Serializer};

/// Host name (lower case) → address; port 0 means "the URL's port".
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResolveTable {
    entries: BTreeMap<String, SocketAddr>,
    written: BTreeMap<String, String>,
}

impl ResolveTable {
    /// Parses `host → "ip"` or `"ip:port"` entries.
    pub fn new(table: &BTreeMap<String, String>) -> Result<ResolveTable, String> {
        let mut entries = BTreeMap::new();
        for (host, addr) in table {
            let parsed = addr
                .parse::<SocketAddr>()
                .or_else(|_| addr.parse::<IpAddr>().map(|ip| SocketAddr::new(ip, 0)))
                .map_err(|_| {
                    format!("[resolve] \"{host}\" = \"{addr}\": not an IP address or ip:port")
                })?;
            entries.insert(host.to_ascii_lowercase(), parsed);
        }
        Ok(ResolveTable {
            entries,
            written: table.clone(),
        })
    }

    /// The parsed entries, by lower-case host name.
    pub fn entries(&self) -> &BTreeMap<String, SocketAddr> {
        &self.entries
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl<'de> Deserialize<'de> for ResolveTable {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let table = BTreeMap::<String, String>::deserialize(d)?;
        ResolveTable::new(&table).map_err(de::Error::custom)
    }
}

impl Serialize for ResolveTable {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.written.serialize(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_parse_and_lowercase() {
        let table: BTreeMap<String, String> = [
            ("Img.Test".to_string(), "127.0.0.1:8080".to_string()),
            ("v6.test".to_string(), "::1".to_string()),
        ]
        .into();
        let parsed = ResolveTable::new(&table).unwrap();
        assert_eq!(
            parsed.entries()["img.test"],
            "127.0.0.1:8080".parse::<SocketAddr>().unwrap()
        );
        assert_eq!(parsed.entries()["v6.test"].port(), 0);
        let bad: BTreeMap<String, String> = [("h".to_string(), "localhost".to_string())].into();
        assert!(ResolveTable::new(&bad)
            .unwrap_err()
            .contains("\"h\" = \"localhost\""));
    }
}
