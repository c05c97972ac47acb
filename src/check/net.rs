//! Where requests may go. URLs come from documents and are hostile: a
//! link (or a redirect) to `127.0.0.1`, `10.0.0.5` or `169.254.169.254`
//! would turn the checker into a probe of the machine's own network.
//!
//! [`GuardedResolver`] is the HTTP client's DNS resolver. It applies the
//! `[resolve]` overrides of the configuration (the operator's own choice,
//! so they are trusted) and refuses any other name that resolves only to
//! loopback, private, link-local or otherwise special addresses unless
//! `check.allow_private` is set. IP literals never reach a resolver, so
//! [`refuse_ip_literal`] checks them before each request and each redirect.
//! [`PortPins`] keeps a URL from choosing another port of an overridden host.
//! [`Remap`] rewrites URL prefixes (mirrors) before anything else.
//!
//! The resolver fails with a [`ResolveError`], a type of this crate, so
//! that the checker can tell a failed lookup and a guard refusal from
//! other errors by downcasting along the error's `source()` chain: the
//! message, which contains the host name, is for people only.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::Url;

/// True for addresses a public link must not reach.
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || o[0] == 0
                || (o[0] == 100 && (64..128).contains(&o[1])) // CGNAT
                || (o[0] == 192 && o[1] == 0 && o[2] == 0)
                || o[0] >= 240
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_private(IpAddr::V4(v4));
            }
            let s = v6.segments();
            // Prefixes that carry an IPv4 address a gateway may deliver to
            // (RFC 6052 NAT64, RFC 3056 6to4) are judged by that address:
            // on a DNS64 network every public IPv4 site has a 64:ff9b::
            // address, so refusing the prefix would refuse the web.
            let embedded = if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
                Some((s[6], s[7]))
            } else if s[0] == 0x2002 {
                Some((s[1], s[2]))
            } else {
                None
            };
            if let Some((hi, lo)) = embedded {
                let v4 = std::net::Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
                return is_private(IpAddr::V4(v4));
            }
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                // Deprecated or local forms no public link needs, refused
                // whole: IPv4-compatible ::a.b.c.d (::/96, holds :: and
                // ::1 too), IPv4-translated ::ffff:0:a.b.c.d (RFC 2765),
                // local-use NAT64 64:ff9b:1::/48 (RFC 8215), Teredo
                // 2001::/32 (its IPv4 parts are obfuscated) and
                // site-local fec0::/10.
                || s[..6] == [0; 6]
                || s[..6] == [0, 0, 0, 0, 0xffff, 0]
                || s[..3] == [0x64, 0xff9b, 1]
                || s[..2] == [0x2001, 0]
                || (s[0] & 0xffc0) == 0xfec0 // site-local
                || (s[0] & 0xfe00) == 0xfc00 // unique local
                || (s[0] & 0xffc0) == 0xfe80 // link-local
        }
    }
}

/// An error naming why a URL may not be fetched.
pub fn refuse_ip_literal(url: &Url, allow_private: bool) -> Option<String> {
    let ip = match url.host()? {
        url::Host::Ipv4(ip) => IpAddr::V4(ip),
        url::Host::Ipv6(ip) => IpAddr::V6(ip),
        url::Host::Domain(_) => return None,
    };
    (!allow_private && is_private(ip)).then(|| {
        format!("refused: {ip} is a loopback, private or link-local address (set check.allow_private to allow it)")
    })
}

/// The ports of the `[resolve]` entries written as `ip:port`. The client
/// connects to an explicit port in a URL whatever the resolver answers, so
/// `"h" = "127.0.0.1:18080"` alone would let a link (or a redirect) to
/// `http://h:18099/` reach port 18099 of that address. An entry with a
/// port pins both: a URL on the scheme's default port goes to the entry's
/// port, one with the entry's own port likewise, any other explicit port
/// is refused. An entry without a port (`"h" = "127.0.0.1"`) pins the
/// address only and lets the URL choose the port.
#[derive(Debug, Clone, Default)]
pub struct PortPins(BTreeMap<String, u16>);

impl PortPins {
    /// The pins of parsed `[resolve]` entries (port 0: no pin).
    pub fn new(overrides: &BTreeMap<String, SocketAddr>) -> PortPins {
        PortPins(
            overrides
                .iter()
                .filter(|(_, addr)| addr.port() != 0)
                .map(|(host, addr)| (host.clone(), addr.port()))
                .collect(),
        )
    }

    /// Why `url` may not be fetched: its explicit port is not the one its
    /// host's `[resolve]` entry pins.
    pub fn refuse(&self, url: &Url) -> Option<String> {
        let host = url.host_str()?.to_ascii_lowercase();
        let pinned = *self.0.get(&host)?;
        // No explicit port (or the scheme's default, which `Url` drops):
        // the connection goes to the entry's port.
        let port = url.port()?;
        (port != pinned).then(|| {
            format!(
                "refused: [resolve] pins {host} to port {pinned}, not {port} (write the entry without a port to allow any)"
            )
        })
    }
}

