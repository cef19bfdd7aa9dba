// A hearing over a weak mobile link: the citizen's Chromium sits behind a shaped link
// (tests/clients/link_shaper.py in the namespace between theirs and the server's: a rate
// limit, delay, jitter and random loss per direction), the officer's Chromium on a clean
// one. For each condition a whole hearing is held; once a second both pages' getStats()
// are read, and the figures per direction go to SUNWAI_WEAK_RESULTS for the Rust side
// (tests/it/weak_link.rs), which prints them and checks the bounds.
//
// Run by tests/it/weak_link.rs only; deliberately not named *.test.mjs, so browser.rs's
// `node --test tests/browser/` leaves it out.
//
// SUNWAI_WEAK_CONDITIONS: [{ name, secs, up: {...}, down: {...}, steps: [{ at, up, down }] }]
// with link_shaper.py's settings (rate_kbit, delay_ms, jitter_ms, loss, queue_ms); `steps`
// change the link `at` seconds after the accept. "up" is what the citizen sends.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { LAB, ROOT, withPages } from './helpers.mjs';
import { citizen, officer, decodes } from './participants.mjs';

const CONDITIONS = JSON.parse(process.env.SUNWAI_WEAK_CONDITIONS || '[]');
const RESULTS = process.env.SUNWAI_WEAK_RESULTS;
if (!CONDITIONS.length || !RESULTS) throw new Error('run through `cargo test weak_link` (tests/it/weak_link.rs)');
const [CITIZEN, OFFICER] = LAB.hosts;
const BASE = process.env.SUNWAI_URL;

const results = [];
after(() => writeFileSync(RESULTS, JSON.stringify(results, null, 2)));

/** The link shaper in the citizen's router namespace, driven over stdin. */
class Shaper {
  static async start(host) {
    const r = host.router;
    assert.ok(r, 'the citizen has no shaped link');
    const proc = spawn('ip', ['netns', 'exec', r.ns, 'python3', join(ROOT, 'tests/clients/link_shaper.py'), '--inside', r.inside, '--outside', r.outside, '--seed', '7'], { stdio: ['pipe', 'pipe', 'inherit'] });
    const s = new Shaper(proc);
    await s.next(); // ready
    return s;
  }

  constructor(proc) {
    this.proc = proc;
    this.lines = [];
    this.waiters = [];
    createInterface({ input: proc.stdout }).on('line', (line) => {
      const w = this.waiters.shift();
      if (w) w(JSON.parse(line)); else this.lines.push(JSON.parse(line));
    });
  }

