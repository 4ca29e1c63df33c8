//! Writing the files strata produces: whole files replaced atomically (a
//! reader never sees half a file, a failure leaves the old one), and CSV
//! fields quoted the way every CSV reader expects.
use std::io::Write as _;
use std::path::Path;

use crate::error::{Error, Result};

/// Writes `bytes` to `path` through a temporary file renamed into place,
/// creating the parent folder.
pub fn write_file_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    }
    write_atomically(path, |file| {
        file.write_all(bytes).map_err(|e| Error::io(path, e))
    })
}

/// Quotes a CSV field when it needs quoting.
pub fn csv_field(value: &str) -> String {
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_string()
    }
}

/// Writes `path` through a temporary file that `write` fills, synced and
/// renamed into place; on failure the temporary file is removed and `path`
/// is left as it was.
pub fn write_atomically(
    path: &Path,
    write: impl FnOnce(&mut std::fs::File) -> Result<()>,
) -> Result<()> {
    let temporary = path.with_extension("tmp-strata");
    let mut file = std::fs::File::create(&temporary).map_err(|e| Error::io(&temporary, e))?;
    let written =
        write(&mut file).and_then(|()| file.sync_all().map_err(|e| Error::io(&temporary, e)));
    if let Err(error) = written {
        let _ = std::fs::remove_file(&temporary);
        return Err(error);
    }
    std::fs::rename(&temporary, path).map_err(|e| Error::io(path, e))
}