/// The client's resolver: overrides first, then the system's, filtered.
pub struct GuardedResolver {
    overrides: BTreeMap<String, SocketAddr>,
    allow_private: bool,
}

impl GuardedResolver {
    /// `overrides` maps lower-case host names to addresses (port 0: the
    /// URL's), as parsed from `[resolve]` ([`crate::config::ResolveTable`]).
    pub fn new(overrides: BTreeMap<String, SocketAddr>, allow_private: bool) -> Arc<Self> {
        Arc::new(GuardedResolver {
            overrides,
            allow_private,
        })
    }
}

/// Why the resolver gave no address. The checker downcasts to this type;
/// `Display` is the message people read.
#[derive(Debug)]
pub(crate) enum ResolveError {
    /// The name does not exist (a `.invalid` name, RFC 6761 §6.4).
    NotFound { host: String },
    /// The system's resolver failed (no such name, no DNS server).
    Lookup {
        host: String,
        source: std::io::Error,
    },
    /// The name resolves only to addresses the guard refuses.
    Refused(AddressRefused),
}

/// The address guard's refusal of a name that resolves only to loopback,
/// private or link-local addresses.
#[derive(Debug)]
pub(crate) struct AddressRefused {
    host: String,
    ip: IpAddr,
}

impl fmt::Display for AddressRefused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let AddressRefused { host, ip } = self;
        write!(
            f,
            "refused: {host} resolves to {ip} (loopback, private or link-local; set check.allow_private to allow it)"
        )
    }
}

impl std::error::Error for AddressRefused {}

impl fmt::Display for ResolveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResolveError::NotFound { host } => write!(f, "{host}: no such name"),
            // The source follows in the chain; not repeated here.
            ResolveError::Lookup { host, .. } => write!(f, "cannot resolve {host}"),
            ResolveError::Refused(refused) => refused.fmt(f),
        }
    }
}

