// The supervisor's console: the live wallboard from `desk` snapshots, today's chart and
// the forecast for the rest of the window, window control, broadcasts to the waiting
// room, and the records browser with CSV export.

import { initI18n, t, has, getLang, onLangChange } from './i18n.js';
import {
  $, el, clear, showScreen, api, fmtTime, fmtWindow, fmtDuration, fmtDateTime, localMidnight,
  rfc3339, label, connBanner, confirmPress, say,
} from './ui.js';
import { Signal } from './signal.js';
import { signedIn, wireSignOut } from './staff.js';
import { DayChart } from './chart.js';
import { MonitorMedia } from './media.js';

const STATUSES = ['received', 'forwarded', 'under_investigation', 'resolved'];
const S = { me: null, desks: [], desk: null, catalog: { categories: [], stations: [] }, snapshot: null, records: [], record: null, today: null, forecast: null };
// The chart and the forecast are fetched this often (the server keeps a forecast 30 s).
const REFRESH_MS = 60000;
const signal = new Signal();
const monitor = new MonitorMedia(signal, {
  citizen: document.getElementById('mon-citizen'),
  officer: document.getElementById('mon-officer'),
  onState: monitorState,
});
let listening = null;
const tz = () => (S.desk && S.desk.time_zone) || 'Asia/Kolkata';

async function main() {
  await initI18n();
  wireSignOut();
  onLangChange(() => { monitorState(...monitorShown); fillSelects(); renderBoard(); renderRecords(); renderDetail(); renderToday(true); renderForecast(); });
  S.me = await signedIn('supervisor');
  const [desks, catalog] = await Promise.all([api('GET', '/api/desks'), api('GET', '/api/catalog')]);
  S.catalog = catalog.data || S.catalog;
  S.desks = (desks.data || []).filter((d) => !S.me.desk || d.id === S.me.desk);
  S.desk = S.desks[0] || null;
  fillSelects();
  $('#desk-pick-wrap').hidden = S.desks.length < 2;
  showScreen('s-console');
  signal.start();
  loadRecords();
  loadDay();
  setInterval(loadDay, REFRESH_MS);
}

function fillSelects() {
  const pick = $('#desk-pick');
  clear(pick, S.desks.map((d) => el('option', { value: d.id, text: d.name })));
  if (S.desk) pick.value = S.desk.id;
  $('#desk-name').textContent = S.desk ? S.desk.name : t('sup.title');
  const st = $('#r-status');
  const keep = st.value;
  clear(st, el('option', { value: '', text: t('sup.any_status') }), STATUSES.map((s) => el('option', { value: s, text: t(`record_status.${s}`) })));
  st.value = keep;
  const ns = $('#s-new');
  const keepNew = ns.value;
  clear(ns, STATUSES.map((s) => el('option', { value: s, text: t(`record_status.${s}`) })));
  if (keepNew) ns.value = keepNew;
}

// ---- wallboard ------------------------------------------------------------------------------

signal.on('status', connBanner);
signal.on('welcome', () => { if (S.desk) signal.request({ type: 'watch', desk: S.desk.id }).catch(() => {}); });
signal.on('final', (f) => { if (f.why === 'session') location.reload(); });
signal.on('desk', (m) => {
  if (!S.desk || m.snapshot.desk !== S.desk.id) return;
  const before = S.snapshot;
  S.snapshot = m.snapshot;
  renderBoard();
  // New records appear as calls end: refresh the list when the day's counts move.
  if (before && (before.calls_today !== m.snapshot.calls_today || before.abandoned_today !== m.snapshot.abandoned_today)) loadRecords();
  // Someone joined or was answered: the chart moves too (at most every 5 s).
  if (before && (before.waiting !== m.snapshot.waiting || before.calls_today !== m.snapshot.calls_today)) soonToday();
});

let todayTimer = 0;
function soonToday() {
  if (!todayTimer) todayTimer = setTimeout(() => { todayTimer = 0; loadToday(); }, 5000);
}

function setN(id, v) { $(id).textContent = v == null ? '—' : String(v); }

