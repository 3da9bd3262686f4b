//! The public API as the gateway publishes it with every service behind it:
//! one document listing every route in the table, rendered on the API page.

use e2e::{Api, System};
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_api_page_lists_every_operation_of_every_service() {
    let Some(chromium) = testkit::browser::chromium_or_skip() else { return };
    let system = System::start("rabbitmq").await.expect("the system starts");
    let (status, document) = Api::new(&system.gateway).get("/api/openapi.json").await;
    assert!(status.is_success(), "{document}");

    // Every route of the shipped table is in the document, with its methods.
    let table: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../deploy/gateway/routes.json")).unwrap(),
    )
    .unwrap();
    let paths: Vec<&String> = document["paths"].as_object().unwrap().keys().collect();
    for route in table["routes"].as_array().unwrap() {
        let prefix = route["path"].as_str().unwrap().trim_end_matches("{*rest}");
        assert!(
            paths.iter().any(|p| p.starts_with(prefix)),
            "route {} ({prefix}) has operations in the document: {paths:?}",
            route["name"]
        );
    }

    let url = format!("{}/docs/", system.gateway);
    let dom = chromium.dump_dom(&url).await;
    assert!(dom.contains("swagger-ui"), "the page rendered Swagger UI");
    assert_eq!(testkit::browser::operations_missing_from_page(&document, &dom), Vec::<String>::new());
    let screenshot = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("system-api-page.png");
    chromium.screenshot(&url, &screenshot).await;
    assert!(screenshot.exists());
}
