// A citizen whose network drops every UDP packet (as many office and mobile networks do)
// is still heard: their media goes to a TURN server over TCP or TLS, and the TURN server
// relays it over UDP to the SFU. Run by tests/it/turn.rs only, which makes the lab (the
// citizen's namespace drops all UDP), starts coturn and one sunwai server per case; the
// file is deliberately not named *.test.mjs, so browser.rs's `node --test tests/browser/`
// leaves it out.
//
// SUNWAI_TURN_CASES: [{ name, url, citizen, relay }]: the server at `url` hands out one
// TURN URL; `relay` is the relay protocol the citizen's selected candidate pair must use
// ('tcp' or 'tls'), or null for a server without TURN, where no media may flow at all.
// SUNWAI_TURN_RESULTS: a file where the references heard and the paths used are written
// for the Rust side, which checks the records and coturn's log.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { LAB, withPages } from './helpers.mjs';
import { citizen, officer, decodes } from './participants.mjs';

const CASES = JSON.parse(process.env.SUNWAI_TURN_CASES || '[]');
const RESULTS = process.env.SUNWAI_TURN_RESULTS;
if (!CASES.length || !RESULTS) throw new Error('run through `cargo test turn` (tests/it/turn.rs)');
const [CITIZEN, OFFICER] = LAB.hosts;

/** How long the case without TURN watches for media that must not come. */
const NO_MEDIA_WATCH_MS = 5000;

const results = [];
after(() => writeFileSync(RESULTS, JSON.stringify(results, null, 2)));

/** The page's call: its ICE state and the selected candidate pair's two ends, from getStats(). */
async function path(side) {
  if (!side.page) throw new Error('path: only pages report their candidate pair');
  return side.page.evaluate(async () => {
    const pc = window.sunwaiCallMedia && window.sunwaiCallMedia.pc;
    if (!pc) return { ice: 'none', pair: null };
    const stats = await pc.getStats();
    let pair = null;
    stats.forEach((r) => {
      if (r.type === 'transport' && r.selectedCandidatePairId) pair = stats.get(r.selectedCandidatePairId) || pair;
    });
    if (!pair) stats.forEach((r) => { if (r.type === 'candidate-pair' && r.nominated && r.state === 'succeeded') pair = r; });
    const end = (id) => {
      const c = id && stats.get(id);
      return c && {
        type: c.candidateType, protocol: c.protocol, relayProtocol: c.relayProtocol,
        address: c.address, port: c.port, url: c.url,
      };
    };
    return {
      ice: pc.iceConnectionState,
      pair: pair && { local: end(pair.localCandidateId), remote: end(pair.remoteCandidateId), bytesReceived: pair.bytesReceived },
    };
  });
}

for (const c of CASES) {
  const what = c.relay ? `UDP blocked, ${c.citizen} citizen through TURN over ${c.relay}` : `UDP blocked and no TURN: no media (${c.citizen} citizen)`;
  test(what, withPages(`udp-blocked-${c.name}`, async () => {
    const o = await officer('chromium', OFFICER, 'officer1', c.url);
    const cit = await citizen(c.citizen, CITIZEN, c.url);
    try {
      const { reference } = await cit.join(`UDP blocked ${c.name}`);
      await o.onDuty();
      await o.offered();
      const accepted = Date.now();
      await o.accept();
      await cit.inCall();
      let used;
      if (c.relay) {
        await decodes(cit, `${c.name}: the citizen`, 20000);
        await decodes(o, `${c.name}: the officer`, 20000);
        console.log(`${c.name}: both sides decode video and audio ${Date.now() - accepted} ms after the accept`);
        used = await path(cit);
        assert.equal(used.ice, 'connected', `${c.name}: ${JSON.stringify(used)}`);
        assert.equal(used.pair?.local?.type, 'relay', `${c.name}: the citizen's media goes through TURN: ${JSON.stringify(used)}`);
        assert.equal(used.pair.local.relayProtocol, c.relay, `${c.name}: to TURN over ${c.relay}: ${JSON.stringify(used)}`);
      } else {
        // The officer's own connection is up (UDP is open for them), the citizen's never is.
        const until = Date.now() + NO_MEDIA_WATCH_MS;
        while (Date.now() < until) {
          const [mc, mo] = [await cit.media(), await o.media()];
          assert.ok(mc.frames === 0 && mc.samples === 0 && mo.frames === 0 && mo.samples === 0,
            `${c.name}: media flowed with UDP blocked and no TURN: citizen ${JSON.stringify(mc)}, officer ${JSON.stringify(mo)}`);
          await new Promise((r) => setTimeout(r, 250));
        }
        used = await path(cit);
        assert.notEqual(used.ice, 'connected', `${c.name}: ${JSON.stringify(used)}`);
        assert.notEqual(used.ice, 'completed', `${c.name}: ${JSON.stringify(used)}`);
        console.log(`${c.name}: no media ${NO_MEDIA_WATCH_MS} ms after the accept; the citizen's ICE is ${used.ice}`);
      }
      await o.finish({ category: 'fraud', station: 'kotwali', action: `FIR ${c.name}` });
      await cit.ended();
      results.push({ name: c.name, reference, relay: c.relay, path: used });
    } finally {
      await cit.close();
      await o.close();
    }
  }));
}
