//! The REST API, use case by use case, each with its error cases.

use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{As, PASSWORD, TestApp, assert_problem, spawn_app, spawn_app_on, violated_fields};

#[tokio::test]
async fn a_user_registers_logs_in_reads_updates_is_listed_and_deleted() {
    let app = spawn_app().await;

    let registered = app.register("  Ada@Example.com ", "Ada Lovelace", PASSWORD).await;
    assert_eq!(registered.status(), 201);
    let location = registered.headers()["location"].to_str().unwrap().to_owned();
    let user: Value = registered.json().await.unwrap();
    let id: uuid::Uuid = user["id"].as_str().unwrap().parse().unwrap();
    assert_eq!(user["email"], "ada@example.com", "emails are stored normalised");
    assert_eq!(user["roles"], json!(["customer"]));
    assert!(user.get("password").is_none() && user.get("password_hash").is_none());
    assert_eq!(location, format!("/users/{id}"));

    let login = app.login("ada@example.com", PASSWORD).await;
    assert_eq!(login.status(), 200);
    let token: Value = login.json().await.unwrap();
    assert_eq!(token["token_type"], "Bearer");
    assert_eq!(token["expires_in"], 900);
    assert_eq!(token["user"]["id"], id.to_string());

    let me = As::customer(id);
    let fetched: Value =
        app.api.request(Method::GET, &format!("/users/{id}"), &me).send().await.unwrap().json().await.unwrap();
    assert_eq!(fetched, user);

    let updated = app
        .api
        .request(Method::PATCH, &format!("/users/{id}"), &me)
        .json(&json!({ "name": "Countess Lovelace" }))
        .send()
        .await
        .unwrap();
    assert_eq!(updated.status(), 200);
    let updated: Value = updated.json().await.unwrap();
    assert_eq!(updated["name"], "Countess Lovelace");
    assert_eq!(updated["email"], "ada@example.com", "fields not sent are unchanged");

    let page: Value = app.api.request(Method::GET, "/users", &As::admin()).send().await.unwrap().json().await.unwrap();
    assert!(page["items"].as_array().unwrap().iter().any(|u| u["id"] == id.to_string()));

    let deleted = app.api.request(Method::DELETE, &format!("/users/{id}"), &me).send().await.unwrap();
    assert_eq!(deleted.status(), 204);
    let gone = app.api.request(Method::GET, &format!("/users/{id}"), &me).send().await.unwrap();
    assert_problem(gone, 404).await;
    assert_eq!(app.login("ada@example.com", PASSWORD).await.status(), 401, "a deleted user cannot log in");
}

#[tokio::test]
async fn registering_with_bad_fields_names_every_bad_field() {
    let app = spawn_app().await;
    let response = app.register("not-an-email", "", "short").await;
    let problem = assert_problem(response, 422).await;
    let mut fields = violated_fields(&problem);
    fields.sort();
    assert_eq!(fields, ["email", "name", "password"]);

    let long_password = "x".repeat(129);
    let problem = assert_problem(app.register("ok@example.com", "Ok", &long_password).await, 422).await;
    assert_eq!(violated_fields(&problem), ["password"]);

    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM users").fetch_one(&app.db.pool).await.unwrap();
    assert_eq!(count, 0, "nothing is written for a rejected registration");
}

#[tokio::test]
async fn registering_an_email_twice_is_a_conflict_whatever_its_case() {
    let app = spawn_app().await;
    app.new_user("grace@example.com").await;
    let problem = assert_problem(app.register("GRACE@example.com", "Grace", PASSWORD).await, 409).await;
    assert_eq!(problem["detail"], "email is already registered");
}

#[tokio::test]
async fn logging_in_with_a_wrong_password_or_unknown_email_is_401_either_way() {
    let app = spawn_app().await;
    app.new_user("alan@example.com").await;
    let wrong = assert_problem(app.login("alan@example.com", "wrong password").await, 401).await;
    let unknown = assert_problem(app.login("nobody@example.com", PASSWORD).await, 401).await;
    assert_eq!(wrong["detail"], unknown["detail"], "the answer does not reveal which accounts exist");
}

