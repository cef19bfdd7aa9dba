// The officer's console: duty, the queue at a glance, offers (ringing until answered),
// the call, the complaint form (during or after the call), wrap-up, today's calls.

import { initI18n, t, has, getLang, onLangChange } from './i18n.js';
import {
  $, el, clear, showScreen, announce, api, fmtTime, fmtWindow, fmtDuration, startOfDay, rfc3339,
  unlockAudio, ring, flashTitle, stopFlash, askNotifications, notifyIfHidden, fieldError,
  fillSelect, label, connBanner, confirmPress, say,
} from './ui.js';
import { Signal } from './signal.js';
import { CallMedia } from './media.js';
import { signedIn, wireSignOut } from './staff.js';

const ON_DUTY_KEY = 'sunwai.officer.on_duty';
const S = {
  me: null, desk: null, catalog: { categories: [], stations: [] }, duty: 'off', offer: null,
  offerDeadline: 0, call: null, outcome: null, snapshot: null, today: [], peerLost: false,
};
const signal = new Signal();
let media = null;
let stopRing = null;
let offerTimer = null;
const tz = () => (S.desk && S.desk.time_zone) || 'Asia/Kolkata';

async function main() {
  await initI18n();
  wireSignOut();
  onLangChange(() => { fillForm(); render(); renderOutcomeStatus(); });
  await start(false);
}

async function start(expired) {
  S.me = await signedIn('officer', { expired });
  const [desks, catalog] = await Promise.all([api('GET', '/api/desks'), api('GET', '/api/catalog')]);
  S.catalog = catalog.data || S.catalog;
  S.desk = (desks.data || []).find((d) => d.id === S.me.desk) || null;
  $('#desk-name').textContent = S.desk ? S.desk.name : t('officer.title');
  fillForm();
  showScreen('s-console');
  render();
  signal.start();
}

// ---- signaling ------------------------------------------------------------------------------

signal.on('status', connBanner);
signal.on('welcome', async () => {
  if (S.me && S.me.desk) signal.request({ type: 'watch', desk: S.me.desk }).catch(() => {});
  if (sessionStorage.getItem(ON_DUTY_KEY) === '1') goOnDuty();
  loadToday();
});
signal.on('final', async (f) => {
  stopAlerts();
  if (media) media.stop();
  if (f.why === 'superseded') { showScreen('s-elsewhere'); return; }
  if (f.why === 'session') { location.reload(); }
});
signal.on('duty', (m) => {
  S.duty = m.state;
  if (m.state !== 'offered') clearOffer();
  render();
});
signal.on('offer', (m) => {
  S.offer = m;
  S.lastOffer = m;
  S.note = null;
  S.offerDeadline = Date.now() + m.expires_in_secs * 1000;
  render();
  stopAlerts();
  stopRing = ring(2500);
  flashTitle(t('officer.offer_title'));
  notifyIfHidden(t('officer.offer_title'), `${m.intake.name} · ${label(S.catalog.categories, m.intake.category, getLang())}`);
  announce(t('officer.offer_announce', { name: m.intake.name }));
  clearInterval(offerTimer);
  offerTimer = setInterval(renderOfferClock, 1000);
  // Instant connect: the call's connection with the server is set up while the offer
  // rings, so that sound and picture start the moment the officer accepts. The server
  // forwards nothing before that.
  callMedia().start();
});
signal.on('offer_withdrawn', (m) => {
  if (S.offer && S.offer.entry === m.entry) {
    clearOffer();
    if (media && !S.call) media.stop();
    const key = has(`officer.withdrawn_${m.reason}`) ? `officer.withdrawn_${m.reason}` : 'officer.withdrawn';
    S.note = key;
    render();
    announce(t(key));
  }
});
signal.on('call_started', (m) => startCall(m));
signal.on('call_resumed', (m) => { S.peerLost = false; startCall(m); });
signal.on('peer_lost', () => { S.peerLost = true; render(); announce(t('officer.peer_lost')); });
signal.on('call_ended', (m) => endCall(m.by));
signal.on('desk', (m) => { S.snapshot = m.snapshot; renderGlance(); });