  next() {
    if (this.lines.length) return Promise.resolve(this.lines.shift());
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  async cmd(c) { this.proc.stdin.write(`${JSON.stringify(c)}\n`); return this.next(); }
  async set(up, down) { return this.cmd({ cmd: 'set', up: up || {}, down: down || {} }); }
  async stop() { await this.cmd({ cmd: 'quit' }).catch(() => {}); this.proc.kill('SIGKILL'); }
}

/** One HTTPS request to the server (its certificate is the test's own), JSON in and out. */
function api(method, path, body, token) {
  return new Promise((resolve, reject) => {
    const headers = { 'content-type': 'application/json' };
    if (token) headers.authorization = `Bearer ${token}`;
    const req = request(new URL(path, BASE), { method, headers, rejectUnauthorized: false }, (res) => {
      let text = '';
      res.on('data', (d) => { text += d; });
      res.on('end', () => (res.statusCode === 200 ? resolve(JSON.parse(text)) : reject(new Error(`${method} ${path}: ${res.statusCode} ${text}`))));
    });
    req.on('error', reject);
    req.end(body ? JSON.stringify(body) : undefined);
  });
}

/** The server's media counters (`/api/media`, as a supervisor). */
async function serverMedia() {
  const { token } = await api('POST', '/api/login', { username: 'supervisor', password: process.env.SUNWAI_PASSWORD });
  return api('GET', '/api/media', null, token);
}

const COUNTERS = ['audio_redundant_out', 'keyframe_requests_in', 'keyframe_requests_out', 'keyframe_requests_throttled', 'video_pauses', 'video_resumes'];

/** The largest share of speech concealed in any `n` consecutive seconds of `series`. */
function worstWindow(series, side, n) {
  let worst = null;
  for (let i = 0; i + n <= series.length; i++) {
    const w = series.slice(i, i + n).map((p) => p[side]);
    const samples = w.reduce((a, x) => a + (x.audio_samples || 0), 0);
    const concealed = w.reduce((a, x) => a + (x.audio_concealed || 0), 0);
    if (samples > 0) worst = Math.max(worst ?? 0, (100 * concealed) / samples);
  }
  return worst;
}

/** One page's inbound audio and video, and outbound video, from getStats(). */
async function sample(page) {
  return page.evaluate(async () => {
    const pc = window.sunwaiCallMedia && window.sunwaiCallMedia.pc;
    const out = { t: performance.now(), audio: null, video: null, sent: null };
    if (!pc) return out;
    out.state = `${pc.connectionState}/${pc.iceConnectionState}`;
    (await pc.getStats()).forEach((r) => {
      if (r.type === 'transport') out.dtls = r.dtlsState;
      if (r.type === 'inbound-rtp' && r.kind === 'audio') {
        out.audio = { samples: r.totalSamplesReceived || 0, concealed: r.concealedSamples || 0, received: r.packetsReceived || 0, lost: r.packetsLost || 0 };
      }
      if (r.type === 'inbound-rtp' && r.kind === 'video') {
        out.video = { frames: r.framesDecoded || 0, freeze: r.totalFreezesDuration || 0, width: r.frameWidth || 0, height: r.frameHeight || 0, keyframes: r.keyFramesDecoded || 0 };
      }
      if (r.type === 'outbound-rtp' && r.kind === 'video') {
        out.sent = { bytes: r.bytesSent || 0, width: r.frameWidth || 0, height: r.frameHeight || 0, fps: r.framesPerSecond || 0, limitation: r.qualityLimitationReason || '' };
      }
      if (r.type === 'outbound-rtp' && r.kind === 'audio') out.audioSent = { bytes: r.bytesSent || 0 };
    });
    return out;
  });
}

/** What one side received between two samples (`a` before `b`). */
function received(a, b, secs) {
  const au = a.audio && b.audio ? {
    samples: b.audio.samples - a.audio.samples,
    concealed: b.audio.concealed - a.audio.concealed,
    received: b.audio.received - a.audio.received,
    lost: b.audio.lost - a.audio.lost,
  } : null;
  // No video yet at the first sample counts as nothing decoded so far.
  const av = a.video || { frames: 0, freeze: 0 };
  const vi = b.video ? {
    frames: b.video.frames - av.frames,
    freeze: b.video.freeze - av.freeze,
  } : null;
  return {
    audio_samples: au ? au.samples : null,
    audio_concealed: au ? au.concealed : null,
    keyframes: b.video ? (b.video.keyframes || 0) - (av.keyframes || 0) : null,
    concealed_pct: au && au.samples > 0 ? (100 * au.concealed) / au.samples : null,
    audio_lost_pct: au && au.received + au.lost > 0 ? (100 * au.lost) / (au.received + au.lost) : null,
    fps: vi ? vi.frames / secs : 0,
    frozen_secs: vi ? vi.freeze : null,
    resolution: b.video ? `${b.video.width}x${b.video.height}` : null,
  };
}

for (const cond of CONDITIONS) {
  test(`a hearing over a weak link: ${cond.name}`, withPages(`weak-${cond.name}`, async () => {
    const shaper = await Shaper.start(CITIZEN);
    let o;
    let c;
    try {
      await shaper.set(cond.up, cond.down);
      o = await officer('chromium', OFFICER, 'officer1', BASE);
      c = await citizen('chromium', CITIZEN, BASE);
      await c.join(`weak ${cond.name}`);
      const joined = Date.now();
      // A citizen near the front sets up media while waiting (instant connect), as one who
      // waited even a minute has: the accept follows once that connection is up (or after
      // 30 s), so that the first audio measures the call, not the set-up.
      // Each step of that set-up (signaling, ICE gathering and checks, DTLS), with its time.
      let instantConnectMs = null;
      const setup = [];
      while (Date.now() - joined < 30000) {
        const state = await c.page.evaluate(async () => {
          const pc = window.sunwaiCallMedia && window.sunwaiCallMedia.pc;
          if (!pc) return null;
          let dtls = '';
          (await pc.getStats()).forEach((r) => { if (r.type === 'transport') dtls = r.dtlsState; });
          return `${pc.signalingState} ${pc.iceGatheringState} ${pc.iceConnectionState} dtls:${dtls} ${pc.connectionState}`;
        });
        if (state && (!setup.length || setup[setup.length - 1].state !== state)) setup.push({ ms: Date.now() - joined, state });
        if (state && state.endsWith(' connected')) { instantConnectMs = Date.now() - joined; break; }
        await new Promise((r) => setTimeout(r, 100));
      }
      await o.onDuty();
      await o.offered();
      const before = await serverMedia();
      const accepted = Date.now();
      await o.accept();
      await c.inCall();
      // First audio heard at each side after the accept.
      const firstAudio = {};
      for (;;) {
        const [sc, so] = await Promise.all([sample(c.page), sample(o.page)]);
        const t = Date.now() - accepted;
        if (firstAudio.citizen == null && sc.audio && sc.audio.samples > 0) firstAudio.citizen = t;
        if (firstAudio.officer == null && so.audio && so.audio.samples > 0) firstAudio.officer = t;
        if (firstAudio.citizen != null && firstAudio.officer != null) break;
        assert.ok(t < 30000, `no audio 30 s after the accept: ${JSON.stringify({ sc, so })}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      // Once a second for the condition's length; the link changes at its steps.
      const series = [];
      const steps = [...(cond.steps || [])];
      const start = Date.now();
      let prev = await Promise.all([sample(c.page), sample(o.page)]);
      const first = prev;
      while (Date.now() - start < cond.secs * 1000) {
        await new Promise((r) => setTimeout(r, 1000));
        const at = (Date.now() - start) / 1000;
        while (steps.length && steps[0].at <= at) {
          const s = steps.shift();
          await shaper.set(s.up, s.down);
        }
        const now = await Promise.all([sample(c.page), sample(o.page)]);
        const secs = (now[0].t - prev[0].t) / 1000;
        // What each page says about video paused for a weak link.
        const notice = {
          citizen: await c.page.locator('#video-notice').isVisible(),
          officer: await o.page.locator('#video-notice').isVisible(),
        };
        series.push({
          at: Math.round(at),
          notice,
          citizen: received(prev[0], now[0], secs),
          officer: received(prev[1], now[1], secs),
          officer_sends_kbps: now[1].sent && prev[1].sent ? ((now[1].sent.bytes - prev[1].sent.bytes) * 8) / 1000 / secs : null,
          officer_sends: now[1].sent,
          citizen_sends_kbps: now[0].sent && prev[0].sent ? ((now[0].sent.bytes - prev[0].sent.bytes) * 8) / 1000 / secs : null,
        });
        prev = now;
      }
      const total = (first[0].t && prev[0].t) ? (prev[0].t - first[0].t) / 1000 : cond.secs;
      const link = await shaper.cmd({ cmd: 'stats' });
      const media = await serverMedia();
      const server = Object.fromEntries(COUNTERS.map((k) => [k, media[k] - before[k]]));
      // Spans (seconds into the measurement) during which either page said video was paused.
      const paused = [];
      for (const p of series) {
        const on = p.notice.citizen || p.notice.officer;
        const last = paused[paused.length - 1];
        if (on && (!last || last.to != null)) paused.push({ from: p.at, to: null });
        if (!on && last && last.to == null) last.to = p.at;
      }
      results.push({
        name: cond.name,
        video_paused: paused,
        first_audio_ms: firstAudio,
        instant_connect_ms: instantConnectMs,
        setup,
        citizen: { ...received(first[0], prev[0], total), worst_10s_concealed_pct: worstWindow(series, 'citizen', 10) },
        officer: { ...received(first[1], prev[1], total), worst_10s_concealed_pct: worstWindow(series, 'officer', 10) },
        server,
        series,
        link,
      });
      await o.finish({ category: 'theft', station: 'kotwali', action: `weak link: ${cond.name}` });
      await c.ended();
    } finally {
      if (c) await c.close();
      if (o) await o.close();
      await shaper.stop();
    }
  }));
}
