//! Files on records in the desktop app: thumbnails made here, copies named
//! for the app that opens them, the Open dialog's filter.

use std::path::{Path, PathBuf};

use base64::Engine;
use ferry_core::Client;

use crate::types::CommandError;

/// Thumbnails' longest side, in pixels (shown at half that, sharp on HiDPI).
const THUMB_PX: u32 = 160;

/// The extensions of a file field's `accept` list, for the Open dialog;
/// empty when it names MIME types only (then everything is offered and the
/// field's check decides).
pub fn dialog_extensions(accept: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for a in accept {
        let a = a.trim();
        if let Some(ext) = a.strip_prefix('.') {
            out.push(ext.to_ascii_lowercase());
        } else if let Some(family) = a.strip_suffix("/*") {
            if family == "image" {
                out.extend(
                    [
                        "png", "jpg", "jpeg", "gif", "webp", "bmp", "tif", "tiff", "heic", "svg",
                    ]
                    .map(String::from),
                );
            } else {
                return Vec::new();
            }
        } else if let Some(exts) = mime_guess::get_mime_extensions_str(a) {
            out.extend(exts.iter().map(|e| (*e).to_string()));
        } else {
            return Vec::new();
        }
    }
    out.sort();
    out.dedup();
    out
}

/// A plain copy of kept file `sha256` under its own name, for the app that
/// opens it (files are kept under their hash, and sealed in an encrypted
/// profile). Copies go to a folder of the system's temporary directory only
/// this user can read (docs/security.md), one per profile.
pub fn named_copy(
    client: &Client,
    kept: &Path,
    sha256: &str,
    name: &str,
) -> Result<PathBuf, CommandError> {
    let safe = Path::new(name)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "file".into());
    let profile = {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        client.profile().dir().hash(&mut h);
        h.finish()
    };
    let root = std::env::temp_dir().join(format!("ferry-open-{profile:016x}"));
    let dir = root.join(&sha256[..16.min(sha256.len())]);
    let path = dir.join(safe);
    if !path.is_file() {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            builder.mode(0o700);
        }
        builder
            .create(&dir)
            .map_err(|e| CommandError::internal(format!("cannot create {}: {e}", dir.display())))?;
        client.files().copy_out(kept, &path)?;
    }
    Ok(path)
}

/// The thumbnail of an image file present here, made once and kept.
pub fn thumbnail(client: &Client, sha256: &str, mime: &str) -> ferry_core::Result<Option<String>> {
    if !mime.starts_with("image/") || !ferry_core::protocol::is_sha256(sha256) {
        return Ok(None);
    }
    let files = client.files();
    let Some(source) = files.present(client.store(), sha256)? else {
        return Ok(None);
    };
    let thumbs = client.profile().dir().join("files").join("thumbs");
    let kept = thumbs.join(format!("{sha256}.png"));
    let bytes = match files.read_small(&kept) {
        Ok(bytes) => bytes,
        Err(_) => {
            let Ok(image) = files
                .read_small(&source)
                .map_err(|e| e.to_string())
                .and_then(|bytes| {
                    image::ImageReader::new(std::io::Cursor::new(bytes))
                        .with_guessed_format()
                        .map_err(|e| e.to_string())
                })
                .and_then(|r| r.decode().map_err(|e| e.to_string()))
            else {
                return Ok(None);
            };
            let small = image.thumbnail(THUMB_PX, THUMB_PX);
            let mut png = Vec::new();
            if small
                .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
                .is_err()
            {
                return Ok(None);
            }
            // Kept to show again quickly; made again if it cannot be.
            let _ = files.write_small(&kept, &png);
            png
        }
    };
    Ok(Some(format!(
        "data:image/png;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )))
}
