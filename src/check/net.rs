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
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
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

/// The client's resolver: overrides first, then the system's, filtered.
pub struct GuardedResolver {
    overrides: BTreeMap<String, SocketAddr>,
    allow_private: bool,
}

impl GuardedResolver {
    /// `overrides` maps host names to `ip` or `ip:port` strings; entries
    /// that do not parse are reported by [`parse_overrides`].
    pub fn new(overrides: BTreeMap<String, SocketAddr>, allow_private: bool) -> Arc<Self> {
        Arc::new(GuardedResolver {
            overrides,
            allow_private,
        })
    }
}

/// Parses the `[resolve]` table: `host = "ip"` or `host = "ip:port"`.
pub fn parse_overrides(
    table: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, SocketAddr>, String> {
    table
        .iter()
        .map(|(host, addr)| {
            let parsed = addr
                .parse::<SocketAddr>()
                .or_else(|_| addr.parse::<IpAddr>().map(|ip| SocketAddr::new(ip, 0)))
                .map_err(|_| {
                    format!("[resolve] \"{host}\" = \"{addr}\": not an IP address or ip:port")
                })?;
            Ok((host.to_ascii_lowercase(), parsed))
        })
        .collect()
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
