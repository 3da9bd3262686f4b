//! One simulated customer, and the products the load buys.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::Args;
use crate::stats::Stats;

/// What the customers buy: products created for this run with ample stock,
/// so every order can be confirmed and the saga's full path is measured.
pub struct Shop {
    pub skus: Vec<String>,
}

impl Shop {
    pub async fn prepare(args: &Args) -> anyhow::Result<Self> {
        let client = reqwest::Client::new();
        let password = match &args.admin_password {
            Some(password) => password.clone(),
            None => std::fs::read_to_string(&args.admin_password_file)
                .map_err(|e| {
                    anyhow::anyhow!("read {}: {e} (or pass --admin-password)", args.admin_password_file.display())
                })?
                .trim_end()
                .to_owned(),
        };
        let login: Value = client
            .post(format!("{}/api/auth/login", args.gateway))
            .json(&json!({ "email": args.admin_email, "password": password }))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let token = login["access_token"].as_str().ok_or_else(|| anyhow::anyhow!("no token in {login}"))?;
        let run = &uuid::Uuid::new_v4().simple().to_string()[..6].to_uppercase();
        let mut skus = Vec::new();
        for n in 0..5 {
            let sku = format!("LOAD-{run}-{n}");
            client
                .post(format!("{}/api/products", args.gateway))
                .bearer_auth(token)
                .json(
                    &json!({ "sku": sku, "name": format!("Load item {n}"), "price": 100 + n * 50, "stock": 1_000_000 }),
                )
                .send()
                .await?
                .error_for_status()?;
            skus.push(sku);
        }
        Ok(Self { skus })
    }
}

pub struct Customer {
    gateway: String,
    http: reqwest::Client,
    token: String,
}

impl Customer {
    pub async fn sign_up(gateway: &str, n: usize, stats: &Stats) -> anyhow::Result<Self> {
        let http = reqwest::Client::new();
        let email = format!("load-{n}-{}@example.com", uuid::Uuid::new_v4().simple());
        let password = "load generator password";
        let mut customer = Self { gateway: gateway.to_owned(), http, token: String::new() };
        let body = json!({ "email": email, "name": format!("Load customer {n}"), "password": password });
        customer.call(stats, "POST /api/auth/register", Method::POST, "/api/auth/register", Some(body), None).await?;
        let login = json!({ "email": email, "password": password });
        let session =
            customer.call(stats, "POST /api/auth/login", Method::POST, "/api/auth/login", Some(login), None).await?;
        customer.token = session["access_token"].as_str().unwrap_or_default().to_owned();
        Ok(customer)
    }

    /// Browses and orders until `deadline`, at `rate` orders per second if set.
    pub async fn shop_until(
        self,
        deadline: Instant,
        shop: &Shop,
        browse: usize,
        follow: bool,
        rate: Option<f64>,
        stats: &Stats,
    ) {
        let pause = rate.filter(|r| *r > 0.0).map(|r| Duration::from_secs_f64(1.0 / r));
        let mut next = Instant::now();
        let mut n = 0usize;
        while Instant::now() < deadline {
            for _ in 0..browse {
                let _ = self.call(stats, "GET /api/products", Method::GET, "/api/products?limit=20", None, None).await;
            }
            let sku = &shop.skus[n % shop.skus.len()];
            n += 1;
            let order = json!({ "lines": [{ "sku": sku, "quantity": 1 }] });
            let key = uuid::Uuid::new_v4().to_string();
            let placed_at = Instant::now();
            if let Ok(order) =
                self.call(stats, "POST /api/orders", Method::POST, "/api/orders", Some(order), Some(&key)).await
                && let Some(id) = order["id"].as_str()
                && follow
            {
                self.follow(id, placed_at, stats).await;
            }
            if let Some(pause) = pause {
                next += pause;
                tokio::time::sleep_until(next.min(deadline)).await;
            }
        }
    }

    /// Polls the order until the saga settles it, timing placement to
    /// CONFIRMED as a customer would see it.
    async fn follow(&self, id: &str, placed_at: Instant, stats: &Stats) {
        let give_up = placed_at + Duration::from_secs(30);
        while Instant::now() < give_up {
            tokio::time::sleep(Duration::from_millis(20)).await;
            let path = format!("/api/orders/{id}");
            let Ok(order) = self.call(stats, "GET /api/orders/{id}", Method::GET, &path, None, None).await else {
                continue;
            };
            match order["status"].as_str() {
                Some("CONFIRMED") => return stats.confirmed(placed_at.elapsed()),
                Some("PENDING") => {}
                _ => return stats.not_confirmed(),
            }
        }
        stats.not_confirmed();
    }

    async fn call(
        &self,
        stats: &Stats,
        route: &'static str,
        method: Method,
        path: &str,
        body: Option<Value>,
        idempotency_key: Option<&str>,
    ) -> anyhow::Result<Value> {
        let mut request = self.http.request(method, format!("{}{path}", self.gateway)).timeout(Duration::from_secs(10));
        if !self.token.is_empty() {
            request = request.bearer_auth(&self.token);
        }
        if let Some(key) = idempotency_key {
            request = request.header("Idempotency-Key", key);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let started = Instant::now();
        let outcome = request.send().await;
        let elapsed = started.elapsed();
        match outcome {
            Ok(response) => {
                let status = response.status();
                stats.record(route, status.as_u16(), elapsed);
                let body = response.json::<Value>().await.unwrap_or(Value::Null);
                if status.is_success() { Ok(body) } else { Err(anyhow::anyhow!("{route}: {status}")) }
            }
            Err(error) => {
                // Status 0: no answer at all (refused, reset, timed out).
                stats.record(route, 0, elapsed);
                Err(error.into())
            }
        }
    }
}