function clearOffer() {
  S.offer = null;
  clearInterval(offerTimer);
  stopAlerts();
  render();
}

function stopAlerts() {
  if (stopRing) { stopRing(); stopRing = null; }
  stopFlash();
}

async function act(msg, errKey = 'error.generic') {
  $('#duty-error').hidden = true;
  try { return await signal.request(msg); } catch (e) {
    const box = $('#duty-error');
    say(box, e.code === 'offline' ? 'error.offline' : e.code === 'out_of_order' ? 'officer.out_of_order' : errKey);
    box.hidden = false;
    return null;
  }
}

async function goOnDuty() {
  const r = await act({ type: 'go_on_duty' });
  if (r) sessionStorage.setItem(ON_DUTY_KEY, '1');
}

// ---- call -----------------------------------------------------------------------------------

function startCall(m) {
  // `duty {in_call}` clears the offer before `call_started` arrives: keep what it said.
  const o = S.lastOffer;
  const intake = (o && o.entry === m.entry) ? o.intake : (S.call && S.call.entry === m.entry ? S.call.intake : null);
  clearOffer();
  S.call = { entry: m.entry, reference: m.reference, peer: m.peer_name, intake, remote: 'waiting' };
  openOutcome({ entry: m.entry, reference: m.reference, intake });
  render();
  callMedia().start();
}

function callMedia() {
  if (!media) {
    media = new CallMedia(signal, {
      local: $('#self'), remote: $('#remote'),
      onQuality: (level) => { S.quality = level; renderCall(); },
      onRemote: (state) => { if (S.call) { S.call.remote = state; renderCall(); } },
      role: 'officer',
      onVideoNotice: (key) => {
        const el = $('#video-notice');
        el.hidden = !key;
        el.textContent = key ? t(key) : '';
      },
    });
  }
  return media;
}

function endCall(by) {
  if (!S.call) return;
  if (media) media.stop();
  for (const id of ['#mute', '#camera', '#audio-only']) $(id).setAttribute('aria-pressed', 'false');
  S.call = null;
  S.peerLost = false;
  if (by) announce(t('officer.call_ended'));
  render();
  loadToday();
}

// ---- outcome --------------------------------------------------------------------------------

function fillForm() {
  const lang = getLang();
  fillSelect($('#o-category'), S.catalog.categories, lang, { empty: t('field.choose') });
  fillSelect($('#o-station'), S.catalog.stations, lang, { empty: t('field.choose') });
}

/** Opens the complaint form for a call (now or earlier today), pre-filled from what is known. */
function openOutcome({ entry, reference, intake, outcome }) {
  S.outcome = { entry, reference };
  const f = $('#outcome-form');
  fieldError(f, null);
  setOutcomeStatus(null);
  const area = intake && intake.area;
  const station = S.catalog.stations.find((s) => s.hi === area || s.en === area || s.key === area);
  f.elements.category.value = (outcome && outcome.category) || (intake && intake.category) || '';
  f.elements.station.value = (outcome && outcome.station) || (station ? station.key : '');
  f.elements.action.value = (outcome && outcome.action) || '';
  f.elements.notes.value = (outcome && outcome.notes) || '';
  render();
}

async function saveOutcome(e) {
  e.preventDefault();
  if (!S.outcome) return;
  const f = $('#outcome-form');
  fieldError(f, null);
  const outcome = {
    category: f.elements.category.value, station: f.elements.station.value,
    action: f.elements.action.value.trim(), notes: f.elements.notes.value.trim(),
  };
  try {
    await signal.request({ type: 'save_outcome', entry: S.outcome.entry, outcome });
    setOutcomeStatus('officer.saved', { time: new Date().toISOString() });
    announce(t('officer.saved_short'));
    loadToday();
  } catch (err) {
    if (err.code === 'invalid_input' && err.field) fieldError(f, err.field, t(`error.outcome_${err.field}`));
    else setOutcomeStatus(err.code === 'offline' ? 'error.offline' : 'error.generic');
  }
}

