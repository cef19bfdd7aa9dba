//! The short chaos run: `sunwai chaos` kills its own server with SIGKILL at random
//! moments while citizens wait and officers take calls (the long run and its figures are
//! in docs/reliability.md).

use crate::helpers::sunwai_command;

#[test]
fn a_short_chaos_run_loses_nobody_and_keeps_the_order() {
    let dir = tempfile::tempdir().unwrap();
    let out = sunwai_command()
        .args([
            "chaos",
            "--citizens",
            "40",
            "--officers",
            "4",
            "--kills",
            "5",
            "--max-gap-ms",
            "800",
            "--call-ms",
            "150",
            "--timeout-secs",
            "120",
            "--json",
            "--dir",
        ])
        .arg(dir.path().join("run"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let r: serde_json::Value =
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}\n{stderr}"));
    eprintln!("{r:#}");
    assert!(out.status.success(), "{r:#}\n{stderr}");
    assert_eq!(r["joined"], 40);
    assert_eq!(r["served"], 40);
    for zero in [
        "citizens_lost",
        "records_lost",
        "ends_lost",
        "missing_after_restart",
    ] {
        assert_eq!(r[zero], 0, "{zero}");
    }
    assert_eq!(r["order_checks"], 5);
    assert_eq!(r["order_violations"].as_array().unwrap().len(), 0);
    assert!(r["integrity"].is_null());
    // The kills really met people waiting.
    assert!(r["restored"].as_u64().unwrap() > 0, "{r:#}");
}
