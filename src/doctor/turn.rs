//! A real TURN allocation (RFC 8656) with the server's own REST credentials, over the
//! transport each configured `turn:`/`turns:` URL names: what a browser behind a firewall
//! that blocks UDP will do. Only the few STUN messages an allocation needs: Allocate, its
//! 401 challenge, Allocate with long-term credentials, and a Refresh of lifetime 0 that
//! gives the allocation back.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use hmac::{KeyInit, Mac};
use md5::Digest;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore};

const MAGIC: u32 = 0x2112_A442;
const ALLOCATE: u16 = 0x0003;
const REFRESH: u16 = 0x0004;
const SUCCESS: u16 = 0x0100;
const ERROR: u16 = 0x0110;
const USERNAME: u16 = 0x0006;
const MESSAGE_INTEGRITY: u16 = 0x0008;
const ERROR_CODE: u16 = 0x0009;
const REALM: u16 = 0x0014;
const NONCE: u16 = 0x0015;
const XOR_RELAYED_ADDRESS: u16 = 0x0016;
const REQUESTED_TRANSPORT: u16 = 0x0019;
const LIFETIME: u16 = 0x000D;
/// An answer not come by then is a failure.
const TIMEOUT: Duration = Duration::from_secs(5);

/// Where and how to reach a TURN server, from its URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub host: String,
    pub port: u16,
    pub transport: Transport,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    Udp,
    Tcp,
    Tls,
}

impl Target {
    /// `turn:HOST[:PORT][?transport=udp|tcp]` or `turns:HOST[:PORT][?transport=tcp]`.
    pub fn parse(url: &str) -> anyhow::Result<Target> {
        let (tls, rest) = match url.split_once(':') {
            Some(("turn", r)) => (false, r),
            Some(("turns", r)) => (true, r),
            _ => bail!("{url:?} is not a turn: or turns: URL"),
        };
        let (hostport, query) = rest.split_once('?').unwrap_or((rest, ""));
        let tcp = match query.strip_prefix("transport=") {
            Some("tcp") => true,
            Some("udp") | None if query.is_empty() || query == "transport=udp" => false,
            _ => bail!("{url:?}: unknown {query:?}"),
        };
        let default_port = if tls { 5349 } else { 3478 };
        let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
            let (h, rest) = v6
                .split_once(']')
                .with_context(|| format!("{url:?}: unclosed ["))?;
            match rest.strip_prefix(':') {
                Some(p) => (h, p.parse().with_context(|| format!("{url:?}: bad port"))?),
                None => (h, default_port),
            }
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => (h, p.parse().with_context(|| format!("{url:?}: bad port"))?),
                None => (hostport, default_port),
            }
        };
        let host = host.to_owned();
        let transport = match (tls, tcp) {
            (true, _) => Transport::Tls,
            (false, true) => Transport::Tcp,
            (false, false) => Transport::Udp,
        };
        Ok(Target {
            host,
            port,
            transport,
        })
    }
}

/// Allocates a relay on `target` as `username`/`password`, gives it back, and returns the
/// relayed address the server gave.
pub async fn allocate(
    target: &Target,
    username: &str,
    password: &str,
) -> anyhow::Result<SocketAddr> {
    let addr = tokio::net::lookup_host((target.host.as_str(), target.port))
        .await
        .with_context(|| format!("{} does not resolve", target.host))?
        .next()
        .with_context(|| format!("{} has no address", target.host))?;
    let mut conn = match target.transport {
        Transport::Udp => {
            let s = UdpSocket::bind(if addr.is_ipv4() {
                "0.0.0.0:0"
            } else {
                "[::]:0"
            })
            .await?;
            s.connect(addr).await?;
            Conn::Udp(s)
        }
        Transport::Tcp => Conn::Stream(Box::new(connect_tcp(addr).await?)),
        Transport::Tls => {
            let tcp = connect_tcp(addr).await?;
            let name = ServerName::try_from(target.host.clone()).context("the TURN host name")?;
            let tls = tokio_rustls::TlsConnector::from(tls_client()?)
                .connect(name, tcp)
                .await
                .context("TLS with the TURN server (is its certificate valid for this name?)")?;
            Conn::Stream(Box::new(tls))
        }
    };
    // The challenge: realm and nonce.
    let first = conn
        .ask(&message(
            ALLOCATE,
            &[(REQUESTED_TRANSPORT, vec![17, 0, 0, 0])],
            None,
        ))
        .await?;
    let (realm, nonce) = match first.kind {
        k if k == ALLOCATE | ERROR && first.error == Some(401) => (
            first.attr(REALM).context("401 without a realm")?,
            first.attr(NONCE).context("401 without a nonce")?,
        ),
        k if k == ALLOCATE | SUCCESS => {
            bail!("the TURN server allocated without credentials: anyone can relay through it")
        }
        _ => bail!("unexpected answer to an Allocate: {}", first.describe()),
    };
    let key: [u8; 16] = md5::Md5::digest(format!(
        "{username}:{}:{password}",
        String::from_utf8_lossy(&realm)
    ))
    .into();
    let auth = |extra: Vec<(u16, Vec<u8>)>| {
        let mut attrs = vec![
            (USERNAME, username.as_bytes().to_vec()),
            (REALM, realm.clone()),
            (NONCE, nonce.clone()),
        ];
        attrs.extend(extra);
        attrs
    };
    let second = conn
        .ask(&message(
            ALLOCATE,
            &auth(vec![(REQUESTED_TRANSPORT, vec![17, 0, 0, 0])]),
            Some(&key),
        ))
        .await?;
    if second.kind != ALLOCATE | SUCCESS {
        bail!(
            "the TURN server refused the allocation: {} (do sunwai's turn_secret and coturn's static-auth-secret match, and are both clocks right?)",
            second.describe()
        );
    }
    let relayed = second
        .attr(XOR_RELAYED_ADDRESS)
        .and_then(|v| xor_address(&v))
        .context("no relayed address in the answer")?;
    // Give it back (lifetime 0); a failure here leaves it to expire by itself.
    let _ = conn
        .ask(&message(
            REFRESH,
            &auth(vec![(LIFETIME, vec![0, 0, 0, 0])]),
            Some(&key),
        ))
        .await;
    Ok(relayed)
}

