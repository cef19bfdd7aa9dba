// The two sides of a hearing, one implementation per kind of client, all driven the same
// way by the interoperability matrix (interop.test.mjs): a citizen joins and later sees the
// call end; an officer goes on duty, is offered the citizen, accepts, files the outcome and
// ends the call. `media()` reads what the client decoded so far: video frames and audio
// (Chromium and Firefox: getStats() of the page's call; aiortc: frames its tracks
// delivered). Every client runs in its own network namespace of the lab, against the
// interoperability matrix's own server (INTEROP) unless given another base URL.
//
// Kinds: 'chromium' and 'firefox' (the real pages, as citizens and officers use them) and
// 'aiortc' (tests/clients/aiortc_peer.py: an independent WebRTC stack speaking the
// signaling protocol itself).

import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import {
  ROOT, INTEROP, PASSWORD, DESKTOP, launch, newPage, joinQueue, signIn, screen, expectText, inboundMedia,
} from './helpers.mjs';

const PYTHON = process.env.PYTHON || 'python3';

/** A citizen of `kind` in `host`'s namespace, not yet joined, of the server at `base`.
 *  `peerArgs`: more arguments for aiortc_peer.py (e.g. `['--video-codec', 'h264']`). */
export async function citizen(kind, host, base = INTEROP, peerArgs = []) {
  return kind === 'aiortc' ? new PeerCitizen(await Peer.start(host, base, peerArgs)) : new PageCitizen(await launch(host, kind), kind, base);
}

/** An officer of `kind` in `host`'s namespace, signed in as `username`, not yet on duty. */
export async function officer(kind, host, username, base = INTEROP, peerArgs = []) {
  if (kind === 'aiortc') {
    const peer = await Peer.start(host, base, peerArgs);
    await peer.cmd({ cmd: 'staff', username, password: PASSWORD });
    return new PeerOfficer(peer);
  }
  const browser = await launch(host, kind);
  const page = await newPage(browser, `officer-${kind}`, DESKTOP);
  await page.goto(`${base}/officer`);
  await signIn(page, username);
  return new PageOfficer(browser, page);
}

// ---- the pages ------------------------------------------------------------------------------

class PageCitizen {
  constructor(browser, kind, base) { this.browser = browser; this.kind = kind; this.base = base; }

  async join(name) {
    this.page = await newPage(this.browser, `citizen-${this.kind}`);
    return { reference: await joinQueue(this.page, name, {}, this.base) };
  }

  async inCall() { await screen(this.page, 's-call'); }
  async media() { return inboundMedia(this.page); }
  async ended() { await screen(this.page, 's-end'); }
  async close() { await this.browser.close(); }
}

class PageOfficer {
  constructor(browser, page) { this.browser = browser; this.page = page; }

  async onDuty() {
    await this.page.click('#duty-on');
  }

  async offered() {
    await this.page.locator('#offer').waitFor({ state: 'visible' });
  }

  async accept() {
    await this.page.click('#accept');
    await this.page.locator('#call').waitFor({ state: 'visible' });
  }

  async media() { return inboundMedia(this.page); }

  /** The outcome during the call, then the end; back to ready, then off duty. */
  async finish({ category, station, action }) {
    const p = this.page;
    await p.locator('#outcome').waitFor({ state: 'visible' });
    await p.selectOption('#o-category', category);
    await p.selectOption('#o-station', station);
    await p.fill('#o-action', action);
    await p.click('#outcome-form button[type=submit]');
    await expectText(p, '#outcome-status', /सहेजा गया/);
    await p.click('#end-call');
    await p.locator('#call').waitFor({ state: 'hidden' });
    await p.click('#ready');
    await p.click('#duty-off');
  }

  async close() { await this.browser.close(); }
}

// ---- aiortc ---------------------------------------------------------------------------------

/** One aiortc_peer.py process in a namespace, commands matched to results by id. */
class Peer {
  static async start(host, base, extra = []) {
    const args = ['netns', 'exec', host.ns, PYTHON, join(ROOT, 'tests/clients/aiortc_peer.py'), '--base', base, '--insecure', ...extra];
    const proc = spawn('ip', args, { stdio: ['pipe', 'pipe', 'inherit'] });
    const peer = new Peer(proc);
    await peer.cmd({ cmd: 'stats' }).catch(() => {}); // started and answering
    return peer;
  }