#[tokio::test]
async fn unknown_and_malformed_ids_are_404_and_422() {
    let app = spawn_app().await;
    let admin = As::admin();
    let unknown = uuid::Uuid::now_v7();
    assert_problem(app.api.request(Method::GET, &format!("/users/{unknown}"), &admin).send().await.unwrap(), 404).await;
    let patch = app.api.request(Method::PATCH, &format!("/users/{unknown}"), &admin).json(&json!({ "name": "X" }));
    assert_problem(patch.send().await.unwrap(), 404).await;
    assert_problem(app.api.request(Method::DELETE, &format!("/users/{unknown}"), &admin).send().await.unwrap(), 404)
        .await;
    let malformed =
        assert_problem(app.api.request(Method::GET, "/users/not-a-uuid", &admin).send().await.unwrap(), 422).await;
    assert_eq!(violated_fields(&malformed), ["id"]);
}

#[tokio::test]
async fn malformed_json_wrong_content_type_and_oversized_bodies_are_problems() {
    let app = spawn_app().await;
    let url_path = "/auth/register";

    let syntax = app
        .api
        .via_gateway(Method::POST, url_path)
        .header("content-type", "application/json")
        .body("{\"email\": ")
        .send()
        .await
        .unwrap();
    assert_problem(syntax, 400).await;

    let wrong_shape = app.api.via_gateway(Method::POST, url_path).json(&json!({ "email": 42 })).send().await.unwrap();
    assert_problem(wrong_shape, 422).await;

    let no_json = app.api.via_gateway(Method::POST, url_path).body("email=a@b.c").send().await.unwrap();
    assert_problem(no_json, 415).await;

    let huge = json!({ "email": "big@example.com", "name": "x".repeat(100 * 1024), "password": PASSWORD });
    assert_problem(app.api.via_gateway(Method::POST, url_path).json(&huge).send().await.unwrap(), 413).await;
}

#[tokio::test]
async fn only_the_user_or_an_admin_may_touch_an_account() {
    let app = spawn_app().await;
    let owner = app.new_user("owner@example.com").await;
    let other = As::customer(app.new_user("other@example.com").await);
    let path = format!("/users/{owner}");

    assert_problem(app.api.request(Method::GET, &path, &other).send().await.unwrap(), 403).await;
    assert_problem(app.api.request(Method::DELETE, &path, &other).send().await.unwrap(), 403).await;
    assert_problem(app.api.request(Method::GET, "/users", &other).send().await.unwrap(), 403).await;
    assert_problem(app.api.http.get(app.api.url(&path)).send().await.unwrap(), 401).await;
    assert_eq!(app.api.request(Method::GET, &path, &As::admin()).send().await.unwrap().status(), 200);
}

#[tokio::test]
async fn updates_are_validated_and_cannot_take_another_users_email() {
    let app = spawn_app().await;
    let id = app.new_user("first@example.com").await;
    app.new_user("second@example.com").await;
    let me = As::customer(id);
    let path = format!("/users/{id}");

    let taken = app.api.request(Method::PATCH, &path, &me).json(&json!({ "email": "Second@example.com" }));
    assert_problem(taken.send().await.unwrap(), 409).await;
    let bad = app.api.request(Method::PATCH, &path, &me).json(&json!({ "email": "nope", "name": " " }));
    let problem = assert_problem(bad.send().await.unwrap(), 422).await;
    assert_eq!(violated_fields(&problem).len(), 2);
    let unknown_field = app.api.request(Method::PATCH, &path, &me).json(&json!({ "roles": ["admin"] }));
    assert_problem(unknown_field.send().await.unwrap(), 422).await;

    let stored: (String, String, Vec<String>) = sqlx::query_as("SELECT email, name, roles FROM users WHERE id = $1")
        .bind(id)
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(stored, ("first@example.com".into(), "Test User".into(), vec!["customer".into()]));
}