async fn connect_tcp(addr: SocketAddr) -> anyhow::Result<TcpStream> {
    tokio::time::timeout(TIMEOUT, TcpStream::connect(addr))
        .await
        .with_context(|| format!("no answer from {addr} (a firewall?)"))?
        .with_context(|| format!("cannot connect to {addr}"))
}

/// The system's trusted roots (`SSL_CERT_FILE` and `SSL_CERT_DIR` are honoured), as a
/// browser would judge the TURN server's certificate.
fn tls_client() -> anyhow::Result<Arc<ClientConfig>> {
    let mut roots = RootCertStore::empty();
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(Arc::new(
        ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth(),
    ))
}

trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

enum Conn {
    Udp(UdpSocket),
    Stream(Box<dyn Stream>),
}

impl Conn {
    /// Sends `msg` and reads the answer (UDP: sent again once if nothing comes).
    async fn ask(&mut self, msg: &[u8]) -> anyhow::Result<Answer> {
        let raw = match self {
            Conn::Udp(s) => {
                let mut buf = vec![0u8; 1500];
                let mut got = None;
                for _ in 0..2 {
                    s.send(msg).await?;
                    if let Ok(n) = tokio::time::timeout(TIMEOUT / 2, s.recv(&mut buf)).await {
                        got = Some(n?);
                        break;
                    }
                }
                let n = got.context("no answer over UDP (a firewall?)")?;
                buf.truncate(n);
                buf
            }
            Conn::Stream(s) => {
                // The whole exchange within the time limit: a server that stops half-way
                // through an answer does not hold the doctor up.
                let exchange = async {
                    s.write_all(msg).await?;
                    let mut head = [0u8; 20];
                    s.read_exact(&mut head).await?;
                    let len = u16::from_be_bytes([head[2], head[3]]) as usize;
                    let mut body = vec![0u8; len];
                    s.read_exact(&mut body).await?;
                    Ok::<_, std::io::Error>([head.to_vec(), body].concat())
                };
                tokio::time::timeout(TIMEOUT, exchange)
                    .await
                    .context("no answer")??
            }
        };
        Answer::parse(&raw)
    }
}

/// A STUN message of `kind` with `attrs`, and MESSAGE-INTEGRITY under `key` if given.
fn message(kind: u16, attrs: &[(u16, Vec<u8>)], key: Option<&[u8; 16]>) -> Vec<u8> {
    let mut m = Vec::with_capacity(256);
    m.extend_from_slice(&kind.to_be_bytes());
    m.extend_from_slice(&[0, 0]);
    m.extend_from_slice(&MAGIC.to_be_bytes());
    m.extend_from_slice(&rand::random::<[u8; 12]>());
    for (t, v) in attrs {
        push_attr(&mut m, *t, v);
    }
    if let Some(key) = key {
        // The length covers the integrity attribute itself (RFC 8489 §14.5).
        let len = (m.len() - 20 + 24) as u16;
        m[2..4].copy_from_slice(&len.to_be_bytes());
        let mut mac =
            <hmac::Hmac<sha1::Sha1> as KeyInit>::new_from_slice(key).expect("any key length");
        mac.update(&m);
        let digest = mac.finalize().into_bytes();
        push_attr(&mut m, MESSAGE_INTEGRITY, &digest);
    }
    let len = (m.len() - 20) as u16;
    m[2..4].copy_from_slice(&len.to_be_bytes());
    m
}

fn push_attr(m: &mut Vec<u8>, t: u16, v: &[u8]) {
    m.extend_from_slice(&t.to_be_bytes());
    m.extend_from_slice(&(v.len() as u16).to_be_bytes());
    m.extend_from_slice(v);
    m.resize(m.len().div_ceil(4) * 4, 0);
}

