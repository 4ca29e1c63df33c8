//! The scan state kept between runs, so that a run after new event files
//! have landed reads only those files (incremental runs).
//!
//! Each kept scan is two files in the cache folder, named by its as-of day
//! and a digest of the settings it was made under: a small JSON head (the
//! event files it read, with their stamps, and their check's statistics)
//! and the [`Carry`] itself (postcard). A run at day `D` takes the cached
//! scan through the latest day `C <= D` whose files are all still there
//! unchanged and which left no event after `C` out, reads the files added
//! since, and advances it to `D`. Anything else (a file rewritten or gone,
//! other settings, an account gone, an earlier day) means a full scan, and
//! the run says why.
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::scan::Carry;
use crate::error::{Error, Result};
use crate::sources::{Checked, EventStats, FileStamp};

/// Bumped whenever [`Carry`] or what it means changes.
const VERSION: u32 = 2;

/// Kept scans beyond this many (the least recently written) are removed.
const KEEP: usize = 24;

/// Where a run keeps its scans, and whether it may start from them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanCache {
    /// The cache folder.
    pub dir: PathBuf,
    /// Read every event even where a kept scan would do (`--full`); the
    /// scan is kept all the same.
    pub full: bool,
}

/// How a run's features scan read the events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ScanMode {
    /// Every event was read.
    Full {
        /// Why no kept scan was used.
        reason: String,
    },
    /// A kept scan was advanced by the files added since.
    Incremental {
        /// The day the kept scan counted through.
        from_day: i32,
        /// Files read.
        files: usize,
        /// Events read.
        events: u64,
    },
}

impl ScanMode {
    /// One line for a run's summary.
    pub fn describe(&self) -> String {
        match self {
            ScanMode::Full { reason } => format!("full scan ({reason})"),
            ScanMode::Incremental {
                from_day,
                files,
                events,
            } => format!(
                "incremental: the scan through {} advanced by {events} event(s) in {files} new file(s)",
                crate::dates::date_of_day(*from_day)
            ),
        }
    }
}

/// What a kept scan's head says.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Head {
    version: u32,
    settings: String,
    through: i32,
    after: u64,
    files: Vec<FileStamp>,
    stats: EventStats,
}

/// How a date's state is got.
pub(super) enum Plan {
    /// From every event, for this reason.
    Full(String),
    /// From the kept scan at `body`, advanced by `new_files`.
    Kept {
        body: PathBuf,
        through: i32,
        new_files: Vec<PathBuf>,
    },
}

