//! The browser app end to end: the real server (one at 12:05 inside the hearing window,
//! one whose window is 09:00–10:00 and so closed, one for the interoperability matrix)
//! over HTTPS, driven by headless Chromium
//! and Firefox ESR through `node --test tests/browser/` (playwright-core), each browser in
//! its own network namespace (`netlab`). `scripts/test` installs the browsers and the node
//! modules first; this test fails rather than skips when they are missing.

use crate::helpers::*;
use crate::netlab::Lab;

/// Namespaces for the browsers (and other clients) of one run: see tests/browser/helpers.mjs
/// for who uses which.
const BROWSER_HOSTS: usize = 8;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_end_to_end() {
    let (root, chromium) = browser_tools();

    let _browsers = BROWSERS.lock().await;
    // Screenshots of a failed run are written afresh each time.
    let _ = std::fs::remove_dir_all(root.join("target/browser-screenshots"));

    // Every browser runs in a namespace of its own and meets the server over HTTPS on the
    // lab's address, as a phone meets a deployment (no browser flags that change networking).
    let lab = Lab::new(BROWSER_HOSTS);
    let app = spawn_app_in(&lab, |_| {}).await;
    let closed = spawn_app_in(&lab, |c| c.desks[0].windows = vec!["09:00-10:00".into()]).await;
    // The matrix signs the same officer and supervisor in for every hearing, a dozen
    // times in a few minutes: more than the sign-in limits let one account do.
    // Its graces are short: a hearing that fails half-way leaves its citizen and officer
    // on the desk only until they run out (the tests wait that long after a failure), not
    // holding the next hearings' officer for a minute (tests/browser/helpers.mjs, SETTLE).
    let interop = spawn_app_in(&lab, |c| {
        c.limits.logins_per_minute_per_account = 100;
        c.limits.logins_per_minute_per_address = 100;
        c.desks[0].policy.citizen_grace_secs = 20;
        c.desks[0].policy.officer_grace_secs = 10;
    })
    .await;

    let mut node = NodeTests::new("browser");
    let cmd = &mut node.cmd;
    // SUNWAI_BROWSER_TESTS=PATTERN runs only the browser tests whose names match (while
    // working on one); CI runs them all.
    if let Ok(pattern) = std::env::var("SUNWAI_BROWSER_TESTS") {
        cmd.arg(format!("--test-name-pattern={pattern}"));
    }
    cmd.arg("tests/browser/")
        .current_dir(root)
        .env("SUNWAI_URL", app.base_url())
        .env("SUNWAI_CLOSED_URL", closed.base_url())
        .env("SUNWAI_INTEROP_URL", interop.base_url())
        .env("SUNWAI_LAB", lab.json())
        .env("SUNWAI_PASSWORD", PASSWORD)
        .env("CHROMIUM", &chromium);
    // Output goes straight to the terminal, as the browser tests run.
    let outcome = node.run().await;

    app.stop().await;
    closed.stop().await;
    interop.stop().await;
    if let Err(failed) = outcome {
        panic!(
            "the browser tests failed; screenshots of the pages are under target/browser-screenshots/\n{failed}"
        );
    }
}
