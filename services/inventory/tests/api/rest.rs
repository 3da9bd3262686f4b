//! The REST API, use case by use case, each with its error cases.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{As, assert_problem, spawn_app, spawn_app_with, violated_fields};

#[tokio::test]
async fn an_admin_creates_updates_and_restocks_a_product_that_anyone_can_read() {
    let app = spawn_app().await;
    let admin = As::admin();

    let body = json!({ "sku": " SKU-KETTLE ", "name": "  Electric kettle ", "price": 3499, "stock": 10 });
    let created = app.api.request(Method::POST, "/products", &admin).json(&body).send().await.unwrap();
    assert_eq!(created.status(), 201);
    assert_eq!(created.headers()["location"], "/products/SKU-KETTLE");
    let product: Value = created.json().await.unwrap();
    assert_eq!(
        (&product["sku"], &product["name"], &product["price"], &product["stock"]),
        (&json!("SKU-KETTLE"), &json!("Electric kettle"), &json!(3499), &json!(10)),
        "stored trimmed"
    );

    // Reading needs no identity at all.
    let fetched: Value =
        app.api.via_gateway(Method::GET, "/products/SKU-KETTLE").send().await.unwrap().json().await.unwrap();
    assert_eq!(fetched, product);

    let patch = app.api.request(Method::PATCH, "/products/SKU-KETTLE", &admin).json(&json!({ "price": 2999 }));
    let updated: Value = patch.send().await.unwrap().json().await.unwrap();
    assert_eq!((&updated["price"], &updated["name"]), (&json!(2999), &json!("Electric kettle")));

    let restocked = app.restock("SKU-KETTLE", 5).await;
    assert_eq!(restocked.status(), 200);
    let restocked: Value = restocked.json().await.unwrap();
    assert_eq!(restocked["stock"], 15);

    let page: Value = app.api.via_gateway(Method::GET, "/products").send().await.unwrap().json().await.unwrap();
    assert_eq!(page["items"], json!([restocked]));
    assert!(page.get("next_cursor").is_none());
}

#[tokio::test]
async fn writes_need_a_signed_in_admin() {
    let app = spawn_app().await;
    app.create_product("SKU-MUG", 899, 1).await;
    let body = json!({ "sku": "SKU-NEW", "name": "New", "price": 1 });
    let writes = [
        (Method::POST, "/products", body),
        (Method::PATCH, "/products/SKU-MUG", json!({ "price": 1 })),
        (Method::POST, "/products/SKU-MUG/restock", json!({ "quantity": 1 })),
    ];
    for (method, path, body) in writes {
        let anonymous = app.api.http.request(method.clone(), app.api.url(path)).json(&body).send().await.unwrap();
        assert_problem(anonymous, 401).await;
        let customer =
            app.api.request(method, path, &As::customer(uuid::Uuid::now_v7())).json(&body).send().await.unwrap();
        assert_problem(customer, 403).await;
    }
    let product: (i64, i64) = sqlx::query_as("SELECT price, stock FROM products WHERE sku = 'SKU-MUG'")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(product, (899, 1), "nothing changed");
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM products").fetch_one(&app.db.pool).await.unwrap();
    assert_eq!(count, 1);
}

#[tokio::test]
async fn invalid_fields_are_422_problems_naming_every_bad_field() {
    let app = spawn_app().await;
    let admin = As::admin();
    let create = |body: Value| app.api.request(Method::POST, "/products", &admin).json(&body).send();

    let all_bad = json!({ "sku": "lower-case", "name": " ", "price": -1, "stock": 1_000_001 });
    let problem = assert_problem(create(all_bad).await.unwrap(), 422).await;
    assert_eq!(violated_fields(&problem), ["name", "price", "sku", "stock"]);

    for (body, field) in [
        (json!({ "sku": "SKU-A", "name": "a\u{0}b", "price": 1 }), "name"),
        (json!({ "sku": "SKU-\u{0}", "name": "Nul", "price": 1 }), "sku"),
        (json!({ "sku": "SKU-A", "name": "x".repeat(201), "price": 1 }), "name"),
        (json!({ "sku": "SKU-A", "name": "Dear", "price": 10_000_000_001_i64 }), "price"),
        (json!({ "sku": "-SKU", "name": "Dash", "price": 1 }), "sku"),
    ] {
        let problem = assert_problem(create(body.clone()).await.unwrap(), 422).await;
        assert_eq!(violated_fields(&problem), [field], "{body}");
    }
    // Numbers past i64, fractions and unknown fields fail to deserialize: 422 too.
    for body in [
        json!({ "sku": "SKU-A", "name": "Huge", "price": 1e30 }),
        json!({ "sku": "SKU-A", "name": "Cents", "price": 1.5 }),
        json!({ "sku": "SKU-A", "name": "Extra", "price": 1, "colour": "red" }),
    ] {
        assert_problem(create(body).await.unwrap(), 422).await;
    }

    app.create_product("SKU-MUG", 899, 1).await;
    let patch = |body: Value| app.api.request(Method::PATCH, "/products/SKU-MUG", &admin).json(&body).send();
    assert_problem(patch(json!({})).await.unwrap(), 422).await;
    let problem = assert_problem(patch(json!({ "name": "", "price": -5 })).await.unwrap(), 422).await;
    assert_eq!(violated_fields(&problem), ["name", "price"]);
    assert_problem(patch(json!({ "stock": 1000 })).await.unwrap(), 422).await;

    for quantity in [0, -1, 1_000_001] {
        let problem = assert_problem(app.restock("SKU-MUG", quantity).await, 422).await;
        assert_eq!(violated_fields(&problem), ["quantity"]);
    }
    let problem = assert_problem(app.restock("lower", 0).await, 422).await;
    assert_eq!(violated_fields(&problem), ["quantity", "sku"]);
    assert_eq!(app.stock("SKU-MUG").await, 1);
}

