//! Atomic output: every file is written to a temporary sibling and renamed into place,
//! so a crash or kill never leaves a half-written output under its final name. Guarded
//! input: files are opened only when they are regular files (a FIFO or a device such as
//! `/dev/zero` would block or never end), and text inputs are read up to a size limit.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Temporary sibling name used while writing `path` (hidden, with the process id).
pub fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    path.with_file_name(format!(".{name}.{}.tmp", std::process::id()))
}

/// Writes `bytes` to `path` atomically: a uniquely named hidden temporary sibling
/// (`.<name>.XXXXXX.tmp`, `tempfile`), fsynced, then renamed over `path` (`persist`).
/// The temporary file is removed on any error, so two writers of one path never share a
/// temporary and a failed write leaves neither a partial file nor a stray temporary.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    let prefix = format!(".{name}.");
    let mut b = tempfile::Builder::new();
    b.prefix(&prefix).suffix(".tmp");
    // tempfile creates 0600 files; outputs get the usual 0666 less the umask, like
    // `File::create`.
    #[cfg(unix)]
    b.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
    let mut tmp = b.tempfile_in(dir).map_err(|e| Error::io(path, e))?;
    tmp.write_all(bytes)
        .and_then(|_| tmp.as_file().sync_all())
        .map_err(|e| Error::io(path, e))?;
    tmp.persist(path).map_err(|e| Error::io(path, e.error))?;
    Ok(())
}

/// Creates `path` with `bytes` unless it exists (returns false then), never leaving a
/// partial file behind even when killed: on Linux the data goes to an unnamed
/// `O_TMPFILE` inode in the target folder, fsynced, then linked under its final name in
/// one step; a kill before the link leaves nothing. Elsewhere (or on file systems
/// without `O_TMPFILE`) a hidden temporary sibling is written and hard-linked.
pub fn write_new(path: &Path, bytes: &[u8]) -> Result<bool> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    if path.exists() {
        return Ok(false);
    }
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::ffi::OsStrExt;
        use std::os::unix::fs::OpenOptionsExt;
        use std::os::unix::io::AsRawFd;
        if let Ok(mut f) = fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_TMPFILE)
            .mode(0o644)
            .open(dir)
        {
            f.write_all(bytes).map_err(|e| Error::io(path, e))?;
            f.sync_all().map_err(|e| Error::io(path, e))?;
            let src = std::ffi::CString::new(format!("/proc/self/fd/{}", f.as_raw_fd())).expect("no NUL");
            let dst = std::ffi::CString::new(path.as_os_str().as_bytes())
                .map_err(|_| Error::input(path, "path contains NUL"))?;
            // SAFETY: both are valid NUL-terminated strings; linkat does not retain them.
            let rc = unsafe {
                libc::linkat(
                    libc::AT_FDCWD,
                    src.as_ptr(),
                    libc::AT_FDCWD,
                    dst.as_ptr(),
                    libc::AT_SYMLINK_FOLLOW,
                )
            };
            if rc == 0 {
                return Ok(true);
            }
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                return Ok(false);
            }
            // Fall through to the portable way (e.g. /proc not mounted).
        }
    }
    let tmp = temp_path(path);
    let res = (|| -> std::io::Result<bool> {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        match fs::hard_link(&tmp, path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(e),
        }
    })();
    let _ = fs::remove_file(&tmp);
    res.map_err(|e| Error::io(path, e))
}

/// Opens `path` for reading when it is a regular file (after symlinks). Checked before
/// opening: opening a FIFO blocks until a writer appears, and a device or a directory is
/// not an input. A missing file is an I/O error as before.
pub fn open_regular(path: &Path) -> Result<fs::File> {
    check_regular(path)?;
    fs::File::open(path).map_err(|e| Error::io(path, e))
}

/// Errs unless `path` exists and is a regular file (after symlinks), naming what it is.
pub fn check_regular(path: &Path) -> Result<()> {
    let md = fs::metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Error::io(path, std::io::Error::new(e.kind(), "no such file")),
        _ => Error::io(path, e),
    })?;
    if !md.is_file() {
        let what = if md.is_dir() {
            "a directory"
        } else {
            "a FIFO, socket or device"
        };
        return Err(Error::input(path, format!("is {what}, not a regular file")));
    }
    Ok(())
}

/// Errs when the output folder `out` exists but is not a folder (checked before any work,
/// instead of failing on the first write after all of it).
pub fn check_out_dir(out: &Path) -> Result<()> {
    match fs::metadata(out) {
        Ok(md) if !md.is_dir() => Err(Error::input(
            out,
            "exists and is not a folder: give another --out",
        )),
        _ => Ok(()),
    }
}

/// Reads a whole input file of at most `max_bytes` (a regular file; see [`open_regular`]).
pub fn read_input(path: &Path, max_bytes: u64) -> Result<Vec<u8>> {
    use std::io::Read;
    let f = open_regular(path)?;
    let mut buf = Vec::new();
    f.take(max_bytes + 1)
        .read_to_end(&mut buf)
        .map_err(|e| Error::io(path, e))?;
    if buf.len() as u64 > max_bytes {
        return Err(Error::input(
            path,
            format!(
                "is larger than {} MiB, the limit for this kind of file",
                max_bytes >> 20
            ),
        ));
    }
    Ok(buf)
}

/// [`read_input`] of UTF-8 text.
pub fn read_text_input(path: &Path, max_bytes: u64) -> Result<String> {
    String::from_utf8(read_input(path, max_bytes)?).map_err(|_| Error::input(path, "is not UTF-8 text"))
}

/// Size limits of text inputs, bytes.
pub mod limits {
    /// Sites GeoJSON.
    pub const SITES: u64 = 64 << 20;
    /// Image catalogue (CSV, JSON Lines, STAC).
    pub const CATALOG: u64 = 256 << 20;
    /// Batch plan (JSON Lines, about 2 KB per job).
    pub const PLAN: u64 = 1 << 30;
    /// Evidence config JSON.
    pub const CONFIG: u64 = 1 << 20;
    /// Detections or truth GeoJSON, labels, a job file.
    pub const GEOJSON: u64 = 512 << 20;
}

/// SHA-256 of a file's contents, lower-case hex.
pub fn sha256_file(path: &Path) -> Result<String> {
    use sha2::{Digest, Sha256};
    let mut f = open_regular(path)?;
    let mut h = Sha256::new();
    std::io::copy(&mut f, &mut h).map_err(|e| Error::io(path, e))?;
    Ok(format!("{:x}", h.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_writes_replace_leave_no_temporary_and_get_create_s_mode() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("sub/r.json");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        let names: Vec<String> = fs::read_dir(p.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, vec!["r.json"]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let plain = d.path().join("plain");
            fs::File::create(&plain).unwrap();
            let mode = |q: &Path| fs::metadata(q).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&p), mode(&plain), "not the mode File::create gives");
        }
    }

    #[test]
    fn write_new_creates_once() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("jobs/k.json");
        assert!(write_new(&p, b"1").unwrap());
        assert!(!write_new(&p, b"2").unwrap());
        assert_eq!(fs::read(&p).unwrap(), b"1");
        assert_eq!(fs::read_dir(p.parent().unwrap()).unwrap().count(), 1);
    }

    #[test]
    fn atomic_write_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub/a.json");
        write_atomic(&p, b"{}").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"{}");
        let names: Vec<_> = fs::read_dir(p.parent().unwrap()).unwrap().collect();
        assert_eq!(names.len(), 1);
    }
}
