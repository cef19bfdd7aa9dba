//! The pages and assets of the browser app as plain HTTP: content types, the security
//! headers on every response, caching, and no way out of the embedded folder.

use crate::helpers::*;

const CSP: &str = "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; connect-src 'self'; script-src 'self'; style-src 'self'; frame-ancestors 'none'";

fn secure(r: &HttpResponse, what: &str) {
    assert_eq!(r.header("content-security-policy"), Some(CSP), "{what}");
    assert_eq!(
        r.header("x-content-type-options"),
        Some("nosniff"),
        "{what}"
    );
    assert_eq!(r.header("referrer-policy"), Some("no-referrer"), "{what}");
}

#[tokio::test]
async fn pages_and_assets_are_served_with_strict_headers() {
    let app = spawn_app().await;
    for (path, needle) in [
        ("/", "/assets/js/citizen.js"),
        ("/d/ssp-prayagraj", "/assets/js/citizen.js"),
        ("/status", "/assets/js/status.js"),
        ("/officer", "/assets/js/officer.js"),
        ("/supervisor", "/assets/js/supervisor.js"),
    ] {
        let r = app.http("GET", path, &[], None).await;
        assert_eq!(r.status, 200, "{path}");
        assert_eq!(
            r.header("content-type"),
            Some("text/html; charset=utf-8"),
            "{path}"
        );
        assert!(r.body.contains(needle), "{path}");
        assert!(
            !r.body.contains("<script>") && !r.body.contains("style="),
            "{path}: nothing inline"
        );
        assert_eq!(r.header("cache-control"), Some("no-cache"), "{path}");
        secure(&r, path);
    }
    for (path, ty) in [
        ("/assets/js/signal.js", "text/javascript; charset=utf-8"),
        ("/assets/css/app.css", "text/css; charset=utf-8"),
        ("/assets/i18n/hi.json", "application/json; charset=utf-8"),
        ("/assets/icon.svg", "image/svg+xml"),
        ("/assets/js/chart.js", "text/javascript; charset=utf-8"),
        (
            "/assets/vendor/uplot/uPlot.esm.js",
            "text/javascript; charset=utf-8",
        ),
        (
            "/assets/vendor/uplot/uPlot.min.css",
            "text/css; charset=utf-8",
        ),
    ] {
        let r = app.http("GET", path, &[], None).await;
        assert_eq!(r.status, 200, "{path}");
        assert_eq!(r.header("content-type"), Some(ty), "{path}");
        secure(&r, path);
        // Revalidation: the same ETag gives a 304 without a body.
        let etag = r.header("etag").expect("an etag").to_owned();
        let again = app
            .http("GET", path, &[("if-none-match", &etag)], None)
            .await;
        assert_eq!(again.status, 304, "{path}");
        assert!(again.body.is_empty());
        secure(&again, path);
    }
    // Hindi and English have the same keys.
    let keys = |path: &'static str| {
        let app = &app;
        async move {
            let r = app.http("GET", path, &[], None).await;
            let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
            let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
            k.sort();
            k
        }
    };
    assert_eq!(
        keys("/assets/i18n/hi.json").await,
        keys("/assets/i18n/en.json").await
    );

    // An unknown desk's link still gets the page (it explains), with a 404.
    let r = app.http("GET", "/d/no-such-desk", &[], None).await;
    assert_eq!(r.status, 404);
    assert!(r.body.contains("/assets/js/citizen.js"));
    secure(&r, "unknown desk");

    for path in [
        "/assets/nope.js",
        "/assets/../Cargo.toml",
        "/assets/%2e%2e/Cargo.toml",
        "/assets/js/../../Cargo.toml",
        "/assets/..%2fCargo.toml",
    ] {
        let r = app.http("GET", path, &[], None).await;
        assert_eq!(r.status, 404, "{path}");
        assert!(!r.body.contains("[package]"), "{path}");
    }
    app.stop().await;
}

/// What a citizen's phone downloads on a first visit, gzipped: the page, everything it
/// names under /assets/, and the Hindi texts.
#[tokio::test]
async fn text_goes_out_gzipped_and_a_citizens_first_visit_is_small() {
    use std::io::Read;
    let app = spawn_app().await;
    let page = app.http("GET", "/", &[], None).await;
    let mut first_visit = vec!["/".to_owned(), "/assets/i18n/hi.json".to_owned()];
    for part in page.body.split("\"/assets/").skip(1) {
        let path = part.split('"').next().unwrap_or_default();
        first_visit.push(format!("/assets/{path}"));
    }
    assert!(first_visit.len() >= 8, "{first_visit:?}");
    let gzip = [("Accept-Encoding", "gzip, deflate, br")];
    let (mut plain_total, mut gz_total) = (0, 0);
    for path in &first_visit {
        let plain = app.http("GET", path, &[], None).await;
        let gz = app.http("GET", path, &gzip, None).await;
        assert_eq!((plain.status, gz.status), (200, 200), "{path}");
        assert_eq!(plain.header("content-encoding"), None, "{path}");
        assert_eq!(gz.header("content-encoding"), Some("gzip"), "{path}");
        assert_eq!(gz.header("vary"), Some("accept-encoding"), "{path}");
        secure(&gz, path);
        let mut unpacked = Vec::new();
        flate2::read::GzDecoder::new(&gz.bytes[..])
            .read_to_end(&mut unpacked)
            .unwrap();
        assert_eq!(unpacked, plain.bytes, "{path}: the same file");
        // Each representation has its own tag, and the gzipped one revalidates too.
        let tag = gz.header("etag").unwrap();
        assert_ne!(Some(tag), plain.header("etag"), "{path}");
        let again = app
            .http("GET", path, &[gzip[0], ("If-None-Match", tag)], None)
            .await;
        assert_eq!(again.status, 304, "{path}");
        plain_total += plain.bytes.len();
        gz_total += gz.bytes.len();
    }
    let refused = app
        .http(
            "GET",
            "/assets/js/ui.js",
            &[("Accept-Encoding", "gzip;q=0")],
            None,
        )
        .await;
    assert_eq!(refused.header("content-encoding"), None);
    eprintln!(
        "a citizen's first visit: {} files, {plain_total} bytes, {gz_total} gzipped",
        first_visit.len()
    );
    // About 7 s at 2G's 50 kbit/s; under a second on 3G.
    assert!(gz_total < 48 * 1024, "{gz_total} bytes gzipped");
    assert!(gz_total * 2 < plain_total, "{gz_total} of {plain_total}");
}

#[tokio::test]
async fn desks_say_their_time_zone() {
    let app = spawn_app().await;
    let r = app.http("GET", "/api/desks", &[], None).await;
    let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(v[0]["time_zone"], "Asia/Kolkata");
    app.stop().await;
}
