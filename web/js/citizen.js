// The citizen's page: desk choice → intake → device check → waiting room → call → end;
// outside hours a written complaint; a reload or a lost network comes back to the same
// place through the ticket kept by the signaling client.

import { initI18n, t, getLang, onLangChange } from './i18n.js';
import {
  $, el, clear, showScreen, announce, api, fmtTime, fmtWindow, fmtDayTime, fmtMinutes, asciiDigits,
  unlockAudio, chime, vibrate, flashTitle, stopFlash, askNotifications, notifyIfHidden,
  fieldError, fillSelect, connBanner, say,
} from './ui.js';
import { Signal } from './signal.js';
import { getLocalMedia, stopStream, levelMeter, CallMedia } from './media.js';

const S = {
  desks: [], catalog: { categories: [], stations: [] }, desk: null,
  mode: 'video', // or 'written' (outside hours)
  screen: 's-loading', intake: null, reference: null, queue: null, lastPosition: null,
  messages: [], call: null, carried: null, end: null, closing: null, next: false,
};
const signal = new Signal({ ticketKey: 'sunwai.ticket', lang: getLang });
let media = null;
let preview = null; // {stream, stopMeter}
let wantJoin = false;

const tz = () => (S.desk && S.desk.time_zone) || 'Asia/Kolkata';
const deskById = (id) => S.desks.find((d) => d.id === id);

function go(screen) {
  S.screen = screen;
  showScreen(screen);
  render();
}

// ---- start ----------------------------------------------------------------------------------

async function main() {
  await initI18n();
  const [desks, catalog] = await Promise.all([api('GET', '/api/desks'), api('GET', '/api/catalog')]);
  if (!desks.ok || !catalog.ok) { $('#s-loading p').textContent = t('common.load_failed'); return; }
  S.desks = desks.data;
  S.catalog = catalog.data;
  fillForm();
  wireSignal();
  wireUi();
  onLangChange(() => { fillForm(); render(); });
  if (signal.storedTicket()) { signal.start(); return; } // welcome.resumed decides
  route();
}

function pathDesk() {
  const m = location.pathname.match(/^\/d\/([^/]+)\/?$/);
  return m ? decodeURIComponent(m[1]) : null;
}

function route() {
  const wanted = pathDesk();
  if (wanted) {
    const d = deskById(wanted);
    if (!d) { go('s-invalid'); return; }
    chooseDesk(d);
  } else if (S.desks.length === 1) {
    chooseDesk(S.desks[0]);
  } else {
    const list = $('#desk-list');
    clear(list, S.desks.map((d) => el('li', {}, el('a', { href: `/d/${encodeURIComponent(d.id)}`, text: d.name }))));
    go('s-desks');
  }
}

function chooseDesk(d) {
  S.desk = d;
  S.mode = d.window.open ? 'video' : 'written';
  go('s-intake');
}

async function refreshDesks() {
  const r = await api('GET', '/api/desks');
  if (r.ok) {
    S.desks = r.data;
    if (S.desk) S.desk = deskById(S.desk.id) || S.desk;
  }
}

// ---- intake ---------------------------------------------------------------------------------

function fillForm() {
  const lang = getLang();
  const area = $('#f-area');
  const keep = area.value;
  clear(area);
  area.append(el('option', { value: '', text: t('field.choose') }));
  for (const s of S.catalog.stations) area.append(el('option', { value: s[lang] || s.en, text: s[lang] || s.en, dataset: { key: s.key } }));
  area.append(el('option', { value: '__other', text: t('field.area_other_option') }));
  // Keep the chosen station across a language change.
  if (keep) {
    const st = S.catalog.stations.find((s) => s.hi === keep || s.en === keep);
    area.value = st ? (st[lang] || st.en) : keep;
  }
  fillSelect($('#f-category'), S.catalog.categories, lang, { empty: t('field.choose') });
}

function readIntake() {
  const f = $('#intake-form');
  const areaSel = f.elements.area.value;
  return {
    name: f.elements.name.value.trim(),
    mobile: asciiDigits(f.elements.mobile.value.trim()),
    area: areaSel === '__other' ? f.elements.area_other.value.trim() : areaSel,
    category: f.elements.category.value,
    description: f.elements.description.value.trim(),
    language: getLang(),
    consent: f.elements.consent.checked,
  };
}

