// Sign-in for the officer and supervisor pages. The server sets an HttpOnly session
// cookie; the WebSocket upgrade carries it, so the page never handles the token itself.

import { t } from './i18n.js';
import { $, api, showScreen, fieldError } from './ui.js';

/**
 * Resolves with the signed-in user ({id, username, name, role, desk}) once someone with
 * `role` is signed in, showing the sign-in form (#s-signin) until then.
 */
export function signedIn(role, { expired = false } = {}) {
  return new Promise((resolve) => {
    const form = $('#signin-form');
    const msg = $('#signin-error');
    const show = (key) => {
      if (key) { msg.textContent = t(key); msg.hidden = false; } else msg.hidden = true;
      showScreen('s-signin');
      $('#who').hidden = true;
      form.elements.username.focus();
    };
    const accept = (me) => {
      if (me.role !== role) { show(role === 'officer' ? 'signin.not_officer' : 'signin.not_supervisor'); return false; }
      $('#who-name').textContent = me.name;
      $('#who').hidden = false;
      resolve(me);
      return true;
    };
    form.onsubmit = async (e) => {
      e.preventDefault();
      fieldError(form, null);
      msg.hidden = true;
      const username = form.elements.username.value.trim();
      const password = form.elements.password.value;
      if (!username) { fieldError(form, 'username', t('signin.need_username')); return; }
      if (!password) { fieldError(form, 'password', t('signin.need_password')); return; }
      const button = form.querySelector('button[type=submit]');
      button.disabled = true;
      const r = await api('POST', '/api/login', { username, password });
      button.disabled = false;
      form.elements.password.value = '';
      if (r.ok) accept(r.data);
      else show(r.status === 401 ? 'signin.wrong' : r.status === 0 ? 'error.offline' : 'error.generic');
    };
    if (expired) { show('signin.expired'); return; }
    api('GET', '/api/me').then((r) => {
      if (r.ok) accept(r.data); else show(null);
    });
  });
}

export function wireSignOut() {
  $('#signout').addEventListener('click', async () => {
    await api('POST', '/api/logout');
    try { sessionStorage.clear(); } catch { /* ignore */ }
    location.reload();
  });
}
