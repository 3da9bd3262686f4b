//! Demo products for a local system (`INVENTORY_SEED_DEMO_PRODUCTS=true`),
//! so the main flow can be tried without first creating a catalogue.
//! Idempotent: a product that exists, perhaps changed since, is left alone.

use sqlx::PgPool;

/// sku, name, price in cents, stock.
const DEMO_PRODUCTS: &[(&str, &str, i64, i64)] = &[
    ("SKU-KETTLE", "Electric kettle", 34_99, 100),
    ("SKU-MUG", "Stoneware mug", 8_99, 100),
    ("SKU-TEAPOT", "Cast-iron teapot", 45_99, 100),
];

pub async fn demo_products(db: &PgPool) -> sqlx::Result<()> {
    for (sku, name, price, stock) in DEMO_PRODUCTS {
        sqlx::query("INSERT INTO products (sku, name, price, stock) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING")
            .bind(sku)
            .bind(name)
            .bind(price)
            .bind(stock)
            .execute(db)
            .await?;
    }
    tracing::info!(count = DEMO_PRODUCTS.len(), "demo products seeded");
    Ok(())
}