/** The browser's own checks, in the server's order, so people see mistakes at once. */
function checkIntake(i) {
  if (!i.name) return ['name', 'error.name'];
  const digits = i.mobile.replace(/[^0-9]/g, '');
  if (digits.length < 10 || digits.length > 15) return ['mobile', 'error.mobile'];
  if (!i.area) return ['area', 'error.area'];
  if (!i.category) return ['category', 'error.category'];
  if (S.mode === 'written' && !i.description) return ['description', 'error.description_written'];
  if (!i.consent) return ['consent', 'error.consent'];
  return null;
}

async function submitIntake(e) {
  e.preventDefault();
  unlockAudio();
  const form = $('#intake-form');
  const i = readIntake();
  const bad = checkIntake(i);
  fieldError(form, null);
  $('#intake-error').hidden = true;
  if (bad) { fieldError(form, bad[0], t(bad[1])); return; }
  S.intake = i;
  if (S.mode === 'written') { await sendWritten(i); return; }
  go('s-device');
  startPreview();
}

async function sendWritten(i) {
  const button = $('#intake-submit');
  button.disabled = true;
  const r = await api('POST', `/api/desks/${encodeURIComponent(S.desk.id)}/complaints`, i);
  button.disabled = false;
  if (r.status === 201 && r.data) {
    S.reference = r.data.reference;
    go('s-written');
    return;
  }
  if (r.status === 400 && r.data && r.data.field) {
    fieldError($('#intake-form'), r.data.field, t(`error.${r.data.field}`));
    return;
  }
  const msg = $('#intake-error');
  say(msg, r.status === 0 ? 'error.offline' : 'error.generic');
  msg.hidden = false;
}

// ---- device check ---------------------------------------------------------------------------

async function startPreview() {
  stopPreview();
  const status = $('#device-status');
  say(status, 'citizen.device.asking');
  $('#device-help').hidden = true;
  $('#device-retry').hidden = true;
  try {
    const stream = await getLocalMedia();
    if (S.screen !== 's-device') { stopStream(stream); return; }
    const v = $('#preview');
    v.srcObject = stream;
    v.play().catch(() => {});
    const meter = $('#mic-meter');
    const bar = $('#mic-level');
    const stopMeter = levelMeter(stream, (x) => {
      const pct = Math.round(x * 100);
      bar.style.width = `${pct}%`;
      meter.setAttribute('aria-valuenow', String(pct));
    });
    preview = { stream, stopMeter };
    say(status, 'citizen.device.ok');
  } catch (err) {
    say(status, null);
    const kind = (err && err.kind) || 'other';
    say($('#device-help-text'), `citizen.device.problem_${kind}`);
    $('#device-help').hidden = false;
    $('#device-retry').hidden = false;
  }
}

function stopPreview() {
  if (!preview) return;
  preview.stopMeter();
  stopStream(preview.stream);
  $('#preview').srcObject = null;
  preview = null;
}

function join() {
  unlockAudio();
  askNotifications();
  $('#join-error').hidden = true;
  $('#join').disabled = true;
  wantJoin = true;
  if (signal.ready) sendJoin(); else signal.start();
}

async function sendJoin() {
  wantJoin = false;
  try {
    const r = await signal.request({ type: 'join', desk: S.desk.id, intake: S.intake });
    S.reference = r.reference;
    S.messages = [];
    stopPreview();
    $('#join').disabled = false;
    if (S.screen !== 's-waiting' && S.screen !== 's-carried') go('s-waiting');
  } catch (e) {
    $('#join').disabled = false;
    const code = e && e.code;
    if (code === 'window_closed') {
      stopPreview();
      await refreshDesks();
      S.mode = 'written';
      go('s-intake');
      return;
    }
    if (code === 'invalid_input' && e.field) {
      stopPreview();
      go('s-intake');
      fieldError($('#intake-form'), e.field, t(`error.${e.field}`));
      return;
    }
    if (code === 'unknown_desk') { go('s-invalid'); return; }
    const msg = $('#join-error');
    say(msg, { queue_full: 'error.queue_full', shutting_down: 'error.shutting_down', offline: 'error.offline', timeout: 'error.offline', rate_limited: 'error.rate_limited' }[code] || 'error.generic');
    msg.hidden = false;
  }
}