impl ScanCache {
    fn heads(&self) -> Vec<(PathBuf, Head)> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut heads = Vec::new();
        for entry in entries.flatten() {
            let path = entry.path();
            if !path.to_string_lossy().ends_with(".head.json") {
                continue;
            }
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            match serde_json::from_str::<Head>(&text) {
                Ok(head) if head.version == VERSION => heads.push((path, head)),
                _ => {}
            }
        }
        heads
    }

    /// The event files earlier scans read and what their check found: the
    /// events check of a run needs to read only the others.
    pub fn earlier_checks(&self) -> Vec<Checked> {
        if self.full {
            return Vec::new();
        }
        self.heads()
            .into_iter()
            .map(|(_, head)| Checked {
                files: head.files,
                stats: head.stats,
            })
            .collect()
    }

    /// How to get the state at `day` under `settings`, the events being
    /// `files` now.
    pub(super) fn plan(&self, settings: &str, files: &[FileStamp], day: i32) -> Plan {
        if self.full {
            return Plan::Full("--full".into());
        }
        let heads = self.heads();
        if heads.is_empty() {
            return Plan::Full("no earlier scan is kept".into());
        }
        let mut why = "no kept scan was made under these feature settings".to_string();
        let mut best: Option<(PathBuf, Head)> = None;
        for (path, head) in heads {
            if head.settings != settings {
                continue;
            }
            if head.through > day {
                why = "the kept scans are later than the as-of date".into();
                continue;
            }
            if let Some(changed) = head.files.iter().find(|file| !files.contains(file)) {
                why = match files.iter().find(|now| now.path == changed.path) {
                    Some(now) => format!(
                        "{} changed since it was read ({} -> {} bytes)",
                        changed.path, changed.len, now.len
                    ),
                    None => format!("{} is gone since it was read", changed.path),
                };
                continue;
            }
            if head.after > 0 && head.through != day {
                why = format!(
                    "the kept scan through {} left out {} later event(s) of the files it read",
                    crate::dates::date_of_day(head.through),
                    head.after
                );
                continue;
            }
            if best
                .as_ref()
                .is_none_or(|(_, b)| (head.through, head.files.len()) > (b.through, b.files.len()))
            {
                best = Some((path, head));
            }
        }
        let Some((path, head)) = best else {
            return Plan::Full(why);
        };
        let new_files = files
            .iter()
            .filter(|file| !head.files.contains(file))
            .map(|file| PathBuf::from(&file.path))
            .collect();
        Plan::Kept {
            body: body_of(&path),
            through: head.through,
            new_files,
        }
    }

    /// Reads a kept scan's state.
    pub(super) fn load(&self, body: &Path) -> std::result::Result<Carry, String> {
        let bytes = std::fs::read(body)
            .map_err(|error| format!("the kept scan {} cannot be read: {error}", body.display()))?;
        postcard::from_bytes(&bytes).map_err(|error| {
            format!(
                "the kept scan {} cannot be decoded: {error}",
                body.display()
            )
        })
    }

    /// Keeps `carry`, made under `settings` from `files` (checked with
    /// `stats`), replacing any kept scan of the same day and settings, and
    /// removes the oldest beyond [`KEEP`]. Written to temporary files and
    /// renamed, the body before the head: a head always has its body.
    pub(super) fn save(
        &self,
        settings: &str,
        files: &[FileStamp],
        stats: EventStats,
        carry: &Carry,
    ) -> Result<()> {
        use sha2::Digest;
        std::fs::create_dir_all(&self.dir).map_err(|e| Error::io(&self.dir, e))?;
        let digest = hex::encode(sha2::Sha256::digest(settings.as_bytes()));
        let stem = format!("scan-{}-{}", carry.through, &digest[..12]);
        let body = self.dir.join(format!("{stem}.bin"));
        let head_path = self.dir.join(format!("{stem}.head.json"));
        let head = Head {
            version: VERSION,
            settings: settings.to_string(),
            through: carry.through,
            after: carry.after,
            files: files.to_vec(),
            stats,
        };
        let head_text = serde_json::to_string(&head)
            .map_err(|error| Error::Internal(format!("keeping the scan: {error}")))?;
        // Streamed to the file: a kept scan can be hundreds of megabytes.
        write_atomically(&body, |writer| {
            postcard::to_io(carry, writer)
                .map(|_| ())
                .map_err(std::io::Error::other)
        })?;
        write_atomically(&head_path, |writer| writer.write_all(head_text.as_bytes()))?;
        self.prune();
        Ok(())
    }

    /// Removes the least recently written kept scans beyond [`KEEP`].
    fn prune(&self) {
        let mut heads: Vec<(std::time::SystemTime, PathBuf)> = self
            .heads()
            .into_iter()
            .map(|(path, _)| {
                let written = std::fs::metadata(&path)
                    .and_then(|m| m.modified())
                    .unwrap_or(std::time::UNIX_EPOCH);
                (written, path)
            })
            .collect();
        heads.sort();
        let excess = heads.len().saturating_sub(KEEP);
        for (_, path) in heads.into_iter().take(excess) {
            let _ = std::fs::remove_file(&path);
            let _ = std::fs::remove_file(body_of(&path));
        }
    }
}

/// The body beside a head.
fn body_of(head: &Path) -> PathBuf {
    let name = head.to_string_lossy();
    PathBuf::from(format!(
        "{}.bin",
        name.strip_suffix(".head.json").unwrap_or(&name)
    ))
}

/// Writes `path` through a temporary file beside it, renamed once whole.
fn write_atomically(
    path: &Path,
    write: impl FnOnce(&mut std::io::BufWriter<std::fs::File>) -> std::io::Result<()>,
) -> Result<()> {
    let temporary = path.with_extension("partial");
    let file = std::fs::File::create(&temporary).map_err(|e| Error::io(&temporary, e))?;
    let mut writer = std::io::BufWriter::new(file);
    write(&mut writer)
        .and_then(|()| writer.flush())
        .map_err(|e| Error::io(&temporary, e))?;
    std::fs::rename(&temporary, path).map_err(|e| Error::io(path, e))
}
