//! Reading orders over REST: one order (its customer or an admin), and the
//! caller's own orders, newest first, a page at a time.

use reqwest::Method;
use serde_json::Value;

use crate::helpers::{As, assert_problem, spawn_app};

#[tokio::test]
async fn an_order_is_visible_to_its_customer_and_admins_only() {
    let app = spawn_app().await;
    let me = app.customer();
    let order = app.place_ok(&me, &[("MOUSE", 3)]).await;
    let id = order["id"].as_str().unwrap();

    let mine = app.get_order(&me, id).await;
    assert_eq!(mine.status(), 200);
    assert_eq!(mine.json::<Value>().await.unwrap(), order, "the same as the placement answered");
    assert_eq!(app.get_order(&As::admin(), id).await.status(), 200);

    assert_problem(app.get_order(&app.customer(), id).await, 404).await;
    assert_problem(app.get_order(&me, &uuid::Uuid::now_v7().to_string()).await, 404).await;
    assert_problem(app.get_order(&me, "42").await, 422).await;

    let anonymous = app.api.http.get(app.api.url(&format!("/orders/{id}"))).send().await.unwrap();
    assert_problem(anonymous, 401).await;
}

#[tokio::test]
async fn the_list_holds_only_my_orders_newest_first_a_page_at_a_time() {
    let app = spawn_app().await;
    let me = app.customer();
    let mut placed = Vec::new();
    for sku in ["KEYBOARD", "MOUSE", "CABLE"] {
        placed.push(app.place_ok(&me, &[(sku, 1)]).await["id"].as_str().unwrap().to_owned());
    }
    app.place_ok(&app.customer(), &[("MOUSE", 1)]).await;

    let page: Value = app.api.request(Method::GET, "/orders?limit=2", &me).send().await.unwrap().json().await.unwrap();
    let ids = |page: &Value| -> Vec<String> {
        page["items"].as_array().unwrap().iter().map(|o| o["id"].as_str().unwrap().to_owned()).collect()
    };
    assert_eq!(ids(&page), [placed[2].clone(), placed[1].clone()], "newest first");
    assert_eq!(page["items"][0]["lines"][0]["sku"], "CABLE", "with their lines");
    let cursor = page["next_cursor"].as_str().expect("a next page").to_owned();

    let last = testkit::json_of(app.api.request(Method::GET, &format!("/orders?limit=2&after={cursor}"), &me)).await;
    assert_eq!(ids(&last), [placed[0].clone()]);
    assert!(last.get("next_cursor").is_none(), "the last page says so");

    for bad in ["/orders?limit=0", "/orders?limit=101"] {
        assert_problem(app.api.request(Method::GET, bad, &me).send().await.unwrap(), 422).await;
    }
    assert_problem(app.api.request(Method::GET, "/orders?after=nope", &me).send().await.unwrap(), 400).await;
    assert_problem(app.api.http.get(app.api.url("/orders")).send().await.unwrap(), 401).await;
}