// ---- signaling events ----------------------------------------------------------------------

function wireSignal() {
  signal.on('status', (s) => connBanner(s));
  signal.on('welcome', onWelcome);
  signal.on('queue', (m) => {
    S.queue = m;
    if (S.screen !== 's-waiting') go('s-waiting'); else render();
    if (m.position !== S.lastPosition) {
      if (S.lastPosition != null) announce(t('citizen.waiting.announce', { n: m.position }));
      S.lastPosition = m.position;
    }
    connectEarly(m.position);
  });
  signal.on('you_are_next', () => {
    S.next = true;
    render();
    chime([880, 1175, 1568], 260);
    vibrate([300, 150, 300, 150, 600]);
    flashTitle(t('citizen.next.title'));
    notifyIfHidden(t('citizen.next.title'), t('citizen.next.text'));
  });
  signal.on('message', (m) => {
    S.messages.push(m);
    render();
    announce(`${t('citizen.waiting.message_from_staff')}: ${m.text}`);
    chime([660], 200);
  });
  signal.on('window_closing', (m) => { S.closing = m; render(); });
  signal.on('call_started', startCall);
  signal.on('call_resumed', startCall);
  signal.on('officer_lost', () => {
    endCallMedia();
    S.call = null;
    S.next = false;
    S.requeued = true;
    go('s-waiting');
  });
  signal.on('call_ended', (m) => {
    endCallMedia();
    S.call = null;
    S.end = { reference: m.reference, kind: 'completed' };
    signal.forgetTicket();
    go('s-end');
  });
  signal.on('carried_over', (m) => {
    endCallMedia();
    S.carried = { reference: m.reference, next_opens_at: m.next_opens_at, reason: m.reason };
    go('s-carried');
    scheduleNextWindow(m.next_opens_at);
  });
  signal.on('removed', (m) => {
    endCallMedia();
    signal.forgetTicket();
    if (m.reason === 'left') { S.mode = 'video'; go('s-intake'); return; }
    S.end = { reference: S.reference, kind: m.reason === 'no_show' ? 'no_show' : 'removed' };
    go('s-end');
  });
  signal.on('final', (f) => {
    endCallMedia();
    if (f.why === 'superseded') go('s-elsewhere');
    else connBanner('offline');
  });
}

function onWelcome(w) {
  for (const d of w.desks || []) {
    const mine = deskById(d.id);
    if (mine) mine.window = d.window;
  }
  const r = w.resumed;
  const stored = signal.storedTicket();
  if (r) {
    S.desk = deskById(r.desk) || S.desk;
    S.reference = r.reference;
    if (r.state === 'waiting') { if (S.screen !== 's-waiting') go('s-waiting'); else render(); }
    else if (r.state === 'in_call') { /* call_resumed follows */ }
    else if (r.state === 'carried_over') {
      const win = S.desk ? S.desk.window : null;
      S.carried = { reference: r.reference, next_opens_at: win && (win.open ? win.opens_at : win.next_opens_at), reason: 'window_closed' };
      go('s-carried');
      scheduleNextWindow(S.carried.next_opens_at);
    } else {
      signal.forgetTicket();
      S.end = { reference: r.reference, kind: r.state === 'completed' ? 'completed' : 'removed' };
      go('s-end');
    }
    return;
  }
  if (stored) {
    // The ticket is not known (any more): start afresh.
    signal.forgetTicket();
    if (S.screen === 's-loading' || S.screen === 's-waiting' || S.screen === 's-call') route();
  }
  if (wantJoin) sendJoin();
}

/** A carried-over citizen who keeps the page open is put back in the queue when the next
 *  window opens: connecting again with the ticket is all it takes. */
let nextWindowTimer = null;
function scheduleNextWindow(iso) {
  clearTimeout(nextWindowTimer);
  if (!iso || !signal.welcome) return;
  // Spread the reconnections of everyone carried over across the first half minute.
  const wait = new Date(iso).getTime() - Date.now() + 5000 + Math.random() * 25000;
  if (wait > 0 && wait < 24 * 3600 * 1000) nextWindowTimer = setTimeout(() => signal.reconnect(), wait);
}

// ---- call -----------------------------------------------------------------------------------