function renderBoard() {
  const s = S.snapshot;
  if (!s) return;
  const lang = getLang();
  const w = s.window;
  $('#board-window').textContent = w.open
    ? t('board.window_open', { span: fmtWindow(w.opens_at, w.closes_at, tz(), false) })
    : (w.next_opens_at ? t('board.window_closed_next', { when: fmtWindow(w.next_opens_at, w.next_closes_at, tz()) }) : t('board.window_closed'));
  setN('#b-waiting', s.waiting);
  $('#b-longest').textContent = s.waiting ? fmtDuration(s.longest_wait_secs) : '—';
  $('#b-avg-wait').textContent = fmtDuration(s.avg_wait_secs);
  $('#b-avg-call').textContent = fmtDuration(s.avg_call_secs);
  setN('#b-on-duty', s.officers.filter((o) => o.state !== 'off').length);
  setN('#b-calls', s.calls_today);
  setN('#b-abandoned', s.abandoned_today);
  setN('#b-carried', s.carried_over_today);
  setN('#b-backlog', s.projected_backlog_at_close);
  const at = new Date(s.at).getTime();
  clear($('#b-officers'), s.officers.map((o) => {
    const inQueue = o.entry && s.queue.find((q) => q.entry === o.entry);
    return el('tr', {},
      el('td', { text: o.name }),
      el('td', {}, el('span', { class: 'badge', dataset: { state: o.state }, text: t(`duty.${o.state}`) }), inQueue ? ` · ${inQueue.name}` : '',
        // One side's media in the call has stopped reaching the server for now.
        o.reconnecting ? el('span', { class: 'reconnecting', text: ` · ${t(`sup.reconnecting_${o.reconnecting}`)}` }) : ''),
      el('td', { text: `${fmtTime(o.since, tz())} (${fmtDuration(Math.max(0, (at - new Date(o.since).getTime()) / 1000))})` }),
      el('td', {}, o.state === 'in_call' && o.entry && o.entry !== (listening && listening.entry)
        ? el('button', { type: 'button', class: 'quiet listen', dataset: { entry: o.entry }, text: t('sup.listen'),
          onclick: () => startListening(o.entry) })
        : ''));
  }));
  // The call being listened to has ended: stop.
  if (listening && !s.officers.some((o) => o.state === 'in_call' && o.entry === listening.entry)) monitor.stop();
  $('#b-officers-empty').hidden = s.officers.length > 0;
  clear($('#b-queue'), s.queue.map((q, i) => el('tr', {},
    el('td', { text: String(i + 1) }),
    el('td', { text: q.reference }),
    el('td', { text: q.connected ? q.name : `${q.name} (${t('board.reconnecting')})` }),
    el('td', { text: label(S.catalog.categories, q.category, lang) }),
    el('td', { text: fmtDuration(q.waited_secs) }))));
  $('#b-queue-empty').hidden = s.queue.length > 0;
  clear($('#b-categories'), s.categories.map((c) => el('li', { text: `${label(S.catalog.categories, c.category, lang)}: ${c.count}` })));
}

// ---- window and broadcast ------------------------------------------------------------------

async function deskCommand(msg, statusEl, okKey) {
  say(statusEl, null);
  try {
    await signal.request({ ...msg, desk: S.desk.id });
    say(statusEl, okKey);
    return true;
  } catch (e) {
    say(statusEl, { out_of_order: 'sup.err_state', invalid_input: 'sup.err_input', not_allowed: 'sup.err_allowed', offline: 'error.offline' }[e.code] || 'error.generic');
    return false;
  }
}

function minutes() {
  const n = parseInt($('#w-minutes').value, 10);
  return Number.isFinite(n) && n > 0 ? n : 30;
}

$('#w-open').addEventListener('click', () => deskCommand({ type: 'open_window', minutes: minutes() }, $('#w-status'), 'sup.opened'));
$('#w-extend').addEventListener('click', () => deskCommand({ type: 'extend_window', minutes: minutes() }, $('#w-status'), 'sup.extended'));
confirmPress($('#w-close'), 'sup.close', 'sup.close_confirm', () => deskCommand({ type: 'close_window' }, $('#w-status'), 'sup.closed'));
$('#bc-send').addEventListener('click', async () => {
  const text = $('#bc-text').value.trim();
  if (!text) { say($('#bc-status'), 'sup.err_empty'); return; }
  if (await deskCommand({ type: 'broadcast', text }, $('#bc-status'), 'sup.sent')) $('#bc-text').value = '';
});
$('#desk-pick').addEventListener('change', async (e) => {
  if (S.desk) await signal.request({ type: 'unwatch', desk: S.desk.id }).catch(() => {});
  S.desk = S.desks.find((d) => d.id === e.target.value) || S.desk;
  S.snapshot = null;
  S.today = null;
  S.forecast = null;
  $('#desk-name').textContent = S.desk.name;
  signal.request({ type: 'watch', desk: S.desk.id }).catch(() => {});
  loadRecords();
  loadDay();
});

