//! Reading the text files a user names (spec files, quirk files, recipe
//! files): regular files only, so a FIFO or a device never blocks or
//! floods a run, and bytes that are not UTF-8 are reported with where they
//! are.

use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

/// Why a file could not be read as text.
#[derive(Debug, thiserror::Error)]
pub enum TextFileError {
    #[error("cannot read: {0}")]
    Io(#[from] io::Error),
    #[error("not a regular file (it is {0}); give the path of a file")]
    NotRegular(&'static str),
    #[error(
        "not valid UTF-8 at byte {offset} (line {line}, column {column}); save the file as UTF-8"
    )]
    Utf8 {
        /// Bytes before the first invalid one.
        offset: usize,
        line: usize,
        /// In bytes, from 1.
        column: usize,
    },
}

/// The contents of the regular file at `path`, as UTF-8 text.
pub fn read(path: &Path) -> Result<String, TextFileError> {
    // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a
    // writer. Whatever it is, it is looked at before a byte is read.
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)?;
    let kind = file.metadata()?.file_type();
    if !kind.is_file() {
        return Err(TextFileError::NotRegular(if kind.is_dir() {
            "a folder"
        } else if kind.is_fifo() {
            "a named pipe"
        } else if kind.is_socket() {
            "a socket"
        } else if kind.is_char_device() || kind.is_block_device() {
            "a device"
        } else {
            "a special file"
        }));
    }
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    decode(bytes)
}

/// `bytes` as UTF-8, or where the first invalid byte is.
pub fn decode(bytes: Vec<u8>) -> Result<String, TextFileError> {
    String::from_utf8(bytes).map_err(|e| {
        let offset = e.utf8_error().valid_up_to();
        let before = &e.as_bytes()[..offset];
        let line_start = before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        TextFileError::Utf8 {
            offset,
            line: before.iter().filter(|&&b| b == b'\n').count() + 1,
            column: offset - line_start + 1,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn special_files_are_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("x.toml");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let e = read(&fifo).unwrap_err();
        assert!(e.to_string().contains("named pipe"), "{e}");
        assert!(read(dir.path()).unwrap_err().to_string().contains("folder"));
        assert!(read(Path::new("/dev/null"))
            .unwrap_err()
            .to_string()
            .contains("device"));
        let file = dir.path().join("ok.toml");
        std::fs::write(&file, "a = 1\n").unwrap();
        assert_eq!(read(&file).unwrap(), "a = 1\n");
    }

    #[test]
    fn invalid_utf8_is_placed() {
        let e = decode(b"a = 1\nb = \"x\xffy\"\n".to_vec()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "not valid UTF-8 at byte 12 (line 2, column 7); save the file as UTF-8"
        );
    }
}
