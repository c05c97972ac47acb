//! Several nodes, one bucket: who still needs which object.
//!
//! Content-addressed objects are immutable, so nodes sharing a bucket
//! never need a lock to write: the same bytes are the same key, and a
//! `put` of a key already there is skipped after a HEAD. Deleting is the
//! only dangerous act, because one node's state database knows nothing of
//! the others' references. So each node publishes what it references:
//! after every run, and before `gc --force` deletes anything, it writes
//! `manifests/<node-id>.json` (under the store's prefix), the digests of
//! every object its state database lists. `gc` on a bucket then deletes
//! an object only when
//! * no node's manifest names it (this node's own manifest is rewritten
//!   first, without the objects its own gc rules give up), and
//! * the bucket says it was last written more than `gc_after_days` ago:
//!   a node that stored (or found, by HEAD) an object during a run that
//!   has not ended has not yet published it, and this margin covers it.
//!
//! A node that leaves for good has its manifest deleted by hand
//! (`manifests/<node-id>.json`); its objects then go at the next `gc`
//! that no other node names. Should an object a node uses be deleted
//! anyway (a manifest deleted by mistake), that node's next check finds it
//! missing and downloads it again; `verify` lists it as missing.
//!
//! The node id is `store.node_id`, or one generated once and kept in the
//! state database (`settings.node_id`).

use std::collections::BTreeSet;
use std::io;

use serde::{Deserialize, Serialize};

use super::remote::RemoteObjects;
use super::Store;

/// One node's published references.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub node: String,
    /// When it was written (RFC 3339).
    pub written_at: String,
    /// Sorted digests.
    pub objects: Vec<String>,
}

/// True for a node id usable in a key: 1 to 64 of `A-Z a-z 0-9 . _ -`,
/// not starting with a dot.
pub fn valid_node_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && !id.starts_with('.')
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

fn key(node: &str) -> String {
    format!("manifests/{node}.json")
}

/// This node's id: the configured one, else the state database's.
pub fn node_id(store: &Store, configured: &str) -> io::Result<String> {
    if !configured.is_empty() {
        return Ok(configured.to_string());
    }
    store
        .db
        .node_id()
        .map_err(|e| io::Error::other(format!("cannot read the node id from state.db: {e}")))
}

/// Writes this node's manifest naming `objects`.
pub fn publish(bucket: &RemoteObjects, node: &str, objects: Vec<String>) -> io::Result<()> {
    let manifest = Manifest {
        node: node.to_string(),
        written_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        objects,
    };
    let bytes = serde_json::to_vec(&manifest).map_err(io::Error::other)?;
    bucket.put_small(&key(node), bytes)
}

/// Every node's manifest. One that cannot be read or parsed is an error:
/// guessing would risk deleting what that node needs.
pub fn read_all(bucket: &RemoteObjects) -> io::Result<Vec<Manifest>> {
    let mut out = Vec::new();
    for (name, _, _) in bucket.list_under("manifests")? {
        if !name.ends_with(".json") {
            continue;
        }
        let bytes = bucket.get_small(&name)?;
        let manifest: Manifest = serde_json::from_slice(&bytes).map_err(|e| {
            io::Error::other(format!(
                "{name} is not a manifest ({e}); fix or delete it, then run gc again"
            ))
        })?;
        out.push(manifest);
    }
    Ok(out)
}

/// Objects of the bucket that no manifest names and that were last
/// written before `cutoff` (unix seconds): (digest, size).
pub fn unclaimed(
    bucket: &RemoteObjects,
    manifests: &[Manifest],
    cutoff: i64,
) -> io::Result<Vec<(String, u64)>> {
    let named: BTreeSet<&str> = manifests
        .iter()
        .flat_map(|m| m.objects.iter().map(String::as_str))
        .collect();
    Ok(bucket
        .list_with_times()?
        .into_iter()
        .filter(|(sha, _, at)| !named.contains(sha.as_str()) && at.timestamp() < cutoff)
        .map(|(sha, size, _)| (sha, size))
        .collect())
}

/// What `gc` may delete from the bucket of `store`, when this node gives
/// up `given_up`: (digest, size) of the objects no manifest names (this
/// node's counted without `given_up`) and last written before `cutoff`.
/// With `publish`, this node's manifest is rewritten first, so that no
/// other node's gc goes by an older, larger one meanwhile.
pub fn plan_gc(
    store: &Store,
    given_up: &[String],
    cutoff: i64,
    publish_first: bool,
) -> io::Result<Vec<(String, u64)>> {
    let Some(bucket) = store.objects.bucket() else {
        return Ok(Vec::new());
    };
    let kept: Vec<String> = store
        .db
        .object_digests()
        .map_err(|e| io::Error::other(format!("cannot read state.db: {e}")))?
        .into_iter()
        .filter(|sha| !given_up.contains(sha))
        .collect();
    let node = store.node_id()?;
    let mut manifests = read_all(bucket)?;
    manifests.retain(|m| m.node != node);
    manifests.push(Manifest {
        node: node.clone(),
        written_at: String::new(),
        objects: kept.clone(),
    });
    if publish_first {
        publish(bucket, &node, kept)?;
    }
    unclaimed(bucket, &manifests, cutoff)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_ids_fit_in_a_key() {
        assert!(valid_node_id("site-a.example_1"));
        for bad in ["", ".hidden", "a/b", "..", "x y", &"n".repeat(65)] {
            assert!(!valid_node_id(bad), "{bad}");
        }
    }
}
