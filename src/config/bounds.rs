//! The range each numeric key of `config.toml` accepts.
//!
//! Numbers are checked while the file is parsed (each numeric field names
//! one of the functions below in `deserialize_with`), so an error carries
//! the line and column of the bad value, as a typo or a wrong type does,
//! and the message names the key. Nothing downstream then meets a negative,
//! NaN, infinite or absurd number: `Duration::from_secs_f64` on a checked
//! value cannot panic, and `Instant + Duration` cannot overflow.
//!
//! The rules, key by key, are in the table at the bottom; in short:
//! durations are finite, at least 1 ms where zero makes no sense (timeouts,
//! the daemon's interval), and at most an hour or a day (a month for the
//! daemon's interval, a year for the cache, a century for gc); counts are
//! at least 1 where zero would disable the feature silently and are capped
//! far above any sane value; a rate is in [0.001, 1000000] per second (a
//! million: "no limit" for a local server, as the benchmarks need; at
//! 10000 one host of a 100,000-link corpus was held to 10,000 checks/s).
//! `store.min_free_bytes` has no upper bound: "more than any disk has" is
//! how a test (or an operator) stops downloads outright.
//!
//! Integer keys take integers only (`burst = 4.0` is an error, as before);
//! float keys take integers too (`timeout = 30`).

use std::fmt;

use serde::de::{self, Deserializer, Visitor};

/// A number as TOML wrote it: integers stay exact.
#[derive(Clone, Copy)]
enum Number {
    Int(i128),
    Float(f64),
}

impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Number::Int(i) => write!(f, "{i}"),
            // Debug keeps `1e300` short and prints NaN and inf plainly.
            Number::Float(x) => write!(f, "{x:?}"),
        }
    }
}

/// Reads one number and says, on anything else, which key wanted what.
struct NumberVisitor<'a> {
    key: &'a str,
    wanted: &'a str,
}