/** The line under the complaint form; kept as a key so that it follows the language. */
function setOutcomeStatus(key, params = {}) {
  S.outcomeStatus = key ? { key, params } : null;
  renderOutcomeStatus();
}

function renderOutcomeStatus() {
  const s = S.outcomeStatus;
  const time = s && s.params.time ? fmtTime(s.params.time, tz()) : undefined;
  $('#outcome-status').textContent = s ? t(s.key, { ...s.params, time }) : '';
}

// ---- today's calls ---------------------------------------------------------------------------

async function loadToday() {
  if (!S.me || !S.me.desk) return;
  // "Today" is the desk's day by the server's clock (the last snapshot), not this PC's.
  const now = (S.snapshot && S.snapshot.at) || new Date().toISOString();
  const since = rfc3339(startOfDay(now, tz()));
  const r = await api('GET', `/api/records?desk=${encodeURIComponent(S.me.desk)}&since=${encodeURIComponent(since)}&limit=200`);
  if (!r.ok) return;
  S.today = r.data.filter((c) => c.officer === S.me.id);
  renderToday();
}

function renderToday() {
  const lang = getLang();
  const rows = S.today.map((c) => el('tr', {},
    el('td', { text: fmtTime(c.answered_at || c.created_at, tz()) }),
    el('td', { text: c.reference }),
    el('td', { text: c.intake.name }),
    el('td', { text: c.outcome && c.outcome.station ? `${label(S.catalog.stations, c.outcome.station, lang)}${c.outcome.action ? ` · ${c.outcome.action}` : ''}` : t(`disposition.${c.disposition}`) }),
    el('td', {}, c.officer === S.me.id ? el('button', {
      type: 'button', class: 'quiet', text: t('officer.edit'),
      'aria-label': t('officer.edit_for', { reference: c.reference }),
      onclick: () => { openOutcome({ entry: c.id, reference: c.reference, intake: c.intake, outcome: c.outcome }); $('#o-category').focus(); },
    }) : null),
  ));
  clear($('#today'), rows);
  $('#today-empty').hidden = rows.length > 0;
}

// ---- rendering ------------------------------------------------------------------------------

function render() {
  const d = S.duty;
  const badge = $('#duty-badge');
  badge.dataset.state = d;
  badge.textContent = t(`duty.${d}`);
  $('#duty-help').textContent = t(`officer.help_${d}`);
  const note = $('#duty-note');
  note.hidden = !S.note;
  note.textContent = S.note ? t(S.note) : '';
  $('#duty-on').hidden = d !== 'off';
  $('#duty-off').hidden = d === 'off' || d === 'in_call';
  $('#ready').hidden = !(d === 'wrap_up' || d === 'away');
  $('#offer').hidden = !S.offer;
  if (S.offer) {
    const i = S.offer.intake;
    clear($('#offer-card'), facts(i, S.offer.reference, S.offer.waited_secs));
    renderOfferClock();
  }
  renderCall();
  const o = $('#outcome');
  o.hidden = !S.outcome;
  if (S.outcome) $('#outcome-title').textContent = t('officer.outcome_title', { reference: S.outcome.reference });
  renderGlance();
  renderToday();
}

function facts(i, reference, waited) {
  if (!i) return [];
  const lang = getLang();
  const pairs = [
    ['table.name', i.name], ['field.mobile', i.mobile], ['field.area', i.area],
    ['field.category', label(S.catalog.categories, i.category, lang)],
    ['field.description', i.description || '—'], ['table.reference', reference],
  ];
  if (waited != null) pairs.push(['officer.waited', fmtDuration(waited)]);
  return pairs.flatMap(([k, v]) => [el('dt', { text: t(k) }), el('dd', { text: v })]);
}