  constructor(proc) {
    this.proc = proc;
    this.next = 1;
    this.waiting = new Map();
    this.exited = new Promise((resolve) => proc.on('exit', resolve));
    createInterface({ input: proc.stdout }).on('line', (line) => {
      let m;
      try { m = JSON.parse(line); } catch { return; }
      const w = m.re != null && this.waiting.get(m.re);
      if (!w) return;
      this.waiting.delete(m.re);
      if (m.ok) w.resolve(m); else w.reject(new Error(`aiortc peer: ${m.error}`));
    });
    proc.on('exit', (code) => {
      for (const w of this.waiting.values()) w.reject(new Error(`aiortc peer exited (${code})`));
      this.waiting.clear();
    });
  }

  cmd(c) {
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.proc.stdin.write(`${JSON.stringify({ id, ...c })}\n`);
    });
  }

  async media() {
    const s = await this.cmd({ cmd: 'stats' });
    return { frames: s.video_frames, samples: s.audio_frames, state: s.state, codec: s.video_codec };
  }

  async quit() {
    await this.cmd({ cmd: 'quit' }).catch(() => {});
    await Promise.race([this.exited, new Promise((r) => setTimeout(r, 3000))]);
    this.proc.kill('SIGKILL');
  }
}

class PeerCitizen {
  constructor(peer) { this.peer = peer; }

  async join(name) {
    const intake = {
      name, mobile: '98765 43210', area: 'Kotwali', category: 'theft',
      description: 'मेरी साइकिल बाज़ार से चोरी हो गई।', language: 'hi', consent: true,
    };
    const r = await this.peer.cmd({ cmd: 'citizen', desk: 'ssp-prayagraj', intake });
    // First in the queue: instant connect, as the page does near the front.
    await this.peer.cmd({ cmd: 'media' });
    return { reference: r.reference };
  }

  async inCall() { await this.peer.cmd({ cmd: 'wait', type: 'call_started', timeout: 20 }); }
  async media() { return this.peer.media(); }
  async ended() { await this.peer.cmd({ cmd: 'wait', type: 'call_ended', timeout: 20 }); }
  async close() { await this.peer.quit(); }
}

class PeerOfficer {
  constructor(peer) { this.peer = peer; }

  async onDuty() { await this.peer.cmd({ cmd: 'send', msg: { type: 'go_on_duty' } }); }

  async offered() {
    const r = await this.peer.cmd({ cmd: 'wait', type: 'offer', timeout: 20 });
    this.entry = r.msg.entry;
    // Instant connect while the offer rings, as the officer's page does.
    await this.peer.cmd({ cmd: 'media' });
  }

  async accept() {
    await this.peer.cmd({ cmd: 'send', msg: { type: 'accept', entry: this.entry } });
    await this.peer.cmd({ cmd: 'wait', type: 'call_started', timeout: 20 });
  }

  async media() { return this.peer.media(); }

  async finish({ category, station, action }) {
    const outcome = { category, station, action, notes: 'aiortc' };
    await this.peer.cmd({ cmd: 'send', msg: { type: 'save_outcome', entry: this.entry, outcome } });
    await this.peer.cmd({ cmd: 'send', msg: { type: 'end_call' } });
    await this.peer.cmd({ cmd: 'wait', type: 'duty', where: { state: 'wrap_up' }, timeout: 20 });
    await this.peer.cmd({ cmd: 'send', msg: { type: 'ready' } });
    await this.peer.cmd({ cmd: 'send', msg: { type: 'go_off_duty' } });
  }

  async close() { await this.peer.quit(); }
}

/** Waits until `side` has decoded video and audio, and more of both a moment later. */
export async function decodes(side, what, within = 15000) {
  const until = Date.now() + within;
  let first = await side.media();
  while (!(first.frames > 0 && first.samples > 0)) {
    assert.ok(Date.now() < until, `${what}: nothing decoded: ${JSON.stringify(first)}`);
    await new Promise((r) => setTimeout(r, 200));
    first = await side.media();
  }
  let later = first;
  while (!(later.frames > first.frames && later.samples > first.samples)) {
    assert.ok(Date.now() < until, `${what}: decoding stopped: ${JSON.stringify([first, later])}`);
    await new Promise((r) => setTimeout(r, 250));
    later = await side.media();
  }
  return later;
}
