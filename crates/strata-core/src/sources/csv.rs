//! CSV files as they come out of spreadsheets and other tools: the delimiter
//! (`,` `;` tab `|`, sniffed from the header when not given), the quote
//! character, and the text encoding.
//!
//! DataFusion's CSV reader takes UTF-8 only. A file in another encoding is
//! transcoded once into a cached UTF-8 copy (in the system's temporary
//! folder, refreshed when the source's size or modification time changes);
//! a file that should be UTF-8 but is not gets an error naming the row and
//! column of the first bad byte, found with a CSV-aware pass that runs only
//! after the fast whole-file check has failed.
//!
//! **Invariants**: the rows and columns DataFusion reads are the file's own
//! (same order, same row numbers in errors); nothing here writes beside the
//! user's data.
pub use crate::project::encoding_name;
use std::io::{BufRead, Read, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Problem, Result};
use crate::project::CsvOptions;

/// A CSV file ready for DataFusion: a UTF-8 path, its delimiter and quote,
/// and its header's column names.
#[derive(Debug, Clone)]
pub(crate) struct ReadyCsv {
    /// The file itself, or its UTF-8 copy.
    pub path: PathBuf,
    /// The field delimiter, given or sniffed.
    pub delimiter: u8,
    /// The quote character.
    pub quote: u8,
    /// Column names of the header line.
    pub header: Vec<String>,
}

/// Checks and, where needed, transcodes `path`, and reads its header.
pub(crate) fn ready(path: &Path, options: &CsvOptions) -> Result<ReadyCsv> {
    let encoding =
        encoding_rs::Encoding::for_label(options.encoding.as_bytes()).unwrap_or(encoding_rs::UTF_8);
    let utf8_path = if encoding == encoding_rs::UTF_8 {
        if let Some(offset) = first_invalid_utf8(path)? {
            return Err(invalid_utf8_error(path, options, offset));
        }
        path.to_path_buf()
    } else {
        transcoded(path, encoding)?
    };
    let first_line = first_line(&utf8_path)?;
    let label = path.display().to_string();
    if first_line.trim().is_empty() {
        return Err(Error::invalid(
            Problem::new(label, "the file is empty (no header line)")
                .with_help("a CSV source needs a header line naming its columns"),
        ));
    }
    let delimiter = options
        .delimiter
        .unwrap_or_else(|| sniff_delimiter(&first_line, options.quote));
    let header = header_names(&first_line, delimiter, options.quote);
    let mut seen = std::collections::HashSet::new();
    for name in &header {
        if !seen.insert(name) {
            return Err(Error::invalid(Problem::new(
                format!("{label}, header"),
                format!("column `{name}` appears twice"),
            )));
        }
    }
    if header.len() == 1 && options.delimiter.is_none() {
        tracing::debug!(file = %label, "CSV header has one column; no delimiter found");
    }
    Ok(ReadyCsv {
        path: utf8_path,
        delimiter,
        quote: options.quote,
        header,
    })
}

/// The delimiter among `,` `;` tab `|` that splits the header line into the
/// most fields outside quotes; `,` when none appears (a one-column file).
pub(crate) fn sniff_delimiter(header_line: &str, quote: u8) -> u8 {
    const CANDIDATES: [u8; 4] = [b',', b';', b'\t', b'|'];
    let mut counts = [0usize; CANDIDATES.len()];
    let mut in_quotes = false;
    for byte in header_line.bytes() {
        if byte == quote {
            in_quotes = !in_quotes;
        } else if !in_quotes && let Some(idx) = CANDIDATES.iter().position(|&c| c == byte) {
            counts[idx] += 1;
        }
    }
    // Ties go to the earlier candidate, so a plain comma file stays comma.
    let mut best = 0;
    for idx in 1..CANDIDATES.len() {
        if counts[idx] > counts[best] {
            best = idx;
        }
    }
    CANDIDATES[best]
}

