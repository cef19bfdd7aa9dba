// The browser app end to end, in real headless Chromium against the real server
// (started by tests/it/browser.rs). Tests run in order and share one server: each leaves
// the waiting room empty and no officer on duty.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  BASE, CLOSED, DESKTOP, HOSTS, dict, launch, newPage, withPages, text, expectText, screen, checkA11y,
  shot, signIn, fillIntake, joinQueue, inboundMedia, monitorMedia,
} from './helpers.mjs';

const hi = dict.hi;
const en = dict.en;
// One browser per role, each in its own network namespace (HOSTS in helpers.mjs).
let browsers;

describe('sunwai in a browser', () => {
  before(async () => {
    browsers = {
      citizen: await launch(HOSTS.citizen),
      officer: await launch(HOSTS.officer),
      supervisor: await launch(HOSTS.supervisor),
    };
  });
  after(async () => { for (const b of Object.values(browsers)) await b.close(); });

  test('Hindi is the default; the toggle switches to English and is remembered', withPages('language', async () => {
    const page = await newPage(browsers.citizen, 'citizen');
    await page.goto(`${BASE}/`);
    await screen(page, 's-intake');
    assert.equal(await page.evaluate(() => document.documentElement.lang), 'hi');
    await expectText(page, '#open-info h1', hi['citizen.intake.title']);
    await expectText(page, '#lang-toggle', 'English');
    assert.equal(await page.title(), hi['citizen.title']);

    await page.click('#lang-toggle');
    await expectText(page, '#open-info h1', en['citizen.intake.title']);
    assert.equal(await page.evaluate(() => document.documentElement.lang), 'en');
    await expectText(page, 'label[for=f-name]', en['field.name']);
    assert.equal(await page.locator('#f-category option').nth(1).textContent(), 'Theft');

    // Remembered across a reload and on the other pages.
    await page.reload();
    await expectText(page, '#open-info h1', en['citizen.intake.title']);
    for (const [path, sel, key] of [['/status', '#s-form h1', 'status.title'], ['/officer', '#s-signin h1', 'officer.signin_title'], ['/supervisor', '#s-signin h1', 'sup.signin_title']]) {
      await page.goto(`${BASE}${path}`);
      await expectText(page, sel, en[key]);
      assert.equal(await text(page, '#lang-toggle'), 'हिन्दी');
    }
    await page.click('#lang-toggle');
    await expectText(page, '#s-signin h1', hi['sup.signin_title']);
  }));

  test('a hearing: intake, device check, waiting, call, outcome, end screen, records, status', withPages('hearing', async () => {
    const citizen = await newPage(browsers.citizen, 'citizen');
    await citizen.goto(`${BASE}/d/ssp-prayagraj`);
    await screen(citizen, 's-intake');
    await expectText(citizen, '#intake-window', /12:00 – 14:00/);
    await checkA11y(citizen, 'the intake form');
    await shot(citizen, 'citizen-intake');

    // The browser's own checks come first.
    await citizen.click('#intake-submit');
    await expectText(citizen, '.err[data-for=name]', hi['error.name']);
    await fillIntake(citizen, { name: 'आशा देवी', station: 'सिविल लाइंस', mobile: '९८७६५ ४३२१०' });
    await citizen.click('#intake-submit');

    await screen(citizen, 's-device');
    await citizen.waitForFunction(() => document.getElementById('preview').videoWidth > 0);
    await expectText(citizen, '#device-status', hi['citizen.device.ok']);
    await citizen.waitForFunction(() => Number(document.getElementById('mic-meter').getAttribute('aria-valuenow')) > 0, null, { timeout: 10000 });
    await shot(citizen, 'citizen-device');
    await citizen.click('#join');

    await screen(citizen, 's-waiting');
    await expectText(citizen, '#position', '1');
    await expectText(citizen, '#estimate', hi['citizen.waiting.no_officer']);
    const reference = await expectText(citizen, '#waiting-ref', /^PRY-2026-\d+$/);
    // Today's window and the next one.
    await expectText(citizen, '#waiting-window', /^12:00 – 14:00 · /);
    await expectText(citizen, '#waiting-window', new RegExp(hi['citizen.waiting.next_window'].split('{when}')[0].trim()));
    await checkA11y(citizen, 'the waiting room');

    // The supervisor watches and broadcasts; the citizen sees the message.
    const sup = await newPage(browsers.supervisor, 'supervisor', DESKTOP);
    await sup.goto(`${BASE}/supervisor`);
    await signIn(sup, 'supervisor');
    await expectText(sup, '#b-waiting', '1');
    await expectText(sup, '#b-queue tr td:nth-child(2)', reference);

    // Today's chart is drawn (by the vendored uPlot, on a canvas, within the page's CSP)
    // and the forecast advises: one waiting, nobody on duty.
    await sup.waitForFunction(() => {
      const c = document.querySelector('#chart canvas');
      const box = c && c.getBoundingClientRect();
      return c && c.width > 0 && c.height > 0 && box.width > 200 && box.height > 100;
    });
    await sup.click('#chart-details summary');
    // The table under it counts the citizen who joined.
    await sup.waitForFunction(() => [...document.querySelectorAll('#chart-rows tr td:nth-child(2)')]
      .reduce((n, td) => n + Number(td.textContent), 0) >= 1);
    // A dictionary text with its {placeholders} filled by anything.
    const pattern = (key) => new RegExp(`^${hi[key].split(/\{\w+\}/).map((part) => part.replace(/[.*+?^$()|[\]\\]/g, '\\$&')).join('.+')}$`);
    await expectText(sup, '#fc-advice', new RegExp(`${pattern('forecast.more_1').source}|${pattern('forecast.more_n').source}`));
    await expectText(sup, '#fc-rows tr:first-child td:first-child', hi['forecast.now'].replace('{n}', '0'));
    assert.equal(await sup.locator('#fc-rows tr').count(), 3);
    await checkA11y(sup, 'the supervisor console');
    await sup.fill('#bc-text', 'अधिकारी कुछ ही मिनट में जुड़ेंगे।');
    await sup.click('#bc-send');
    await expectText(sup, '#bc-status', hi['sup.sent']);
    await expectText(citizen, '#messages li', /अधिकारी कुछ ही मिनट में जुड़ेंगे।/);
    await shot(citizen, 'citizen-waiting');

    // The officer signs in, goes on duty and is offered the citizen.
    const officer = await newPage(browsers.officer, 'officer', DESKTOP);
    await officer.goto(`${BASE}/officer`);
    await shot(officer, 'officer-signin');
    await signIn(officer, 'officer1');
    await expectText(officer, '#duty-badge', hi['duty.off']);
    await expectText(officer, '#g-waiting', '1');
    await officer.click('#duty-on');
    await officer.locator('#offer').waitFor({ state: 'visible' });
    await expectText(officer, '#offer-card', /आशा देवी/);
    await expectText(officer, '#offer-card', /\+919876543210/);
    await expectText(citizen, '#next-alert', new RegExp(hi['citizen.next.title']));
    await shot(officer, 'officer-offer');
    // Instant connect: at the front of the queue the citizen's connection with the server
    // is already up, and nothing reaches it before the officer accepts.
    await citizen.waitForFunction(() => window.sunwaiCallMedia && window.sunwaiCallMedia.pc && window.sunwaiCallMedia.pc.connectionState === 'connected', null, { timeout: 15000 });
    const early = await inboundMedia(citizen);
    assert.equal(early.packets, 0, `nothing forwarded before the accept: ${JSON.stringify(early)}`);
    const accepted = Date.now();
    await officer.click('#accept');

    // Both are in the call.
    await officer.locator('#call').waitFor({ state: 'visible' });
    await expectText(officer, '#call-title', hi['call.title'].replace('{name}', 'आशा देवी'));
    await screen(citizen, 's-call');
    await expectText(citizen, '#call-title', hi['call.title'].replace('{name}', 'Insp. Sharma'));
    await expectText(citizen, '#call-ref', reference);
    await citizen.waitForFunction(() => document.getElementById('self').videoWidth > 0);
    // Audio and video flow both ways through the server's SFU: inbound frames decoded and
    // audio samples received, both increasing, on each side.
    await citizen.waitForFunction(() => document.getElementById('remote').videoWidth > 0, null, { timeout: 15000 });
    console.log(`instant connect: the citizen shows the officer's video ${Date.now() - accepted} ms after the accept`);
    await bothDecode(citizen, officer);
    // Receiver reports flow: the server's end of each hop reports on what it received
    // (Chromium's remote-inbound-rtp, with round-trip times).
    for (const page of [citizen, officer]) {
      await page.waitForFunction(async () => {
        const kinds = new Set();
        (await window.sunwaiCallMedia.pc.getStats()).forEach((r) => {
          if (r.type === 'remote-inbound-rtp' && r.roundTripTimeMeasurements > 0) kinds.add(r.kind);
        });
        return kinds.has('audio') && kinds.has('video');
      }, null, { timeout: 10000, polling: 250 });
    }
    // A network change: the citizen's browser restarts ICE on the same connection; the
    // server renegotiates the same leg (no new peer, no new queue entry) and video goes on.
    const before = await sup.evaluate(() => fetch('/api/media').then((r) => r.json()));
    await citizen.evaluate(() => window.sunwaiCallMedia.pc.restartIce());
    await sup.waitForFunction(async (n) => (await (await fetch('/api/media')).json()).ice_restarts > n, before.ice_restarts, { timeout: 10000 });
    const r1 = await inboundMedia(citizen);
    await citizen.waitForTimeout(1500);
    const r2 = await inboundMedia(citizen);
    assert.ok(r2.frames > r1.frames && r2.samples > r1.samples, `media goes on after an ICE restart: ${JSON.stringify([r1, r2])}`);
    const after = await sup.evaluate(() => fetch('/api/media').then((r) => r.json()));
    assert.equal(after.peers_created, before.peers_created, 'the same leg, not a new one');

    // The supervisor listens in silently, joining a call already running: both sides'
    // audio received and played, both sides' video decoded.
    await sup.locator('#b-officers button.listen').click();
    await expectText(sup, '#mon-state', new RegExp(hi['sup.monitor_listening_any']));
    const joined = Date.now();
    for (let m = await monitorMedia(sup); !(m.frames.length === 2 && m.frames.every((f) => f > 0)); m = await monitorMedia(sup)) {
      assert.ok(Date.now() - joined < 5000, `the monitor shows both videos within 5 s: ${JSON.stringify(m)}`);
      await sup.waitForTimeout(100);
    }
    console.log(`monitor: both videos decoded ${Date.now() - joined} ms after listening in`);
    const m1 = await monitorMedia(sup);
    await sup.waitForTimeout(1500);
    const m2 = await monitorMedia(sup);
    assert.equal(m2.packets.length, 2, `two video streams: ${JSON.stringify(m2)}`);
    assert.equal(m2.samples.length, 2, `two audio streams: ${JSON.stringify(m2)}`);
    for (let i = 0; i < 2; i++) {
      assert.ok(m2.frames[i] > (m1.frames[i] || 0), `monitor decodes video ${i}: ${JSON.stringify([m1, m2])}`);
      assert.ok(m2.samples[i] > (m1.samples[i] || 0), `monitor receives audio ${i}: ${JSON.stringify([m1, m2])}`);
    }
    await shot(sup, 'supervisor-monitor');
    await sup.click('#mon-stop');
    await sup.locator('#mon-videos').waitFor({ state: 'hidden' });
    // Listening in changed nothing for the two sides.
    await bothDecode(citizen, officer);

    // Audio only (a weak network): video stops both ways, sound goes on; back to video,
    // both sides show each other again on the same connection.
    const videoDirection = (page) => page.evaluate(() => window.sunwaiCallMedia.pc.getTransceivers().find((t) => t.receiver.track.kind === 'video').currentDirection);
    const beforeAudioOnly = [await inboundMedia(citizen), await inboundMedia(officer)];
    // A poor connection makes the page offer it outright (the quality comes from getStats;
    // here the page is told the figure it would compute on a bad network).
    await citizen.evaluate(() => window.sunwaiCallMedia.ui.onQuality('poor'));
    await expectText(citizen, '#ao-offer p', hi['call.audio_only_offer']);
    await citizen.click('#ao-accept');
    await citizen.locator('#ao-offer').waitFor({ state: 'hidden' });
    assert.equal(await citizen.getAttribute('#audio-only', 'aria-pressed'), 'true');
    await citizen.waitForFunction(() => window.sunwaiCallMedia.pc.getTransceivers().find((t) => t.receiver.track.kind === 'video').currentDirection === 'inactive');
    await citizen.waitForTimeout(500);
    const [o1, c1] = [await inboundMedia(officer), await inboundMedia(citizen)];
    await citizen.waitForTimeout(1500);
    const [o2, c2] = [await inboundMedia(officer), await inboundMedia(citizen)];
    assert.ok(o2.packets - o1.packets < 5 && c2.packets - c1.packets < 5, `no video in audio-only mode: ${JSON.stringify([o1, o2, c1, c2])}`);
    assert.ok(o2.samples > o1.samples && c2.samples > c1.samples, `sound goes on in audio-only mode: ${JSON.stringify([o1, o2, c1, c2])}`);
    await citizen.click('#audio-only');
    await citizen.waitForFunction(() => window.sunwaiCallMedia.pc.getTransceivers().find((t) => t.receiver.track.kind === 'video').currentDirection === 'sendrecv');
    assert.equal(await videoDirection(citizen), 'sendrecv');
    await bothDecode(citizen, officer);
    // What was not sent while video was off is not counted as lost (the server continues
    // each leg's sequence numbers), so the quality shown stays honest.
    for (const [i, page] of [citizen, officer].entries()) {
      const [b, m] = [beforeAudioOnly[i], await inboundMedia(page)];
      const [lost, got] = [m.lost - b.lost, m.packets - b.packets];
      assert.ok(lost <= Math.max(3, got / 100), `${page.sunwaiName}: video lost ${lost} of ${got} since audio-only began`);
    }
    await expectText(citizen, '#quality', /कनेक्शन/);
    await shot(citizen, 'citizen-call');

    // The officer records the outcome during the call, then ends it.
    await officer.locator('#outcome').waitFor({ state: 'visible' });
    await expectText(officer, '#outcome-title', new RegExp(reference));
    assert.equal(await officer.inputValue('#o-category'), 'theft');
    assert.equal(await officer.inputValue('#o-station'), 'civil-lines', 'the station is pre-filled from the area');
    await officer.selectOption('#o-category', 'theft');
    await officer.selectOption('#o-station', 'civil-lines');
    await officer.fill('#o-action', 'FIR दर्ज');
    await officer.fill('#o-notes', 'बीट कांस्टेबल बाज़ार जाएगा।');
    await officer.click('#outcome-form button[type=submit]');
    await expectText(officer, '#outcome-status', /सहेजा गया/);
    await shot(officer, 'officer-call');
    await officer.click('#end-call');

    await screen(citizen, 's-end');
    await expectText(citizen, '#end-ref', reference);
    await expectText(citizen, '#end-title', hi['citizen.end.title_completed']);
    await checkA11y(citizen, 'the end screen');
    await shot(citizen, 'citizen-end');
    assert.equal(await citizen.evaluate(() => localStorage.getItem('sunwai.ticket')), null, 'the ticket is forgotten at the end');

    await expectText(officer, '#duty-badge', hi['duty.wrap_up']);
    await expectText(officer, '#today', new RegExp(`${reference}.*आशा देवी.*सिविल लाइंस`));
    await shot(officer, 'officer-wrapup');
    await officer.click('#ready');
    await expectText(officer, '#duty-badge', hi['duty.ready']);
    await officer.click('#duty-off');
    await expectText(officer, '#duty-badge', hi['duty.off']);

    // The supervisor finds it in the records, with the station, and opens it.
    await expectText(sup, '#b-calls', '1');
    // Records are written behind the call's messages: search again until the end is in.
    const row = sup.locator('#rec-rows tr', { hasText: reference });
    for (let i = 0; ; i++) {
      await sup.click('#rec-form button[type=submit]');
      await row.waitFor();
      if (/सुनवाई हुई/.test(await row.textContent()) || i === 20) break;
      await sup.waitForTimeout(250);
    }
    assert.match(await row.textContent(), /सिविल लाइंस/);
    assert.match(await row.textContent(), /सुनवाई हुई/);
    await row.locator('button').click();
    await sup.locator('#detail').waitFor({ state: 'visible' });
    await expectText(sup, '#detail-facts', /FIR दर्ज/);
    await expectText(sup, '#detail-history', /Insp. Sharma/);
    await expectText(sup, '#detail-history', new RegExp(`${hi['said.monitor_started']}.*${hi['said.monitor_stopped']}`, 's'));
    // Every event of the history in Hindi: the outcome's station by its name, no keys or
    // English words the server wrote.
    const history = await sup.locator('#detail-history').textContent();
    assert.match(history, /सिविल लाइंस/);
    for (const raw of ['civil-lines', 'category:', 'station:', 'offered to', 'answered', 'ended by', 'video', 'queue place', 'silent monitoring']) {
      assert.ok(!history.includes(raw), `"${raw}" untranslated in the record's history: ${history}`);
    }
    const csv = await sup.getAttribute('#csv', 'href');
    assert.match(csv, /^\/api\/records\.csv\?desk=ssp-prayagraj/);
    await sup.selectOption('#s-new', 'forwarded');
    await sup.fill('#s-note', 'थाना सिविल लाइंस को भेजा');
    await sup.click('#status-form button[type=submit]');
    await expectText(sup, '#detail-status', hi['sup.updated']);
    await expectText(sup, '#detail-history', /थाने को भेजी गई/);
    // The chart has caught up with the call by itself.
    await sup.waitForFunction(() => [...document.querySelectorAll('#chart-rows tr td:nth-child(3)')]
      .reduce((n, td) => n + Number(td.textContent), 0) >= 1);
    await shot(sup, 'supervisor');

    // The citizen checks the status with the reference and the mobile number.
    await citizen.goto(`${BASE}/status`);
    await citizen.fill('#f-reference', reference.toLowerCase());
    await citizen.fill('#f-mobile', '9876543210');
    await citizen.click('#status-form button[type=submit]');
    await citizen.locator('#result').waitFor({ state: 'visible' });
    await expectText(citizen, '#r-status', hi['record_status.forwarded']);
    await expectText(citizen, '#r-station', 'सिविल लाइंस');
    await expectText(citizen, '#r-history', /प्राप्त.*थाने को भेजी गई/);
    await checkA11y(citizen, 'the status page');
    await shot(citizen, 'citizen-status');

    // A wrong mobile finds nothing, and says so.
    await citizen.fill('#f-mobile', '9123456789');
    await citizen.click('#status-form button[type=submit]');
    await expectText(citizen, '#status-error', hi['status.not_found']);
  }));

  test('a citizen who reloads keeps their place', withPages('reload', async () => {
    const first = await newPage(browsers.citizen, 'first');
    const second = await newPage(browsers.citizen, 'second');
    await joinQueue(first, 'पहला नागरिक');
    const ref = await joinQueue(second, 'दूसरा नागरिक', { mobile: '9123456780' });
    await expectText(second, '#position', '2');

    await second.reload();
    await screen(second, 's-waiting');
    await expectText(second, '#position', '2');
    await expectText(second, '#waiting-ref', ref);
    await expectText(first, '#position', '1');

    // Losing the network: the page says so, and comes back to the same place.
    await second.context().setOffline(true);
    await second.evaluate(() => window.dispatchEvent(new Event('offline')));
    await second.context().setOffline(false);
    await expectText(second, '#position', '2');

    // Leaving frees the place: the second moves up.
    await first.click('#leave');
    await screen(first, 's-intake');
    await expectText(second, '#position', '1');
    await second.click('#leave');
    await screen(second, 's-intake');
  }));

  test('on a slow 2G connection the page loads and the citizen joins the queue', withPages('slow', async () => {
    const page = await newPage(browsers.citizen, 'citizen');
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Network.enable');
    // "Regular 2G" as Chromium's DevTools define it: 250 kbit/s down, 50 up, 300 ms.
    await cdp.send('Network.emulateNetworkConditions', {
      offline: false, latency: 300, downloadThroughput: (250 * 1024) / 8, uploadThroughput: (50 * 1024) / 8,
    });
    const start = Date.now();
    await page.goto(`${BASE}/d/ssp-prayagraj`, { timeout: 60000 });
    await page.locator('#s-intake').waitFor({ state: 'visible', timeout: 60000 });
    console.log(`2G: the intake form is usable ${Date.now() - start} ms after the link was opened`);
    await fillIntake(page, { name: 'धीमा नेटवर्क' });
    await page.click('#intake-submit');
    await screen(page, 's-device');
    await page.waitForFunction(() => document.getElementById('preview').videoWidth > 0, null, { timeout: 30000 });
    await page.click('#join');
    await page.locator('#s-waiting').waitFor({ state: 'visible', timeout: 30000 });
    await expectText(page, '#waiting-ref', /^PRY-\d{4}-\d+$/, 30000);
    await page.click('#leave');
    await page.locator('#s-intake').waitFor({ state: 'visible', timeout: 30000 });
  }));

  test('outside hours: the next window and a written complaint', withPages('closed', async () => {
    assert.ok(CLOSED, 'SUNWAI_CLOSED_URL');
    const page = await newPage(browsers.citizen, 'citizen');
    await page.goto(`${CLOSED}/`);
    await screen(page, 's-intake');
    await page.locator('#closed-info').waitFor({ state: 'visible' });
    await expectText(page, '#closed-info h1', hi['citizen.closed.title']);
    await expectText(page, '#closed-next', /09:00 – 10:00/);
    await expectText(page, '#intake-submit', hi['citizen.closed.submit']);
    await checkA11y(page, 'the written complaint form');
    await shot(page, 'citizen-closed');

    await fillIntake(page, { name: 'रमेश कुमार', description: '' });
    await page.click('#intake-submit');
    await expectText(page, '.err[data-for=description]', hi['error.description_written']);
    await page.fill('#f-description', 'पड़ोसी ज़मीन पर कब्ज़ा कर रहा है।');
    await page.click('#intake-submit');
    await screen(page, 's-written');
    const ref = await expectText(page, '#written-ref', /^PRY-2026-\d+$/);
    await shot(page, 'citizen-written');

    await page.goto(`${CLOSED}/status`);
    await page.fill('#f-reference', ref);
    await page.fill('#f-mobile', '98765 43210');
    await page.click('#status-form button[type=submit]');
    await expectText(page, '#r-status', hi['record_status.received']);
  }));
});

/** Both pages of a call decode the other side's video and receive its audio, both
 *  increasing (allowing a few seconds for video that restarts at a keyframe). */
async function bothDecode(...pages) {
  for (const page of pages) {
    await page.waitForFunction(() => document.getElementById('remote').videoWidth > 0, null, { timeout: 15000 });
    let first = await inboundMedia(page);
    for (const until = Date.now() + 5000; Date.now() < until && !(first.frames > 0 && first.samples > 0);) {
      await page.waitForTimeout(100);
      first = await inboundMedia(page);
    }
    let later = first;
    for (const until = Date.now() + 5000; Date.now() < until && !(later.frames > first.frames && later.samples > first.samples);) {
      await page.waitForTimeout(250);
      later = await inboundMedia(page);
    }
    assert.ok(first.frames > 0 && later.frames > first.frames, `${page.sunwaiName} decodes video: ${JSON.stringify([first, later])}`);
    assert.ok(first.samples > 0 && later.samples > first.samples, `${page.sunwaiName} receives audio: ${JSON.stringify([first, later])}`);
  }
}