// ---- today's chart and the forecast ---------------------------------------------------------

const chart = new DayChart($('#chart'));

function loadDay() {
  if (!S.desk) return;
  loadToday();
  loadForecast();
}

async function loadToday() {
  const desk = S.desk;
  const r = await api('GET', `/api/desks/${encodeURIComponent(desk.id)}/today`);
  if (!r.ok || S.desk !== desk) return;
  S.today = r.data;
  renderToday();
}

function renderToday(relabel = false) {
  const d = S.today;
  if (!d) return;
  if (relabel) chart.relabel();
  else chart.update(d, tz());
  $('#chart-note').textContent = d.starts.length ? t('chart.note', { m: Math.round(d.interval_secs / 60) }) : t('chart.none');
  const iso = (s) => new Date(s * 1000).toISOString();
  clear($('#chart-rows'), d.starts.map((s, i) => (d.arrivals[i] == null ? null : el('tr', {},
    el('td', { text: fmtTime(iso(s), tz()) }),
    el('td', { text: String(d.arrivals[i]) }),
    el('td', { text: String(d.answered[i]) }),
    el('td', { text: fmtDuration(d.avg_wait_secs[i]) }),
    el('td', { text: fmtDuration(d.longest_wait_secs[i]) })))));
}

async function loadForecast() {
  const desk = S.desk;
  if (!S.forecast) say($('#fc-advice'), 'forecast.loading');
  const r = await api('GET', `/api/desks/${encodeURIComponent(desk.id)}/forecast`);
  if (S.desk !== desk) return;
  if (!r.ok) {
    if (!S.forecast) say($('#fc-advice'), r.status === 0 ? 'error.offline' : 'forecast.unavailable');
    return;
  }
  S.forecast = r.data;
  renderForecast();
}

/** The advice as a sentence: the server sends figures, the words are the page's. */
function adviceText(f) {
  const close = fmtTime(f.closes_at, tz());
  const a = f.advice;
  if (!a) return t('forecast.closed');
  if (a.kind === 'enough') return t('forecast.enough', { close });
  if (a.kind === 'more') return t(a.extra === 1 ? 'forecast.more_1' : 'forecast.more_n', { n: a.extra, from: a.from, to: a.to, close });
  return t('forecast.no_gain', { n: a.backlog, close });
}

function renderForecast() {
  const f = S.forecast;
  if (!f) return;
  const advice = $('#fc-advice');
  delete advice.dataset.i18n;
  advice.textContent = adviceText(f);
  advice.className = `notice${f.advice && f.advice.kind === 'more' ? ' warn' : f.advice && f.advice.kind === 'enough' ? ' ok' : ''}`;
  $('#fc-table-wrap').hidden = !f.open;
  if (!f.open) { $('#fc-basis').textContent = ''; return; }
  const close = fmtTime(f.closes_at, tz());
  $('#fc-h-backlog').textContent = t('forecast.backlog', { close });
  $('#fc-h-heard').textContent = t('forecast.heard', { close });
  clear($('#fc-rows'), f.projections.map((p) => el('tr', { class: p.extra === 0 ? 'now' : '' },
    el('td', { text: p.extra === 0 ? t('forecast.now', { n: p.officers }) : t('forecast.plus', { n: p.officers, k: p.extra }) }),
    el('td', { text: String(p.backlog_at_close) }),
    el('td', { text: fmtDuration(p.longest_wait_secs) }),
    el('td', { text: String(p.answered_by_close) }),
    el('td', { text: String(p.gave_up) }))));
  const b = f.arrivals.basis;
  const arrivals = b.kind === 'history'
    ? t('forecast.arrivals_history', { n: Math.round(f.arrivals.expected), close, days: b.days, so_far: b.so_far, usual: Math.round(b.usual_so_far) })
    : t('forecast.arrivals_recent', { n: Math.round(f.arrivals.expected), close, mins: Math.round(b.secs / 60), count: b.arrivals });
  $('#fc-basis').textContent = t('forecast.basis', {
    arrivals,
    call: fmtDuration(f.mean_call_secs),
    source: f.calls_used ? t('forecast.source_calls', { n: f.calls_used }) : t('forecast.source_estimate'),
    patience: f.mean_patience_secs == null ? t('forecast.patience_none') : t('forecast.patience', { p: fmtDuration(f.mean_patience_secs) }),
    runs: f.runs,
    at: fmtTime(f.at, tz()),
  });
}

