//! Where the bytes of files sent in chats live, apart from the records that describe them.
//!
//! [`Blobs`] is two calls, put and get by key — exactly what an S3-compatible object store offers
//! (PutObject, GetObject), so such a store fits behind the same trait later. [`DirBlobs`] keeps
//! them as files in a directory, beside the SQLite database by default (the database stays
//! small, and a backup of the two is a copy of a file and a folder); the PostgreSQL backend
//! keeps them in its database instead, so every node of a cluster serves every file.

use crate::{Result, StoreError};
use async_trait::async_trait;
use std::io::Write;
use std::path::{Path, PathBuf};

#[async_trait]
pub trait Blobs: Send + Sync + 'static {
    /// Stores `bytes` under `key`, durably, before returning. Keys are never reused.
    async fn put(&self, key: &str, bytes: &[u8]) -> Result<()>;
    /// The bytes stored under `key`; `None` when there are none.
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>>;
}

/// Keys are safe as file and object names: 1–128 ASCII letters, digits, `-` and `_`.
fn checked(key: &str) -> Result<&str> {
    let ok = !key.is_empty()
        && key.len() <= 128
        && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok { Ok(key) } else { Err(StoreError::Invalid(format!("blob key {key:?} is not a safe name"))) }
}

/// Files in a directory: `<root>/<first two characters of the key>/<key>`, so no one folder holds
/// them all. A put writes a temporary file, flushes it to disk, and renames it into place, so a
/// reader (or a crash) never sees half a file.
pub struct DirBlobs {
    root: PathBuf,
}

impl DirBlobs {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The directory beside a database file: `shop.db` → `shop.db-attachments/` (next to SQLite's
    /// own `shop.db-wal`).
    pub fn beside(database: &Path) -> Self {
        let mut name = database.file_name().map(|n| n.to_os_string()).unwrap_or_else(|| "beckon.db".into());
        name.push("-attachments");
        Self::new(database.with_file_name(name))
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path(&self, key: &str) -> Result<PathBuf> {
        let key = checked(key)?;
        Ok(self.root.join(&key[..key.len().min(2)]).join(key))
    }
}

fn io(e: std::io::Error) -> StoreError {
    StoreError::Io(e.to_string())
}

#[async_trait]
impl Blobs for DirBlobs {
    async fn put(&self, key: &str, bytes: &[u8]) -> Result<()> {
        let path = self.path(key)?;
        let bytes = bytes.to_vec();
        tokio::task::spawn_blocking(move || -> Result<()> {
            let dir = path.parent().expect("a blob path has a folder");
            std::fs::create_dir_all(dir).map_err(io)?;
            let mut tmp = tempfile_in(dir)?;
            tmp.1.write_all(&bytes).map_err(io)?;
            tmp.1.sync_all().map_err(io)?;
            std::fs::rename(&tmp.0, &path).map_err(io)?;
            // The rename is durable once the folder is.
            std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(io)?;
            Ok(())
        })
        .await
        .map_err(|e| StoreError::Io(e.to_string()))?
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        let path = self.path(key)?;
        match tokio::fs::read(&path).await {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(e)),
        }
    }
}

/// A new file in `dir` no other writer uses (its name is random), and its path.
fn tempfile_in(dir: &Path) -> Result<(PathBuf, std::fs::File)> {
    use std::time::{SystemTime, UNIX_EPOCH};
    for attempt in 0u32..16 {
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
        let path = dir.join(format!(".tmp-{}-{nanos}-{attempt}", std::process::id()));
        match std::fs::OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(f) => return Ok((path, f)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(io(e)),
        }
    }
    Err(StoreError::Io("could not create a temporary file for an attachment".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn put_then_get_and_unsafe_keys_refused() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = DirBlobs::beside(&dir.path().join("shop.db"));
        assert_eq!(blobs.root(), dir.path().join("shop.db-attachments"));
        assert_eq!(blobs.get("ab12").await.unwrap(), None);
        blobs.put("ab12", b"hello").await.unwrap();
        assert_eq!(blobs.get("ab12").await.unwrap().as_deref(), Some(&b"hello"[..]));
        assert!(dir.path().join("shop.db-attachments/ab/ab12").is_file());
        for bad in ["", "../x", "a/b", "a.b", &"x".repeat(129)] {
            assert!(matches!(blobs.put(bad, b"x").await, Err(StoreError::Invalid(_))), "{bad:?}");
            assert!(blobs.get(bad).await.is_err());
        }
        // Nothing half-written is left behind.
        let names: Vec<_> = std::fs::read_dir(dir.path().join("shop.db-attachments/ab"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("ab12")]);
    }
}
