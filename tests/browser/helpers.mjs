// Shared helpers for the browser tests: browsers with fake camera and microphone, each in
// its own network namespace; the i18n dictionaries, accessibility checks with axe-core,
// screenshots for the user guide (UPDATE_SCREENSHOTS=1) and of every page when a test
// fails.

import { readFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { launchIn, newContextOptions } from './browsers.mjs';

const here = dirname(fileURLToPath(import.meta.url));
export const ROOT = resolve(here, '..', '..');
export const BASE = process.env.SUNWAI_URL;
export const CLOSED = process.env.SUNWAI_CLOSED_URL;
/** A server of its own for the interoperability matrix, whose many hearings would
 *  otherwise show in the counters the other tests check. */
export const INTEROP = process.env.SUNWAI_INTEROP_URL;
if (!BASE) throw new Error('SUNWAI_URL is not set: run these tests through `cargo test browser` (tests/it/browser.rs)');
export const PASSWORD = process.env.SUNWAI_PASSWORD || 'correct horse battery';
export const UPDATE = process.env.UPDATE_SCREENSHOTS === '1';

export const dict = {
  hi: JSON.parse(readFileSync(join(ROOT, 'web/i18n/hi.json'), 'utf8')),
  en: JSON.parse(readFileSync(join(ROOT, 'web/i18n/en.json'), 'utf8')),
};
export const catalog = { stations: { kotwali: 'कोतवाली', 'civil-lines': 'सिविल लाइंस' } };

const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

export const PHONE = { width: 360, height: 740 };
export const DESKTOP = { width: 1280, height: 860 };

// The test network made by tests/it/netlab.rs: the server's address and one network
// namespace per client, so that every browser sends from an interface address of its
// own, as a phone does, never from loopback.
export const LAB = JSON.parse(process.env.SUNWAI_LAB || 'null');
if (!LAB || !LAB.hosts.length) throw new Error('SUNWAI_LAB is not set: run these tests through `cargo test browser` (tests/it/browser.rs)');
// browser.rs makes eight namespaces for the files it runs; tests/it/turn.rs and
// tests/it/weak_link.rs make fewer for their own (udp-blocked.mjs, weak-link.mjs), which use
// LAB.hosts directly.
if (LAB.hosts.length < 8 && !process.env.SUNWAI_TURN_CASES && !process.env.SUNWAI_WEAK_CONDITIONS) throw new Error(`SUNWAI_LAB has ${LAB.hosts.length} hosts, the browser tests need 8`);
/** Who runs where: one namespace per browser (or other client) a test starts. */
export const HOSTS = {
  citizen: LAB.hosts[0], officer: LAB.hosts[1], supervisor: LAB.hosts[2],
  // The interoperability matrix (interop.test.mjs): a citizen and an officer per hearing.
  a: LAB.hosts[3], b: LAB.hosts[4], c: LAB.hosts[5], d: LAB.hosts[6], e: LAB.hosts[7],
};

/** A browser (`chromium` or `firefox`) inside `host`'s namespace. */
export async function launch(host, kind = 'chromium') {
  return launchIn(host, kind);
}

/** Every page a test opens, so that all of them can be photographed when it fails. */
const open = [];

export async function newPage(browser, name, viewport = PHONE) {
  const kind = browser.browserType().name();
  const ctx = await browser.newContext({ ...newContextOptions(kind), viewport, locale: 'hi-IN', timezoneId: 'Asia/Kolkata' });
  const page = await ctx.newPage();
  page.setDefaultTimeout(15000);
  page.problems = [];
  page.on('pageerror', (e) => page.problems.push(`uncaught: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy|Refused to/.test(m.text())) page.problems.push(`CSP: ${m.text()}`);
  });
  page.sunwaiName = name;
  open.push({ name, page });
  return page;
}

/** How long the interoperability server (INTEROP) keeps a lost citizen's or officer's place
 * (its graces, tests/it/browser.rs), and a little more. */
export const SETTLE = 25000;

/** Runs a test body; on failure photographs every page it opened and prints where, and
 * then waits `settle` ms (SETTLE for tests on INTEROP) before the next test. */
export function withPages(slug, body, settle = 0) {
  return async (t) => {
    open.length = 0;
    let failed = false;
    try {
      await body(t);
      for (const { name, page } of open) assert.deepEqual(page.problems, [], `${name}: errors in the page`);
    } catch (e) {
      const dir = join(ROOT, 'target', 'browser-screenshots');
      mkdirSync(dir, { recursive: true });
      for (const { name, page } of open) {
        const file = join(dir, `${slug}-${name}.png`);
        try { await page.screenshot({ path: file, fullPage: true }); console.error(`screenshot of ${name}: ${file}`); } catch { /* page closed */ }
        if (page.problems.length) console.error(`${name} problems:`, page.problems);
        const state = await page.evaluate(() => ({
          url: location.href, screen: document.body.dataset.view,
          errors: [...document.querySelectorAll('.err')].filter((e) => !e.hidden && e.textContent).map((e) => e.textContent),
        })).catch(() => null);
        console.error(`${name} state:`, JSON.stringify(state));
      }
      failed = true;
      throw e;
    } finally {
      for (const { page } of open) await page.context().close().catch(() => {});
      open.length = 0;
      // A hearing that failed half-way may leave its citizen waiting or its officer in the
      // call until their graces run out: the next test starts after that.
      if (failed && settle) await new Promise((r) => setTimeout(r, settle));
    }
  };
}

export async function text(page, sel) {
  return (await page.locator(sel).first().textContent() || '').trim();
}

/** Waits until the element's text equals (string) or matches (RegExp) `want`. */
export async function expectText(page, sel, want, timeout = 15000) {
  const loc = page.locator(sel).first();
  const deadline = Date.now() + timeout;
  let got = '';
  while (Date.now() < deadline) {
    got = ((await loc.textContent({ timeout: 1000 }).catch(() => '')) || '').trim();
    if (typeof want === 'string' ? got === want : want.test(got)) return got;
    await page.waitForTimeout(100);
  }
  assert.fail(`${sel}: expected ${want}, got ${JSON.stringify(got)}`);
}

/** Waits until the page shows screen `id`. Generous: a page's first load (its modules,
 *  translations and session check) took over 15 s once on a 2-core CI machine busy with
 *  the cluster and durability tests beside the browsers. */
export async function screen(page, id, timeout = 30000) {
  await page.locator(`#${id}`).waitFor({ state: 'visible', timeout });
}

/** axe-core on the page as it is now: no serious or critical violations. */
export async function checkA11y(page, what) {
  // Evaluated through the DevTools protocol, so the page's CSP does not get in the way.
  await page.evaluate(axeSource);
  const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(bad.map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`), [], `accessibility of ${what}`);
}

/** Fails when a page in Hindi shows a translation key (what `t()` shows for a key it does
 * not have), a key-like word, or a complaint type's or station's key instead of its name:
 * in its visible text, its options, and the labels and placeholders assistive technology
 * reads. Pages in English are not checked: their words may be the keys' words. */
export async function assertTranslated(page, what) {
  const lang = await page.evaluate(() => document.documentElement.lang);
  if (lang !== 'hi') return;
  const cat = await page.evaluate(() => fetch('/api/catalog').then((r) => r.json()));
  const raw = [...cat.categories, ...cat.stations].map((x) => x.key);
  const found = await page.evaluate(({ keys, raw }) => {
    const keySet = new Set(keys);
    const rawSet = new Set(raw);
    const looksLikeKey = /^[a-z][a-z0-9]*(_[a-z0-9]+)*(\.[a-z0-9]+(_[a-z0-9]+)*)+$/;
    const bad = [];
    const check = (text, where) => {
      for (const word of text.split(/[\s·—,:;()→"“”]+/)) {
        if (word && (keySet.has(word) || rawSet.has(word) || looksLikeKey.test(word))) bad.push(`${where}: "${word}" in "${text.trim().slice(0, 80)}"`);
      }
    };
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      const el = n.parentElement;
      if (!el || el.closest('script, style')) continue;
      const shown = el.tagName === 'OPTION' || (el.getClientRects().length > 0 && !el.closest('[hidden]'));
      if (shown) check(n.textContent, el.id ? `#${el.id}` : el.tagName.toLowerCase());
    }
    for (const el of document.querySelectorAll('[placeholder], [aria-label], [title], [alt]')) {
      for (const a of ['placeholder', 'aria-label', 'title', 'alt']) if (el.getAttribute(a)) check(el.getAttribute(a), `${el.tagName.toLowerCase()}[${a}]`);
    }
    return bad;
  }, { keys: Object.keys(dict.en), raw });
  assert.deepEqual(found, [], `${what}: untranslated words on a Hindi page`);
}

/** Checks the page is all in Hindi (`assertTranslated`) and, for the user guide, photographs
 * it in Hindi and in English (only with UPDATE_SCREENSHOTS=1). */
export async function shot(page, name) {
  await assertTranslated(page, name);
  if (!UPDATE) return;
  const dir = join(ROOT, 'docs', 'screenshots');
  mkdirSync(dir, { recursive: true });
  const lang = await page.evaluate(() => document.documentElement.lang);
  const other = lang === 'hi' ? 'en' : 'hi';
  await page.waitForTimeout(300);
  await page.screenshot({ path: join(dir, `${name}.${lang}.png`), fullPage: true });
  await page.click('#lang-toggle');
  await page.waitForFunction((l) => document.documentElement.lang === l, other);
  await page.waitForTimeout(300);
  await page.screenshot({ path: join(dir, `${name}.${other}.png`), fullPage: true });
  await page.click('#lang-toggle');
  await page.waitForFunction((l) => document.documentElement.lang === l, lang);
}

export async function signIn(page, username) {
  await screen(page, 's-signin');
  await page.fill('#f-username', username);
  await page.fill('#f-password', PASSWORD);
  await page.click('#signin-form button[type=submit]');
  await screen(page, 's-console');
}

/** Fills the citizen's intake form (the page shows it). */
export async function fillIntake(page, { name, mobile = '98765 43210', station = 'कोतवाली', category = 'theft', description = 'मेरी साइकिल बाज़ार से चोरी हो गई।' }) {
  await page.fill('#f-name', name);
  await page.fill('#f-mobile', mobile);
  await page.selectOption('#f-area', station);
  await page.selectOption('#f-category', category);
  await page.fill('#f-description', description);
  await page.check('#f-consent');
}

/** Intake → device check → waiting room. Returns the reference shown. */
export async function joinQueue(page, name, opts = {}, base = BASE) {
  await page.goto(`${base}/d/ssp-prayagraj`);
  await screen(page, 's-intake');
  await fillIntake(page, { name, ...opts });
  await page.click('#intake-submit');
  await screen(page, 's-device');
  await page.waitForFunction(() => document.getElementById('preview').videoWidth > 0);
  await page.click('#join');
  await screen(page, 's-waiting');
  return expectText(page, '#waiting-ref', /^PRY-\d{4}-\d+$/);
}

/** Inbound media counters of the page's call, from getStats(): video frames decoded,
 *  packets and losses, audio samples received. */
export async function inboundMedia(page) {
  return page.evaluate(async () => {
    const pc = window.sunwaiCallMedia && window.sunwaiCallMedia.pc;
    const out = { frames: 0, samples: 0, packets: 0, lost: 0 };
    if (!pc) return out;
    (await pc.getStats()).forEach((r) => {
      if (r.type !== 'inbound-rtp') return;
      if (r.kind === 'video') { out.frames += r.framesDecoded || 0; out.packets += r.packetsReceived || 0; out.lost += r.packetsLost || 0; }
      if (r.kind === 'audio') out.samples += r.totalSamplesReceived || 0;
    });
    return out;
  });
}

/** Per inbound stream of the supervisor's monitor: video packets and frames, audio samples. */
export async function monitorMedia(page) {
  return page.evaluate(async () => {
    const pc = window.sunwaiMonitorMedia && window.sunwaiMonitorMedia.pc;
    const out = { packets: [], frames: [], samples: [] };
    if (!pc) return out;
    const rows = [];
    (await pc.getStats()).forEach((r) => { if (r.type === 'inbound-rtp') rows.push(r); });
    rows.sort((a, b) => String(a.mid).localeCompare(String(b.mid)));
    for (const r of rows) {
      if (r.kind === 'video') { out.packets.push(r.packetsReceived || 0); out.frames.push(r.framesDecoded || 0); }
      if (r.kind === 'audio') out.samples.push(r.totalSamplesReceived || 0);
    }
    return out;
  });
}