function callMedia() {
  if (!media) {
    media = new CallMedia(signal, {
      local: $('#self'),
      remote: $('#remote'),
      onQuality: (level) => { S.quality = level; renderQuality(); },
      onRemote: (state) => { if (S.call) { S.call.remote = state; render(); } },
      role: 'citizen',
      onVideoNotice: (key) => {
        const el = $('#video-notice');
        el.hidden = !key;
        el.textContent = key ? t(key) : '';
      },
    });
  }
  return media;
}

/** Instant connect: near the front of the queue (the server says how near), the call's
 *  connection with the server is set up while the citizen still waits, so that sound and
 *  picture start the moment an officer accepts. The server forwards nothing before that. */
function connectEarly(position) {
  const n = signal.welcome && signal.welcome.instant_connect_position;
  if (!n || position > n || S.call || (media && media.active)) return;
  callMedia().start();
}

function startCall(m) {
  S.call = { reference: m.reference, peer: m.peer_name, remote: 'waiting' };
  S.next = false;
  S.requeued = false;
  stopFlash();
  stopPreview();
  go('s-call');
  callMedia().start();
}

function endCallMedia() {
  if (media) media.stop();
  for (const id of ['#mute', '#camera', '#audio-only']) $(id).setAttribute('aria-pressed', 'false');
  $('#ao-offer').hidden = true;
}

function toggle(button, fn) {
  const on = button.getAttribute('aria-pressed') !== 'true';
  button.setAttribute('aria-pressed', String(on));
  fn(on);
}

// ---- rendering ------------------------------------------------------------------------------

function render() {
  const desk = S.desk;
  $('#desk-name').textContent = desk ? desk.name : '';
  switch (S.screen) {
    case 's-intake': {
      const written = S.mode === 'written';
      $('#closed-info').hidden = !written;
      $('#open-info').hidden = written;
      $('#intake-submit').textContent = t(written ? 'citizen.closed.submit' : 'citizen.intake.submit');
      const w = desk.window;
      if (written) {
        $('#closed-next').textContent = w.next_opens_at
          ? t('citizen.closed.next', { when: fmtWindow(w.next_opens_at, w.next_closes_at, tz()) })
          : t('citizen.closed.none');
      } else {
        $('#intake-window').textContent = t('citizen.intake.window', { span: fmtWindow(w.opens_at, w.closes_at, tz(), false) });
      }
      $('#f-description').required = written;
      $('#area-other-wrap').hidden = $('#f-area').value !== '__other';
      break;
    }
    case 's-waiting': {
      const q = S.queue;
      $('#position').textContent = q ? String(q.position) : '–';
      $('#waiting-count').textContent = q ? t('citizen.waiting.count', { n: q.waiting }) : '';
      let est = '';
      if (q) {
        if (q.estimate_secs == null) est = t('citizen.waiting.no_officer');
        else if (q.estimate_secs === 0 || q.position === 1 && q.officers_on_duty > 0 && q.estimate_secs < 60) est = t('citizen.waiting.any_moment');
        else est = t('citizen.waiting.estimate', { time: fmtMinutes(q.estimate_secs) });
      }
      $('#estimate').textContent = est;
      const reach = $('#reachable');
      reach.hidden = !q || q.reachable_today || q.estimate_secs == null;
      reach.textContent = t('citizen.waiting.not_today');
      const w = (q && q.window) || (desk && desk.window);
      const next = w && w.next_opens_at ? t('citizen.waiting.next_window', { when: fmtWindow(w.next_opens_at, w.next_closes_at, tz()) }) : '';
      $('#waiting-window').textContent = w ? (w.open ? [fmtWindow(w.opens_at, w.closes_at, tz(), false), next].filter(Boolean).join(' · ')
        : (next || t('citizen.closed.none'))) : '';
      $('#officers').textContent = q ? String(q.officers_on_duty) : '–';
      $('#waiting-ref').textContent = S.reference || '';
      const alert = $('#next-alert');
      alert.hidden = !S.next;
      alert.textContent = `${t('citizen.next.title')} ${t('citizen.next.text')}`;
      const closing = $('#closing-notice');
      closing.hidden = !S.closing;
      if (S.closing) closing.textContent = t(S.closing.policy === 'carry_over' ? 'citizen.waiting.closing_carry' : 'citizen.waiting.closing_serve', { time: fmtTime(S.closing.closes_at, tz()) });
      const rq = $('#requeued-notice');
      rq.hidden = !S.requeued;
      rq.textContent = t('citizen.waiting.officer_lost');
      $('#messages-box').hidden = S.messages.length === 0;
      clear($('#messages'), S.messages.slice().reverse().map((m) => el('li', {}, el('strong', { text: `${fmtTime(m.at, tz())} · ` }), m.text)));
      break;
    }
    case 's-call': {
      const c = S.call || {};
      $('#call-title').textContent = t('call.title', { name: c.peer || '' });
      $('#call-ref').textContent = c.reference || '';
      $('#remote-name').textContent = c.peer || '';
      $('#remote-state').textContent = t(`call.remote_${c.remote || 'waiting'}`);
      $('#remote-placeholder').hidden = c.remote === 'connected';
      renderQuality();
      break;
    }
    case 's-end': {
      const e = S.end || {};
      $('#end-title').textContent = t(`citizen.end.title_${e.kind || 'completed'}`);
      $('#end-text').textContent = t(`citizen.end.text_${e.kind || 'completed'}`);
      $('#end-ref').textContent = e.reference || '';
      break;
    }
    case 's-carried': {
      const c = S.carried || {};
      $('#carried-why').textContent = t(c.reason === 'beyond_window' ? 'citizen.carried.beyond' : 'citizen.carried.closed');
      $('#carried-next').textContent = c.next_opens_at
        ? t('citizen.carried.next', { when: fmtDayTime(c.next_opens_at, tz()) })
        : t('citizen.closed.none');
      $('#carried-ref').textContent = c.reference || '';
      break;
    }
    case 's-written':
      $('#written-ref').textContent = S.reference || '';
      break;
    default:
  }
}

