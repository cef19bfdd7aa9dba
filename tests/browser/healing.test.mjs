// Calls that heal, and calls between clients that do not share a video codec, each client
// in its own network namespace against the interoperability server (INTEROP):
//
// - the citizen's network drops for 8 s mid-call (their namespace's link goes down): both
//   pages say "reconnecting…", media resumes both ways once the link is back, and the
//   hearing is one record;
// - the citizen reloads the page mid-call: the officer's page says so, the call resumes on
//   the new connection, media flows both ways again, one record;
// - a citizen whose browser sends VP8 first and an officer that can only do H.264: the
//   server asks the citizen's page to renegotiate, both sides decode H.264;
// - a citizen with VP8 only and an officer with H.264 only: no video codec in common, the
//   call goes on with audio both ways;
// - the officer switches to audio only and back: video stops both ways, speech goes on.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { INTEROP, SETTLE, DESKTOP, HOSTS, launch, newPage, withPages, signIn, expectText, screen } from './helpers.mjs';
import { citizen, officer, decodes } from './participants.mjs';

const RECONNECTING = /reconnecting|दोबारा जोड़/;
const CONNECTED = /^(Connected|जुड़ गया)$/;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let supBrowser;
let sup;

/** Takes `host`'s link down or up (the root namespace's end of its veth pair). */
function link(host, up) {
  const r = spawnSync('ip', ['link', 'set', host.link, up ? 'up' : 'down']);
  assert.equal(r.status, 0, `ip link set ${host.link}: ${r.stderr}`);
}

/** Waits until both sides have decoded more video and audio than `before` (per side). */
async function flowsAgain(sides, before, within) {
  const started = Date.now();
  for (;;) {
    const now = await Promise.all(sides.map((s) => s.media()));
    if (now.every((m, i) => m.frames > before[i].frames && m.samples > before[i].samples)) return Date.now() - started;
    assert.ok(Date.now() - started < within, `media did not resume within ${within} ms: ${JSON.stringify({ before, now })}`);
    await sleep(100);
  }
}

/** The record of `reference`, read by the supervisor; the call was answered once. */
async function oneCall(reference) {
  const rec = await sup.evaluate((ref) => fetch(`/api/records/${ref}`).then((r) => r.json()), reference);
  assert.equal(rec.reference, reference);
  const answered = rec.history.filter((h) => JSON.stringify(h).includes('answered'));
  assert.equal(answered.length, 1, `one call in the record: ${JSON.stringify(rec.history)}`);
  assert.ok(rec.answered_at && rec.ended_at && rec.outcome, `answered, ended, outcome: ${JSON.stringify(rec)}`);
  return rec;
}

/** The server's media counters. */
async function mediaStats() {
  return sup.evaluate(() => fetch('/api/media').then((r) => r.json()));
}

