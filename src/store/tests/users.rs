//! Staff accounts and sessions.

use super::*;

fn new_user(username: &str, role: Role, desk_id: Option<&str>) -> NewUser {
    NewUser {
        username: username.into(),
        display_name: format!("Officer {username}"),
        role,
        desk: desk_id.map(desk),
        password_phc: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaA".into(),
    }
}

pub(super) async fn users_create_list_and_conflict(s: &Store) {
    let verma = s
        .create_user(new_user(" Verma ", Role::Officer, Some("prayagraj")))
        .await
        .unwrap();
    assert_eq!(verma.username, "verma", "trimmed and lowercased");
    assert_eq!(verma.display_name, "Officer  Verma");
    assert_eq!(verma.desk, Some(desk("prayagraj")));
    assert!(!verma.disabled);
    let rao = s
        .create_user(new_user("rao", Role::Supervisor, None))
        .await
        .unwrap();

    let err = s
        .create_user(new_user("VERMA", Role::Officer, None))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err}");
    let err = s
        .create_user(new_user("  ", Role::Officer, None))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err}");

    assert_eq!(s.user(verma.id).await.unwrap(), Some(verma.clone()));
    assert_eq!(s.user(UserId::new_random()).await.unwrap(), None);
    let all = s.list_users().await.unwrap();
    assert_eq!(all, [rao.clone(), verma.clone()], "by username");
    assert_eq!(all[0].role, Role::Supervisor);
    assert_eq!(all[0].desk, None);

    let found = s.user_by_name("Verma").await.unwrap().unwrap();
    assert_eq!(found.user, verma);
    assert!(found.password_phc.starts_with("$argon2id$"));
    assert!(s.user_by_name("nobody").await.unwrap().is_none());
}

pub(super) async fn disable_and_password(s: &Store) {
    s.create_user(new_user("verma", Role::Officer, None))
        .await
        .unwrap();
    assert!(s.set_user_disabled("verma", true).await.unwrap());
    assert!(
        s.user_by_name("verma")
            .await
            .unwrap()
            .unwrap()
            .user
            .disabled
    );
    assert!(s.set_user_disabled("verma", false).await.unwrap());
    assert!(
        !s.user_by_name("verma")
            .await
            .unwrap()
            .unwrap()
            .user
            .disabled
    );
    assert!(!s.set_user_disabled("nobody", true).await.unwrap());

    assert!(s.set_password_hash("VERMA", "$argon2id$new").await.unwrap());
    assert_eq!(
        s.user_by_name("verma").await.unwrap().unwrap().password_phc,
        "$argon2id$new"
    );
    assert!(!s.set_password_hash("nobody", "x").await.unwrap());
}

pub(super) async fn sessions_expire_and_die_with_disabled_user(s: &Store) {
    let verma = s
        .create_user(new_user("verma", Role::Officer, None))
        .await
        .unwrap();
    let now = t("2026-03-10T04:30:00Z");
    let expires = t("2026-03-10T12:30:00Z");
    let (_, token) = crate::auth::new_secret_token();
    s.create_session(&token, verma.id, expires).await.unwrap();

    assert_eq!(
        s.session_user(&token, now).await.unwrap(),
        Some(verma.clone())
    );
    assert_eq!(
        s.session_user(&token, expires).await.unwrap(),
        None,
        "expired at expiry"
    );
    assert_eq!(
        s.session_user(&[1; 32], now).await.unwrap(),
        None,
        "unknown token"
    );

    let err = s
        .create_session(&[2; 32], UserId::new_random(), expires)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "unknown user: {err}");

    // Disabled: refused; enabled again: the old session stays dead.
    s.set_user_disabled("verma", true).await.unwrap();
    assert_eq!(s.session_user(&token, now).await.unwrap(), None);
    s.set_user_disabled("verma", false).await.unwrap();
    assert_eq!(s.session_user(&token, now).await.unwrap(), None);

    let (_, fresh) = crate::auth::new_secret_token();
    s.create_session(&fresh, verma.id, expires).await.unwrap();
    assert!(s.session_user(&fresh, now).await.unwrap().is_some());
    s.delete_session(&fresh).await.unwrap();
    assert_eq!(s.session_user(&fresh, now).await.unwrap(), None);

    let (_, old) = crate::auth::new_secret_token();
    s.create_session(&old, verma.id, now).await.unwrap();
    s.create_session(&fresh, verma.id, expires).await.unwrap();
    assert_eq!(s.delete_expired_sessions(now).await.unwrap(), 1);
    assert!(s.session_user(&fresh, now).await.unwrap().is_some());
}