function renderQuality() {
  const q = $('#quality');
  const level = S.quality || 'unknown';
  q.dataset.level = level;
  q.textContent = t(`call.quality_${level}`);
  // A poor connection in a video call: audio only is offered outright (once per call).
  const audioOnly = $('#audio-only').getAttribute('aria-pressed') === 'true';
  if (level === 'poor' && !audioOnly && S.call && !S.call.aoOffered) {
    S.call.aoOffered = true;
    $('#ao-offer').hidden = false;
  }
  if (audioOnly) $('#ao-offer').hidden = true;
}

// ---- wiring ---------------------------------------------------------------------------------

function wireUi() {
  // After a reload (resumed place) the first tap anywhere lets the page make sound.
  document.addEventListener('pointerdown', unlockAudio, { once: true });
  $('#intake-form').addEventListener('submit', submitIntake);
  $('#f-area').addEventListener('change', () => {
    $('#area-other-wrap').hidden = $('#f-area').value !== '__other';
    if ($('#f-area').value === '__other') $('#f-area-other').focus();
  });
  $('#join').addEventListener('click', join);
  $('#device-retry').addEventListener('click', startPreview);
  $('#device-back').addEventListener('click', () => { stopPreview(); go('s-intake'); });
  $('#leave').addEventListener('click', async () => {
    try { await signal.request({ type: 'leave' }); } catch { /* removed follows, or we are offline */ }
  });
  $('#hangup').addEventListener('click', async () => {
    try { await signal.request({ type: 'hangup' }); } catch { /* call_ended follows */ }
  });
  $('#mute').addEventListener('click', (e) => toggle(e.currentTarget, (on) => media && media.setMuted(on)));
  $('#camera').addEventListener('click', (e) => toggle(e.currentTarget, (on) => media && media.setCameraOff(on)));
  $('#audio-only').addEventListener('click', (e) => { $('#ao-offer').hidden = true; toggle(e.currentTarget, (on) => media && media.setAudioOnly(on)); });
  $('#ao-accept').addEventListener('click', () => { if ($('#audio-only').getAttribute('aria-pressed') !== 'true') $('#audio-only').click(); });
  $('#again').addEventListener('click', async () => {
    S.end = null; S.queue = null; S.lastPosition = null; S.reference = null; S.closing = null;
    await refreshDesks();
    if (S.desk) { S.mode = S.desk.window.open ? 'video' : 'written'; go('s-intake'); } else route();
  });
  $('#use-here').addEventListener('click', () => location.reload());
}

main();
