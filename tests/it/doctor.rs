//! `sunwai doctor` as an installer runs it: the real binary over a scratch data directory
//! and configuration, each check made to fail and to pass.

use std::path::Path;

use crate::cli::run;

/// Runs `sunwai doctor` with `args`; (exit ok, checklist).
fn doctor(args: &[&str]) -> (bool, String) {
    let mut all = vec!["doctor"];
    all.extend_from_slice(args);
    let (ok, out, err) = run(&all, None);
    assert!(err.is_empty() || !err.contains("panicked"), "{err}");
    (ok, out)
}

/// `sunwai doctor` with the media ports of `base_port` (the tests' command otherwise
/// sets them to 0 through the environment, which a configuration file cannot override).
fn doctor_ports(base_port: u16, args: &[&str]) -> String {
    let out = crate::cli::sunwai()
        .arg("doctor")
        .args(args)
        .env("SUNWAI_MEDIA__BASE_PORT", base_port.to_string())
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The checklist line of check `name` (and its fix, if any).
fn line<'a>(out: &'a str, name: &str) -> &'a str {
    let at = out
        .find(&format!(" {name}: "))
        .unwrap_or_else(|| panic!("no {name} check in:\n{out}"));
    let start = out[..at].rfind('\n').map_or(0, |i| i + 1);
    let end = out[at..]
        .find("\n✓")
        .or_else(|| out[at..].find("\n!"))
        .or_else(|| out[at..].find("\n✗"))
        .map_or(out.len(), |e| at + e);
    &out[start..end]
}

fn config(dir: &Path, text: &str) -> String {
    let path = dir.join("sunwai.toml");
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

fn add_user(data: &str, role: &str, name: &str) {
    let mut args = vec![
        "user",
        "add",
        "--data-dir",
        data,
        "--role",
        role,
        "--name",
        name,
    ];
    if role == "officer" {
        args.extend(["--desk", "ssp-prayagraj"]);
    }
    args.push("--password-stdin");
    let (ok, _, err) = run(&args, Some("correct horse battery\n"));
    assert!(ok, "{err}");
}

#[test]
fn a_fresh_install_needs_staff_and_is_ready_once_it_has_them() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let (ok, out) = doctor(&["--data-dir", d]);
    assert!(!ok, "{out}");
    assert!(line(&out, "staff accounts").starts_with('✗'), "{out}");
    assert!(
        line(&out, "staff accounts").contains("fix: sunwai user add"),
        "{out}"
    );
    assert!(line(&out, "configuration").starts_with('✓'), "{out}");
    assert!(line(&out, "database").starts_with('✓'), "{out}");
    assert!(line(&out, "disk").starts_with('✓'), "{out}");
    assert!(out.ends_with("not ready: 1 problem(s) to fix.\n"), "{out}");

    add_user(d, "supervisor", "admin");
    let (_, out) = doctor(&["--data-dir", d]);
    assert!(
        line(&out, "staff accounts").starts_with('!'),
        "no officer yet:\n{out}"
    );
    add_user(d, "officer", "sharma");
    let (ok, out) = doctor(&["--data-dir", d]);
    assert!(ok, "{out}");
    assert!(
        line(&out, "staff accounts").starts_with("✓ staff accounts: 1 supervisor(s), 1 officer(s)"),
        "{out}"
    );

    // The same as JSON, for scripts.
    let (ok, json, _) = run(&["doctor", "--data-dir", d, "--json"], None);
    assert!(ok);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let levels: Vec<&str> = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["level"].as_str().unwrap())
        .collect();
    assert!(!levels.contains(&"fail"), "{json}");
}

#[test]
fn a_configuration_that_does_not_load_is_named_and_fails() {
    let dir = tempfile::tempdir().unwrap();
    let c = config(dir.path(), "listen = \"everywhere\"\n");
    let (ok, out) = doctor(&["--config", &c]);
    assert!(!ok);
    assert!(line(&out, "configuration").starts_with('✗'), "{out}");
    assert!(out.contains("listen"), "{out}");
}

#[test]
fn the_database_must_open() {
    let dir = tempfile::tempdir().unwrap();
    // A data directory that is a file.
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, "x").unwrap();
    let (ok, out) = doctor(&["--data-dir", file.to_str().unwrap()]);
    assert!(!ok);
    assert!(line(&out, "database").starts_with('✗'), "{out}");
    assert!(line(&out, "database").contains("fix:"), "{out}");
}

