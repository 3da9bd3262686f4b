//! The service's tables. Functions take an executor or connection so the
//! caller decides the transaction; outcomes the caller must handle are
//! `Option`s and enums, not errors.

pub mod products;
pub mod reservations;
