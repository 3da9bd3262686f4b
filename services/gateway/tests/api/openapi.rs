//! The aggregated OpenAPI document and the API page.

use serde_json::Value;

use crate::helpers::spawn_gateway;

#[tokio::test]
async fn the_document_lists_every_route_at_its_public_path() {
    let gw = spawn_gateway().await;
    let doc: Value = gw.http.get(gw.url("/api/openapi.json")).send().await.unwrap().json().await.unwrap();
    let paths = doc["paths"].as_object().unwrap();

    // Rewritten to the public paths, only with the methods the table allows.
    assert!(paths["/api/echo/hello"].get("get").is_some() && paths["/api/echo/hello"].get("post").is_some());
    assert!(paths["/api/things"].get("post").is_some());
    assert!(paths["/api/things"].get("get").is_some(), "from the things-read route");
    assert!(paths["/api/things"].get("delete").is_none(), "the table does not expose DELETE");
    assert!(!paths.keys().any(|p| p.contains("not-routed")), "unrouted upstream paths stay private");

    // What the gateway adds: the bearer requirement, its own errors.
    let private = &paths["/api/private/{id}"]["get"];
    assert_eq!(private["security"][0]["bearer"], serde_json::json!([]));
    assert!(private["responses"].get("401").is_some());
    assert!(paths["/api/admin"]["get"]["responses"].get("403").is_some());
    assert!(paths["/api/echo/hello"]["get"].get("security").is_none(), "public routes need no token");
    assert_eq!(doc["components"]["schemas"]["Thing"]["type"], "object");

    // Every route of the table is there, even one whose service is down.
    let table = gateway::routes::RouteTable::parse(crate::helpers::TABLE).unwrap();
    for route in &table.routes {
        let prefix = route.path.split('{').next().unwrap().trim_end_matches('/');
        let listed = paths.iter().any(|(path, item)| {
            path.starts_with(prefix) && route.methods.iter().all(|m| item.get(m.to_lowercase()).is_some())
        });
        assert!(listed, "route {} ({}) is documented", route.name, route.path);
    }
    assert!(paths["/api/down"]["get"]["summary"].as_str().unwrap().contains("documentation unavailable"));
}

#[tokio::test]
async fn the_api_page_is_served_from_the_binary_and_points_at_the_document() {
    let gw = spawn_gateway().await;
    let page = gw.http.get(gw.url("/docs/")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().to_lowercase().contains("swagger"));
    let initializer = gw.http.get(gw.url("/docs/swagger-initializer.js")).send().await.unwrap().text().await.unwrap();
    assert!(initializer.contains("/api/openapi.json"), "{initializer}");
}