impl Visitor<'_> for NumberVisitor<'_> {
    type Value = Number;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "`{}` to be {}", self.key, self.wanted)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Number, E> {
        Ok(Number::Int(v.into()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Number, E> {
        Ok(Number::Int(v.into()))
    }

    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Number, E> {
        Ok(Number::Int(v))
    }

    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Number, E> {
        Ok(Number::Int(i128::try_from(v).unwrap_or(i128::MAX)))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Number, E> {
        Ok(Number::Float(v))
    }
}

/// A type a numeric key may have, with how to read and bound it.
pub(super) trait Bounded: Sized + Copy + fmt::Display {
    fn read<'de, D: Deserializer<'de>>(
        d: D,
        key: &str,
        min: Self,
        max: Self,
        unit: &str,
    ) -> Result<Self, D::Error>;
}

fn out_of_range<E: de::Error>(key: &str, wanted: &str, got: Number) -> E {
    E::custom(format!("`{key}` must be {wanted}, not {got}"))
}

impl Bounded for f64 {
    fn read<'de, D: Deserializer<'de>>(
        d: D,
        key: &str,
        min: f64,
        max: f64,
        unit: &str,
    ) -> Result<f64, D::Error> {
        let wanted = format!("a number from {min} to {max}{unit}");
        let got = d.deserialize_any(NumberVisitor {
            key,
            wanted: &wanted,
        })?;
        let value = match got {
            Number::Int(i) => i as f64,
            Number::Float(x) => x,
        };
        // NaN fails both comparisons, so it lands here too.
        if value >= min && value <= max {
            Ok(value)
        } else {
            Err(out_of_range(key, &wanted, got))
        }
    }
}

macro_rules! bounded_int {
    ($($ty:ty),*) => {$(
        impl Bounded for $ty {
            fn read<'de, D: Deserializer<'de>>(
                d: D,
                key: &str,
                min: $ty,
                max: $ty,
                unit: &str,
            ) -> Result<$ty, D::Error> {
                let wanted = format!("a whole number from {min} to {max}{unit}");
                let got = d.deserialize_any(NumberVisitor { key, wanted: &wanted })?;
                match got {
                    Number::Int(i) if i >= min as i128 && i <= max as i128 => {
                        <$ty>::try_from(i).map_err(|_| out_of_range(key, &wanted, got))
                    }
                    _ => Err(out_of_range(key, &wanted, got)),
                }
            }
        }
    )*};
}

bounded_int!(u32, u64, usize);

/// Declares one `deserialize_with` function per key.
macro_rules! keys {
    ($($name:ident: $ty:ty = $key:literal, $min:expr, $max:expr, $unit:literal;)*) => {
        $(
            pub(super) fn $name<'de, D: Deserializer<'de>>(d: D) -> Result<$ty, D::Error> {
                <$ty as Bounded>::read(d, $key, $min, $max, $unit)
            }
        )*
    };
}

const MIB: u64 = 1024 * 1024;
const GIB: u64 = 1024 * MIB;
const HOUR: f64 = 3600.0;
const DAY: f64 = 24.0 * HOUR;

keys! {
    max_file_size: u64 = "corpus.max_file_size", 1, GIB, " bytes";
    min_exploded_run: usize = "links.min_exploded_run", 2, 1000, "";
    rate_limit: f64 = "check.rate_limit", 0.001, 1_000_000.0, " requests per second";
    burst: u32 = "check.burst", 1, 1_000_000, "";
    concurrency: usize = "check.concurrency", 1, 1000, "";
    per_host_concurrency: usize = "check.per_host_concurrency", 1, 1000, "";
    connect_timeout: f64 = "check.connect_timeout", 0.001, HOUR, " seconds";
    timeout: f64 = "check.timeout", 0.001, DAY, " seconds";
    max_redirects: usize = "check.max_redirects", 0, 100, "";
    max_tries: u32 = "check.max_tries", 1, 100, "";
    retry_backoff: f64 = "check.retry_backoff", 0.0, HOUR, " seconds";
    retry_max_time: f64 = "check.retry_max_time", 0.0, DAY, " seconds";
    max_host_wait: f64 = "check.max_host_wait", 0.0, DAY, " seconds";
    max_body_size: u64 = "check.max_body_size", 1, 64 * GIB, " bytes";
    cache_max_age: u64 = "check.cache_max_age", 0, 365 * 86_400, " seconds";
    archive_timeout: f64 = "check.archive_timeout", 0.001, HOUR, " seconds";
    archive_max_lookups: usize = "check.archive_max_lookups", 0, 1_000_000, "";
    host_rate_limit: f64 = "check.hosts.<host>.rate_limit", 0.001, 1_000_000.0, " requests per second";
    host_burst: u32 = "check.hosts.<host>.burst", 1, 1_000_000, "";
    max_depth: usize = "crawl.max_depth", 0, 100, "";
    max_pages: usize = "crawl.max_pages", 1, 1_000_000, "";
    interval_secs: f64 = "daemon.interval_secs", 0.001, 30.0 * DAY, " seconds";
    debounce_ms: u64 = "daemon.debounce_ms", 0, 3_600_000, " milliseconds";
    grace_secs: f64 = "daemon.grace_secs", 0.0, HOUR, " seconds";
    header_timeout_secs: f64 = "daemon.header_timeout_secs", 0.001, HOUR, " seconds";
    max_connections: usize = "daemon.max_connections", 1, 100_000, "";
    document_cache_mb: u64 = "daemon.document_cache_mb", 0, 65_536, " MiB";
    min_free_bytes: u64 = "store.min_free_bytes", 0, u64::MAX, " bytes";
    gc_after_days: u64 = "store.gc_after_days", 0, 36_500, " days";
    warc_max_size: u64 = "store.warc_max_size", 1 << 20, 1 << 40, " bytes";
    multipart_threshold: u64 = "store.s3.multipart_threshold", 5 * MIB, 5 * 1024 * GIB, " bytes";
    part_size: u64 = "store.s3.part_size", 5 * MIB, GIB, " bytes";
    s3_max_retries: u32 = "store.s3.max_retries", 0, 100, "";
    s3_retry_timeout_secs: f64 = "store.s3.retry_timeout_secs", 0.001, DAY, " seconds";
    s3_request_timeout_secs: f64 = "store.s3.request_timeout_secs", 0.001, DAY, " seconds";
}