#[tokio::test]
async fn listing_pages_through_every_user_with_a_cursor() {
    let app = spawn_app().await;
    app.insert_users_by_sql(25, 0).await;
    let admin = As::admin();
    let mut seen = Vec::new();
    let mut path = "/users?limit=10".to_owned();
    loop {
        let page: Value = app.api.request(Method::GET, &path, &admin).send().await.unwrap().json().await.unwrap();
        seen.extend(page["items"].as_array().unwrap().iter().map(|u| u["id"].as_str().unwrap().to_owned()));
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/users?limit=10&after={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 25);
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "pages are in id order without overlap");

    assert_problem(app.api.request(Method::GET, "/users?limit=0", &admin).send().await.unwrap(), 422).await;
    assert_problem(app.api.request(Method::GET, "/users?after=nope", &admin).send().await.unwrap(), 400).await;
}

#[tokio::test]
async fn request_ids_are_kept_when_sane_and_replaced_otherwise() {
    let app = spawn_app().await;
    let kept = app.api.http.get(app.api.url("/health/live")).header("x-request-id", "abc-123").send().await.unwrap();
    assert_eq!(kept.headers()["x-request-id"], "abc-123");
    let replaced = app
        .api
        .http
        .get(app.api.url("/health/live"))
        .header("x-request-id", "bad id with spaces")
        .send()
        .await
        .unwrap();
    let id = replaced.headers()["x-request-id"].to_str().unwrap();
    assert!(uuid::Uuid::parse_str(id).is_ok(), "a fresh id was generated: {id}");
}

#[tokio::test]
async fn unknown_paths_are_404_problems_and_the_openapi_document_is_served() {
    let app = spawn_app().await;
    assert_problem(app.api.http.get(app.api.url("/nope")).send().await.unwrap(), 404).await;
    let doc: Value = app.api.http.get(app.api.url("/openapi.json")).send().await.unwrap().json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in ["/auth/register", "/auth/login", "/users", "/users/{id}", "/.well-known/jwks.json"] {
        assert!(doc["paths"].get(path).is_some(), "{path} is documented");
    }
}