#[tokio::test]
async fn unknown_products_are_404_malformed_skus_422_and_a_taken_sku_409() {
    let app = spawn_app().await;
    let admin = As::admin();
    assert_problem(app.api.via_gateway(Method::GET, "/products/SKU-NONE").send().await.unwrap(), 404).await;
    let patch = app.api.request(Method::PATCH, "/products/SKU-NONE", &admin).json(&json!({ "price": 1 }));
    assert_problem(patch.send().await.unwrap(), 404).await;
    assert_problem(app.restock("SKU-NONE", 1).await, 404).await;
    let malformed =
        assert_problem(app.api.via_gateway(Method::GET, "/products/not%20a%20sku").send().await.unwrap(), 422).await;
    assert_eq!(violated_fields(&malformed), ["sku"]);

    app.create_product("SKU-MUG", 899, 1).await;
    let again = json!({ "sku": "SKU-MUG", "name": "Another mug", "price": 1 });
    let problem =
        assert_problem(app.api.request(Method::POST, "/products", &admin).json(&again).send().await.unwrap(), 409)
            .await;
    assert_eq!(problem["detail"], "a product with this sku already exists");
}

#[tokio::test]
async fn listing_is_public_and_pages_through_every_product_with_a_cursor() {
    let app = spawn_app().await;
    for n in 0..25 {
        app.insert_product(&format!("SKU-{n:03}"), n).await;
    }
    let mut seen = Vec::new();
    let mut path = "/products?limit=10".to_owned();
    loop {
        let page: Value = app.api.via_gateway(Method::GET, &path).send().await.unwrap().json().await.unwrap();
        seen.extend(page["items"].as_array().unwrap().iter().map(|p| p["sku"].as_str().unwrap().to_owned()));
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/products?limit=10&after={cursor}"),
            None => break,
        }
    }
    let expected: Vec<String> = (0..25).map(|n| format!("SKU-{n:03}")).collect();
    assert_eq!(seen, expected, "every product once, in sku order");

    for bad in ["/products?limit=0", "/products?limit=101", "/products?after=lower"] {
        assert_problem(app.api.via_gateway(Method::GET, bad).send().await.unwrap(), 422).await;
    }
    assert_problem(app.api.via_gateway(Method::GET, "/products?limit=ten").send().await.unwrap(), 400).await;
}

#[tokio::test]
async fn the_openapi_document_covers_every_operation_and_status() {
    let app = spawn_app().await;
    let doc: Value = app.api.http.get(app.api.url("/openapi.json")).send().await.unwrap().json().await.unwrap();
    let statuses = |path: &str, method: &str| -> Vec<String> {
        let responses = doc["paths"][path][method]["responses"].as_object();
        let mut statuses: Vec<String> =
            responses.unwrap_or_else(|| panic!("{method} {path}")).keys().cloned().collect();
        statuses.sort();
        statuses
    };
    assert_eq!(statuses("/products", "get"), ["200", "400", "422"]);
    assert_eq!(statuses("/products", "post"), ["201", "400", "401", "403", "409", "413", "415", "422"]);
    assert_eq!(statuses("/products/{sku}", "get"), ["200", "404", "422"]);
    assert_eq!(statuses("/products/{sku}", "patch"), ["200", "400", "401", "403", "404", "413", "415", "422"]);
    assert_eq!(statuses("/products/{sku}/restock", "post"), ["200", "400", "401", "403", "404", "413", "415", "422"]);
    assert_problem(app.api.http.get(app.api.url("/nope")).send().await.unwrap(), 404).await;
}

#[tokio::test]
async fn demo_products_are_seeded_once_and_never_overwritten() {
    let app = spawn_app_with(|settings| settings.own.seed_demo_products = true).await;
    let page: Value = app.api.via_gateway(Method::GET, "/products").send().await.unwrap().json().await.unwrap();
    let skus: Vec<&str> = page["items"].as_array().unwrap().iter().map(|p| p["sku"].as_str().unwrap()).collect();
    assert_eq!(skus, ["SKU-KETTLE", "SKU-MUG", "SKU-TEAPOT"]);
    assert!(page["items"].as_array().unwrap().iter().all(|p| p["stock"] == 100));

    // A restart seeds again; what changed since is left as it is.
    app.restock("SKU-MUG", 1).await;
    inventory::seed::demo_products(&app.db.pool).await.unwrap();
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM products").fetch_one(&app.db.pool).await.unwrap();
    assert_eq!((count, app.stock("SKU-MUG").await), (3, 101));
}