function renderOfferClock() {
  if (!S.offer) return;
  const left = Math.max(0, Math.round((S.offerDeadline - Date.now()) / 1000));
  $('#offer-expires').textContent = t('officer.offer_expires', { n: left });
}

function renderCall() {
  const c = S.call;
  $('#call').hidden = !c;
  if (!c) return;
  $('#call-title').textContent = t('call.title', { name: c.peer });
  $('#remote-name').textContent = c.peer;
  $('#remote-state').textContent = t(`call.remote_${c.remote}`);
  $('#remote-placeholder').hidden = c.remote === 'connected';
  $('#peer-state').textContent = S.peerLost ? t('officer.peer_lost') : '';
  clear($('#call-card'), facts(c.intake, c.reference, null));
  const q = $('#quality');
  q.dataset.level = S.quality || 'unknown';
  q.textContent = t(`call.quality_${S.quality || 'unknown'}`);
}

function renderGlance() {
  const s = S.snapshot;
  if (!s) return;
  const lang = getLang();
  $('#g-waiting').textContent = String(s.waiting);
  $('#g-longest').textContent = s.waiting ? fmtDuration(s.longest_wait_secs) : '—';
  const w = s.window;
  $('#glance-window').textContent = w.open
    ? t('board.window_open', { span: fmtWindow(w.opens_at, w.closes_at, tz(), false) })
    : (w.next_opens_at ? t('board.window_closed_next', { when: fmtWindow(w.next_opens_at, w.next_closes_at, tz()) }) : t('board.window_closed'));
  clear($('#g-categories'), s.categories.map((c) => el('li', { text: `${label(S.catalog.categories, c.category, lang)}: ${c.count}` })));
}

// ---- wiring ---------------------------------------------------------------------------------

// After a reload the page goes back on duty by itself: the first tap anywhere lets it ring.
document.addEventListener('pointerdown', unlockAudio, { once: true });
$('#duty-on').addEventListener('click', () => { unlockAudio(); askNotifications(); goOnDuty(); });
$('#duty-off').addEventListener('click', async () => {
  if (await act({ type: 'go_off_duty' })) sessionStorage.removeItem(ON_DUTY_KEY);
});
$('#ready').addEventListener('click', () => { unlockAudio(); act({ type: 'ready' }); });
$('#accept').addEventListener('click', async () => {
  if (!S.offer) return;
  stopAlerts();
  await act({ type: 'accept', entry: S.offer.entry });
});
$('#decline').addEventListener('click', async () => {
  if (!S.offer) return;
  const entry = S.offer.entry;
  clearOffer();
  if (media && !S.call) media.stop();
  await act({ type: 'decline', entry });
});
$('#end-call').addEventListener('click', async () => {
  if (await act({ type: 'end_call', no_show: false })) endCall(null);
});
confirmPress($('#no-show'), 'officer.no_show', 'officer.no_show_confirm', async () => {
  if (await act({ type: 'end_call', no_show: true })) endCall(null);
});
$('#mute').addEventListener('click', (e) => { const b = e.currentTarget; const on = b.getAttribute('aria-pressed') !== 'true'; b.setAttribute('aria-pressed', String(on)); if (media) media.setMuted(on); });
$('#camera').addEventListener('click', (e) => { const b = e.currentTarget; const on = b.getAttribute('aria-pressed') !== 'true'; b.setAttribute('aria-pressed', String(on)); if (media) media.setCameraOff(on); });
// Audio only, as the citizen has: video stops both ways (a weak connection at the office).
$('#audio-only').addEventListener('click', (e) => { const b = e.currentTarget; const on = b.getAttribute('aria-pressed') !== 'true'; b.setAttribute('aria-pressed', String(on)); if (media) media.setAudioOnly(on); });
$('#outcome-form').addEventListener('submit', saveOutcome);
$('#outcome-close').addEventListener('click', () => { S.outcome = null; render(); });
$('#today-refresh').addEventListener('click', loadToday);
$('#use-here').addEventListener('click', () => location.reload());

main();