#[tokio::test]
async fn readiness_checks_the_database() {
    let app = spawn_app().await;
    let ready: Value = app.api.http.get(app.api.url("/health/ready")).send().await.unwrap().json().await.unwrap();
    assert_eq!(ready["checks"]["database"]["status"], "up");
    // Take the database away; readiness must say so while liveness holds.
    let mut admin =
        <sqlx::PgConnection as sqlx::Connection>::connect(&format!("{}/postgres", testkit::db::server_url()))
            .await
            .unwrap();
    let drop = format!(r#"DROP DATABASE "{}" WITH (FORCE)"#, app.db.name);
    sqlx::raw_sql(sqlx::AssertSqlSafe(drop)).execute(&mut admin).await.unwrap();
    let down = app.api.http.get(app.api.url("/health/ready")).send().await.unwrap();
    assert_eq!(down.status(), 503);
    assert_eq!(app.api.http.get(app.api.url("/health/live")).send().await.unwrap().status(), 200);
}

#[tokio::test]
async fn control_characters_in_an_email_are_a_field_error_not_a_server_error() {
    let app = spawn_app().await;
    let problem = assert_problem(app.register("a\u{0}b@example.com", "Nul", PASSWORD).await, 422).await;
    assert_eq!(violated_fields(&problem), ["email"]);
    assert_problem(app.login("a\u{0}b@example.com", PASSWORD).await, 401).await;
}

#[tokio::test]
async fn a_wrong_method_is_a_405_problem_that_lists_the_allowed_methods() {
    let app = spawn_app().await;
    let response = app.api.http.delete(app.api.url("/auth/login")).send().await.unwrap();
    assert!(response.headers()["allow"].to_str().unwrap().contains("POST"));
    assert_problem(response, 405).await;
}

#[tokio::test]
async fn a_body_must_be_a_json_object_not_an_array_of_fields() {
    let app = spawn_app().await;
    let as_array = serde_json::json!(["array@example.com", "Arr", PASSWORD]);
    let response = app.api.via_gateway(Method::POST, "/auth/register").json(&as_array).send().await.unwrap();
    assert_problem(response, 422).await;
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM users").fetch_one(&app.db.pool).await.unwrap();
    assert_eq!(count, 0);
}

#[tokio::test]
async fn a_name_longer_than_100_characters_as_sent_is_refused_even_if_padded() {
    let app = spawn_app().await;
    let padded = format!("{}{}", " ".repeat(20), "a".repeat(90));
    let problem = assert_problem(app.register("padded@example.com", &padded, PASSWORD).await, 422).await;
    assert_eq!(violated_fields(&problem), ["name"]);
    assert_eq!(app.register("ok@example.com", &format!("  {}  ", "a".repeat(96)), PASSWORD).await.status(), 201);
}

#[tokio::test]
async fn the_seed_admin_is_created_once_however_often_the_service_starts() {
    let (db, mut settings) = crate::helpers::fresh_settings().await;
    settings.own.seed_admin = user::config::SeedAdmin {
        email: Some("root@example.com".into()),
        password: Some("a long enough password".into()),
        ..Default::default()
    };
    for _ in 0..2 {
        drop(user::startup::build(&settings).await.expect("build with a seed admin"));
    }
    let roles: Vec<Vec<String>> = sqlx::query_scalar("SELECT roles FROM users WHERE email = 'root@example.com'")
        .fetch_all(&db.pool)
        .await
        .unwrap();
    assert_eq!(roles, vec![vec!["customer".to_owned(), "admin".to_owned()]]);
}

#[tokio::test]
async fn registering_the_seed_admins_address_after_it_was_deleted_gives_no_admin_role() {
    let (db, mut settings) = crate::helpers::fresh_settings().await;
    settings.own.seed_admin = user::config::SeedAdmin {
        email: Some("root@example.com".into()),
        password: Some(PASSWORD.into()),
        ..Default::default()
    };
    let app = spawn_app_on(db, settings.clone()).await;
    let deleted =
        sqlx::query("DELETE FROM users WHERE email = 'root@example.com'").execute(&app.db.pool).await.unwrap();
    assert_eq!(deleted.rows_affected(), 1, "the seed admin existed");

    // Someone claims the free address, then the service starts again.
    let claimed: Value = app.register("root@example.com", "Claimant", PASSWORD).await.json().await.unwrap();
    assert_eq!(claimed["roles"], json!(["customer"]));
    drop(user::startup::build(&settings).await.expect("restart"));
    let roles: Vec<Vec<String>> = sqlx::query_scalar("SELECT roles FROM users WHERE email = 'root@example.com'")
        .fetch_all(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(roles, vec![vec!["customer".to_owned()]], "a restart does not promote the claimant");
}

#[tokio::test]
async fn a_deleted_seed_admin_stays_deleted_when_the_service_starts_again() {
    let (db, mut settings) = crate::helpers::fresh_settings().await;
    // The password from a file, as deploy/secrets.sh writes it (newline included).
    let password_file = std::env::temp_dir().join(format!("seed-admin-{}", uuid::Uuid::new_v4()));
    std::fs::write(&password_file, format!("{PASSWORD}\n")).unwrap();
    settings.own.seed_admin = user::config::SeedAdmin {
        email: Some("root@example.com".into()),
        password_file: Some(password_file.display().to_string()),
        ..Default::default()
    };
    let app = spawn_app_on(db, settings.clone()).await;
    let login = app.login("root@example.com", PASSWORD).await;
    assert_eq!(login.status(), 200, "the seed admin logs in with the password from the file");
    let id: Uuid = login.json::<Value>().await.unwrap()["user"]["id"].as_str().unwrap().parse().unwrap();

    let admin = As { id, roles: "customer,admin" };
    let deleted = app.api.request(Method::DELETE, &format!("/users/{id}"), &admin).send().await.unwrap();
    assert_eq!(deleted.status(), 204);
    let TestApp { api, db, .. } = app;
    drop(api);

    let app = spawn_app_on(db, settings).await;
    std::fs::remove_file(&password_file).unwrap();
    assert_eq!(app.login("root@example.com", PASSWORD).await.status(), 401, "no seed admin came back");
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM users").fetch_one(&app.db.pool).await.unwrap();
    assert_eq!(left, 0);
}