#[test]
fn certificates_expired_valid_and_for_the_wrong_name() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let write = |name: &str, not_after: jiff::Timestamp| {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut p = rcgen::CertificateParams::new(vec!["hearing.example.org".to_owned()]).unwrap();
        p.not_before = rcgen::date_time_ymd(2025, 1, 1);
        let day = jiff::tz::TimeZone::UTC.to_datetime(not_after).date();
        p.not_after =
            rcgen::date_time_ymd(i32::from(day.year()), day.month() as u8, day.day() as u8);
        let cert = p.self_signed(&key).unwrap();
        let (c, k) = (
            dir.path().join(format!("{name}.pem")),
            dir.path().join(format!("{name}.key")),
        );
        std::fs::write(&c, cert.pem()).unwrap();
        std::fs::write(&k, key.serialize_pem()).unwrap();
        (c.display().to_string(), k.display().to_string())
    };
    let now = jiff::Timestamp::now();
    let (c, k) = write("old", now - jiff::SignedDuration::from_hours(24));
    let (ok, out) = doctor(&["--data-dir", d, "--tls-cert", &c, "--tls-key", &k]);
    assert!(!ok);
    assert!(
        line(&out, "certificate").starts_with('✗') && out.contains("expired"),
        "{out}"
    );

    let (c, k) = write("soon", now + jiff::SignedDuration::from_hours(24 * 5));
    let (_, out) = doctor(&["--data-dir", d, "--tls-cert", &c, "--tls-key", &k]);
    assert!(
        line(&out, "certificate").starts_with('!') && out.contains("day(s) left"),
        "{out}"
    );

    let (c, k) = write("good", now + jiff::SignedDuration::from_hours(24 * 80));
    let (_, out) = doctor(&["--data-dir", d, "--tls-cert", &c, "--tls-key", &k]);
    assert!(line(&out, "certificate").starts_with('✓'), "{out}");
    // Citizens open another name than the certificate's.
    let cfg = config(
        dir.path(),
        &format!(
            "tls_cert = {c:?}\ntls_key = {k:?}\norigins = [\"https://sunwai.example.gov.in\"]\n"
        ),
    );
    let (_, out) = doctor(&["--data-dir", d, "--config", &cfg]);
    assert!(line(&out, "certificate names").starts_with('!'), "{out}");

    // No certificate at all on a public address: phones refuse the camera.
    let cfg = config(dir.path(), "listen = \"0.0.0.0:8080\"\n");
    let (ok, out) = doctor(&["--data-dir", d, "--config", &cfg]);
    assert!(!ok);
    assert!(
        line(&out, "certificate").starts_with('✗') && out.contains("plain HTTP"),
        "{out}"
    );
}

#[test]
fn a_domain_that_does_not_resolve_fails_and_the_certificate_is_awaited() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let (ok, out) = doctor(&["--data-dir", d, "--domain", "hearing.sunwai.invalid"]);
    assert!(!ok);
    assert!(
        line(&out, "domain").starts_with('✗') && out.contains("DNS A record"),
        "{out}"
    );
    assert!(
        line(&out, "certificate").starts_with('!') && out.contains("none obtained yet"),
        "{out}"
    );
}

#[test]
fn media_ports_in_use_and_an_address_not_of_this_machine() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let (_, out) = doctor(&["--data-dir", d]);
    assert!(
        line(&out, "media ports").starts_with('!') && out.contains("base_port = 0"),
        "{out}"
    );
    let held = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = held.local_addr().unwrap().port();
    let cfg = config(dir.path(), "[media]\nworkers = 1\n");
    let out = doctor_ports(port, &["--data-dir", d, "--config", &cfg]);
    assert!(
        line(&out, "media ports").starts_with('!') && out.contains("in use"),
        "{out}"
    );
    drop(held);
    let out = doctor_ports(port, &["--data-dir", d, "--config", &cfg]);
    assert!(line(&out, "media ports").starts_with('✓'), "{out}");
    assert!(line(&out, "media address").starts_with('✓'), "{out}");

    let cfg = config(
        dir.path(),
        "[media]\nworkers = 1\nannounce = \"203.0.113.5\"\n",
    );
    let out = doctor_ports(port, &["--data-dir", d, "--config", &cfg]);
    assert!(
        line(&out, "media address").starts_with('!')
            && out.contains("not an address of this machine"),
        "{out}"
    );
}

