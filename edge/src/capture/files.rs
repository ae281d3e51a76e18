//! Image files as a frame source: paths, directories (their images, sorted) and globs.

use std::path::{Path, PathBuf};
use std::time::Instant;

use super::{decode, Frame, FrameSource};
use crate::{Error, Result};

/// File extensions read from a directory.
const EXTENSIONS: [&str; 3] = ["jpg", "jpeg", "png"];

/// Expands paths, directories and glob patterns into the image files they name, in order.
pub fn expand_inputs(inputs: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for input in inputs {
        let text = input.to_string_lossy();
        if input.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(input)
                .map_err(|e| Error::io(input, e))?
                .filter_map(|entry| entry.ok().map(|e| e.path()))
                .filter(|p| p.is_file() && is_image_name(p))
                .collect();
            if found.is_empty() {
                return Err(Error::source(
                    text,
                    "directory holds no .jpg, .jpeg or .png files",
                ));
            }
            found.sort();
            files.extend(found);
        } else if input.exists() {
            files.push(input.clone());
        } else if text.contains(['*', '?', '[']) {
            let mut found: Vec<PathBuf> = glob::glob(&text)
                .map_err(|e| Error::source(text.as_ref(), format!("bad pattern ({e})")))?
                .filter_map(|p| p.ok())
                .filter(|p| p.is_file())
                .collect();
            if found.is_empty() {
                return Err(Error::source(text, "no file matches this pattern"));
            }
            found.sort();
            files.extend(found);
        } else {
            // What the system said: a symlink loop or an unreadable folder is not a missing file.
            let why = match std::fs::metadata(input) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => e.to_string(),
                _ => "no such file or directory".to_string(),
            };
            return Err(Error::source(text, why));
        }
    }
    Ok(files)
}

fn is_image_name(p: &Path) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| EXTENSIONS.iter().any(|x| e.eq_ignore_ascii_case(x)))
}

/// Frames read from image files, one frame per file.
pub struct Files {
    paths: std::vec::IntoIter<PathBuf>,
}

impl Files {
    /// A source over `paths` (already expanded).
    pub fn new(paths: Vec<PathBuf>) -> Self {
        Files {
            paths: paths.into_iter(),
        }
    }
}

impl FrameSource for Files {
    fn next_frame(&mut self) -> Option<Result<Frame>> {
        let path = self.paths.next()?;
        let name = path.display().to_string();
        Some(super::read_file(&path).and_then(|bytes| {
            let start = Instant::now();
            let image = decode(&bytes, &name)?;
            Ok(Frame::new(name, 0, image, start.elapsed()))
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directories_globs_and_files_expand_in_order() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["b.png", "a.jpg", "c.txt"] {
            std::fs::write(dir.path().join(name), b"x").unwrap();
        }
        let got = expand_inputs(&[dir.path().to_path_buf()]).unwrap();
        let names: Vec<_> = got.iter().map(|p| p.file_name().unwrap()).collect();
        assert_eq!(names, ["a.jpg", "b.png"]);
        let pattern = dir.path().join("*.png");
        assert_eq!(expand_inputs(&[pattern]).unwrap().len(), 1);
        let missing = dir.path().join("nope.jpg");
        let err = expand_inputs(&[missing]).unwrap_err().to_string();
        assert!(err.contains("nope.jpg: no such file"), "{err}");
    }

    #[test]
    fn issue15_a_symlink_loop_is_not_called_a_missing_file() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a.jpg"), dir.path().join("b.jpg"));
        std::os::unix::fs::symlink(&b, &a).unwrap();
        std::os::unix::fs::symlink(&a, &b).unwrap();
        let err = expand_inputs(&[a]).unwrap_err().to_string();
        assert!(
            err.contains("a.jpg") && !err.contains("no such file"),
            "{err}"
        );
        let none = dir.path().join("*.gif");
        assert!(expand_inputs(&[none])
            .unwrap_err()
            .to_string()
            .contains("no file matches"));
    }
}