/// The parts of an answer the allocation reads.
struct Answer {
    kind: u16,
    attrs: Vec<(u16, Vec<u8>)>,
    error: Option<u16>,
}

impl Answer {
    fn parse(raw: &[u8]) -> anyhow::Result<Answer> {
        if raw.len() < 20 || u32::from_be_bytes([raw[4], raw[5], raw[6], raw[7]]) != MAGIC {
            bail!("not a STUN answer");
        }
        let kind = u16::from_be_bytes([raw[0], raw[1]]);
        let mut attrs = Vec::new();
        let mut at = 20;
        while at + 4 <= raw.len() {
            let t = u16::from_be_bytes([raw[at], raw[at + 1]]);
            let len = u16::from_be_bytes([raw[at + 2], raw[at + 3]]) as usize;
            let v = raw
                .get(at + 4..at + 4 + len)
                .context("a STUN attribute runs past the end")?;
            attrs.push((t, v.to_vec()));
            at += 4 + len.div_ceil(4) * 4;
        }
        let error = attrs
            .iter()
            .find(|(t, _)| *t == ERROR_CODE)
            .filter(|(_, v)| v.len() >= 4)
            .map(|(_, v)| u16::from(v[2] & 7) * 100 + u16::from(v[3]));
        Ok(Answer { kind, attrs, error })
    }

    fn attr(&self, t: u16) -> Option<Vec<u8>> {
        self.attrs
            .iter()
            .find(|(a, _)| *a == t)
            .map(|(_, v)| v.clone())
    }

    fn describe(&self) -> String {
        match (self.error, self.attr(ERROR_CODE)) {
            (Some(code), Some(v)) => format!("error {code} {}", String::from_utf8_lossy(&v[4..])),
            _ => format!("message type {:#06x}", self.kind),
        }
    }
}

/// An XOR-…-ADDRESS value.
fn xor_address(v: &[u8]) -> Option<SocketAddr> {
    let port = u16::from_be_bytes(v.get(2..4)?.try_into().ok()?) ^ (MAGIC >> 16) as u16;
    match v.get(1)? {
        1 => {
            let ip = u32::from_be_bytes(v.get(4..8)?.try_into().ok()?) ^ MAGIC;
            Some(SocketAddr::from((std::net::Ipv4Addr::from(ip), port)))
        }
        // IPv6 needs the transaction id; an IPv6 relay is reported without its address.
        2 => Some(SocketAddr::from((std::net::Ipv6Addr::UNSPECIFIED, port))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn turn_urls() {
        let t = |u: &str| Target::parse(u).unwrap();
        assert_eq!(
            t("turn:turn.example.org"),
            Target {
                host: "turn.example.org".into(),
                port: 3478,
                transport: Transport::Udp
            }
        );
        assert_eq!(
            t("turn:10.0.0.1:3478?transport=tcp").transport,
            Transport::Tcp
        );
        assert_eq!(
            t("turns:turn.example.org:443?transport=tcp"),
            Target {
                host: "turn.example.org".into(),
                port: 443,
                transport: Transport::Tls
            }
        );
        assert_eq!(t("turns:turn.example.org").port, 5349);
        assert!(Target::parse("stun:x").is_err());
        assert!(Target::parse("turn:x?transport=sctp").is_err());
    }

    #[test]
    fn a_message_with_integrity_has_its_length_and_attributes_aligned() {
        let m = message(ALLOCATE, &[(USERNAME, b"abc".to_vec())], Some(&[1; 16]));
        assert_eq!(u16::from_be_bytes([m[2], m[3]]) as usize, m.len() - 20);
        assert_eq!(m.len() % 4, 0);
        let a = Answer::parse(&m).unwrap();
        assert_eq!(a.attr(USERNAME).unwrap(), b"abc");
        assert_eq!(a.attr(MESSAGE_INTEGRITY).unwrap().len(), 20);
        assert!(Answer::parse(&m[..10]).is_err());
    }

    #[test]
    fn a_short_or_odd_relayed_address_is_no_address() {
        assert_eq!(xor_address(&[]), None);
        assert_eq!(xor_address(&[0, 1, 0]), None);
        assert_eq!(xor_address(&[0, 1, 0, 0, 1]), None);
        assert_eq!(xor_address(&[0, 9, 0, 0, 0, 0, 0, 0]), None);
        let port = 3478u16 ^ (MAGIC >> 16) as u16;
        let ip = u32::from(std::net::Ipv4Addr::new(10, 0, 0, 1)) ^ MAGIC;
        let mut v = vec![0, 1];
        v.extend_from_slice(&port.to_be_bytes());
        v.extend_from_slice(&ip.to_be_bytes());
        assert_eq!(xor_address(&v), Some("10.0.0.1:3478".parse().unwrap()));
    }
}
