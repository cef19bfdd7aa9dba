//! `sunwai serve --demo`: a server to try out on one's own machine, with an officer and a
//! supervisor account ready to sign in.
//!
//! Is: creating the two demo accounts when they are missing, with random passwords shown
//! once, and refusing to do so anywhere but on a loopback address. Is not: sample data.
//! Without `--demo` the server creates no account at all.

use std::net::SocketAddr;

use crate::config::Config;
use crate::store::{NewUser, Role, Store, StoreError};

pub const DEMO_OFFICER: &str = "demo-officer";
pub const DEMO_SUPERVISOR: &str = "demo-supervisor";

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error(
        "--demo refuses to listen on {0}: demo accounts have passwords printed on the console, \
         so the demo only runs on a loopback address such as 127.0.0.1:8080. Without --demo, \
         create accounts with `sunwai user add`."
    )]
    NotLoopback(SocketAddr),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Auth(#[from] crate::auth::AuthError),
}

/// Demo mode listens on loopback only.
pub fn check_listen(listen: SocketAddr) -> Result<(), DemoError> {
    if listen.ip().to_canonical().is_loopback() {
        Ok(())
    } else {
        Err(DemoError::NotLoopback(listen))
    }
}

/// A demo account made just now, with the only copy of its password.
#[derive(Debug)]
pub struct Created {
    pub username: &'static str,
    pub role: Role,
    pub password: String,
}

/// Creates whichever demo accounts do not exist yet (the officer at the first desk) and
/// returns them with their passwords. Existing accounts are left exactly as they are.
pub async fn ensure_accounts(store: &Store, config: &Config) -> Result<Vec<Created>, DemoError> {
    check_listen(config.listen)?;
    let first_desk = config.desks.first().map(|d| d.id.clone());
    let mut created = Vec::new();
    for (username, display_name, role, desk) in [
        (
            DEMO_OFFICER,
            "Demo Officer",
            Role::Officer,
            first_desk.clone(),
        ),
        (DEMO_SUPERVISOR, "Demo Supervisor", Role::Supervisor, None),
    ] {
        if store.user_by_name(username).await?.is_some() {
            continue;
        }
        let password = crate::auth::random_password();
        let phc = crate::auth::hash_password(&password)?;
        let new = NewUser {
            username: username.into(),
            display_name: display_name.into(),
            role,
            desk,
            password_phc: phc,
        };
        match store.create_user(new).await {
            Ok(_) => created.push(Created {
                username,
                role,
                password,
            }),
            // Another process made it in between: theirs stands.
            Err(StoreError::Conflict(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(created)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback() {
        for ok in [
            "127.0.0.1:8080",
            "[::1]:8080",
            "127.1.2.3:0",
            "[::ffff:127.0.0.1]:80",
        ] {
            assert!(check_listen(ok.parse().unwrap()).is_ok(), "{ok}");
        }
        for bad in ["0.0.0.0:8080", "[::]:8080", "192.0.2.10:8080"] {
            let e = check_listen(bad.parse().unwrap()).unwrap_err().to_string();
            assert!(e.contains("loopback"), "{e}");
        }
    }
}
