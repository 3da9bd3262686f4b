//! Bad bodies are refused with a 422 problem naming what is wrong, before
//! any upstream is asked and without writing anything; the OpenAPI
//! document describes the same limits.

use serde_json::{Value, json};

use crate::helpers::{assert_problem, lines, spawn_app, violated_fields};

#[tokio::test]
async fn bad_bodies_are_422_problems_naming_the_bad_fields() {
    let app = spawn_app().await;
    let me = app.customer();
    let many: Vec<(String, i64)> = (0..51).map(|i| (format!("SKU-{i}"), 1)).collect();
    let many: Vec<(&str, i64)> = many.iter().map(|(s, q)| (s.as_str(), *q)).collect();

    let cases: Vec<(Value, Vec<&str>)> = vec![
        (json!({ "lines": [] }), vec!["lines"]),
        (lines(&many), vec!["lines"]),
        (lines(&[("MOUSE", 0)]), vec!["lines[0].quantity"]),
        (lines(&[("MOUSE", 1001)]), vec!["lines[0].quantity"]),
        (lines(&[("MOUSE", -1)]), vec!["lines[0].quantity"]),
        (lines(&[("MO\u{0}USE", 1)]), vec!["lines[0].sku"]),
        (lines(&[("", 1)]), vec!["lines[0].sku"]),
        (lines(&[(&"X".repeat(65), 1)]), vec!["lines[0].sku"]),
        (lines(&[("MOUSE", 1), ("CABLE", 1), ("MOUSE", 2)]), vec!["lines[2].sku"]),
        (lines(&[("", 0), ("CABLE", 5000)]), vec!["lines[0].sku", "lines[0].quantity", "lines[1].quantity"]),
    ];
    for (i, (body, fields)) in cases.into_iter().enumerate() {
        let problem = assert_problem(app.place(&me, &format!("case-{i}"), &body).await, 422).await;
        assert_eq!(violated_fields(&problem), fields, "{body}");
    }

    // Shapes serde refuses: still a 422 problem, never a 500.
    for body in [
        json!({}),
        json!([{ "sku": "MOUSE", "quantity": 1 }]),
        json!("lines"),
        json!({ "lines": [{ "sku": "MOUSE" }] }),
        json!({ "lines": [{ "sku": "MOUSE", "quantity": 1.5 }] }),
        json!({ "lines": [{ "sku": "MOUSE", "quantity": 1e30 }] }),
        json!({ "lines": [{ "sku": "MOUSE", "quantity": 1 }], "coupon": "FREE" }),
    ] {
        assert_problem(app.place(&me, "shape", &body).await, 422).await;
    }
    let not_json = app
        .api
        .request(reqwest::Method::POST, "/orders", &me)
        .header("idempotency-key", "syntax")
        .header("content-type", "application/json")
        .body("{\"lines\": [")
        .send()
        .await
        .unwrap();
    assert_problem(not_json, 400).await;

    assert_eq!(app.rows().await, (0, 0, 0, 0));
}

#[tokio::test]
async fn the_openapi_document_describes_every_operation_and_its_limits() {
    let app = spawn_app().await;
    let doc: Value = app.api.http.get(app.api.url("/openapi.json")).send().await.unwrap().json().await.unwrap();
    let post = &doc["paths"]["/orders"]["post"];
    let key = post["parameters"].as_array().unwrap().iter().find(|p| p["name"] == "Idempotency-Key").unwrap();
    assert_eq!(key["in"], "header");
    assert_eq!(key["required"], true);
    assert_eq!(key["schema"]["maxLength"], 255);
    for status in ["201", "400", "401", "403", "422", "502", "503", "504"] {
        assert!(post["responses"][status].is_object(), "POST /orders documents {status}");
    }
    assert!(doc["paths"]["/orders"]["get"].is_object());
    assert!(doc["paths"]["/orders/{id}"]["get"]["responses"]["404"].is_object());
    assert!(doc["paths"]["/orders/{id}/cancel"]["post"]["responses"]["409"].is_object());
    let line = &doc["components"]["schemas"]["LineRequest"]["properties"];
    assert_eq!(line["quantity"]["maximum"], 1000);
    assert_eq!(line["sku"]["maxLength"], 64);
}
