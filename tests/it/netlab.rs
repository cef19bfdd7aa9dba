//! A test network in which clients meet the server the way citizens' phones do.
//!
//! Real browsers never use loopback ICE candidates: they send from their interfaces'
//! addresses. So each client a test runs (a browser, aiortc) gets a network namespace of
//! its own, with one interface and its own address, reaching the server over a veth pair;
//! the server listens on an address of the root namespace (a /32 on `lo`) that every
//! namespace routes to. Nothing leaves the machine: every address is one the lab made, and
//! the lab removes them all when dropped (killing whatever still runs in its namespaces).
//!
//! A *shaped* host (`Lab::new_shaped`) reaches the root namespace through a third
//! namespace in between, where `tests/clients/link_shaper.py` bridges the two veth pairs
//! and imposes a weak mobile link (rate, delay, jitter, loss per direction). The host and
//! the root still see each other as neighbours on the same /30.
//!
//! Needs root (CI runs as root). Without it, creating a lab fails the test: a test of how
//! clients meet the server never passes without clients.

use std::net::Ipv4Addr;
use std::process::Command;
use std::sync::atomic::{AtomicU8, Ordering};

/// Labs made by this process so far (the third octet of their addresses).
static LABS: AtomicU8 = AtomicU8::new(0);

pub struct Lab {
    /// The server's address: listen here.
    pub server: Ipv4Addr,
    pub hosts: Vec<Host>,
}

/// One client's namespace.
pub struct Host {
    pub ns: String,
    /// The namespace's address (its end of the veth pair).
    pub ip: Ipv4Addr,
    /// The root namespace's end of the pair, the namespace's default route.
    pub gw: Ipv4Addr,
    /// The root end's interface name: set it down to cut this client off.
    pub link: String,
    /// For a shaped host: the namespace in between and its two interfaces (towards the
    /// host, towards the root namespace), for the shaper to bridge.
    pub router: Option<(String, String, String)>,
}

/// Runs `ip ARGS`, panicking with its output when it fails.
pub fn ip(args: &[&str]) {
    let out = Command::new("ip")
        .args(args)
        .output()
        .expect("the `ip` command (iproute2) is needed for the network tests");
    assert!(
        out.status.success(),
        "ip {}: {} (the network tests need root, as CI has)",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr).trim()
    );
}

/// Turns off checksum and segmentation offloads on `dev` (in namespace `ns`, or the root).
fn no_offloads(ns: Option<&str>, dev: &str) {
    let mut c = match ns {
        Some(ns) => {
            let mut c = Command::new("ip");
            c.args(["netns", "exec", ns, "ethtool"]);
            c
        }
        None => Command::new("ethtool"),
    };
    let out = c
        .args([
            "-K", dev, "tx", "off", "tso", "off", "gso", "off", "gro", "off",
        ])
        .output()
        .expect("ethtool is needed for shaped links (scripts/test installs it)");
    assert!(
        out.status.success(),
        "ethtool -K {dev}: {}",
        String::from_utf8_lossy(&out.stderr).trim()
    );
}

/// Like [`ip`], for clean-up: failures (already gone) are fine.
fn ip_quiet(args: &[&str]) {
    let _ = Command::new("ip").args(args).output();
}

impl Lab {
    /// A server address and `hosts` client namespaces.
    pub fn new(hosts: usize) -> Lab {
        Lab::new_shaped(hosts, &[])
    }