// ---- records --------------------------------------------------------------------------------

function filterParams() {
  const f = $('#rec-form');
  const p = new URLSearchParams();
  if (S.desk) p.set('desk', S.desk.id);
  if (f.elements.status.value) p.set('status', f.elements.status.value);
  if (f.elements.q.value.trim()) p.set('q', f.elements.q.value.trim());
  if (f.elements.from.value) p.set('since', rfc3339(localMidnight(f.elements.from.value, tz())));
  if (f.elements.to.value) {
    const next = new Date(`${f.elements.to.value}T12:00:00Z`);
    next.setUTCDate(next.getUTCDate() + 1);
    p.set('until', rfc3339(localMidnight(next.toISOString().slice(0, 10), tz())));
  }
  return p;
}

async function loadRecords() {
  const p = filterParams();
  $('#csv').href = `/api/records.csv?${p}`;
  p.set('limit', '200');
  const r = await api('GET', `/api/records?${p}`);
  const err = $('#rec-error');
  err.hidden = r.ok;
  if (!r.ok) { err.textContent = t(r.status === 0 ? 'error.offline' : 'error.generic'); return; }
  S.records = r.data;
  renderRecords();
}

function renderRecords() {
  const lang = getLang();
  clear($('#rec-rows'), S.records.map((c) => el('tr', {},
    el('td', {}, el('button', { type: 'button', class: 'quiet', text: c.reference, 'aria-label': t('sup.open_record', { reference: c.reference }), onclick: () => openRecord(c.reference) })),
    el('td', { text: fmtDateTime(c.created_at, tz()) }),
    el('td', { text: c.intake.name }),
    el('td', { text: label(S.catalog.categories, (c.outcome && c.outcome.category) || c.intake.category, lang) }),
    el('td', { text: c.outcome && c.outcome.station ? label(S.catalog.stations, c.outcome.station, lang) : '—' }),
    el('td', { text: t(`disposition.${c.disposition}`) }),
    el('td', { text: t(`record_status.${c.status}`) }))));
  $('#rec-empty').hidden = S.records.length > 0;
}

async function openRecord(reference) {
  const r = await api('GET', `/api/records/${encodeURIComponent(reference)}`);
  if (!r.ok) return;
  S.record = r.data;
  say($('#detail-status'), null);
  $('#s-new').value = S.record.status;
  $('#s-note').value = '';
  renderDetail();
  $('#detail').hidden = false;
  $('#detail-title').tabIndex = -1;
  $('#detail-title').focus();
}

function renderDetail() {
  const c = S.record;
  if (!c) return;
  const lang = getLang();
  const o = c.outcome || {};
  $('#detail-title').textContent = t('sup.record_title', { reference: c.reference });
  const pairs = [
    ['table.name', c.intake.name], ['field.mobile', c.intake.mobile], ['field.area', c.intake.area],
    ['field.category', label(S.catalog.categories, c.intake.category, lang)], ['field.description', c.intake.description || '—'],
    ['sup.channel', t(`channel.${c.channel}`)], ['table.filed', fmtDateTime(c.created_at, tz())],
    ['table.officer', c.officer_name || '—'], ['table.waited', fmtDuration(c.wait_secs)], ['sup.talk', fmtDuration(c.talk_secs)],
    ['table.disposition', t(`disposition.${c.disposition}`)], ['sup.status', t(`record_status.${c.status}`)],
    ['officer.station', o.station ? label(S.catalog.stations, o.station, lang) : '—'], ['officer.action', o.action || '—'], ['officer.notes', o.notes || '—'],
  ];
  clear($('#detail-facts'), pairs.flatMap(([k, v]) => [el('dt', { text: t(k) }), el('dd', { text: v })]));
  clear($('#detail-history'), c.history.map((h) => el('li', {},
    el('strong', { text: `${fmtDateTime(h.at, tz())} · ${t(`history.${h.kind}`)}` }),
    ` — ${h.actor.kind === 'user' ? h.actor.name : t(`actor.${h.actor.kind}`)}`,
    saidText(h, lang),
    h.status ? ` → ${t(`record_status.${h.status}`)}` : '')));
}

