// The interoperability matrix: one whole hearing for every pair of citizen and officer
// clients in {Chromium, Firefox ESR, aiortc}, each client in its own network namespace (so
// its candidates are interface addresses, as a phone's are) against the real server over
// HTTPS: join, instant connect, accept, audio and video decoded both ways, a supervisor
// (Chromium) listening in silently, the outcome, the end, and one record with it.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { INTEROP, SETTLE, DESKTOP, HOSTS, launch, newPage, withPages, signIn, expectText, monitorMedia } from './helpers.mjs';
import { citizen, officer, decodes } from './participants.mjs';

const KINDS = ['chromium', 'firefox', 'aiortc'];
const STATIONS = ['kotwali', 'civil-lines'];

let supBrowser;
const heard = [];

/** The supervisor's console, signed in (pages close at the end of each test). */
async function supervisor() {
  const sup = await newPage(supBrowser, 'supervisor', DESKTOP);
  await sup.goto(`${INTEROP}/supervisor`);
  await signIn(sup, 'supervisor');
  return sup;
}

describe('interoperability: a whole hearing per pair of clients', () => {
  before(async () => { supBrowser = await launch(HOSTS.e); });
  after(async () => { await supBrowser.close(); });

  for (const citizenKind of KINDS) {
    for (const officerKind of KINDS) {
      const name = `${citizenKind} citizen, ${officerKind} officer`;
      test(name, withPages(`interop-${citizenKind}-${officerKind}`, async () => {
        const sup = await supervisor();
        const o = await officer(officerKind, HOSTS.b, 'officer2');
        const c = await citizen(citizenKind, HOSTS.a);
        try {
          const { reference } = await c.join(`${citizenKind} ${officerKind}`);
          await o.onDuty();
          await o.offered();
          const accepted = Date.now();
          await o.accept();
          await c.inCall();
          await decodes(c, `${name}: the citizen`);
          await decodes(o, `${name}: the officer`);
          console.log(`${name}: both sides decode video and audio ${Date.now() - accepted} ms after the accept`);

          // Silent monitoring: both sides' audio and video reach the supervisor.
          await sup.locator('#b-officers button.listen').click();
          await expectText(sup, '#mon-state', /./);
          const until = Date.now() + 10000;
          let m = await monitorMedia(sup);
          while (!(m.frames.length === 2 && m.frames.every((f) => f > 0) && m.samples.length === 2 && m.samples.every((s) => s > 0))) {
            assert.ok(Date.now() < until, `${name}: the monitor decodes both sides: ${JSON.stringify(m)}`);
            await sup.waitForTimeout(200);
            m = await monitorMedia(sup);
          }
          await sup.click('#mon-stop');
          await sup.locator('#mon-videos').waitFor({ state: 'hidden' });

          const station = STATIONS[heard.length % STATIONS.length];
          await o.finish({ category: 'fraud', station, action: `FIR ${citizenKind}/${officerKind}` });
          await c.ended();
          heard.push({ reference, station, name });
        } finally {
          await c.close();
          await o.close();
        }
      }, SETTLE));
    }
  }

  // Accept at any speed: the officer's connection is still being made while the offer
  // rings, the citizen's was made while waiting (instant connect); however soon the
  // officer accepts, both sides decode the other's first frame within a second.
  for (const delay of [0, 100, 1000, 5000]) {
    test(`accepting ${delay} ms after the offer appears: first frames within 1 s`, withPages(`accept-${delay}`, async () => {
      const o = await officer('chromium', HOSTS.b, 'officer2');
      const c = await citizen('chromium', HOSTS.a);
      try {
        await c.join(`accept ${delay}`);
        await o.onDuty();
        await o.offered();
        await new Promise((r) => setTimeout(r, delay));
        const accepted = Date.now();
        await o.accept();
        const firstFrame = async (side) => {
          for (;;) {
            const m = await side.media();
            if (m.frames > 0) return Date.now() - accepted;
            assert.ok(Date.now() - accepted < 10000, `no frame 10 s after the accept: ${JSON.stringify(m)}`);
            await new Promise((r) => setTimeout(r, 20));
          }
        };
        const [atCitizen, atOfficer] = await Promise.all([firstFrame(c), firstFrame(o)]);
        console.log(`accept after ${delay} ms: first frame at the citizen ${atCitizen} ms, at the officer ${atOfficer} ms`);
        assert.ok(atCitizen < 1000 && atOfficer < 1000, `first frames within 1 s: citizen ${atCitizen} ms, officer ${atOfficer} ms`);
        await o.finish({ category: 'theft', station: 'kotwali', action: 'speed' });
        await c.ended();
      } finally {
        await c.close();
        await o.close();
      }
    }, SETTLE));
  }

  test('every hearing of the matrix is one record with its outcome and the monitoring', withPages('interop-records', async () => {
    assert.equal(heard.length, KINDS.length * KINDS.length, 'every pair was heard');
    const sup = await supervisor();
    for (const h of heard) {
      const rec = await sup.evaluate((ref) => fetch(`/api/records/${ref}`).then((r) => r.json()), h.reference);
      assert.equal(rec.reference, h.reference);
      assert.equal(rec.outcome && rec.outcome.category, 'fraud', `${h.name}: ${JSON.stringify(rec.outcome)}`);
      assert.equal(rec.outcome.station, h.station, h.name);
      assert.ok(rec.talk_secs != null && rec.answered_at && rec.ended_at, `${h.name}: answered and ended`);
      assert.match(JSON.stringify(rec.history), /monitor/i, `${h.name}: the monitoring is in the history`);
    }
    // Firefox nominates aggressively: its checks' answers reached their peers by the
    // address that sent the check (what made Firefox connect at all).
    const media = await sup.evaluate(() => fetch('/api/media').then((r) => r.json()));
    assert.ok(media.check_replies_routed > 0, `Firefox's checks were answered: ${JSON.stringify(media)}`);
  }, SETTLE));
});