    /// Like [`Lab::new`], with the hosts numbered in `shaped` behind a namespace of their
    /// own for a link shaper (see the module comment). Nothing passes between such a host
    /// and the server until a shaper runs there.
    pub fn new_shaped(hosts: usize, shaped: &[usize]) -> Lab {
        assert!(hosts <= 60, "a lab has at most 60 hosts");
        let pid = std::process::id();
        let n = LABS.fetch_add(1, Ordering::Relaxed);
        assert!(n < 250, "too many labs in one test run");
        // 10.64.0.0/10 split by process, so that test runs side by side never collide.
        let net = 64 + (pid % 64) as u8;
        let server = Ipv4Addr::new(10, net, 250, n + 1);
        let server_cidr = format!("{server}/32");
        ip_quiet(&["addr", "del", &server_cidr, "dev", "lo"]);
        ip(&["addr", "add", &server_cidr, "dev", "lo"]);
        let mut lab = Lab {
            server,
            hosts: Vec::new(),
        };
        for i in 0..hosts {
            let base = (i * 4) as u8;
            let gw = Ipv4Addr::new(10, net, n, base + 1);
            let addr = Ipv4Addr::new(10, net, n, base + 2);
            let ns = format!("sunwai-{pid}-{n}-{i}");
            let link = format!("swh{}n{n}h{i}", pid % 100_000);
            let inner = format!("swn{}n{n}h{i}", pid % 100_000);
            // Leftovers of a run that was killed with the same numbers.
            ip_quiet(&["netns", "del", &ns]);
            ip_quiet(&["link", "del", &link]);
            ip(&["netns", "add", &ns]);
            let router = shaped.contains(&i).then(|| {
                (
                    format!("sunwai-{pid}-{n}-{i}-r"),
                    format!("swa{}n{n}h{i}", pid % 100_000),
                    format!("swb{}n{n}h{i}", pid % 100_000),
                )
            });
            if let Some((r, _, _)) = &router {
                ip_quiet(&["netns", "del", r]);
                ip(&["netns", "add", r]);
            }
            // Pushed now so that a failure below still removes what was made.
            lab.hosts.push(Host {
                ns: ns.clone(),
                ip: addr,
                gw,
                link: link.clone(),
                router: router.clone(),
            });
            let inside = |args: &[&str]| {
                let mut all = vec!["netns", "exec", &ns, "ip"];
                all.extend_from_slice(args);
                ip(&all);
            };
            match &router {
                None => {
                    ip(&["link", "add", &link, "type", "veth", "peer", "name", &inner]);
                    ip(&["link", "set", &inner, "netns", &ns]);
                }
                Some((r, towards_host, towards_root)) => {
                    // host [inner] ── [towards_host] router [towards_root] ── [link] root
                    ip(&[
                        "link",
                        "add",
                        towards_host,
                        "type",
                        "veth",
                        "peer",
                        "name",
                        &inner,
                    ]);
                    ip(&["link", "set", &inner, "netns", &ns]);
                    ip(&["link", "set", towards_host, "netns", r]);
                    ip(&[
                        "link",
                        "add",
                        &link,
                        "type",
                        "veth",
                        "peer",
                        "name",
                        towards_root,
                    ]);
                    ip(&["link", "set", towards_root, "netns", r]);
                    for dev in [towards_host, towards_root] {
                        ip(&[
                            "netns", "exec", r, "ip", "link", "set", dev, "promisc", "on", "up",
                        ]);
                        no_offloads(Some(r), dev);
                    }
                    // The bridge copies frames as they are: checksums must be complete and
                    // no frame larger than the MTU (offloads off at both ends).
                    no_offloads(None, &link);
                    no_offloads(Some(&ns), &inner);
                    let _ = Command::new("ip")
                        .args([
                            "netns",
                            "exec",
                            r,
                            "sysctl",
                            "-qw",
                            "net.ipv6.conf.all.disable_ipv6=1",
                        ])
                        .status();
                }
            }
            ip(&["addr", "add", &format!("{gw}/30"), "dev", &link]);
            ip(&["link", "set", &link, "up"]);
            inside(&["addr", "add", &format!("{addr}/30"), "dev", &inner]);
            inside(&["link", "set", &inner, "up"]);
            inside(&["link", "set", "lo", "up"]);
            inside(&["route", "add", "default", "via", &gw.to_string()]);
        }
        lab
    }

    /// The lab as the browser tests read it (`SUNWAI_LAB`).
    pub fn json(&self) -> String {
        let hosts: Vec<serde_json::Value> = self
            .hosts
            .iter()
            .map(|h| {
                let router = h.router.as_ref().map(|(ns, inside, outside)| {
                    serde_json::json!({ "ns": ns, "inside": inside, "outside": outside })
                });
                serde_json::json!({
                    "ns": h.ns, "ip": h.ip.to_string(), "gw": h.gw.to_string(), "link": h.link,
                    "router": router,
                })
            })
            .collect();
        serde_json::json!({ "server": self.server.to_string(), "hosts": hosts }).to_string()
    }
}

impl Host {
    /// `program` run inside this host's namespace.
    pub fn command(&self, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.ns, program]);
        c
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for h in &self.hosts {
            let router = h.router.as_ref().map(|(r, _, _)| r.as_str());
            for ns in std::iter::once(h.ns.as_str()).chain(router) {
                // Whatever a test started in the namespace goes with it.
                if let Ok(out) = Command::new("ip").args(["netns", "pids", ns]).output() {
                    for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                        let _ = Command::new("kill").args(["-9", pid]).status();
                    }
                }
                ip_quiet(&["netns", "del", ns]);
            }
            ip_quiet(&["link", "del", &h.link]);
        }
        ip_quiet(&["addr", "del", &format!("{}/32", self.server), "dev", "lo"]);
    }
}
