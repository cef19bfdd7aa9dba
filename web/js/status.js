// The citizen's status check: reference + mobile → POST /api/status → status and history.

import { initI18n, t, getLang, onLangChange } from './i18n.js';
import { $, el, clear, api, announce, fmtDateTime, asciiDigits, fieldError, label, say } from './ui.js';

let catalog = { categories: [], stations: [] };
let view = null;
// The status view names no desk: show times in the (first) desk's zone.
let TZ = 'Asia/Kolkata';

async function main() {
  await initI18n();
  const [c, d] = await Promise.all([api('GET', '/api/catalog'), api('GET', '/api/desks')]);
  if (c.ok) catalog = c.data;
  if (d.ok && d.data.length && d.data[0].time_zone) TZ = d.data[0].time_zone;
  onLangChange(render);
  $('#status-form').addEventListener('submit', lookup);
}

async function lookup(e) {
  e.preventDefault();
  const form = $('#status-form');
  const reference = form.elements.reference.value.trim().toUpperCase();
  const mobile = asciiDigits(form.elements.mobile.value.trim());
  fieldError(form, null);
  $('#status-error').hidden = true;
  if (!reference) { fieldError(form, 'reference', t('error.reference')); return; }
  if (mobile.replace(/[^0-9]/g, '').length < 10) { fieldError(form, 'mobile', t('error.mobile')); return; }
  const r = await api('POST', '/api/status', { reference, mobile });
  if (r.ok) {
    view = r.data;
    render();
    announce(t('status.found', { status: t(`record_status.${view.status}`) }));
    return;
  }
  view = null;
  render();
  if (r.status === 400 && r.data && r.data.field === 'mobile') { fieldError(form, 'mobile', t('error.mobile')); return; }
  const msg = $('#status-error');
  say(msg, r.status === 404 ? 'status.not_found' : r.status === 0 ? 'error.offline' : 'error.generic');
  msg.hidden = false;
}

function render() {
  const box = $('#result');
  box.hidden = !view;
  if (!view) return;
  const lang = getLang();
  $('#result-title').textContent = t('status.result_title', { reference: view.reference });
  $('#r-status').textContent = t(`record_status.${view.status}`);
  $('#r-station').textContent = view.station ? label(catalog.stations, view.station, lang) : t('status.no_station');
  $('#r-created').textContent = fmtDateTime(view.created_at, TZ);
  $('#r-updated').textContent = fmtDateTime(view.updated_at, TZ);
  clear($('#r-history'), view.history.map((h) => el('li', {}, el('strong', { text: t(`record_status.${h.status}`) }), ` — ${fmtDateTime(h.at, TZ)}`)));
}

main();
