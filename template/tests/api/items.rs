//! The items resource over REST: created for the caller, read back by its
//! owner or an admin only, names checked field by field, documented in
//! OpenAPI.

use serde_json::{Value, json};

use crate::helpers::{As, assert_problem, customer, spawn_app, violated_fields};

#[tokio::test]
async fn a_created_item_is_201_with_its_location_and_reads_back_the_same() {
    let app = spawn_app().await;
    let owner = customer();

    let response = app.create_item(&owner, "  First item ").await;
    assert_eq!(response.status(), 201);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let item: Value = response.json().await.unwrap();
    assert_eq!(item["name"], "First item", "stored trimmed");
    assert_eq!(item["owner_id"], owner.id.to_string());
    assert!(item["created_at"].is_string());
    let id = item["id"].as_str().unwrap();
    assert_eq!(location, format!("/template/items/{id}"));

    let read = app.api.request(reqwest::Method::GET, &location, &owner).send().await.unwrap();
    assert_eq!(read.status(), 200);
    assert_eq!(read.json::<Value>().await.unwrap(), item);
}

#[tokio::test]
async fn an_invalid_name_is_a_422_naming_the_field() {
    let app = spawn_app().await;
    let too_long = "a".repeat(101);
    for name in ["", "   ", "NUL\0", "line\nbreak", too_long.as_str()] {
        let problem = assert_problem(app.create_item(&customer(), name).await, 422).await;
        assert_eq!(violated_fields(&problem), ["name"], "{name:?}");
    }
    let body = json!({ "name": "ok", "colour": "red" });
    let response = app.api.request(reqwest::Method::POST, "/template/items", &customer()).json(&body).send().await;
    assert_problem(response.unwrap(), 422).await;
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM items").fetch_one(&app.db.pool).await.unwrap();
    assert_eq!(stored, 0, "nothing refused was stored");
}

#[tokio::test]
async fn items_need_a_signed_in_caller() {
    let app = spawn_app().await;
    let item = app.new_item(&customer(), "Mine").await;
    let anonymous = &app.api.http;
    let create = anonymous.post(app.api.url("/template/items")).json(&json!({ "name": "x" })).send().await;
    assert_problem(create.unwrap(), 401).await;
    let path = format!("/template/items/{}", item["id"].as_str().unwrap());
    assert_problem(anonymous.get(app.api.url(&path)).send().await.unwrap(), 401).await;
}

#[tokio::test]
async fn someone_elses_item_is_404_but_an_admin_sees_it() {
    let app = spawn_app().await;
    let item = app.new_item(&customer(), "Private").await;
    let id = item["id"].as_str().unwrap();

    assert_problem(app.get_item(&customer(), id).await, 404).await;
    let response = app.get_item(&As::admin(), id).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.json::<Value>().await.unwrap(), item);
}

#[tokio::test]
async fn a_malformed_id_is_422_and_an_unknown_one_404() {
    let app = spawn_app().await;
    let problem = assert_problem(app.get_item(&customer(), "not-a-uuid").await, 422).await;
    assert_eq!(violated_fields(&problem), ["id"]);
    assert_problem(app.get_item(&As::admin(), &uuid::Uuid::now_v7().to_string()).await, 404).await;
}

#[tokio::test]
async fn the_openapi_document_lists_both_operations_and_every_answer() {
    let app = spawn_app().await;
    let doc: Value = app.api.http.get(app.api.url("/openapi.json")).send().await.unwrap().json().await.unwrap();
    let codes = |path: &str, method: &str| {
        let responses =
            doc["paths"][path][method]["responses"].as_object().unwrap_or_else(|| panic!("{method} {path}"));
        responses.keys().cloned().collect::<Vec<_>>()
    };
    assert_eq!(codes("/template/items", "post"), ["201", "400", "401", "413", "415", "422"]);
    assert_eq!(codes("/template/items/{id}", "get"), ["200", "401", "404", "422"]);
}