/// The names of a header line, unquoted and trimmed, a BOM dropped.
fn header_names(line: &str, delimiter: u8, quote: u8) -> Vec<String> {
    let line = line
        .trim_end_matches(['\r', '\n'])
        .trim_start_matches('\u{feff}');
    let mut reader = ::csv::ReaderBuilder::new()
        .has_headers(false)
        .delimiter(delimiter)
        .quote(quote)
        .from_reader(line.as_bytes());
    let mut record = ::csv::StringRecord::new();
    match reader.read_record(&mut record) {
        Ok(true) => record.iter().map(|name| name.trim().to_string()).collect(),
        _ => line
            .split(delimiter as char)
            .map(|name| name.trim().to_string())
            .collect(),
    }
}

fn first_line(path: &Path) -> Result<String> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut line = String::new();
    std::io::BufReader::new(file)
        .read_line(&mut line)
        .map_err(|e| Error::io(path, e))?;
    Ok(line)
}

/// The byte offset of the first byte that is not valid UTF-8, if any.
fn first_invalid_utf8(path: &Path) -> Result<Option<u64>> {
    let mut file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut buffer = vec![0u8; 1 << 20];
    // Bytes of a character cut by the end of the previous chunk.
    let mut carry = 0usize;
    let mut offset = 0u64;
    loop {
        let read = file
            .read(&mut buffer[carry..])
            .map_err(|e| Error::io(path, e))?;
        let filled = carry + read;
        if filled == 0 {
            return Ok(None);
        }
        match std::str::from_utf8(&buffer[..filled]) {
            Ok(_) => {
                offset += filled as u64;
                carry = 0;
            }
            Err(error) => {
                let valid = error.valid_up_to();
                // An incomplete character at the end of a chunk continues in
                // the next one; anything else is invalid here.
                if error.error_len().is_some() || read == 0 {
                    return Ok(Some(offset + valid as u64));
                }
                buffer.copy_within(valid..filled, 0);
                carry = filled - valid;
                offset += valid as u64;
            }
        }
        if read == 0 {
            return Ok(None);
        }
    }
}

/// The error for invalid UTF-8 at byte `offset`: the row and column found by
/// reading the records up to there.
fn invalid_utf8_error(path: &Path, options: &CsvOptions, offset: u64) -> Error {
    let label = path.display().to_string();
    let help = "re-save the file as UTF-8 (in a spreadsheet: CSV UTF-8), or set its encoding under [sources], e.g. { path = \"...\", encoding = \"latin1\" } (or \"windows-1252\", \"utf-16le\")";
    let located = std::fs::File::open(path).ok().and_then(|file| {
        let mut head = Vec::new();
        std::io::BufReader::new(file)
            .take(offset.saturating_add(1))
            .read_to_end(&mut head)
            .ok()?;
        let header_line = String::from_utf8_lossy(head.split(|&b| b == b'\n').next()?).to_string();
        let delimiter = options
            .delimiter
            .unwrap_or_else(|| sniff_delimiter(&header_line, options.quote));
        let header = header_names(&header_line, delimiter, options.quote);
        let mut reader = ::csv::ReaderBuilder::new()
            .has_headers(false)
            .delimiter(delimiter)
            .quote(options.quote)
            .flexible(true)
            .from_reader(head.as_slice());
        let mut record = ::csv::ByteRecord::new();
        let mut row = 0usize;
        while reader.read_byte_record(&mut record).ok()? {
            if let Some(field) = record.iter().position(|f| std::str::from_utf8(f).is_err()) {
                let column = header
                    .get(field)
                    .cloned()
                    .unwrap_or_else(|| format!("#{}", field + 1));
                let byte = head.get(offset as usize).copied().unwrap_or_default();
                return Some((row, column, byte));
            }
            row += 1;
        }
        None
    });
    let problem = match located {
        Some((0, column, byte)) => Problem::new(
            format!("{label}, header, column `{column}`"),
            format!("the text is not valid UTF-8 (byte 0x{byte:02X})"),
        ),
        Some((row, column, byte)) => Problem::new(
            format!("{label}, row {row} (line {}), column `{column}`", row + 1),
            format!("the text is not valid UTF-8 (byte 0x{byte:02X})"),
        ),
        None => Problem::new(
            label,
            format!("the text is not valid UTF-8 at byte offset {offset}"),
        ),
    };
    Error::invalid(problem.with_help(help))
}

