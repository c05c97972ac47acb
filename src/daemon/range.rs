//! Suffix ranges longer than the file mean the whole file.
//!
//! RFC 9110 (14.1.1, 14.1.3): `Range: bytes=-N` asks for the last `N`
//! bytes, and "if the selected representation is shorter than the
//! specified suffix-length, the entire representation is used". A range
//! set with a suffix range of non-zero length is satisfiable.
//! tower-http's `ServeFile` answers such a request with 416 (a client
//! asking `bytes=-1000` of a 69-byte object got nothing), so the daemon
//! rewrites each such suffix range to `N-` form covering the whole file
//! (`0-`) before `ServeFile` sees the header. Every other range is left
//! exactly as the client wrote it.

/// The `Range` header to hand to `ServeFile` for a file of `len` bytes,
/// when it differs from `value`: suffix ranges longer than the file
/// become `0-`. `None` when nothing needs rewriting (including headers
/// that are not byte ranges: `ServeFile` judges those itself).
pub fn fit_suffix_ranges(value: &str, len: u64) -> Option<String> {
    let (unit, set) = value.trim().split_once('=')?;
    if !unit.trim().eq_ignore_ascii_case("bytes") {
        return None;
    }
    let mut changed = false;
    let specs: Vec<String> = set
        .split(',')
        .map(|spec| {
            let spec = spec.trim();
            let too_long = spec
                .strip_prefix('-')
                .and_then(|n| n.trim().parse::<u64>().ok())
                .is_some_and(|n| n > len);
            if too_long {
                changed = true;
                "0-".to_string()
            } else {
                spec.to_string()
            }
        })
        .collect();
    changed.then(|| format!("bytes={}", specs.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::fit_suffix_ranges;

    #[test]
    fn suffixes_longer_than_the_file_become_the_whole_file() {
        assert_eq!(
            fit_suffix_ranges("bytes=-1000", 69).as_deref(),
            Some("bytes=0-")
        );
        assert_eq!(
            fit_suffix_ranges("Bytes = -70", 69).as_deref(),
            Some("bytes=0-")
        );
        assert_eq!(
            fit_suffix_ranges("bytes=0-4, -1000", 69).as_deref(),
            Some("bytes=0-4, 0-")
        );
        // What fits, and what is not a suffix, is left alone.
        assert_eq!(fit_suffix_ranges("bytes=-69", 69), None);
        assert_eq!(fit_suffix_ranges("bytes=-10", 69), None);
        assert_eq!(fit_suffix_ranges("bytes=100-200", 69), None);
        assert_eq!(fit_suffix_ranges("bytes=-", 69), None);
        assert_eq!(fit_suffix_ranges("items=-1000", 69), None);
        assert_eq!(fit_suffix_ranges("garbage", 69), None);
    }
}
