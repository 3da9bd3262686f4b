//! The API page as a browser shows it: headless Chromium renders `/docs`
//! and every operation of the document is on the page.
//!
//! Without Chromium the test says so and passes, unless `CI` is set
//! (`.ci/run` installs it).

use serde_json::Value;

use crate::helpers::spawn_gateway;

fn chromium() -> Option<&'static str> {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"].into_iter().find(|p| std::path::Path::new(p).exists())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headless_chromium_shows_every_operation_on_the_api_page() {
    let Some(browser) = chromium() else {
        assert!(std::env::var_os("CI").is_none(), "CI is set but Chromium is not installed");
        eprintln!("SKIPPED: no Chromium");
        return;
    };
    let gw = spawn_gateway().await;
    let doc: Value = gw.http.get(gw.url("/api/openapi.json")).send().await.unwrap().json().await.unwrap();
    let url = gw.url("/docs/");
    let profile = std::env::temp_dir().join(format!("chromium-{}", uuid::Uuid::new_v4().simple()));
    let screenshot = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("api-page.png");
    let args = [
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
    ];
    let run = |extra: Vec<String>| {
        let (browser, profile, args) = (browser.to_owned(), profile.clone(), args.map(str::to_owned));
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(browser)
                .args(args)
                .arg(format!("--user-data-dir={}", profile.display()))
                .args(extra)
                .output()
                .expect("run chromium")
        })
    };
    let dom = run(vec!["--dump-dom".into(), url.clone()]).await.unwrap();
    let dom = String::from_utf8_lossy(&dom.stdout).into_owned();
    run(vec![format!("--screenshot={}", screenshot.display()), url]).await.unwrap();

    assert!(dom.contains("swagger-ui"), "the page rendered Swagger UI");
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            let shown = dom.contains(&format!("data-path=\"{path}\"")) || dom.contains(&format!(">{path}<"));
            assert!(shown, "{} {path} is on the page", method.to_uppercase());
        }
    }
    assert!(screenshot.exists(), "a screenshot was taken");
    let _ = std::fs::remove_dir_all(profile);
}