#[test]
fn turn_servers_are_tried_with_a_real_allocation() {
    use crate::turn::{Coturn, SECRET, TCP_PORT, TLS_PORT};
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    // None configured: callers behind a UDP-blocking firewall would hear nothing.
    let (_, out) = doctor(&["--data-dir", d]);
    assert!(
        line(&out, "TURN").starts_with('!') && out.contains("no relay"),
        "{out}"
    );

    let lab = crate::netlab::Lab::new(0);
    let ip = lab.server;
    let turn = Coturn::start(ip, SECRET);
    let with = |secret: &str| {
        config(
            dir.path(),
            &format!(
                "[media]\nice_servers = [\"turn:{ip}:{TCP_PORT}?transport=tcp\", \"turns:{ip}:{TLS_PORT}?transport=tcp\"]\nturn_secret = {secret:?}\n"
            ),
        )
    };
    // The lab CA is trusted the way the system's roots are (SSL_CERT_FILE), as an office
    // would install its own CA.
    let run_with_ca = |cfg: &str| {
        let out = crate::cli::sunwai()
            .args(["doctor", "--data-dir", d, "--config", cfg])
            .env("SSL_CERT_FILE", turn.ca())
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let out = run_with_ca(&with(SECRET));
    let allocated = out
        .lines()
        .filter(|l| l.starts_with("✓ TURN") && l.contains("allocated"))
        .count();
    assert_eq!(
        allocated,
        2,
        "over TCP and over TLS:\n{out}\n{}",
        turn.log()
    );

    let out = run_with_ca(&with("not-the-secret"));
    let refused = out
        .lines()
        .filter(|l| l.starts_with("✗ TURN") && l.contains("refused"))
        .count();
    assert_eq!(refused, 2, "a wrong secret is refused:\n{out}");

    // Without the CA, the TLS listener's certificate is not trusted (as a browser would not).
    let out = crate::cli::sunwai()
        .args(["doctor", "--data-dir", d, "--config", &with(SECRET)])
        .env("SSL_CERT_FILE", dir.path().join("no-such-bundle.pem"))
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.lines()
            .any(|l| l.starts_with("✗ TURN") && l.contains("turns:") && l.contains("TLS")),
        "{out}"
    );
}

/// Runs `sunwai doctor ARGS` in a mount namespace of its own after `setup` (shell, as root:
/// e.g. another /etc/hosts bound over the real one, or a small tmpfs), so the machine is
/// left as it was. Returns the checklist.
fn doctor_in_namespace(setup: &str, args: &str) -> String {
    let bin = env!("CARGO_BIN_EXE_sunwai");
    let mut cmd = std::process::Command::new("unshare");
    cmd.args(["--mount", "--propagation", "private", "sh", "-ec"])
        .arg(format!("{setup}\nexec {bin} doctor {args}"));
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("SUNWAI_")) {
        cmd.env_remove(k);
    }
    let out = cmd.output().expect("unshare (util-linux) is needed");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !err.contains("unshare:") && !err.contains("mount:"),
        "{err}"
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_domain_of_this_machine_passes_and_one_elsewhere_is_flagged() {
    let dir = tempfile::tempdir().unwrap();
    let hosts = dir.path().join("hosts");
    std::fs::write(
        &hosts,
        "127.0.0.1 localhost\n127.0.0.1 hearing.sunwai.test\n203.0.113.5 elsewhere.sunwai.test\n",
    )
    .unwrap();
    let d = dir.path().display();
    let setup = format!("mount --bind {} /etc/hosts", hosts.display());
    let out = doctor_in_namespace(
        &setup,
        &format!("--data-dir {d} --domain hearing.sunwai.test"),
    );
    assert!(
        line(&out, "domain")
            .starts_with("✓ domain: hearing.sunwai.test → 127.0.0.1 (this machine)"),
        "{out}"
    );
    let out = doctor_in_namespace(
        &setup,
        &format!("--data-dir {d} --domain elsewhere.sunwai.test"),
    );
    assert!(
        line(&out, "domain").starts_with('!') && out.contains("not an address of this machine"),
        "{out}"
    );
}

#[test]
fn a_nearly_full_disk_fails() {
    let dir = tempfile::tempdir().unwrap();
    let small = dir.path().join("small");
    std::fs::create_dir(&small).unwrap();
    let setup = format!("mount -t tmpfs -o size=4m tmpfs {}", small.display());
    let out = doctor_in_namespace(&setup, &format!("--data-dir {}", small.display()));
    assert!(
        line(&out, "disk").starts_with('✗') && out.contains("GiB free"),
        "{out}"
    );
    // The database fits there all the same: only the disk is the problem.
    assert!(line(&out, "database").starts_with('✓'), "{out}");
}