/** A history row's detail in the page's language, from what the server says it means
 * (`said`, src/store/said.rs); people's own words as they wrote them. */
function saidText(h, lang) {
  const s = h.said || { what: 'text', text: h.detail };
  const word = (key, raw, vars) => (has(key) ? t(key, vars) : raw);
  let text;
  switch (s.what) {
    case 'nothing': text = ''; break;
    case 'channel': text = word(`channel.${s.channel}`, s.channel); break;
    case 'officer': text = s.name; break;
    case 'reason': text = word(`said.${h.kind}.${s.reason}`, s.reason); break;
    case 'next_window': text = s.opens_at ? t('said.next_window', { when: fmtDateTime(s.opens_at, tz()) }) : t('said.no_next_window'); break;
    case 'outcome': text = [
      `${t('field.category')}: ${label(S.catalog.categories, s.category, lang)}`,
      `${t('officer.station')}: ${s.station ? label(S.catalog.stations, s.station, lang) : '—'}`,
      `${t('officer.action')}: ${s.action || '—'}`,
      `${t('officer.notes')}: ${s.notes || '—'}`,
    ].join('; '); break;
    case 'forwarded': text = t('said.forwarded', { station: label(S.catalog.stations, s.station, lang) }); break;
    case 'place': text = word(`said.place.${s.class}`, `${s.class} ${s.seq}`, { seq: s.seq }); break;
    case 'monitoring': text = t(s.started ? 'said.monitor_started' : 'said.monitor_stopped'); break;
    default: text = s.text || '';
  }
  return text ? ` — ${text}` : '';
}

$('#rec-form').addEventListener('submit', (e) => { e.preventDefault(); loadRecords(); });
$('#rec-form').addEventListener('change', () => { $('#csv').href = `/api/records.csv?${filterParams()}`; });
$('#detail-close').addEventListener('click', () => { $('#detail').hidden = true; S.record = null; });
$('#status-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  if (!S.record) return;
  const r = await api('POST', `/api/records/${encodeURIComponent(S.record.reference)}/status`, { status: $('#s-new').value, note: $('#s-note').value.trim() });
  if (r.ok) {
    S.record = r.data;
    renderDetail();
    $('#s-note').value = '';
    say($('#detail-status'), 'sup.updated');
    loadRecords();
  } else {
    say($('#detail-status'), r.status === 0 ? 'error.offline' : 'error.generic');
  }
});

main();

// ---- silent monitoring -----------------------------------------------------------------------

async function startListening(entry) {
  const rec = S.records.find((r) => r.id === entry);
  listening = { entry, reference: rec ? rec.reference : '' };
  renderBoard();
  await monitor.start(entry);
}

let monitorShown = ['idle'];
function monitorState(state, detail) {
  monitorShown = [state, detail];
  const msg = $('#mon-state');
  $('#mon-videos').hidden = state !== 'connecting' && state !== 'listening';
  $('#mon-stop').hidden = state !== 'connecting' && state !== 'listening';
  if (state === 'listening') {
    msg.textContent = listening && listening.reference
      ? t('sup.monitor_listening', { reference: listening.reference }) : t('sup.monitor_listening_any');
  }
  else if (state === 'connecting') msg.textContent = t('sup.monitor_connecting');
  else if (state === 'failed') msg.textContent = t('sup.monitor_failed', { why: detail || '' });
  else msg.textContent = '';
  if ((state === 'idle' || state === 'failed') && listening) { listening = null; renderBoard(); }
}

$('#mon-stop').addEventListener('click', () => monitor.stop());