describe('calls heal, and codecs are negotiated per call', () => {
  before(async () => {
    supBrowser = await launch(HOSTS.e);
    sup = await newPage(supBrowser, 'supervisor-healing', DESKTOP);
    await sup.goto(`${INTEROP}/supervisor`);
    await signIn(sup, 'supervisor');
  });
  after(async () => { await supBrowser.close(); });

  test("the citizen's network drops for 8 s mid-call: both pages say so, media resumes, one record", withPages('heal-link', async () => {
    const o = await officer('chromium', HOSTS.b, 'officer2');
    const c = await citizen('chromium', HOSTS.a);
    try {
      const { reference } = await c.join('link cut');
      await o.onDuty();
      await o.offered();
      await o.accept();
      await c.inCall();
      await decodes(c, 'the citizen, before the cut');
      await decodes(o, 'the officer, before the cut');
      // Portrait video: Chromium offers the video-orientation extension; the server does not
      // negotiate it, so the phone rotates its frames itself and every receiver shows them
      // upright (media.md, "Codecs").
      const sdp = await c.page.evaluate(() => ({
        offer: window.sunwaiCallMedia.pc.localDescription.sdp, answer: window.sunwaiCallMedia.pc.remoteDescription.sdp,
      }));
      assert.ok(sdp.offer.includes('urn:3gpp:video-orientation'), 'Chromium offers the orientation extension');
      assert.ok(!sdp.answer.includes('urn:3gpp:video-orientation'), 'the server does not negotiate it');

      link(HOSTS.a, false);
      const cut = Date.now();
      try {
        // The server notices the citizen's media has stopped and tells the officer; the
        // citizen's own connection notices it has lost the server.
        await expectText(o.page, '#remote-state', RECONNECTING, 8000);
        const officerTold = Date.now() - cut;
        // The desk knows too: its watchers see it with the officer in that call.
        await expectText(sup, '#b-officers', /citizen's connection is reconnecting|नागरिक का कनेक्शन दोबारा जुड़ रहा है/, 8000);
        await expectText(c.page, '#remote-state', RECONNECTING, 8000);
        console.log(`link down: the officer's page said "reconnecting" after ${officerTold} ms, the citizen's after ${Date.now() - cut} ms`);
        await sleep(Math.max(0, 8000 - (Date.now() - cut)));
      } finally {
        link(HOSTS.a, true);
      }
      const before = await Promise.all([c.media(), o.media()]);
      const took = await flowsAgain([c, o], before, 5000);
      console.log(`link up: media decoded again both ways after ${took} ms`);
      await expectText(o.page, '#remote-state', CONNECTED, 5000);
      await expectText(c.page, '#remote-state', CONNECTED, 5000);
      await expectText(sup, '#b-officers', /^(?!.*(reconnecting|दोबारा जुड़)).*$/s, 5000);

      await o.finish({ category: 'theft', station: 'kotwali', action: 'healed after a network drop' });
      await c.ended();
      await oneCall(reference);
    } finally {
      link(HOSTS.a, true);
      await c.close();
      await o.close();
    }
  }, SETTLE));

  test('the citizen reloads the page mid-call: the call resumes on the new connection, one record', withPages('heal-reload', async () => {
    const o = await officer('chromium', HOSTS.b, 'officer2');
    const c = await citizen('chromium', HOSTS.a);
    try {
      const { reference } = await c.join('reload');
      await o.onDuty();
      await o.offered();
      await o.accept();
      await c.inCall();
      await decodes(c, 'the citizen, before the reload');
      await decodes(o, 'the officer, before the reload');

      const officerBefore = await o.media();
      const reloaded = Date.now();
      await c.page.reload();
      await expectText(o.page, '#remote-state', RECONNECTING, 8000);
      await screen(c.page, 's-call');
      // A new connection on the citizen's side: its counters start again.
      const took = await flowsAgain([c, o], [{ frames: 0, samples: 0 }, officerBefore], 10000);
      console.log(`reload: media decoded again both ways ${Date.now() - reloaded} ms after the reload (${took} ms after the page was back in the call)`);
      await expectText(o.page, '#remote-state', CONNECTED, 5000);

      await o.finish({ category: 'theft', station: 'kotwali', action: 'resumed after a reload' });
      await c.ended();
      await oneCall(reference);
    } finally {
      await c.close();
      await o.close();
    }
  }, SETTLE));

  test("the officer's audio-only switch stops video both ways while speech goes on", withPages('officer-audio-only', async () => {
    const o = await officer('chromium', HOSTS.b, 'officer2');
    const c = await citizen('chromium', HOSTS.a);
    try {
      const { reference } = await c.join('officer audio only');
      await o.onDuty();
      await o.offered();
      await o.accept();
      await c.inCall();
      await decodes(c, 'the citizen, before');
      await decodes(o, 'the officer, before');
      await o.page.click('#audio-only');
      await sleep(1500);
      const before = await Promise.all([c.media(), o.media()]);
      await sleep(2000);
      const after = await Promise.all([c.media(), o.media()]);
      assert.ok(after.every((m, i) => m.samples > before[i].samples), `speech goes on: ${JSON.stringify({ before, after })}`);
      assert.ok(after.every((m, i) => m.frames - before[i].frames <= 2), `video stopped both ways: ${JSON.stringify({ before, after })}`);
      await o.page.click('#audio-only');
      await flowsAgain([c, o], after, 10000);
      await o.finish({ category: 'theft', station: 'kotwali', action: 'audio only' });
      await c.ended();
      await oneCall(reference);
    } finally {
      await c.close();
      await o.close();
    }
  }, SETTLE));

  test('a VP8-first browser and an H.264-only officer: the server steers the browser to H.264', withPages('codec-steer', async () => {
    const renegotiations = (await mediaStats()).codec_renegotiations;
    const o = await officer('aiortc', HOSTS.b, 'officer2', INTEROP, ['--video-codec', 'h264']);
    const c = await citizen('chromium', HOSTS.a);
    try {
      const { reference } = await c.join('h264 officer');
      await o.onDuty();
      await o.offered();
      await o.accept();
      await c.inCall();
      await decodes(c, 'the Chromium citizen');
      const got = await decodes(o, 'the H.264-only officer');
      assert.equal(got.codec, 'H264', `the officer negotiated H.264: ${JSON.stringify(got)}`);
      const codec = await c.page.evaluate(async () => {
        const names = [];
        (await window.sunwaiCallMedia.pc.getStats()).forEach((r) => { if (r.type === 'codec') names.push(r.mimeType); });
        return names;
      });
      assert.ok(codec.some((m) => /h264/i.test(m)), `the citizen's page uses H.264: ${codec}`);
      const stats = await mediaStats();
      assert.ok(stats.codec_renegotiations > renegotiations, `the citizen was asked to renegotiate: ${JSON.stringify(stats)}`);
      await o.finish({ category: 'fraud', station: 'kotwali', action: 'H.264' });
      await c.ended();
      await oneCall(reference);
    } finally {
      await c.close();
      await o.close();
    }
  }, SETTLE));

  test('VP8 only and H.264 only: no video in common, the call goes on with audio both ways', withPages('codec-none', async () => {
    const o = await officer('aiortc', HOSTS.b, 'officer2', INTEROP, ['--video-codec', 'h264']);
    const c = await citizen('aiortc', HOSTS.a, INTEROP, ['--video-codec', 'vp8']);
    try {
      const { reference } = await c.join('no common codec');
      await o.onDuty();
      await o.offered();
      await o.accept();
      await c.inCall();
      const until = Date.now() + 15000;
      let m = await Promise.all([c.media(), o.media()]);
      while (!m.every((x) => x.samples > 0)) {
        assert.ok(Date.now() < until, `audio both ways: ${JSON.stringify(m)}`);
        await sleep(200);
        m = await Promise.all([c.media(), o.media()]);
      }
      const stats = await mediaStats();
      assert.ok(stats.rtp_codec_unshared > 0, `video that neither side could decode was not forwarded: ${JSON.stringify(stats)}`);
      assert.deepEqual(m.map((x) => x.frames), [0, 0], 'no video crossed');
      await o.finish({ category: 'fraud', station: 'kotwali', action: 'audio only' });
      await c.ended();
      await oneCall(reference);
    } finally {
      await c.close();
      await o.close();
    }
  }, SETTLE));
});
