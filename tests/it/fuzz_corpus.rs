//! The fuzz targets' checks (`fuzz/src/bodies.rs`, included here) over a fixed corpus of a
//! few thousand inputs each, generated from seeds by seeded mutation: truncation, byte
//! flips, insertions of troublesome tokens, splices and repeats. CI runs this; building
//! the libFuzzer targets takes too long for CI (see docs/security.md), and
//! `cargo fuzz run -s none TARGET` runs the same bodies for as long as one likes.

#[allow(dead_code)]
#[path = "../../fuzz/src/bodies.rs"]
mod bodies;

/// Inputs per target.
const INPUTS: usize = 3000;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Tokens that parsers trip over.
const TOKENS: &[&[u8]] = &[
    b"\"",
    b"\\",
    b"\\u0000",
    b"\\ud800",
    b"{",
    b"}",
    b"[",
    b"]",
    b",",
    b":",
    b"null",
    b"-1",
    b"18446744073709551616",
    b"1e999",
    b"\r\n",
    b"\n",
    b"=",
    b"\xff",
    b"\xe0\xa4",
    b"\0",
    b"+91",
    b"m=",
    b"a=",
    b"[[desks]]",
    b"0.0.0.0/0",
    b"\xe2\x80\xae",
];

/// `INPUTS` inputs: the seeds themselves, then mutants of them.
fn corpus(seeds: &[Vec<u8>], seed: u64) -> Vec<Vec<u8>> {
    let mut rng = Rng(seed);
    let mut out: Vec<Vec<u8>> = seeds.to_vec();
    while out.len() < INPUTS {
        let mut v = seeds[rng.below(seeds.len())].clone();
        for _ in 0..1 + rng.below(4) {
            let at = rng.below(v.len() + 1);
            match rng.below(7) {
                0 => v.truncate(at),
                1 if !v.is_empty() => {
                    let i = rng.below(v.len());
                    v[i] ^= 1 << rng.below(8);
                }
                2 => {
                    let t = TOKENS[rng.below(TOKENS.len())];
                    v.splice(at..at, t.iter().copied());
                }
                3 => {
                    let end = (at + rng.below(64)).min(v.len());
                    v.drain(at..end);
                }
                4 => {
                    let other = &seeds[rng.below(seeds.len())];
                    let from = rng.below(other.len() + 1);
                    v.truncate(at);
                    v.extend_from_slice(&other[from..]);
                }
                5 => {
                    let end = (at + rng.below(32)).min(v.len());
                    let piece = v[at..end].to_vec();
                    for _ in 0..rng.below(50) {
                        v.splice(at..at, piece.iter().copied());
                    }
                }
                _ => {
                    let n = rng.below(16);
                    let bytes: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
                    v.splice(at..at, bytes);
                }
            }
        }
        out.push(v);
    }
    out
}

fn files(dir: &str) -> Vec<Vec<u8>> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    paths.sort();
    paths.iter().map(|p| std::fs::read(p).unwrap()).collect()
}

fn run(name: &str, seeds: &[Vec<u8>], body: fn(&[u8])) {
    let inputs = corpus(seeds, 0xF022 ^ name.len() as u64);
    for (i, input) in inputs.iter().enumerate() {
        let r = std::panic::catch_unwind(|| body(input));
        assert!(
            r.is_ok(),
            "{name}: input {i} failed: {:?}",
            String::from_utf8_lossy(input)
        );
    }
    println!("{name}: {} inputs", inputs.len());
}

#[test]
fn signaling_parser() {
    let mut seeds = files("signaling/fixtures/client");
    seeds.extend(files("signaling/fixtures/server"));
    seeds.push(br#"{"type":"hello","v":1,"session":null,"ticket":"t","lang":"hi"}"#.to_vec());
    seeds.push(b"[]".to_vec());
    run("signaling", &seeds, bodies::signaling);
}

#[test]
fn intake_validation() {
    let seeds: Vec<Vec<u8>> = [
        &b"\x01Asha Devi\xff98765 43210\xffKotwali\xfftheft\xffbicycle stolen\xffhi"[..],
        b"\x03\xe0\xa4\xb0\xe0\xa4\xbe\xe0\xa4\xae\xff+44 7700 900123\xffCivil Lines\xffown\xff\xffen",
        b"\x01x\xff091-98765-43210\xffa\xffother\xff\xff",
        b"\x00\xff\xff\xff\xff\xff",
    ]
    .iter()
    .map(|s| s.to_vec())
    .collect();
    run("intake", &seeds, bodies::intake);
}

#[test]
fn config_loader() {
    let seeds = vec![
        sunwai::config::EXAMPLE.as_bytes().to_vec(),
        b"listen = \"127.0.0.1:9000\"\ntrusted_proxies = [\"10.0.0.0/8\"]\n".to_vec(),
        b"[[desks]]\nid = \"a\"\nname = \"A\"\nprefix = \"AB\"\nwindows = [\"10:00-11:00\"]\n"
            .to_vec(),
        b"[limits]\nmessages_per_second = 0\n".to_vec(),
    ];
    run("config_toml", &seeds, bodies::config_toml);
}

#[test]
fn sdp_parser() {
    let seeds = vec![
        b"v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n".to_vec(),
        b"v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0 1\r\n\
          m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\n\
          a=rtpmap:111 opus/48000/2\r\na=fmtp:111 minptime=10;useinbandfec=1\r\n\
          a=candidate:1 1 udp 2122260223 192.168.1.5 54321 typ host\r\na=sendrecv\r\n\
          m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=mid:1\r\n\
          a=rtpmap:96 VP8/90000\r\na=extmap:1 urn:ietf:params:rtp-hdrext:sdes:mid\r\n\
          a=ssrc:1 cname:x\r\na=recvonly\r\n"
            .to_vec(),
        b"v=0\no=- 0 0 IN IP6 ::1\ns=x\nb=AS:1\nt=0 0\nr=7d 1h 0 25h\nz=0 -1h\nk=clear:x\n"
            .to_vec(),
    ];
    run("sdp", &seeds, bodies::sdp);
}
