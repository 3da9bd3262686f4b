//! The catalogue use cases, shared by the REST and gRPC front doors: each
//! parses its input once, touches the database in one transaction, and
//! answers with an [`InventoryError`]. Every write announces the product's
//! stock to watchers in that same transaction.

use std::collections::{HashMap, HashSet};

use crate::db::products;
use crate::domain::{InitialStock, Price, Product, ProductName, Quantity, Sku, field};
use crate::error::InventoryError;
use crate::state::AppState;
use crate::stock_feed::{self, Reason, StockChange};

/// A new product whose every field has been checked.
#[derive(Debug)]
pub struct NewProduct {
    sku: Sku,
    name: ProductName,
    price: Price,
    stock: InitialStock,
}

impl NewProduct {
    pub fn parse(sku: &str, name: &str, price: i64, stock: Option<i64>) -> Result<Self, InventoryError> {
        let mut violations = Vec::new();
        let sku = field("sku", Sku::parse(sku), &mut violations);
        let name = field("name", ProductName::parse(name), &mut violations);
        let price = field("price", Price::parse(price), &mut violations);
        let stock = field("stock", InitialStock::parse(stock.unwrap_or(0)), &mut violations);
        match (sku, name, price, stock) {
            (Some(sku), Some(name), Some(price), Some(stock)) => Ok(Self { sku, name, price, stock }),
            _ => Err(InventoryError::from(violations)),
        }
    }
}

/// Changes to a product; `None` leaves a field as it is. At least one is set.
#[derive(Debug)]
pub struct ProductChanges {
    name: Option<ProductName>,
    price: Option<Price>,
}

impl ProductChanges {
    pub fn parse(name: Option<&str>, price: Option<i64>) -> Result<Self, InventoryError> {
        if name.is_none() && price.is_none() {
            return Err(InventoryError::invalid("name", "set name or price: there is nothing to change"));
        }
        let mut violations = Vec::new();
        let name = name.and_then(|n| field("name", ProductName::parse(n), &mut violations));
        let price = price.and_then(|p| field("price", Price::parse(p), &mut violations));
        if !violations.is_empty() {
            return Err(InventoryError::from(violations));
        }
        Ok(Self { name, price })
    }
}

/// Parses a sku from a path or a request; a malformed one is a field error.
pub fn parse_sku(raw: &str) -> Result<Sku, InventoryError> {
    Sku::parse(raw).map_err(|reason| InventoryError::invalid("sku", &reason))
}

/// A restock's sku and quantity, naming both if both are bad.
pub fn parse_restock(sku: &str, quantity: i64) -> Result<(Sku, Quantity), InventoryError> {
    let mut violations = Vec::new();
    let sku = field("sku", Sku::parse(sku), &mut violations);
    let quantity = field("quantity", Quantity::parse(quantity), &mut violations);
    match (sku, quantity) {
        (Some(sku), Some(quantity)) => Ok((sku, quantity)),
        _ => Err(InventoryError::from(violations)),
    }
}

#[tracing::instrument(skip_all, fields(sku = new.sku.as_str()))]
pub async fn create(state: &AppState, new: NewProduct) -> Result<Product, InventoryError> {
    let mut tx = state.db.begin().await?;
    let Some(product) = products::insert(&mut tx, &new.sku, &new.name, new.price, new.stock).await? else {
        return Err(InventoryError::SkuTaken);
    };
    stock_feed::announce(&mut tx, &StockChange::new(&product.sku, product.stock, Reason::Created)).await?;
    tx.commit().await?;
    tracing::info!(sku = %product.sku, stock = product.stock, "product created");
    Ok(product)
}

#[tracing::instrument(skip_all, fields(sku = sku.as_str()))]
pub async fn update(state: &AppState, sku: &Sku, changes: &ProductChanges) -> Result<Product, InventoryError> {
    let mut tx = state.db.begin().await?;
    let Some(product) = products::update(&mut tx, sku, changes.name.as_ref(), changes.price).await? else {
        return Err(InventoryError::NotFound);
    };
    stock_feed::announce(&mut tx, &StockChange::new(&product.sku, product.stock, Reason::Updated)).await?;
    tx.commit().await?;
    Ok(product)
}

#[tracing::instrument(skip_all, fields(sku = sku.as_str(), quantity = quantity.get()))]
pub async fn restock(state: &AppState, sku: &Sku, quantity: Quantity) -> Result<Product, InventoryError> {
    let mut tx = state.db.begin().await?;
    let Some(product) = products::restock(&mut tx, sku, quantity).await? else {
        return Err(InventoryError::NotFound);
    };
    stock_feed::announce(&mut tx, &StockChange::new(&product.sku, product.stock, Reason::Restocked)).await?;
    tx.commit().await?;
    tracing::info!(sku = %product.sku, stock = product.stock, "product restocked");
    Ok(product)
}

pub async fn get(state: &AppState, sku: &Sku) -> Result<Product, InventoryError> {
    products::find(&state.db, sku).await?.ok_or(InventoryError::NotFound)
}

/// The products among `skus` in the order asked (each once), and the skus
/// that name no product. A string that is not a sku names no product; it is
/// missing, not an error, so one bad entry does not spoil a batch.
#[tracing::instrument(skip_all, fields(count = skus.len()))]
pub async fn get_many(state: &AppState, skus: &[String]) -> Result<(Vec<Product>, Vec<String>), InventoryError> {
    let mut seen = HashSet::new();
    let wanted: Vec<&str> = skus.iter().map(String::as_str).filter(|sku| seen.insert(*sku)).collect();
    let valid: Vec<&str> = wanted.iter().copied().filter(|sku| is_exact_sku(sku)).collect();
    let mut found: HashMap<String, Product> =
        products::find_many(&state.db, &valid).await?.into_iter().map(|p| (p.sku.clone(), p)).collect();
    let mut missing = Vec::new();
    let products = wanted
        .into_iter()
        .filter_map(|sku| {
            let product = found.remove(sku);
            if product.is_none() {
                missing.push(sku.to_owned());
            }
            product
        })
        .collect();
    Ok((products, missing))
}

/// Whether `raw` is a sku exactly as stored (no padding to trim).
pub fn is_exact_sku(raw: &str) -> bool {
    Sku::parse(raw).is_ok_and(|sku| sku.as_str() == raw)
}
