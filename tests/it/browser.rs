//! The browser app end to end: the real server (one at 12:05 inside the hearing window,
//! one whose window is 09:00–10:00 and so closed), driven by headless Chromium through
//! `node --test tests/browser/` (playwright-core). `scripts/test` installs Chromium and
//! the node modules first; this test fails rather than skips when they are missing.

use std::path::Path;
use std::process::Command;

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_end_to_end() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    assert!(
        root.join("tests/browser/node_modules/playwright-core").is_dir(),
        "the browser tests' node modules are missing: run scripts/test (or npm ci --prefix tests/browser)"
    );
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        Path::new(&chromium).exists(),
        "{chromium} is missing: run scripts/test, which installs it"
    );

    // Screenshots of a failed run are written afresh each time.
    let _ = std::fs::remove_dir_all(root.join("target/browser-screenshots"));

    let app = spawn_app().await;
    let closed = spawn_app_with(|c| c.desks[0].windows = vec!["09:00-10:00".into()]).await;

    let mut cmd = Command::new("node");
    cmd.arg("--test")
        .arg("--test-concurrency=1")
        .arg("tests/browser/")
        .current_dir(root)
        .env("SUNWAI_URL", format!("http://{}", app.addr))
        .env("SUNWAI_CLOSED_URL", format!("http://{}", closed.addr))
        .env("SUNWAI_PASSWORD", PASSWORD)
        .env("CHROMIUM", &chromium);
    // Output goes straight to the terminal, as the browser tests run.
    let status = tokio::task::spawn_blocking(move || cmd.status())
        .await
        .unwrap()
        .expect("could not run node");

    app.stop().await;
    closed.stop().await;
    assert!(
        status.success(),
        "the browser tests failed ({status}); screenshots of the pages are under target/browser-screenshots/"
    );
}
