//! Writing a file so that readers see its old or its new content, never half of it: the
//! content goes to a temporary file beside it, which is then renamed over it.

use anyhow::{Context, Result};
use std::io::Write;
use std::path::Path;

/// Writes `path` through `write`, atomically. The file is readable by all (0644), as a file
/// written directly would be, not private like a temporary file.
pub fn write_atomically(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> Result<()>,
) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
    {
        let mut buffered = std::io::BufWriter::new(tmp.as_file_mut());
        write(&mut buffered)?;
        buffered.flush()?;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))?;
    }
    tmp.persist(path)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// Checks, before any work, that `path` can be written the way [`write_atomically`] writes
/// it: its folder exists and takes a new file, and the path is not a folder. A command calls
/// this first so that a bad `--out` costs nothing, not a whole run thrown away.
pub fn ensure_writable(path: &Path) -> Result<()> {
    if path.is_dir() {
        anyhow::bail!("{} is a folder; give a file name", path.display());
    }
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !dir.is_dir() {
        anyhow::bail!(
            "cannot write {}: the folder {} does not exist",
            path.display(),
            dir.display()
        );
    }
    tempfile::NamedTempFile::new_in(dir)
        .map(drop)
        .with_context(|| {
            format!(
                "cannot write {}: the folder {} is not writable",
                path.display(),
                dir.display()
            )
        })
}

/// Refuses an output path that names one of the command's inputs: writing it would destroy
/// the input before (or while) it is read. Paths are compared as files (same device and
/// inode on Unix, else the same canonical path), so `./a.jsonl` and `dir/../a.jsonl` match.
pub fn ensure_not_an_input(out: &Path, inputs: &[&Path]) -> Result<()> {
    for input in inputs {
        if same_file(out, input) {
            anyhow::bail!(
                "{} is both an input and the output; writing it would destroy the input: give \
                 --out another file",
                out.display()
            );
        }
    }
    Ok(())
}

/// Whether two paths name one existing file.
pub fn same_file(a: &Path, b: &Path) -> bool {
    let (Ok(ma), Ok(mb)) = (std::fs::metadata(a), std::fs::metadata(b)) else {
        return false;
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        ma.dev() == mb.dev() && ma.ino() == mb.ino()
    }
    #[cfg(not(unix))]
    {
        let _ = (ma, mb);
        matches!((a.canonicalize(), b.canonicalize()), (Ok(x), Ok(y)) if x == y)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_file_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.json");
        std::fs::write(&path, "old").unwrap();
        write_atomically(&path, |w| Ok(w.write_all(b"new")?)).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
        let failed = write_atomically(&path, |_| anyhow::bail!("no"));
        assert!(failed.is_err());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn unwritable_outputs_are_found_before_any_work() {
        let dir = tempfile::tempdir().unwrap();
        assert!(ensure_writable(&dir.path().join("t.json")).is_ok());
        let missing = format!(
            "{:#}",
            ensure_writable(&dir.path().join("no/t.json")).unwrap_err()
        );
        assert!(missing.contains("does not exist"), "{missing}");
        let folder = format!("{:#}", ensure_writable(dir.path()).unwrap_err());
        assert!(folder.contains("is a folder"), "{folder}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn an_output_that_is_an_input_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in.jsonl");
        std::fs::write(&input, "x").unwrap();
        let other = dir.path().join("sub/../in.jsonl");
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        let err = ensure_not_an_input(&other, &[&input]).unwrap_err();
        assert!(
            err.to_string().contains("both an input and the output"),
            "{err}"
        );
        assert!(ensure_not_an_input(&dir.path().join("out.jsonl"), &[&input]).is_ok());
    }
}