/// A UTF-8 copy of `path` decoded from `encoding`, made once per version of
/// the file (size and modification time) and kept in the temporary folder.
fn transcoded(path: &Path, encoding: &'static encoding_rs::Encoding) -> Result<PathBuf> {
    use std::hash::{Hash, Hasher};
    let metadata = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    let modified = metadata
        .modified()
        .ok()
        .and_then(|time| time.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|duration| duration.as_nanos())
        .unwrap_or_default();
    let absolute = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    (absolute, metadata.len(), modified, encoding.name()).hash(&mut hasher);
    let dir = std::env::temp_dir().join("strata-utf8");
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_default();
    let target = dir.join(format!("{stem}-{:016x}.csv", hasher.finish()));
    if target.is_file() {
        return Ok(target);
    }
    let mut input =
        std::io::BufReader::new(std::fs::File::open(path).map_err(|e| Error::io(path, e))?);
    let mut output = tempfile::NamedTempFile::new_in(&dir).map_err(|e| Error::io(&dir, e))?;
    let mut decoder = encoding.new_decoder();
    let mut in_buffer = vec![0u8; 1 << 16];
    let mut out_buffer = String::with_capacity(1 << 18);
    loop {
        let read = input.read(&mut in_buffer).map_err(|e| Error::io(path, e))?;
        let last = read == 0;
        let mut consumed = 0;
        loop {
            out_buffer.clear();
            let (result, used, _) =
                decoder.decode_to_string(&in_buffer[consumed..read], &mut out_buffer, last);
            consumed += used;
            output
                .write_all(out_buffer.as_bytes())
                .map_err(|e| Error::io(&target, e))?;
            if result == encoding_rs::CoderResult::InputEmpty {
                break;
            }
        }
        if last {
            break;
        }
    }
    output
        .persist(&target)
        .map_err(|e| Error::io(&target, e.error))?;
    Ok(target)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_the_delimiter_of_the_header() {
        for (line, expected) in [
            ("account_id,name,created_at", b','),
            ("account_id;name;created_at", b';'),
            ("account_id\tname\tcreated_at", b'\t'),
            ("account_id|name", b'|'),
            ("\"a;b\",c,d", b','),
            ("account_id", b','),
            ("a;b,c;d", b';'),
        ] {
            assert_eq!(sniff_delimiter(line, b'"'), expected, "{line:?}");
        }
    }

    #[test]
    fn names_the_row_and_column_of_invalid_utf8() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("accounts.csv");
        let mut bytes = b"account_id;name;created_at\na1;Acme;2026-01-01\na2;Caf".to_vec();
        bytes.push(0xE9);
        bytes.extend_from_slice(b" Lumi;2026-01-02\n");
        std::fs::write(&path, &bytes).unwrap_or_else(|e| panic!("{e}"));
        let error = ready(&path, &CsvOptions::default())
            .map(|_| ())
            .unwrap_err();
        let text = error.to_string();
        assert!(text.contains("row 2 (line 3), column `name`"), "{text}");
        assert!(text.contains("0xE9") && text.contains("encoding"), "{text}");

        let latin1 = CsvOptions {
            encoding: "windows-1252",
            ..CsvOptions::default()
        };
        let ready = ready(&path, &latin1).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(ready.delimiter, b';');
        assert_eq!(ready.header, ["account_id", "name", "created_at"]);
        let text = std::fs::read_to_string(&ready.path).unwrap_or_else(|e| panic!("{e}"));
        assert!(text.contains("Café Lumi"), "{text}");
    }
}
