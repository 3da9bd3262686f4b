//! Headless Chromium (Debian's package), for tests of pages as a browser
//! shows them: the DOM after scripts ran, and a screenshot.
//!
//! Without Chromium a test should say so and pass, unless `CI` is set
//! (`.ci/run` installs it): [`chromium_or_skip`] does exactly that.

use std::path::{Path, PathBuf};

pub struct Chromium {
    binary: &'static str,
    profile: PathBuf,
}

/// Chromium if installed; `None` (after saying so) if not, and a failure if
/// `CI` is set.
pub fn chromium_or_skip() -> Option<Chromium> {
    let binary = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].into_iter().find(|p| Path::new(p).exists());
    match binary {
        Some(binary) => {
            let profile = std::env::temp_dir().join(format!("chromium-{}", uuid::Uuid::new_v4().simple()));
            Some(Chromium { binary, profile })
        }
        None => {
            assert!(std::env::var_os("CI").is_none(), "CI is set but Chromium is not installed");
            eprintln!("SKIPPED: no Chromium");
            None
        }
    }
}

impl Chromium {
    /// The DOM of `url` once its scripts have run (up to 15 s of virtual time).
    pub async fn dump_dom(&self, url: &str) -> String {
        let output = self.run(vec!["--dump-dom".into(), url.to_owned()]).await;
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    pub async fn screenshot(&self, url: &str, path: &Path) {
        self.run(vec![format!("--screenshot={}", path.display()), url.to_owned()]).await;
    }

    async fn run(&self, extra: Vec<String>) -> std::process::Output {
        // The flags keep a headless run on a closed network quiet and fast:
        // no background fetches, no QUIC, a throwaway profile.
        let mut args: Vec<String> = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--virtual-time-budget=15000",
            "--window-size=1280,2400",
        ]
        .map(str::to_owned)
        .to_vec();
        args.push(format!("--user-data-dir={}", self.profile.display()));
        args.extend(extra);
        let binary = self.binary;
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(binary).args(args).output().expect("run chromium")
        })
        .await
        .expect("chromium task")
    }
}

impl Drop for Chromium {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// Whether every operation of an OpenAPI document is on a rendered Swagger
/// UI page; returns the ones missing.
pub fn operations_missing_from_page(document: &serde_json::Value, dom: &str) -> Vec<String> {
    let mut missing = Vec::new();
    for (path, item) in document["paths"].as_object().into_iter().flatten() {
        for method in item.as_object().into_iter().flatten().map(|(m, _)| m) {
            let shown = dom.contains(&format!("data-path=\"{path}\"")) || dom.contains(&format!(">{path}<"));
            if !shown {
                missing.push(format!("{} {path}", method.to_uppercase()));
            }
        }
    }
    missing
}
