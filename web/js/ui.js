// Small DOM, formatting, HTTP and attention helpers shared by every page. Text is always
// set with textContent, never parsed as HTML.

import { t, locale } from './i18n.js';

export const $ = (sel, root = document) => root.querySelector(sel);
export const $$ = (sel, root = document) => [...root.querySelectorAll(sel)];

/** el('p', {class: 'x', text: 'hi', dataset: {a: 1}, onclick}, child, ...) */
export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null || v === false) continue;
    if (k === 'text') e.textContent = v;
    else if (k === 'class') e.className = v;
    else if (k === 'dataset') Object.assign(e.dataset, v);
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k in e && typeof v !== 'string') e[k] = v;
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) if (c != null) e.append(c);
  return e;
}

export function clear(node, ...children) { node.replaceChildren(...children.flat().filter((c) => c != null)); }

/** Shows one <section data-screen> of the page and moves focus to its heading. */
export function showScreen(id, { focus = true } = {}) {
  let shown = null;
  for (const s of $$('section[data-screen]')) {
    const on = s.id === id;
    s.hidden = !on;
    if (on) shown = s;
  }
  if (shown && focus) {
    const h = shown.querySelector('h1');
    if (h) { h.tabIndex = -1; h.focus({ preventScroll: true }); }
    window.scrollTo(0, 0);
  }
  document.body.dataset.view = id;
  return shown;
}

/** Says `text` to screen readers through the page's polite live region. */
export function announce(text) {
  const r = document.getElementById('announcer');
  if (!r) return;
  r.textContent = '';
  setTimeout(() => { r.textContent = text; }, 50);
}

