//! The Debian package (`scripts/package`), built around the tests' own binary: what it
//! holds, its control files, its unit file as systemd reads it, and the packaged binary
//! running `doctor` against the packaged configuration. Nothing here needs systemd running
//! or installs anything.

use std::path::Path;
use std::process::Command;

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_debian_package_holds_the_server_its_unit_and_its_configuration() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = tempfile::tempdir().unwrap();
    let built = run(Command::new(root.join("scripts/package"))
        .args(["--fast", "--binary", env!("CARGO_BIN_EXE_sunwai"), "--out"])
        .arg(out.path())
        .current_dir(root));
    let deb = built.lines().last().unwrap().trim().to_owned();
    assert!(deb.ends_with(".deb") && Path::new(&deb).exists(), "{built}");

    let listing = run(Command::new("dpkg-deb").arg("-c").arg(&deb));
    for path in [
        "./usr/bin/sunwai",
        "./lib/systemd/system/sunwai.service",
        "./etc/sunwai/sunwai.toml",
        "./usr/share/doc/sunwai/README.md",
        "./usr/share/doc/sunwai/deployment.md",
        "./usr/share/doc/sunwai/copyright",
    ] {
        assert!(listing.contains(path), "{path} missing from:\n{listing}");
    }
    let fields = run(Command::new("dpkg-deb").args(["-f", &deb, "Package", "Version", "Depends"]));
    assert!(fields.contains("Package: sunwai"), "{fields}");
    assert!(
        fields.contains(&format!("Version: {}", env!("CARGO_PKG_VERSION"))),
        "{fields}"
    );

    // The maintainer scripts: a system user and the data directory on install; the
    // configuration is a conffile (an upgrade keeps the office's edits).
    let control = tempfile::tempdir().unwrap();
    run(Command::new("dpkg-deb")
        .arg("-e")
        .arg(&deb)
        .arg(control.path()));
    let postinst = std::fs::read_to_string(control.path().join("postinst")).unwrap();
    assert!(
        postinst.contains("useradd --system") && postinst.contains("/var/lib/sunwai"),
        "{postinst}"
    );
    let conffiles = std::fs::read_to_string(control.path().join("conffiles")).unwrap();
    assert_eq!(conffiles.trim(), "/etc/sunwai/sunwai.toml");

    // Unpacked: the unit as systemd reads it, and the packaged binary at work.
    let scratch = tempfile::tempdir().unwrap();
    run(Command::new("dpkg-deb")
        .arg("-x")
        .arg(&deb)
        .arg(scratch.path()));
    let unit =
        std::fs::read_to_string(scratch.path().join("lib/systemd/system/sunwai.service")).unwrap();
    for hardening in [
        "NoNewPrivileges=true",
        "ProtectSystem=strict",
        "CapabilityBoundingSet=CAP_NET_BIND_SERVICE",
        "User=sunwai",
        "StateDirectory=sunwai",
    ] {
        assert!(unit.contains(hardening), "{hardening}");
    }
    // systemd reads the unit as it is, but for where the binary is (unpacked here).
    if Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_ok()
    {
        let units = tempfile::tempdir().unwrap();
        let here = scratch.path().join("usr/bin/sunwai");
        let copy = units.path().join("sunwai.service");
        std::fs::write(
            &copy,
            unit.replace("/usr/bin/sunwai", &here.display().to_string()),
        )
        .unwrap();
        let out = Command::new("systemd-analyze")
            .arg("verify")
            .arg(&copy)
            .output()
            .unwrap();
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "systemd-analyze verify: {said}");
        assert!(
            !said.contains("sunwai.service:"),
            "systemd-analyze verify warns: {said}"
        );
    } else {
        println!("systemd-analyze is not on this machine: the unit file was not verified");
    }
    let config = scratch.path().join("etc/sunwai/sunwai.toml");
    assert!(std::fs::read_to_string(&config)
        .unwrap()
        .contains("data_dir = \"/var/lib/sunwai\""));
    let data = scratch.path().join("data");
    let mut doctor = Command::new(scratch.path().join("usr/bin/sunwai"));
    doctor
        .args(["doctor", "--config"])
        .arg(&config)
        .arg("--data-dir")
        .arg(&data);
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("SUNWAI_")) {
        doctor.env_remove(k);
    }
    let out = doctor.output().unwrap();
    let checklist = String::from_utf8_lossy(&out.stdout);
    assert!(checklist.contains("✓ configuration"), "{checklist}");
    assert!(checklist.contains("✓ database"), "{checklist}");
    // A fresh install has no staff yet: the doctor says so, and fails.
    assert!(
        !out.status.success() && checklist.contains("✗ staff accounts"),
        "{checklist}"
    );
}
