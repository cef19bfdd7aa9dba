// Shared helpers for the browser tests: Chromium with fake camera and microphone, the
// i18n dictionaries, accessibility checks with axe-core, screenshots for the user guide
// (UPDATE_SCREENSHOTS=1) and of every page when a test fails.

import { readFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
export const ROOT = resolve(here, '..', '..');
export const BASE = process.env.SUNWAI_URL;
export const CLOSED = process.env.SUNWAI_CLOSED_URL;
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

export async function launch() {
  // Playwright gives every launch a fresh, temporary user-data-dir of its own.
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: [
      '--headless', '--no-sandbox', '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream',
      '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--no-first-run', '--autoplay-policy=no-user-gesture-required', '--allow-loopback-in-peer-connection',
    ],
  });
}

/** Every page a test opens, so that all of them can be photographed when it fails. */
const open = [];

export async function newPage(browser, name, viewport = PHONE, base = BASE) {
  const ctx = await browser.newContext({ viewport, locale: 'hi-IN', timezoneId: 'Asia/Kolkata' });
  await ctx.grantPermissions(['camera', 'microphone', 'notifications'], { origin: base });
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

/** Runs a test body; on failure photographs every page it opened and prints where. */
export function withPages(slug, body) {
  return async (t) => {
    open.length = 0;
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
      throw e;
    } finally {
      for (const { page } of open) await page.context().close().catch(() => {});
      open.length = 0;
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

export async function screen(page, id) {
  await page.locator(`#${id}`).waitFor({ state: 'visible' });
}

/** axe-core on the page as it is now: no serious or critical violations. */
export async function checkA11y(page, what) {
  // Evaluated through the DevTools protocol, so the page's CSP does not get in the way.
  await page.evaluate(axeSource);
  const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(bad.map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`), [], `accessibility of ${what}`);
}

/** For the user guide: the page in Hindi and in English (only with UPDATE_SCREENSHOTS=1). */
export async function shot(page, name) {
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
export async function joinQueue(page, name, opts = {}) {
  await page.goto(`${BASE}/d/ssp-prayagraj`);
  await screen(page, 's-intake');
  await fillIntake(page, { name, ...opts });
  await page.click('#intake-submit');
  await screen(page, 's-device');
  await page.waitForFunction(() => document.getElementById('preview').videoWidth > 0);
  await page.click('#join');
  await screen(page, 's-waiting');
  return expectText(page, '#waiting-ref', /^PRY-\d{4}-\d+$/);
}