/** JSON over HTTP: {ok, status, data}. Network failures come back as status 0. */
export async function api(method, path, body) {
  const init = { method, headers: {}, credentials: 'same-origin' };
  if (body !== undefined) {
    init.headers['content-type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  try {
    const r = await fetch(path, init);
    let data = null;
    const type = r.headers.get('content-type') || '';
    if (type.includes('json')) data = await r.json().catch(() => null);
    return { ok: r.ok, status: r.status, data };
  } catch {
    return { ok: false, status: 0, data: null };
  }
}

// ---- time -------------------------------------------------------------------------------

function fmt(iso, tz, opts) {
  if (!iso) return '';
  const d = new Date(iso);
  try { return new Intl.DateTimeFormat(locale(), { timeZone: tz || undefined, ...opts }).format(d); }
  catch { return new Intl.DateTimeFormat(locale(), opts).format(d); }
}
export const fmtTime = (iso, tz) => fmt(iso, tz, { hour: '2-digit', minute: '2-digit', hour12: false });
export const fmtDate = (iso, tz) => fmt(iso, tz, { weekday: 'long', day: 'numeric', month: 'long' });
export const fmtDateTime = (iso, tz) => fmt(iso, tz, { day: 'numeric', month: 'short', year: 'numeric', hour: '2-digit', minute: '2-digit', hour12: false });

export const fmtDayTime = (iso, tz) => `${fmtDate(iso, tz)}, ${fmtTime(iso, tz)}`;

/** "12:00 – 14:00" or, on another day than `today`, "शनिवार, 29 नवंबर, 12:00 – 14:00". */
export function fmtWindow(opens, closes, tz, withDate = true) {
  const span = `${fmtTime(opens, tz)} – ${fmtTime(closes, tz)}`;
  return withDate ? `${fmtDate(opens, tz)}, ${span}` : span;
}

/** Whole minutes, rounded up: "4 मिनट". */
export function fmtMinutes(secs) {
  const m = Math.max(1, Math.ceil(secs / 60));
  if (m < 60) return t('time.minutes', { n: m });
  const h = Math.floor(m / 60);
  const r = m % 60;
  return r ? t('time.hours_minutes', { h, m: r }) : t('time.hours', { h });
}

export function fmtDuration(secs) {
  if (secs == null) return '—';
  if (secs < 60) return t('time.seconds', { n: Math.round(secs) });
  return fmtMinutes(secs);
}

/** Parts of an instant in a zone, and the UTC instant of that day's local midnight. */
export function startOfDay(iso, tz) {
  const d = new Date(iso);
  const parts = {};
  const f = new Intl.DateTimeFormat('en-CA', { timeZone: tz, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' });
  for (const p of f.formatToParts(d)) parts[p.type] = p.value;
  const asUtc = Date.UTC(+parts.year, +parts.month - 1, +parts.day, +parts.hour, +parts.minute, +parts.second);
  const offset = asUtc - Math.floor(d.getTime() / 1000) * 1000;
  return new Date(Date.UTC(+parts.year, +parts.month - 1, +parts.day) - offset);
}

/** A local calendar date ("2026-11-28") in a zone → the UTC instant of its midnight. */
export function localMidnight(dateStr, tz) {
  const [y, m, d] = dateStr.split('-').map(Number);
  const guess = new Date(Date.UTC(y, m - 1, d, 12));
  const noonStart = startOfDay(guess.toISOString(), tz);
  return noonStart;
}

/** RFC 3339 in UTC, whole seconds, as the API wants it. */
export const rfc3339 = (d) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

/** Devanagari (and other Indic) digits typed on a Hindi keyboard → ASCII digits. */
export function asciiDigits(s) {
  return s.replace(/[\u0966-\u096F]/g, (c) => String(c.charCodeAt(0) - 0x0966));
}

// ---- attention: sound, vibration, title, notifications -----------------------------------

let audio = null;
/** Call from a click so that the browser lets the page make sound later. */
export function unlockAudio() {
  try {
    const AC = window.AudioContext || window.webkitAudioContext;
    if (!AC) return;
    if (!audio) audio = new AC();
    if (audio.state === 'suspended') audio.resume();
  } catch { /* no sound */ }
}

/** A short two-tone chime made with WebAudio (no sound files to download). */
export function chime(tones = [880, 660], ms = 220) {
  unlockAudio();
  if (!audio) return;
  let at = audio.currentTime + 0.02;
  for (const f of tones) {
    const o = audio.createOscillator();
    const g = audio.createGain();
    o.frequency.value = f;
    o.type = 'sine';
    g.gain.setValueAtTime(0.0001, at);
    g.gain.exponentialRampToValueAtTime(0.35, at + 0.02);
    g.gain.exponentialRampToValueAtTime(0.0001, at + ms / 1000);
    o.connect(g).connect(audio.destination);
    o.start(at);
    o.stop(at + ms / 1000 + 0.05);
    at += ms / 1000 + 0.06;
  }
}

/** Repeats a chime every `everyMs` until the returned function is called. */
export function ring(everyMs = 2500, tones = [988, 784, 988, 784]) {
  chime(tones, 180);
  const timer = setInterval(() => chime(tones, 180), everyMs);
  return () => clearInterval(timer);
}

export function vibrate(pattern) {
  try { if (navigator.vibrate) navigator.vibrate(pattern); } catch { /* not supported */ }
}

let flashTimer = null;
let baseTitle = '';
/** Alternates the tab's title with `text` until the page is looked at (or stopFlash). */
export function flashTitle(text) {
  stopFlash();
  baseTitle = document.title;
  let on = false;
  flashTimer = setInterval(() => {
    on = !on;
    document.title = on ? text : baseTitle;
  }, 1000);
  const stopWhenSeen = () => { if (!document.hidden) { stopFlash(); document.removeEventListener('visibilitychange', stopWhenSeen); } };
  if (!document.hidden) setTimeout(stopWhenSeen, 6000);
  document.addEventListener('visibilitychange', stopWhenSeen);
}
export function stopFlash() {
  if (flashTimer) { clearInterval(flashTimer); flashTimer = null; document.title = baseTitle || document.title; }
}

export function askNotifications() {
  try { if ('Notification' in window && Notification.permission === 'default') Notification.requestPermission(); } catch { /* ignore */ }
}

/** A system notification, only when the tab is in the background. */
export function notifyIfHidden(title, body) {
  if (!document.hidden) return null;
  try {
    if (!('Notification' in window) || Notification.permission !== 'granted') return null;
    const n = new Notification(title, { body, tag: 'sunwai', renotify: true, requireInteraction: true });
    n.onclick = () => { window.focus(); n.close(); };
    return n;
  } catch { return null; }
}

/** A button that asks for a second press within 5 s before doing something drastic. */
export function confirmPress(button, labelKey, confirmKey, action) {
  let armed = null;
  button.addEventListener('click', () => {
    if (armed) {
      clearTimeout(armed); armed = null;
      button.textContent = t(labelKey);
      action();
      return;
    }
    button.textContent = t(confirmKey);
    armed = setTimeout(() => { armed = null; button.textContent = t(labelKey); }, 5000);
  });
}

/** Shows a field's error under it and marks it invalid; `null` clears all in `form`. */
export function fieldError(form, field, text) {
  for (const e of $$('.err[data-for]', form)) { e.textContent = ''; e.hidden = true; }
  for (const i of $$('[aria-invalid]', form)) i.removeAttribute('aria-invalid');
  if (!field) return;
  const input = form.elements[field];
  const msg = $(`.err[data-for="${field}"]`, form);
  if (msg) { msg.textContent = text; msg.hidden = false; }
  if (input && input.setAttribute) { input.setAttribute('aria-invalid', 'true'); input.focus(); }
}

/** Fills a <select> with catalog entries ({key, hi, en}) in the current language. */
export function fillSelect(select, items, lang, { empty } = {}) {
  const keep = select.value;
  clear(select);
  if (empty) select.append(el('option', { value: '', text: empty }));
  for (const it of items) select.append(el('option', { value: it.key, text: it[lang] || it.en || it.key }));
  if (keep) select.value = keep;
}

export function label(items, key, lang) {
  const it = (items || []).find((i) => i.key === key);
  return it ? (it[lang] || it.en) : key || '—';
}

/** Sets a status line to a text that follows language changes (i18n.apply re-reads it). */
export function say(node, key) {
  if (key) { node.dataset.i18n = key; node.textContent = t(key); } else { delete node.dataset.i18n; node.textContent = ''; }
}

/** The connection banner shared by all pages: hidden while online. */
export function connBanner(status) {
  const b = document.getElementById('conn');
  if (!b) return;
  if (status === 'online') { b.hidden = true; return; }
  b.hidden = false;
  b.className = 'conn';
  b.textContent = t(status === 'connecting' ? 'conn.connecting' : 'conn.lost');
}