impl std::error::Error for ResolveError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ResolveError::Lookup { source, .. } => Some(source),
            ResolveError::Refused(refused) => Some(refused),
            ResolveError::NotFound { .. } => None,
        }
    }
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_ascii_lowercase();
        if let Some(addr) = self.overrides.get(&host) {
            let addr = *addr;
            return Box::pin(async move { Ok(Box::new(std::iter::once(addr)) as Addrs) });
        }
        if host == "invalid" || host.trim_end_matches('.').ends_with(".invalid") {
            // RFC 6761: resolvers answer `.invalid` names negatively at
            // once; the system's resolver is never asked.
            return Box::pin(async move { Err(ResolveError::NotFound { host }.into()) });
        }
        let allow_private = self.allow_private;
        Box::pin(async move {
            let looked_up = tokio::net::lookup_host((host.as_str(), 0))
                .await
                .map(Iterator::collect::<Vec<SocketAddr>>);
            let found = match looked_up {
                Ok(found) => found,
                Err(source) => return Err(ResolveError::Lookup { host, source }.into()),
            };
            let allowed: Vec<SocketAddr> = found
                .iter()
                .copied()
                .filter(|a| allow_private || !is_private(a.ip()))
                .collect();
            if allowed.is_empty() {
                let error = match found.first() {
                    Some(first) => ResolveError::Refused(AddressRefused {
                        host,
                        ip: first.ip(),
                    }),
                    None => ResolveError::NotFound { host },
                };
                return Err(error.into());
            }
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

/// URL prefix rewriting from `[remap]`, longest prefix first.
#[derive(Debug, Clone, Default)]
pub struct Remap {
    rules: Vec<(String, String)>,
}

impl Remap {
    pub fn new(table: &BTreeMap<String, String>) -> Remap {
        let mut rules: Vec<(String, String)> =
            table.iter().map(|(a, b)| (a.clone(), b.clone())).collect();
        rules.sort_by_key(|(from, _)| std::cmp::Reverse(from.len()));
        Remap { rules }
    }

    /// The URL to fetch for `url`.
    pub fn apply(&self, url: &str) -> String {
        for (from, to) in &self.rules {
            if let Some(rest) = url.strip_prefix(from.as_str()) {
                return format!("{to}{rest}");
            }
        }
        url.to_string()
    }

    /// The URL as documents write it for a URL the mirror answered with
    /// (a final URL after redirects, a page's base): the inverse of
    /// [`Remap::apply`], longest mirror prefix first. Remapping is a
    /// transport detail; the report speaks of the documents' URLs.
    pub fn unapply(&self, url: &str) -> String {
        self.rules
            .iter()
            .filter(|(_, to)| url.starts_with(to.as_str()))
            .max_by_key(|(_, to)| to.len())
            .map_or_else(
                || url.to_string(),
                |(from, to)| format!("{from}{}", &url[to.len()..]),
            )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_ranges() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "100.64.0.1",
        ] {
            assert!(is_private(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["8.8.8.8", "202.113.0.1", "2001:4860::8888"] {
            assert!(!is_private(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn embedding_and_deprecated_ipv6_forms() {
        for ip in [
            "::127.0.0.1",         // IPv4-compatible
            "::8.8.8.8",           // IPv4-compatible, deprecated whatever it holds
            "::ffff:0:7f00:1",     // IPv4-translated (SIIT)
            "::ffff:0:8.8.8.8",    // likewise
            "::ffff:7f00:1",       // IPv4-mapped, hex spelling
            "::ffff:10.0.0.1",     // IPv4-mapped
            "64:ff9b::7f00:1",     // NAT64 to loopback
            "64:ff9b::10.1.2.3",   // NAT64 to private
            "64:ff9b::a9fe:a9fe",  // NAT64 to 169.254.169.254
            "64:ff9b:1::808:808",  // local-use NAT64
            "2002:7f00:1::",       // 6to4 of 127.0.0.1
            "2002:c0a8:101::1",    // 6to4 of 192.168.1.1
            "2002::",              // 6to4 of 0.0.0.0
            "2001:0:4136:e378::1", // Teredo
            "fec0::1",             // site-local
            "feff::1",             // site-local, top of the range
            "ff02::1",             // multicast
            "::",
        ] {
            assert!(is_private(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "64:ff9b::808:808", // NAT64 of 8.8.8.8: the web on a DNS64 network
            "2002:808:808::1",  // 6to4 of 8.8.8.8
            "2001:db8::1",      // not Teredo: 2001:db8::/32
            "2400:cb00::1",
            "::ffff:8.8.8.8",
        ] {
            assert!(!is_private(ip.parse().unwrap()), "{ip}");
        }
        for url in [
            "http://[::127.0.0.1]/a.jpg",
            "http://[::ffff:0:7f00:1]/a.jpg",
            "http://[64:ff9b::7f00:1]/a.jpg",
            "http://[2002:7f00:1::]/a.jpg",
            "http://[fec0::1]/a.jpg",
            "http://[2001:0:4136:e378::1]/a.jpg",
        ] {
            let u = Url::parse(url).unwrap();
            assert!(refuse_ip_literal(&u, false).is_some(), "{url}");
            assert!(refuse_ip_literal(&u, true).is_none(), "{url}");
        }
    }

    #[test]
    fn resolve_entries_pin_ports() {
        let mut t = BTreeMap::new();
        t.insert("Pinned.Test".to_string(), "127.0.0.1:18080".to_string());
        t.insert("free.test".to_string(), "127.0.0.1".to_string());
        let pins = PortPins::new(crate::config::ResolveTable::new(&t).unwrap().entries());
        let refused = |u: &str| pins.refuse(&Url::parse(u).unwrap());
        assert!(refused("http://pinned.test/a").is_none());
        assert!(refused("http://pinned.test:80/a").is_none());
        assert!(refused("https://pinned.test/a").is_none());
        assert!(refused("http://pinned.test:18080/a").is_none());
        assert!(refused("http://PINNED.test:18099/a").is_some());
        assert!(refused("https://pinned.test:80/a").is_some());
        assert!(refused("http://free.test:18099/a").is_none());
        assert!(refused("http://other.test:18099/a").is_none());
        assert!(refused("http://127.0.0.1:18099/a").is_none());
    }

    #[test]
    fn literals_are_refused() {
        let u = Url::parse("http://127.0.0.1:8080/x").unwrap();
        assert!(refuse_ip_literal(&u, false).is_some());
        assert!(refuse_ip_literal(&u, true).is_none());
        assert!(refuse_ip_literal(&Url::parse("http://[::1]/").unwrap(), false).is_some());
        assert!(refuse_ip_literal(&Url::parse("http://example.com/").unwrap(), false).is_none());
    }

    #[test]
    fn remap_longest_prefix() {
        let mut t = BTreeMap::new();
        t.insert("http://a.cn/".to_string(), "http://m/".to_string());
        t.insert("http://a.cn/pic/".to_string(), "http://p/".to_string());
        let r = Remap::new(&t);
        assert_eq!(r.apply("http://a.cn/pic/1.jpg"), "http://p/1.jpg");
        assert_eq!(r.apply("http://a.cn/x"), "http://m/x");
        assert_eq!(r.apply("http://b.cn/x"), "http://b.cn/x");
        assert_eq!(r.unapply("http://p/1.jpg"), "http://a.cn/pic/1.jpg");
        assert_eq!(r.unapply("http://m/x"), "http://a.cn/x");
        assert_eq!(r.unapply("http://b.cn/x"), "http://b.cn/x");
    }
}
