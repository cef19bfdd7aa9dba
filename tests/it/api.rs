//! The REST API over real HTTP: sign-in, written complaints, the status check, the records
//! browser and CSV export, health and metrics.

use crate::helpers::*;

fn json(r: &HttpResponse) -> serde_json::Value {
    serde_json::from_str(&r.body).unwrap_or_else(|e| panic!("{e}: {}", r.body))
}

#[tokio::test]
async fn written_complaints_status_checks_and_records() {
    let app = spawn_app().await;
    let ct = [("content-type", "application/json")];

    // A written complaint becomes a record with a reference number.
    let body = WRITTEN_COMPLAINT;
    let r = app
        .http(
            "POST",
            "/api/desks/ssp-prayagraj/complaints",
            &ct,
            Some(body),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let reference = json(&r)["reference"].as_str().unwrap().to_owned();
    assert!(reference.starts_with("PRY-2026-"));
    // Bad input is a typed 400 naming the field.
    let bad = body.replace("+91 98765 43210", "12345");
    let r = app
        .http(
            "POST",
            "/api/desks/ssp-prayagraj/complaints",
            &ct,
            Some(&bad),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(json(&r)["field"], "mobile");
    assert_eq!(
        app.http("POST", "/api/desks/nowhere/complaints", &ct, Some(body))
            .await
            .status,
        404
    );

    // The citizen's status check needs the reference and the right mobile number.
    let q = format!(
        r#"{{"reference":"{}","mobile":"9876543210"}}"#,
        reference.to_lowercase()
    );
    let r = app.http("POST", "/api/status", &ct, Some(&q)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(json(&r)["status"], "received");
    assert!(
        !r.body.contains("UPI fraud"),
        "the status view shows no complaint details"
    );
    let wrong = format!(r#"{{"reference":"{reference}","mobile":"9123456789"}}"#);
    assert_eq!(
        app.http("POST", "/api/status", &ct, Some(&wrong))
            .await
            .status,
        404
    );

    // Records need a signed-in member of staff.
    assert_eq!(app.http("GET", "/api/records", &[], None).await.status, 401);
    let r = app
        .http(
            "POST",
            "/api/login",
            &ct,
            Some(r#"{"username":"officer1","password":"wrong password"}"#),
        )
        .await;
    assert_eq!(r.status, 401);
    let token = app.login("officer1").await;
    let auth = format!("Bearer {token}");
    let r = app
        .http(
            "GET",
            "/api/records?q=sita",
            &[("authorization", &auth)],
            None,
        )
        .await;
    assert_eq!(r.status, 200);
    let r = app
        .http(
            "GET",
            &format!("/api/records/{reference}"),
            &[("authorization", &auth)],
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(json(&r)["channel"], "written");
    // An officer may not export; a supervisor may.
    assert_eq!(
        app.http("GET", "/api/records.csv", &[("authorization", &auth)], None)
            .await
            .status,
        403
    );
    let sup = format!("Bearer {}", app.login("supervisor").await);
    let r = app
        .http(
            "POST",
            &format!("/api/records/{reference}/status"),
            &[("authorization", &sup), ct[0]],
            Some(r#"{"status":"under_investigation","note":"SHO Civil Lines informed"}"#),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(json(&r)["status"], "under_investigation");
    let r = app
        .http("GET", "/api/records.csv", &[("authorization", &sup)], None)
        .await;
    assert_eq!(r.status, 200);
    // For Excel: UTF-8 with its byte-order mark, which CSV readers skip.
    assert!(r.body.starts_with('\u{feff}'), "{:?}", &r.body[..20]);
    let mut rows = csv::Reader::from_reader(r.body.as_bytes());
    assert_eq!(rows.headers().unwrap().get(0), Some("reference"));
    let records: Vec<csv::StringRecord> = rows.records().map(Result::unwrap).collect();
    assert_eq!(records.len(), 1);
    assert!(records[0].iter().any(|f| f == reference));
    assert!(records[0].iter().any(|f| f == "सीता देवी"));
    let plain = app
        .http(
            "GET",
            "/api/records.csv?plain=true",
            &[("authorization", &sup)],
            None,
        )
        .await;
    assert_eq!(plain.status, 200);
    assert_eq!(plain.body, r.body.trim_start_matches('\u{feff}'));
    // The citizen sees the new status.
    let r = app.http("POST", "/api/status", &ct, Some(&q)).await;
    assert_eq!(json(&r)["status"], "under_investigation");

    // Signing out ends the session.
    assert_eq!(
        app.http("POST", "/api/logout", &[("authorization", &auth)], None)
            .await
            .status,
        204
    );
    assert_eq!(
        app.http("GET", "/api/me", &[("authorization", &auth)], None)
            .await
            .status,
        401
    );
    app.stop().await;
}

#[tokio::test]
async fn health_readiness_metrics_and_desks() {
    let app = spawn_app().await;
    assert_eq!(app.http("GET", "/healthz", &[], None).await.status, 200);
    assert_eq!(app.http("GET", "/readyz", &[], None).await.status, 200);
    let mut c = app.citizen().await;
    join(&mut c, "Metric").await;
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let m = app.http("GET", "/metrics", &[], None).await;
    assert_eq!(m.status, 200);
    assert!(
        m.body.contains("sunwai_waiting{desk=\"ssp-prayagraj\"}"),
        "{}",
        m.body
    );
    assert!(m.body.contains("sunwai_officers_on_duty"));
    let d = app.http("GET", "/api/desks", &[], None).await;
    let v = json(&d);
    assert_eq!(v[0]["id"], "ssp-prayagraj");
    assert_eq!(v[0]["window"]["open"], true);
    // While today's window is open, people are told the next one too.
    assert_eq!(v[0]["window"]["next_opens_at"], "2026-11-29T06:30:00Z");
    assert_eq!(v[0]["waiting"], 1);
    let cat = json(&app.http("GET", "/api/catalog", &[], None).await);
    assert!(cat["stations"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["key"] == "kotwali"));
    app.stop().await;
}

/// The `/api` routes the router registers, read from its source: (method, path).
fn routed() -> Vec<(String, String)> {
    let src = include_str!("../../src/http/mod.rs");
    src.lines()
        .filter_map(|l| l.trim().strip_prefix(".route(\"/api"))
        .map(|rest| {
            let (path, after) = rest.split_once('"').unwrap();
            let method = after
                .trim_start_matches(',')
                .trim()
                .split('(')
                .next()
                .unwrap();
            (method.to_owned(), format!("/api{path}"))
        })
        .collect()
}

#[tokio::test]
async fn the_openapi_document_has_every_rest_route_and_each_reaches_its_handler() {
    let app = spawn_app().await;
    let r = app.http("GET", "/api/openapi.json", &[], None).await;
    assert_eq!(r.status, 200);
    let doc = json(&r);
    assert_eq!(doc["openapi"], "3.1.0");

    // Every route of the router is documented.
    let routes = routed();
    assert!(routes.len() >= 15, "{routes:?}");
    for (method, path) in &routes {
        assert!(
            doc["paths"][path][method].is_object(),
            "{method} {path} is routed but missing from the OpenAPI document"
        );
    }

    // Every documented operation is routed: the router, not its fallback, answers.
    let sup = format!("Bearer {}", app.login("supervisor").await);
    let mut operations = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            operations += 1;
            let concrete = path
                .replace("{desk}", DESK)
                .replace("{reference}", "PRY-2026-999999");
            let body = (method == "post").then_some("{}");
            let headers = [
                ("authorization", sup.as_str()),
                ("content-type", "application/json"),
            ];
            let r = app
                .http(&method.to_uppercase(), &concrete, &headers, body)
                .await;
            let json_body = r.header("content-type").is_some_and(|c| c.contains("json"));
            assert!(
                r.status != 405 && (r.status != 404 || json_body),
                "{method} {path}: {} {}",
                r.status,
                r.body
            );
        }
    }
    assert_eq!(operations, routes.len(), "documented but not routed");

    // `sunwai openapi` prints the same document.
    let out = sunwai_command().arg("openapi").output().unwrap();
    let printed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(printed, doc);
    app.stop().await;
}
