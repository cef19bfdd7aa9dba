// The signaling client: one WebSocket to /ws speaking protocol version 1 (docs/protocol.md).
//
// - says `hello` first on every connection (with the citizen's ticket, when there is one),
// - matches replies to requests by `re`, never by position,
// - reconnects with back-off (1 s, 2 s, 4 s … 30 s, with jitter) and at once when the
//   network comes back or the tab is looked at again,
// - notices a dead connection itself (`ping` every 25 s, no `pong` within 10 s),
// - keeps a citizen's ticket in localStorage so a reload or a lost network comes back to
//   the same place (`hello {ticket}` → `welcome.resumed`),
// - does not reconnect after the close codes that say it must not (superseded, session
//   ended, policy, abuse).

export const PROTOCOL_VERSION = 1;
const PING_EVERY_MS = 25000;
const PONG_WITHIN_MS = 10000;
const REQUEST_TIMEOUT_MS = 15000;
const FINAL = { 1008: 'policy', 1009: 'policy', 4001: 'superseded', 4002: 'session', 4004: 'policy' };

export class Signal {
  /**
   * @param {{ticketKey?: string, lang?: () => string}} opts ticketKey: the localStorage key
   *   under which a citizen's ticket is kept (staff pages leave it out).
   */
  constructor({ ticketKey = null, lang = () => 'hi' } = {}) {
    this.ticketKey = ticketKey;
    this.lang = lang;
    this.handlers = new Map();
    this.pending = new Map();
    this.nextId = 1;
    this.ws = null;
    this.ready = false;
    this.started = false;
    this.attempt = 0;
    this.retryTimer = null;
    this.pingTimer = null;
    this.welcome = null;
    this.rtt = null;
    const soon = () => { if (this.started && !this.ws) this.#connectNow(); };
    window.addEventListener('online', soon);
    document.addEventListener('visibilitychange', () => { if (!document.hidden) soon(); });
  }

  /** on('queue', fn), or one of the connection events: 'status' ('connecting' | 'online' |
   *  'offline'), 'final' ({code, why}: closed for good), 'rtt' (ms). '*' gets everything. */
  on(type, fn) {
    if (!this.handlers.has(type)) this.handlers.set(type, []);
    this.handlers.get(type).push(fn);
    return this;
  }

  #emit(type, arg) {
    for (const fn of this.handlers.get(type) || []) {
      try { fn(arg); } catch (e) { console.error(e); }
    }
  }

  // ---- the citizen's ticket --------------------------------------------------------------

  /** {ticket, desk, reference, entry} or null. */
  storedTicket() {
    if (!this.ticketKey) return null;
    try { return JSON.parse(localStorage.getItem(this.ticketKey)) || null; } catch { return null; }
  }

