//! How the store lays out its records in RocksDB: column families, keys and values.
//!
//! Files (served and head) are keyed by `branch \0 path`, which sorts by branch, then path
//! (branch names and paths never hold a NUL byte), so one branch is one key range. Values are
//! the commit that last changed the file and the content: `u32 LE commit length, commit,
//! content`. Metadata keys are `offset/<partition i32 BE>` (last applied offset, i64 BE) and
//! `branch/<branch>` (a JSON [`BranchMeta`]); audit keys are a sequence number (u64 BE), so
//! they iterate in the order they were written.

use serde::{Deserialize, Serialize};

use crate::error::StoreError;

/// Served files under `tools/`.
pub const CF_TOOLS: &str = "tools";
/// Served files under `workflows/`.
pub const CF_WORKFLOWS: &str = "workflows";
/// Served files under `configs/`.
pub const CF_CONFIGS: &str = "configs";
/// The files at each branch's newest commit, served or not.
pub const CF_HEAD: &str = "head";
/// Consumed offsets and per-branch commit ids.
pub const CF_METADATA: &str = "metadata";
/// Rejected commits.
pub const CF_AUDIT: &str = "audit";

pub const COLUMN_FAMILIES: [&str; 6] = [
    CF_TOOLS,
    CF_WORKFLOWS,
    CF_CONFIGS,
    CF_HEAD,
    CF_METADATA,
    CF_AUDIT,
];

/// The served-file column family a path belongs to (`None`: not a definition path).
pub fn served_cf(path: &str) -> Option<&'static str> {
    if path.starts_with("tools/") {
        Some(CF_TOOLS)
    } else if path.starts_with("workflows/") {
        Some(CF_WORKFLOWS)
    } else if path.starts_with("configs/") {
        Some(CF_CONFIGS)
    } else {
        None
    }
}

pub fn file_key(branch: &str, path: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(branch.len() + 1 + path.len());
    key.extend_from_slice(branch.as_bytes());
    key.push(0);
    key.extend_from_slice(path.as_bytes());
    key
}

pub fn split_file_key(cf: &'static str, key: &[u8]) -> Result<(String, String), StoreError> {
    let corrupt = |what: &str| StoreError::Corrupt {
        cf,
        what: format!("{what}: {:?}", String::from_utf8_lossy(key)),
    };
    let at = key
        .iter()
        .position(|&b| b == 0)
        .ok_or_else(|| corrupt("key without branch separator"))?;
    let branch = std::str::from_utf8(&key[..at]).map_err(|_| corrupt("branch not UTF-8"))?;
    let path = std::str::from_utf8(&key[at + 1..]).map_err(|_| corrupt("path not UTF-8"))?;
    Ok((branch.to_string(), path.to_string()))
}

pub fn encode_file(commit: &str, content: &str) -> Vec<u8> {
    let mut value = Vec::with_capacity(4 + commit.len() + content.len());
    value.extend_from_slice(&(commit.len() as u32).to_le_bytes());
    value.extend_from_slice(commit.as_bytes());
    value.extend_from_slice(content.as_bytes());
    value
}

/// (commit, content) of a file value.
pub fn decode_file(cf: &'static str, value: &[u8]) -> Result<(String, String), StoreError> {
    let corrupt = |what: &str| StoreError::Corrupt {
        cf,
        what: what.to_string(),
    };
    let len: [u8; 4] = value
        .get(..4)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| corrupt("file value shorter than its header"))?;
    let len = u32::from_le_bytes(len) as usize;
    let commit = value
        .get(4..4 + len)
        .ok_or_else(|| corrupt("file value shorter than its commit id"))?;
    let commit = std::str::from_utf8(commit).map_err(|_| corrupt("commit id not UTF-8"))?;
    let content =
        std::str::from_utf8(&value[4 + len..]).map_err(|_| corrupt("content not UTF-8"))?;
    Ok((commit.to_string(), content.to_string()))
}

pub const OFFSET_PREFIX: &[u8] = b"offset/";
pub const BRANCH_PREFIX: &[u8] = b"branch/";

pub fn offset_key(partition: i32) -> Vec<u8> {
    [OFFSET_PREFIX, &partition.to_be_bytes()].concat()
}

pub fn branch_key(branch: &str) -> Vec<u8> {
    [BRANCH_PREFIX, branch.as_bytes()].concat()
}

/// What the metadata column family records of a branch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BranchMeta {
    /// The newest commit seen on the branch, accepted or rejected.
    pub head: String,
    /// The commit the branch serves; `None` until a commit of the branch is accepted.
    pub served: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_records_round_trip() {
        let key = file_key("customer/acme-corp", "tools/a.yaml");
        assert_eq!(
            split_file_key(CF_HEAD, &key).unwrap(),
            ("customer/acme-corp".into(), "tools/a.yaml".into())
        );
        let value = encode_file("abc123", "version: 1\n");
        assert_eq!(
            decode_file(CF_HEAD, &value).unwrap(),
            ("abc123".into(), "version: 1\n".into())
        );
        assert!(decode_file(CF_HEAD, &value[..6]).is_err());
        assert!(split_file_key(CF_HEAD, b"no-separator").is_err());
    }

    #[test]
    fn a_branch_is_one_key_range() {
        // `main\0...` sorts before `main-2\0...`, so one branch's keys are contiguous.
        assert!(file_key("main", "workflows/z.yaml") < file_key("main-2", "configs/a.yaml"));
        assert_eq!(served_cf("tools/a.yaml"), Some(CF_TOOLS));
        assert_eq!(served_cf("README.md"), None);
    }
}
