// Every word on every page comes from /assets/i18n/<lang>.json. Hindi is the default; the
// choice is remembered in localStorage. Static elements name their text with data-i18n
// (and data-i18n-placeholder / -label / -title for attributes); pages re-render their
// dynamic parts in onLangChange.

const KEY = 'sunwai.lang';
const LANGS = ['hi', 'en'];
let lang = 'hi';
let dict = {};
const listeners = [];

function stored() {
  try { return localStorage.getItem(KEY); } catch { return null; }
}

export function getLang() { return lang; }

export function locale() { return lang === 'hi' ? 'hi-IN' : 'en-IN'; }

/** The text for `key`, with `{name}` placeholders filled from `vars`. */
export function t(key, vars) {
  let s = dict[key];
  if (s == null) return key;
  if (vars) s = s.replace(/\{(\w+)\}/g, (m, k) => (vars[k] == null ? m : String(vars[k])));
  return s;
}

/** Whether the dictionary has `key` (for optional texts such as unknown enum values). */
export function has(key) { return Object.prototype.hasOwnProperty.call(dict, key); }

export function apply(root = document) {
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll('[data-i18n-placeholder]')) el.placeholder = t(el.dataset.i18nPlaceholder);
  for (const el of root.querySelectorAll('[data-i18n-label]')) el.setAttribute('aria-label', t(el.dataset.i18nLabel));
  for (const el of root.querySelectorAll('[data-i18n-title]')) el.title = t(el.dataset.i18nTitle);
  if (document.body.dataset.title) document.title = t(document.body.dataset.title);
}

async function load(l) {
  const r = await fetch(`/assets/i18n/${l}.json`);
  if (!r.ok) throw new Error(`i18n ${l}: ${r.status}`);
  dict = await r.json();
  lang = l;
  document.documentElement.lang = l;
  const toggle = document.getElementById('lang-toggle');
  if (toggle) toggle.lang = t('lang.other_code');
  apply();
  for (const f of listeners) f(l);
}

export function setLang(l) {
  if (!LANGS.includes(l)) return Promise.resolve();
  try { localStorage.setItem(KEY, l); } catch { /* private mode: not remembered */ }
  return load(l);
}

export function onLangChange(f) { listeners.push(f); }

/** Loads the remembered language (Hindi by default) and wires the page's toggle button. */
export async function initI18n() {
  const want = stored();
  await load(LANGS.includes(want) ? want : 'hi');
  const toggle = document.getElementById('lang-toggle');
  if (toggle) toggle.addEventListener('click', () => setLang(lang === 'hi' ? 'en' : 'hi'));
}
