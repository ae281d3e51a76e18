//! Crash-safe file writes: write a sibling temporary file, flush it to disk, rename it over
//! the target. A reader sees the old file or the new one, never half of either.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Writes `bytes` to `path` atomically, creating parent folders as needed.
pub fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = temp_path(path);
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    }
    let written = (|| {
        let mut file = fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()
    })();
    if let Err(e) = written.and_then(|()| fs::rename(&tmp, path)) {
        let _ = fs::remove_file(&tmp);
        return Err(Error::io(path, e));
    }
    Ok(())
}

/// Makes `dir` (and its parents) and checks a file can be written in it, so a run whose output
/// folder is a file or read-only stops before its work rather than after.
pub fn writable_dir(dir: &Path) -> Result<()> {
    fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let probe = temp_path(&dir.join("probe"));
    fs::File::create(&probe).map_err(|e| Error::io(dir, e))?;
    let _ = fs::remove_file(&probe);
    Ok(())
}

/// The temporary sibling used while `path` is being written (hidden, unique per process).
pub fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.{}.tmp", std::process::id()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_content_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/out.bin");
        write(&path, b"first").unwrap();
        write(&path, b"second").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"second");
        let names: Vec<_> = fs::read_dir(path.parent().unwrap()).unwrap().collect();
        assert_eq!(names.len(), 1, "a temporary file was left behind");
    }

    #[test]
    fn failed_write_keeps_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("model.bin");
        write(&path, b"good").unwrap();
        // A directory in the temporary file's place makes the write fail.
        fs::create_dir(temp_path(&path)).unwrap();
        assert!(write(&path, b"bad").is_err());
        assert_eq!(fs::read(&path).unwrap(), b"good");
    }
}
