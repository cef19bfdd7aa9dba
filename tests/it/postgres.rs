//! The binary with `--database-url` on a real PostgreSQL server (a database of its own on
//! the server named by SUNWAI_TEST_DATABASE_URL): accounts from the command line, a written
//! complaint and its status check over HTTP, and no password in anything it prints.

use sunwai::store::scratch::ScratchDatabase;
use sunwai::store::Store;

use crate::cli::{run, serve};
use crate::helpers::{http, HttpResponse, WRITTEN_COMPLAINT};

fn json(r: &HttpResponse) -> serde_json::Value {
    serde_json::from_str(&r.body).unwrap_or_else(|e| panic!("{e}: {}", r.body))
}

/// The password in a `postgres://user:password@host/…` URL.
fn password_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or("", |(_, r)| r);
    let userinfo = rest.rsplit_once('@').map_or("", |(u, _)| u);
    userinfo.split_once(':').map_or("", |(_, p)| p)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_with_database_url_keeps_records_in_postgres() {
    let db = ScratchDatabase::create()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let password = password_of(&db.url).to_owned();
    assert!(
        password.len() >= 8,
        "the test server's URL carries a password, so that hiding it is tested"
    );
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();

    // The command line works on the same database.
    let (ok, out, err) = run(
        &[
            "user",
            "add",
            "--database-url",
            &db.url,
            "--role",
            "supervisor",
            "--name",
            "admin",
            "--password-stdin",
        ],
        Some("a long enough password\n"),
    );
    assert!(ok, "{err}");
    assert!(out.contains("added supervisor admin"), "{out}");
    let (ok, out, err) = run(&["config", "check", "--database-url", &db.url], None);
    assert!(ok, "{err}");
    assert!(out.contains("records in PostgreSQL postgres://"), "{out}");
    assert!(!out.contains(&password), "{out}");

    let log = dir.path().join("server.log");
    let served = serve(
        &["--data-dir", data, "--database-url", &db.url],
        std::fs::File::create(&log).unwrap().into(),
    );
    let addr: std::net::SocketAddr = served.addr.parse().unwrap();
    let mut child = served.child;

    let ct = [("content-type", "application/json")];
    let r = http(
        addr,
        "POST",
        "/api/desks/ssp-prayagraj/complaints",
        &ct,
        Some(WRITTEN_COMPLAINT),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let reference = json(&r)["reference"].as_str().unwrap().to_owned();
    assert!(reference.starts_with("PRY-") && reference.ends_with("-000001"));

    let q = format!(r#"{{"reference":"{reference}","mobile":"9876543210"}}"#);
    let r = http(addr, "POST", "/api/status", &ct, Some(&q)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(json(&r)["status"], "received");
    let wrong = format!(r#"{{"reference":"{reference}","mobile":"9123456789"}}"#);
    let r = http(addr, "POST", "/api/status", &ct, Some(&wrong)).await;
    assert_eq!(r.status, 404);

    // The record is in PostgreSQL, and nothing went to SQLite.
    let store = Store::open_postgres(&db.url).await.unwrap();
    let c = store.get_by_reference(&reference).await.unwrap().unwrap();
    assert_eq!(c.channel.as_str(), "written");
    assert_eq!(store.list_users().await.unwrap().len(), 1);
    store.close().await;
    assert!(!dir.path().join("data").join("sunwai.db").exists());

    let kill = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(
        logged.contains("PostgreSQL postgres://") && logged.contains(":***@"),
        "the start-up line names the database: {logged}"
    );
    assert!(!logged.contains(&password), "the password was logged");
    db.drop().await.unwrap();
}
