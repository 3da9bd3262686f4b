//! The use cases, shared by the REST and gRPC front doors: each parses its
//! input once, touches the database once, and answers with a [`UserError`].

use comms::messaging::{Envelope, outbox};
use events::UserRegistered;
use uuid::Uuid;

use crate::db::{self, Inserted, Update};
use crate::domain::{Email, Password, PasswordHash, Role, User, UserName, field};
use crate::error::UserError;
use crate::login_throttle::Verdict;
use crate::state::AppState;

/// A registration whose every field has been checked.
#[derive(Debug)]
pub struct NewUser {
    email: Email,
    name: UserName,
    password: Password,
}

impl NewUser {
    pub fn parse(email: &str, name: &str, password: &str) -> Result<Self, UserError> {
        let mut violations = Vec::new();
        let email = field("email", Email::parse(email), &mut violations);
        let name = field("name", UserName::parse(name), &mut violations);
        let password = field("password", Password::parse(password), &mut violations);
        match (email, name, password) {
            (Some(email), Some(name), Some(password)) => Ok(Self { email, name, password }),
            _ => Err(UserError::from(violations)),
        }
    }
}

/// Changes to a user; `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct UserChanges {
    name: Option<UserName>,
    email: Option<Email>,
}

impl UserChanges {
    pub fn parse(name: Option<&str>, email: Option<&str>) -> Result<Self, UserError> {
        let mut violations = Vec::new();
        let name = name.and_then(|n| field("name", UserName::parse(n), &mut violations));
        let email = email.and_then(|e| field("email", Email::parse(e), &mut violations));
        if !violations.is_empty() {
            return Err(UserError::from(violations));
        }
        Ok(Self { name, email })
    }
}

#[tracing::instrument(skip_all)]
pub async fn register(state: &AppState, new: NewUser) -> Result<User, UserError> {
    // Always a customer: the admin role comes from the seed alone (see
    // `config::SeedAdmin`).
    create(state, new).await
}

/// The `seeds` row that records the seed admin.
const ADMIN_SEED: &str = "admin";

/// Creates the seed admin at the first start against a database, and never
/// again: safe at every start of every replica, and a deleted seed admin
/// stays deleted.
pub async fn ensure_admin(state: &AppState, email: &str, password: &str) -> Result<(), UserError> {
    if db::seeded(&state.db, ADMIN_SEED).await? {
        return Ok(());
    }
    let new = NewUser::parse(email, "Administrator", password)?;
    let hash = state.passwords.reserve()?.hash(new.password).await?;
    let mut tx = state.db.begin().await?;
    if !db::mark_seeded(&mut tx, ADMIN_SEED).await? {
        return Ok(());
    }
    match insert(&mut tx, &new.email, &new.name, &hash, &[Role::Customer, Role::Admin]).await? {
        Inserted::Created(user) => tracing::info!(user_id = %user.id, "seed admin created"),
        // Someone registered the address first. That account stays a
        // customer (registration never grants the role), and an operator
        // should hear about it.
        Inserted::EmailTaken => tracing::warn!("the seed admin's email belongs to an account registered before it"),
    }
    tx.commit().await?;
    Ok(())
}

async fn create(state: &AppState, new: NewUser) -> Result<User, UserError> {
    // Hash before taking a connection: the pool is for queries, not for
    // waiting on the CPU.
    let hash = state.passwords.reserve()?.hash(new.password).await?;
    let mut tx = state.db.begin().await?;
    match insert(&mut tx, &new.email, &new.name, &hash, &[Role::Customer]).await? {
        Inserted::Created(user) => {
            tx.commit().await?;
            tracing::info!(user_id = %user.id, "user registered");
            Ok(user)
        }
        Inserted::EmailTaken => Err(UserError::EmailTaken),
    }
}

/// Inserts the user with its `UserRegistered` event: the event commits
/// with the user or not at all.
async fn insert(
    tx: &mut sqlx::PgConnection,
    email: &Email,
    name: &UserName,
    hash: &PasswordHash,
    roles: &[Role],
) -> Result<Inserted, UserError> {
    let roles: Vec<&str> = roles.iter().map(|role| role.as_str()).collect();
    let inserted = db::insert_user(tx, email, name, hash, &roles).await?;
    if let Inserted::Created(user) = &inserted {
        let event = UserRegistered { user_id: user.id, email: user.email.clone(), name: user.name.clone() };
        outbox::enqueue(tx, &Envelope::new("user", &event, None)).await?;
    }
    Ok(inserted)
}

/// A verified login: the user and a signed access token. `address` is
/// the client's network (`comms::http::client_address::network`), which
/// the throttle counts under.
#[tracing::instrument(skip_all)]
pub async fn login(
    state: &AppState,
    email: &str,
    password: String,
    address: &str,
) -> Result<(User, String), UserError> {
    let Ok(email) = Email::parse(email) else {
        return Err(UserError::InvalidCredentials);
    };
    // A place in the hashing queue first: a sign-in refused for capacity
    // is not counted as a failure.
    let slot = state.passwords.reserve()?;
    let (throttle, email_key) = (&state.throttle, email.as_str());
    let known = throttle.known(&state.db, email_key, address).await?;
    if let Verdict::Wait(retry_after) = throttle.admit(&state.db, email_key, address, known).await? {
        tracing::info!(retry_after = retry_after.as_secs(), "sign-in throttled");
        return Err(UserError::TooManyAttempts { retry_after });
    }
    let found = db::find_credentials(&state.db, &email).await?;
    let user = match found {
        Some((user, hash)) => slot.verify(hash, password).await?.then_some(user),
        None => {
            // The same hash work as a wrong password (see `Hashing`), so
            // neither timing nor load tells which accounts exist.
            slot.verify_unknown(password).await?;
            None
        }
    };
    let Some(user) = user else {
        throttle.failed(&state.db, email_key, address, known).await?;
        return Err(UserError::InvalidCredentials);
    };
    throttle.succeeded(&state.db, email_key, address, user.id).await?;
    let token = state.tokens.current().issue(&user)?;
    Ok((user, token))
}

pub async fn get(state: &AppState, id: Uuid) -> Result<User, UserError> {
    db::find_user(&state.db, id).await?.ok_or(UserError::NotFound)
}

pub async fn update(state: &AppState, id: Uuid, changes: &UserChanges) -> Result<User, UserError> {
    let mut conn = state.db.acquire().await?;
    match db::update_user(&mut conn, id, changes.name.as_ref(), changes.email.as_ref()).await? {
        Update::Done(user) => Ok(user),
        Update::NotFound => Err(UserError::NotFound),
        Update::EmailTaken => Err(UserError::EmailTaken),
    }
}

pub async fn delete(state: &AppState, id: Uuid) -> Result<(), UserError> {
    if db::delete_user(&state.db, id).await? { Ok(()) } else { Err(UserError::NotFound) }
}

/// Parses a user id from the wire; a malformed one is a field error.
pub fn parse_id(raw: &str) -> Result<Uuid, UserError> {
    Uuid::parse_str(raw).map_err(|_| UserError::invalid("id", "must be a UUID"))
}
