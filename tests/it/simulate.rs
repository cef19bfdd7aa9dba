//! `sunwai simulate` as an operator runs it: JSON figures, a chart, recorded arrivals, a
//! recommendation, and typed complaints about bad input.

use serde_json::Value;

fn simulate(args: &[&str]) -> (bool, String, String) {
    let mut c = crate::helpers::sunwai_command();
    let out = c.arg("simulate").args(args).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn json(args: &[&str]) -> Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let (ok, out, err) = simulate(&all);
    assert!(ok, "{err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

#[test]
fn simulate_reports_service_and_estimate_accuracy_as_json() {
    let dir = tempfile::tempdir().unwrap();
    let chart = dir.path().join("day.svg");
    let r = json(&[
        "--days",
        "3",
        "--officers",
        "4",
        "--seed",
        "7",
        "--chart",
        chart.to_str().unwrap(),
    ]);
    let s = &r["service"];
    let answered = s["answered"].as_u64().unwrap();
    assert!(answered > 100, "{s}");
    assert_eq!(
        s["queued"].as_u64().unwrap(),
        answered + s["abandoned"].as_u64().unwrap() + s["tokens_at_close"].as_u64().unwrap()
    );
    let (w2, w5) = (
        s["within_2m"].as_f64().unwrap(),
        s["within_5m"].as_f64().unwrap(),
    );
    assert!(0.0 < w2 && w2 <= w5 && w5 <= 1.0);
    assert!(s["p95_wait_secs"].as_f64().unwrap() >= s["avg_wait_secs"].as_f64().unwrap());
    let e = &r["estimates"];
    assert!(e["citizens"].as_u64().unwrap() > 100);
    assert!(e["median_rel_error"].as_f64().is_some());
    assert_eq!(e["by_time_waited"][0]["waited_min"], 0);
    assert_eq!(r["inputs"]["window"], "12:00-14:00 Asia/Kolkata");
    assert_eq!(r["queue"]["waiting_by_minute"][0], 0.0);
    let svg = std::fs::read_to_string(&chart).unwrap();
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    // The same seed, the same figures.
    let again = json(&["--days", "3", "--officers", "4", "--seed", "7"]);
    assert_eq!(r["service"], again["service"]);
    assert_eq!(r["estimates"], again["estimates"]);
    // The human-readable table is the default.
    let (ok, out, _) = simulate(&["--days", "1"]);
    assert!(ok && out.contains("answered within 2 min"), "{out}");
}

#[test]
fn simulate_replays_recorded_arrivals_and_call_lengths() {
    let dir = tempfile::tempdir().unwrap();
    let arrivals = dir.path().join("arrivals.csv");
    let mut csv = String::from("reference,channel,created_at,talk_secs\n");
    for i in 0..30 {
        csv += &format!(
            "PRY-{i},video,2026-11-27T12:{:02}:00+05:30,{}\n",
            i / 2,
            240 + 10 * i
        );
    }
    csv += "PRY-99,written,2026-11-27T09:00:00+05:30,\n";
    std::fs::write(&arrivals, &csv).unwrap();
    let p = arrivals.to_str().unwrap();
    let r = json(&[
        "--days",
        "2",
        "--arrivals",
        p,
        "--calls-from",
        p,
        "--roster",
        "12:00-14:00,12:00-13:00",
    ]);
    assert_eq!(r["service"]["arrivals"], 60);
    assert!(r["inputs"]["call_length"]
        .as_str()
        .unwrap()
        .contains("30 recorded calls"));
    assert_eq!(r["inputs"]["officers"], "12:00-14:00,12:00-13:00");
    std::fs::write(&arrivals, "created_at\n12:00\nlunchtime\n").unwrap();
    let (ok, _, err) = simulate(&["--arrivals", p]);
    assert!(!ok);
    assert!(err.contains("line 3") && err.contains("lunchtime"), "{err}");
    let (ok, _, err) = simulate(&["--target", "most within 2m", "--recommend"]);
    assert!(!ok && err.contains("--target"), "{err}");
}

#[test]
fn simulate_recommends_the_fewest_officers_and_compares_with_erlang_c() {
    let r = json(&[
        "--days",
        "2",
        "--recommend",
        "--target",
        "90% within 2 minutes",
    ]);
    let rec = &r["recommendation"];
    let n = rec["officers"].as_u64().unwrap();
    let tried = rec["tried"].as_array().unwrap();
    assert_eq!(tried.len() as u64, n);
    assert!(
        tried.last().unwrap()["answered_within_target"]
            .as_f64()
            .unwrap()
            >= 0.9
    );
    assert!(tried[..tried.len() - 1]
        .iter()
        .all(|t| t["answered_within_target"].as_f64().unwrap() < 0.9));
    assert!(rec["erlang_c_average"].as_u64().unwrap() < n);
    assert!(rec["explanation"].as_array().unwrap().len() >= 2);
}

#[test]
fn forecast_accuracy_prints_the_table_of_the_waiting_doc() {
    let (ok, out, err) = simulate(&["--forecast-accuracy", "--days", "1"]);
    assert!(ok, "{err}");
    let rows: Vec<&str> = out.lines().filter(|l| l.starts_with("| ")).collect();
    // The header, then 5 configurations at 3 times of day.
    assert_eq!(rows.len(), 16, "{out}");
    assert!(rows[0].contains("backlog at close"), "{out}");
    for row in &rows[1..] {
        assert_eq!(row.matches('|').count(), 9, "{row}");
        assert!(row.contains(" min |"), "{row}");
    }
}

/// Runs `sunwai ARGS` on a pseudo-terminal (util-linux `script`), as an operator at a
/// console would; returns everything the terminal received.
fn on_a_terminal(args: &str) -> String {
    let bin = env!("CARGO_BIN_EXE_sunwai");
    let out = std::process::Command::new("script")
        .args(["-qec", &format!("{bin} {args}"), "/dev/null"])
        .env("TERM", "xterm")
        .output()
        .expect("`script` (util-linux) runs a command on a terminal");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn long_work_shows_progress_on_a_terminal_and_is_quiet_otherwise() {
    let args = ["--days", "200", "--officers", "4", "--seed", "3"];
    // Not a terminal: nothing but the report.
    let (ok, _, err) = simulate(&args);
    assert!(ok);
    assert!(!err.contains("simulating days"), "{err}");
    // A terminal: the bar, and the report after it.
    let seen = on_a_terminal(&format!("simulate {}", args.join(" ")));
    assert!(seen.contains("simulating days"), "{seen}");
    assert!(seen.contains("answered"), "{seen}");
    // --json stays quiet even there.
    let seen = on_a_terminal(&format!("simulate --json {}", args.join(" ")));
    assert!(!seen.contains("simulating days"), "{seen}");
}
