//! Secrets read from files.
//!
//! A `*_FILE` variable names a file holding the secret, so the secret itself
//! appears in no environment listing (`docker inspect`, `/proc/*/environ`).
//! Kept apart from `settings` because both the shared settings and the
//! broker's settings read secrets, and neither should import the other.

/// The secret in the file at `path`, without the line end a file ends with.
/// The error names the variable and the path.
pub fn read_secret(path: &str, variable: &str) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("read {variable} {path}: {e}"))?;
    Ok(text.trim_end_matches(['\r', '\n']).to_owned())
}
