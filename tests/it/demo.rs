//! First run: `serve` on an empty data directory makes no account; `serve --demo` makes the
//! two demo accounts with passwords shown once, and only on loopback.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};

fn sunwai() -> Command {
    crate::helpers::sunwai_command()
}

/// Starts `serve` with `args`; returns the child, the lines it printed before its URL, and
/// the address.
// The child is returned: the caller kills and waits for it (the lint does not see that).
#[allow(clippy::zombie_processes)]
fn serve(args: &[&str]) -> (Child, Vec<String>, String) {
    let mut child = sunwai()
        .arg("serve")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut before = Vec::new();
    loop {
        let mut line = String::new();
        if stdout.read_line(&mut line).unwrap_or(0) == 0 {
            let status = child.wait();
            panic!("serve exited ({status:?}): {before:?}");
        }
        if let Some(url) = line.split_whitespace().find(|w| w.starts_with("http://")) {
            let addr = url.trim_start_matches("http://").trim_end_matches('/');
            // Keep the pipe open while the server runs.
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut stdout, &mut std::io::sink());
            });
            return (child, before, addr.to_owned());
        }
        before.push(line.trim_end().to_owned());
    }
}

fn login_status(addr: &str, username: &str, password: &str) -> String {
    let body = format!(r#"{{"username":"{username}","password":"{password}"}}"#);
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "POST /api/login HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    resp.lines().next().unwrap_or_default().to_owned()
}

fn users(data: &str) -> String {
    let out = sunwai()
        .args(["user", "list", "--data-dir", data])
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn first_run_creates_no_account() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    let (mut child, _, addr) = serve(&["--listen", "127.0.0.1:0", "--data-dir", data]);
    assert!(login_status(&addr, "admin", "admin").contains("401"));
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(users(data), "", "no default or demo account");
}

#[test]
fn demo_accounts_are_made_once_with_passwords_shown_once() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    let args = ["--demo", "--listen", "127.0.0.1:0", "--data-dir", data];
    let (mut child, lines, addr) = serve(&args);
    let mut passwords = std::collections::HashMap::new();
    for l in &lines {
        let words: Vec<&str> = l.split_whitespace().collect();
        if let Some(i) = words.iter().position(|w| *w == "password:") {
            passwords.insert(words[i - 1].to_owned(), words[i + 1].to_owned());
        }
    }
    assert_eq!(passwords.len(), 2, "{lines:?}");
    for name in ["demo-officer", "demo-supervisor"] {
        let pw = &passwords[name];
        assert!(pw.len() >= 20, "a long random password: {pw}");
        assert!(login_status(&addr, name, pw).contains("200"), "{name}");
        assert!(login_status(&addr, name, "demo").contains("401"));
    }
    assert_ne!(passwords["demo-officer"], passwords["demo-supervisor"]);
    child.kill().unwrap();
    child.wait().unwrap();
    let list = users(data);
    assert!(
        list.contains("demo-officer\tofficer\tssp-prayagraj"),
        "{list}"
    );
    assert!(
        list.contains("demo-supervisor\tsupervisor\t(all desks)"),
        "{list}"
    );

    // A second start leaves them alone and shows no password.
    let (mut child, lines, addr) = serve(&args);
    assert!(lines.iter().all(|l| !l.contains("password:")), "{lines:?}");
    assert!(
        lines.iter().any(|l| l.contains("exist already")),
        "{lines:?}"
    );
    let pw = &passwords["demo-supervisor"];
    assert!(login_status(&addr, "demo-supervisor", pw).contains("200"));
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn demo_refuses_a_non_loopback_address() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    for listen in ["0.0.0.0:0", "[::]:0"] {
        let out = sunwai()
            .args(["serve", "--demo", "--listen", listen, "--data-dir"])
            .arg(&data)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{listen}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("loopback") && err.contains("--demo"), "{err}");
        assert!(!String::from_utf8_lossy(&out.stdout).contains("password"));
    }
    assert!(!data.exists(), "nothing was created");
}
