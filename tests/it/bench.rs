//! The smallest `sunwai bench`: one SFU run against one relay run, one capacity step and
//! a small waiting room. It checks that every figure is really measured, never how good
//! the figures are (those are in docs/benchmarks.md, from release builds).

use crate::helpers::sunwai_command;

#[test]
fn the_smoke_bench_measures_every_figure() {
    let out = sunwai_command()
        .args(["bench", "--smoke", "--json"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let r: serde_json::Value =
        serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}\n{stderr}"));
    eprintln!("{r:#}");
    assert!(r["machine"]["cores"].as_u64().unwrap() >= 1);
    let runs = r["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1);
    let run = &runs[0];
    let sfu = &run["sfu"];
    assert!(sfu["forwarded"].as_u64().unwrap() > 100, "{sfu}");
    assert!(sfu["cpu_us_per_packet"].as_f64().unwrap() > 0.0, "{sfu}");
    assert!(sfu["server_core"].as_f64().unwrap() > 0.0, "{sfu}");
    assert!(sfu["latency_p99_us"].as_u64().is_some(), "{sfu}");
    assert!(sfu["first_packet_p95_ms"].as_f64().is_some(), "{sfu}");
    assert!(sfu["memory_per_call_kib"].as_f64().unwrap() > 0.0, "{sfu}");
    assert_eq!(sfu["waiters"], 5, "{sfu}");
    assert!(sfu["memory_per_waiter_kib"].as_f64().is_some(), "{sfu}");
    assert!(sfu["monitor_packets"].as_u64().unwrap() > 0, "{sfu}");
    let relay = &run["relay"];
    assert!(relay["packets"].as_u64().unwrap() > 100, "{relay}");
    assert!(
        relay["cpu_us_per_packet"].as_f64().unwrap() > 0.0,
        "{relay}"
    );
    assert!(run["ratio"].as_f64().unwrap() > 0.0, "{run}");
    assert!(r["summary"]["ratio"]["median"].as_f64().is_some());
    assert_eq!(r["capacity"]["steps"].as_array().unwrap().len(), 1);
    let w = &r["waiting"];
    assert_eq!(w["waiters"], 20, "{w}");
    let d = w["dispatches"].as_array().unwrap();
    assert_eq!(d.len(), 2, "{w}");
    for x in d {
        assert_eq!(x["missed"], 0, "{x}");
        assert!(x["waiting"].as_u64().unwrap() >= 17, "{x}");
    }
}