  #storeTicket(m) {
    if (!this.ticketKey) return;
    const v = { ticket: m.ticket, desk: m.desk, reference: m.reference, entry: m.entry };
    try { localStorage.setItem(this.ticketKey, JSON.stringify(v)); } catch { /* private mode */ }
  }

  forgetTicket() {
    if (!this.ticketKey) return;
    try { localStorage.removeItem(this.ticketKey); } catch { /* ignore */ }
  }

  // ---- connection --------------------------------------------------------------------------

  start() {
    if (this.started) return;
    this.started = true;
    this.#connectNow();
  }

  stop() {
    this.started = false;
    clearTimeout(this.retryTimer);
    this.#drop(1000);
  }

  /** Connects again now (e.g. when a carried-over citizen's next window opens). */
  reconnect() {
    if (!this.started) return this.start();
    this.#drop(1000);
    this.#connectNow();
  }

  #connectNow() {
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    if (this.ws) return;
    this.#emit('status', 'connecting');
    const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
    let ws;
    try { ws = new WebSocket(url); } catch { this.#lost(); return; }
    this.ws = ws;
    ws.onopen = () => {
      const hello = { type: 'hello', v: PROTOCOL_VERSION, lang: this.lang() };
      const stored = this.storedTicket();
      if (stored && stored.ticket) hello.ticket = stored.ticket;
      ws.send(JSON.stringify(hello));
    };
    ws.onmessage = (e) => { if (typeof e.data === 'string') this.#onFrame(e.data); };
    ws.onclose = (e) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.#closed(e.code);
    };
    ws.onerror = () => { /* onclose follows */ };
  }

  /** Forgets the socket without waiting for a close handshake that may never come. */
  #drop(code) {
    const ws = this.ws;
    this.ws = null;
    this.ready = false;
    clearInterval(this.pingTimer);
    if (ws) {
      ws.onclose = ws.onmessage = ws.onopen = ws.onerror = null;
      try { ws.close(code); } catch { /* already closed */ }
    }
    this.#failPending('offline');
  }

  #closed(code) {
    this.ready = false;
    clearInterval(this.pingTimer);
    this.#failPending('offline');
    if (FINAL[code]) {
      this.started = false;
      this.#emit('final', { code, why: FINAL[code] });
      return;
    }
    this.#lost();
  }

  #lost() {
    this.ws = null;
    this.#emit('status', 'offline');
    if (!this.started) return;
    const base = Math.min(30, 2 ** this.attempt);
    this.attempt += 1;
    const delay = base * 1000 * (0.8 + Math.random() * 0.4);
    this.retryTimer = setTimeout(() => this.#connectNow(), delay);
  }

  #failPending(code) {
    for (const [, p] of this.pending) { clearTimeout(p.timer); p.reject({ code, message: code }); }
    this.pending.clear();
  }

  #onFrame(text) {
    let m;
    try { m = JSON.parse(text); } catch { return; }
    if (!m || typeof m.type !== 'string') return;
    if (m.type === 'welcome') {
      this.ready = true;
      this.attempt = 0;
      this.welcome = m;
      this.#startPing();
      this.#emit('status', 'online');
    }
    if (m.type === 'joined') this.#storeTicket(m);
    if (m.re != null && this.pending.has(m.re)) {
      const p = this.pending.get(m.re);
      this.pending.delete(m.re);
      clearTimeout(p.timer);
      if (m.type === 'error') p.reject(m); else p.resolve(m);
      if (m.type === 'ok' || m.type === 'pong' || m.type === 'error') return;
    }
    this.#emit(m.type, m);
    this.#emit('*', m);
  }

  #startPing() {
    clearInterval(this.pingTimer);
    const probe = () => {
      const sent = performance.now();
      const ws = this.ws;
      const dead = setTimeout(() => { if (this.ws === ws) { this.#drop(1000); this.#lost(); } }, PONG_WITHIN_MS);
      this.request({ type: 'ping' }, PONG_WITHIN_MS + 1000)
        .then(() => { clearTimeout(dead); this.rtt = performance.now() - sent; this.#emit('rtt', this.rtt); })
        .catch(() => { /* the timer decides */ });
    };
    // One at once, so the connection quality is known from the start.
    setTimeout(probe, 0);
    this.pingTimer = setInterval(probe, PING_EVERY_MS);
  }

  // ---- sending -----------------------------------------------------------------------------

  /** Sends a request (an `id` is added) and resolves with its reply, or rejects with the
   *  `error` message (or {code: 'offline' | 'timeout'}). */
  request(msg, timeoutMs = REQUEST_TIMEOUT_MS) {
    return new Promise((resolve, reject) => {
      if (!this.ready || !this.ws) { reject({ code: 'offline', message: 'offline' }); return; }
      const id = this.nextId++;
      const timer = setTimeout(() => {
        if (this.pending.delete(id)) reject({ code: 'timeout', message: 'timeout' });
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      this.ws.send(JSON.stringify({ ...msg, id }));
    });
  }

  /** Fire and forget (`ice`, `end_of_candidates`). */
  send(msg) {
    if (this.ready && this.ws) this.ws.send(JSON.stringify(msg));
  }
}
