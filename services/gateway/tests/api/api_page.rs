//! The API page as a browser shows it: headless Chromium renders `/docs`
//! and every operation of the document is on the page.
//!
//! Without Chromium the test says so and passes, unless `CI` is set
//! (`.ci/run` installs it).

use serde_json::Value;

use crate::helpers::spawn_gateway;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headless_chromium_shows_every_operation_on_the_api_page() {
    let Some(chromium) = testkit::browser::chromium_or_skip() else { return };
    let gw = spawn_gateway().await;
    let doc: Value = gw.http.get(gw.url("/api/openapi.json")).send().await.unwrap().json().await.unwrap();
    let url = gw.url("/docs/");
    let screenshot = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("api-page.png");
    let dom = chromium.dump_dom(&url).await;
    chromium.screenshot(&url, &screenshot).await;

    assert!(dom.contains("swagger-ui"), "the page rendered Swagger UI");
    assert_eq!(testkit::browser::operations_missing_from_page(&doc, &dom), Vec::<String>::new());
    assert!(screenshot.exists(), "a screenshot was taken");
}
