//! The files of an events source: one file, or the files of a folder that
//! new events land in as new files (daily partitions), and their stamps,
//! which tell an incremental run which files an earlier run already read.
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Problem, Result};
use crate::project::{Format, Location, Source};

/// Bytes read from each end of a file for its digest.
const DIGEST_BYTES: u64 = 64 * 1024;

/// What identifies a file's contents cheaply: its path, length,
/// modification time and a digest of its first and last 64 KiB. A file
/// rewritten in place changes at least one of them (Parquet's footer, at
/// its end, describes every row group).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileStamp {
    /// The file's canonical path.
    pub path: String,
    /// Length in bytes.
    pub len: u64,
    /// Modification time, nanoseconds since the epoch (0 where unknown).
    pub modified_ns: i128,
    /// SHA-256 of the first and last 64 KiB, hex.
    pub digest: String,
}

impl FileStamp {
    /// The stamp of the file at `path`.
    ///
    /// # Errors
    ///
    /// The file cannot be read.
    pub fn of(path: &Path) -> Result<FileStamp> {
        use sha2::Digest;
        use std::io::{Read, Seek, SeekFrom};
        let mut file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        let meta = file.metadata().map_err(|e| Error::io(path, e))?;
        let len = meta.len();
        let modified_ns = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_nanos() as i128)
            .unwrap_or(0);
        let mut hasher = sha2::Sha256::new();
        hasher.update(len.to_le_bytes());
        let mut buffer = Vec::new();
        (&mut file)
            .take(DIGEST_BYTES)
            .read_to_end(&mut buffer)
            .map_err(|e| Error::io(path, e))?;
        hasher.update(&buffer);
        if len > DIGEST_BYTES {
            buffer.clear();
            file.seek(SeekFrom::Start(
                len.saturating_sub(DIGEST_BYTES).max(DIGEST_BYTES),
            ))
            .map_err(|e| Error::io(path, e))?;
            file.read_to_end(&mut buffer)
                .map_err(|e| Error::io(path, e))?;
            hasher.update(&buffer);
        }
        // The same file however the project was reached (`--project .`,
        // an absolute path, another working directory).
        let path = std::fs::canonicalize(path).map_err(|e| Error::io(path, e))?;
        Ok(FileStamp {
            path: path.display().to_string(),
            len,
            modified_ns,
            digest: hex::encode(hasher.finalize()),
        })
    }
}

/// The files of a file source: the file itself, or the files of its folder
/// (not hidden, not starting with `_`, of the source's format), in name
/// order. Empty for a table in a database.
///
/// # Errors
///
/// The folder cannot be listed, or holds no file of the format.
pub fn source_files(source: &Source) -> Result<Vec<PathBuf>> {
    let Location::File { path, format, .. } = &source.location else {
        return Ok(Vec::new());
    };
    if !path.is_dir() {
        return Ok(vec![path.clone()]);
    }
    let entries = std::fs::read_dir(path).map_err(|e| Error::io(path, e))?;
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(path, e))?;
        let file = entry.path();
        let name = entry.file_name().to_string_lossy().to_string();
        if name.starts_with('.') || name.starts_with('_') || !file.is_file() {
            continue;
        }
        if Format::from_path(&file) == Some(*format) {
            files.push(file);
        }
    }
    files.sort();
    if files.is_empty() {
        return Err(Error::invalid(
            Problem::new(
                path.display().to_string(),
                format!("the folder holds no {} file", format.name()),
            )
            .with_help(format!(
                "put the {} files in it (named .{}), or point the source at a file",
                source.kind.name(),
                format.name()
            )),
        ));
    }
    Ok(files)
}

/// The source restricted to one of its files (whose rows an error names).
pub(crate) fn one_file(source: &Source, file: &Path) -> Source {
    let mut one = source.clone();
    if let Location::File { path, .. } = &mut one.location {
        *path = file.to_path_buf();
    }
    one
}
