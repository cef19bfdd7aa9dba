// Camera and microphone: the device check (preview + level meter) and the call screen's
// local media and controls.
//
// ======================== MEDIA THROUGH THE SERVER ==================================
// Each side holds one RTCPeerConnection with the server's SFU, never with the other
// browser (docs/media.md; messages in docs/protocol.md, "Media"). After `call_started` /
// `call_resumed` CallMedia creates it with welcome.ice_servers, adds the local tracks
// (and receive-only transceivers for a missing camera or microphone), and sends
// `sdp {description: {sdp_type: "offer", sdp}}`; it trickles `ice {candidate}` and
// `end_of_candidates`; it applies the server's answer. Later offers on the same
// connection (an ICE restart after a network change) renegotiate the same leg. Remote
// tracks arrive in `pc.ontrack` → attachRemote(stream). Where the server has media
// turned off (`unavailable`), the page says the other side's video is not available and
// the call goes on. When either side's connection drops mid-call (this page's own peer
// connection, or the server's `peer_media {state: "reconnecting"}` about the other side),
// the page says "reconnecting…" until media flows again; the server keeps the call. An
// answer that rejects video (no codec in common: port 0) makes the call audio only, and the
// page says so. `renegotiate` from the server asks for a new offer on the same connection
// (the answer then changes the video codec this side sends). `video {side, state, link}`
// says the server paused (or resumed) one side's video because `link`'s connection is too
// weak for it: the page says whose connection is weak, and when its own video is paused
// it stops encoding (the encoding is made inactive) until `flowing`. MonitorMedia is the supervisor's receive-only view of a call. The
// quality indicator uses getStats() when media flows, and the signaling round-trip time
// before that.
// ====================================================================================

/** Camera + microphone (or microphone only). Throws {kind: 'blocked' | 'missing' |
 *  'insecure' | 'busy' | 'other'}. */
export async function getLocalMedia({ video = true } = {}) {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) throw { kind: 'insecure' };
  const constraints = {
    audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true },
    video: video ? { width: { ideal: 640 }, height: { ideal: 480 }, frameRate: { ideal: 15, max: 20 }, facingMode: 'user' } : false,
  };
  try {
    return await navigator.mediaDevices.getUserMedia(constraints);
  } catch (e) {
    const name = e && e.name;
    if (name === 'NotAllowedError' || name === 'SecurityError') throw { kind: 'blocked' };
    if (name === 'NotFoundError' || name === 'OverconstrainedError') throw { kind: 'missing' };
    if (name === 'NotReadableError' || name === 'AbortError') throw { kind: 'busy' };
    throw { kind: 'other' };
  }
}

export function stopStream(stream) {
  if (stream) for (const tr of stream.getTracks()) tr.stop();
}

/** Calls onLevel(0..1) about ten times a second with the microphone's loudness (WebAudio
 *  AnalyserNode). Returns a function that stops it. */
export function levelMeter(stream, onLevel) {
  const AC = window.AudioContext || window.webkitAudioContext;
  if (!AC || !stream.getAudioTracks().length) return () => {};
  const ctx = new AC();
  const src = ctx.createMediaStreamSource(stream);
  const an = ctx.createAnalyser();
  an.fftSize = 512;
  src.connect(an);
  const buf = new Uint8Array(an.fftSize);
  if (ctx.state === 'suspended') ctx.resume().catch(() => {});
  const timer = setInterval(() => {
    an.getByteTimeDomainData(buf);
    let sum = 0;
    for (const v of buf) { const x = (v - 128) / 128; sum += x * x; }
    const rms = Math.sqrt(sum / buf.length);
    onLevel(Math.min(1, rms * 4));
  }, 100);
  return () => { clearInterval(timer); src.disconnect(); ctx.close().catch(() => {}); };
}

function qualityFromRtt(ms) {
  if (ms == null) return 'unknown';
  if (ms < 300) return 'good';
  if (ms < 800) return 'fair';
  return 'poor';
}

/** Per role: the most a call's video may use (bit/s, frames a second) and what gives way
 *  first when the link cannot carry it (docs/media.md, "Weak links"). */
const VIDEO_CAPS = {
  citizen: { maxBitrate: 500_000, maxFramerate: 15, degradationPreference: 'maintain-framerate' },
  officer: { maxBitrate: 600_000, maxFramerate: 15, degradationPreference: 'balanced' },
};

export class CallMedia {
  /**
   * @param {import('./signal.js').Signal} signal
   * @param {{local: HTMLVideoElement, remote: HTMLVideoElement, onQuality: (level: string) => void,
   *          onRemote: (state: 'waiting' | 'connected' | 'unavailable' | 'reconnecting' | 'audio_only' | 'weak_self' | 'weak_other') => void,
   *          onVideoNotice?: (key: string | null) => void, role: 'citizen' | 'officer'}} ui
   */
  constructor(signal, ui) {
    this.signal = signal;
    this.ui = ui;
    this.role = ui.role;
    // Video the server has paused for a weak link: "side/link" → the `video` message.
    this.videoPauses = new Map();
    this.stream = null;
    this.pc = null;
    this.makingOffer = false;
    this.media = true;
    this.muted = false;
    this.cameraOff = false;
    this.audioOnly = false;
    this.statsTimer = null;
    this.active = false;
    // What the page shows about the other side: the base state, unless either side is
    // reconnecting, or the server refused video.
    this.remoteBase = 'waiting';
    this.selfReconnecting = false;
    this.peerReconnecting = false;
    this.videoRejected = false;
    this.signalLost = false;
    // Create one CallMedia per page: it subscribes to the signal once, for every call.
    const on = (type, fn) => { signal.on(type, (m) => { if (this.active) fn(m); }); };
    on('sdp', (m) => this.#onSdp(m.description));
    on('ice', (m) => this.#onIce(m.candidate));
    on('end_of_candidates', () => this.#onIce(null));
    on('peer_media', (m) => { this.peerReconnecting = m.state === 'reconnecting'; this.#showRemote(); });
    on('renegotiate', () => { if (this.pc && this.iceOpen) this.#offerAgain(this.pc); });
    on('video', (m) => this.#onVideo(m));
    on('rtt', (ms) => { if (!this.pc) this.ui.onQuality(qualityFromRtt(ms)); });
    on('status', (s) => {
      if (s !== 'online') { this.signalLost = true; this.ui.onQuality('lost'); return; }
      // Back after the signaling connection was lost (the media connection may well have
      // carried on): the server's news about this call's media (video paused, the other
      // side reconnecting) went to the lost connection. Renegotiating on the same peer
      // connection tells the server where to send it now, and it repeats what is paused.
      if (this.signalLost && this.pc && this.iceOpen) this.#offerAgain(this.pc);
      this.signalLost = false;
    });
  }

  /** Starts the local camera (self view) and, where the server has media, negotiation.
   *  A connection already made while waiting (instant connect) is kept: the server starts
   *  forwarding to it the moment the officer accepts. */
  start() {
    // One start at a time: an officer who accepts while the ringing offer's connection is
    // still being made (or a citizen whose call starts while instant connect is under
    // way) waits for it and keeps it, rather than making a second connection that would
    // take the first one's answer.
    const run = (this.starting || Promise.resolve()).then(() => this.#start());
    this.starting = run;
    run.finally(() => { if (this.starting === run) this.starting = null; }).catch(() => {});
    return run;
  }

  async #start() {
    this.active = true;
    this.ui.onQuality(qualityFromRtt(this.signal.rtt));
    if (this.pc && this.pc.connectionState !== 'failed' && this.pc.connectionState !== 'closed') {
      this.#setRemote(this.remoteStream && this.remoteStream.getTracks().length ? 'connected' : 'waiting');
      return;
    }
    this.peerReconnecting = false;
    this.videoPauses.clear();
    this.#setRemote('waiting');
    if (!this.stream) {
      try {
        this.stream = await getLocalMedia({ video: !this.audioOnly });
      } catch {
        try { this.stream = await getLocalMedia({ video: false }); this.audioOnly = true; } catch { this.stream = null; }
      }
    }
    if (!this.active) { stopStream(this.stream); this.stream = null; return; }
    if (this.stream) {
      this.ui.local.srcObject = this.stream;
      this.ui.local.muted = true;
      this.ui.local.play().catch(() => {});
      this.#applyTrackState();
    }
    await this.negotiate();
  }

  // ---- negotiation with the server's SFU -----------------------------------------------

  async negotiate() {
    if (!this.media || !window.RTCPeerConnection) { this.#setRemote('unavailable'); return; }
    this.#closePc();
    this.selfReconnecting = false;
    this.videoRejected = false;
    const iceServers = (this.signal.welcome && this.signal.welcome.ice_servers || []).map((s) => ({
      urls: s.urls, username: s.username || undefined, credential: s.credential || undefined,
    }));
    const pc = new RTCPeerConnection({ iceServers, bundlePolicy: 'max-bundle' });
    this.pc = pc;
    // The call's peer connection, reachable for end-to-end checks of getStats().
    window.sunwaiCallMedia = this;
    this.pendingIce = [];
    this.iceOpen = false;
    if (this.stream) for (const tr of this.stream.getTracks()) pc.addTrack(tr, this.stream);
    this.#capVideo(pc);
    // Always offer both kinds, so the other side's audio and video arrive even when this
    // side has no camera (or no microphone).
    for (const kind of ['audio', 'video']) {
      if (!pc.getTransceivers().some((t) => t.receiver.track.kind === kind)) pc.addTransceiver(kind, { direction: 'recvonly' });
    }
    pc.onicecandidate = (e) => {
      const msg = e.candidate
        ? { type: 'ice', candidate: { candidate: e.candidate.candidate, sdp_mid: e.candidate.sdpMid, sdp_mline_index: e.candidate.sdpMLineIndex, username_fragment: e.candidate.usernameFragment } }
        : { type: 'end_of_candidates' };
      if (this.iceOpen) this.signal.send(msg); else this.pendingIce.push(msg);
    };
    // The other side's audio and video go into one stream on the one remote element.
    this.remoteStream = new MediaStream();
    pc.ontrack = (e) => {
      if (!this.remoteStream.getTracks().includes(e.track)) this.remoteStream.addTrack(e.track);
      this.attachRemote(this.remoteStream);
    };
    // After a network change the connection goes 'disconnected', then 'failed': restart
    // ICE (new credentials, same connection); the server renegotiates the same leg and
    // learns the new address, and the call goes on without a new queue entry.
    pc.onconnectionstatechange = () => {
      if (pc !== this.pc) return;
      clearTimeout(this.restartTimer);
      const state = pc.connectionState;
      if (state === 'failed') pc.restartIce();
      if (state === 'disconnected') {
        this.restartTimer = setTimeout(() => { if (pc === this.pc && pc.connectionState === 'disconnected') pc.restartIce(); }, 3000);
      }
      this.selfReconnecting = state === 'disconnected' || state === 'failed';
      this.#showRemote();
    };
    // restartIce() (and any later change) asks for a new offer on the same connection.
    pc.onnegotiationneeded = () => { if (pc === this.pc && this.iceOpen) this.#offerAgain(pc); };
    try {
      this.makingOffer = true;
      await pc.setLocalDescription(await pc.createOffer());
      await this.signal.request({ type: 'sdp', description: { sdp_type: 'offer', sdp: pc.localDescription.sdp } });
      this.iceOpen = true;
      for (const m of this.pendingIce.splice(0)) this.signal.send(m);
      this.#watchStats();
    } catch (e) {
      if (e && e.code === 'unavailable') this.media = false;
      this.#closePc();
      this.#setRemote('unavailable');
    } finally {
      this.makingOffer = false;
    }
  }

  /** A new offer on the same connection (an ICE restart, a changed track, or the server's
   *  `renegotiate`). */
  async #offerAgain(pc) {
    if (pc !== this.pc || this.makingOffer || pc.signalingState !== 'stable') return;
    try {
      this.makingOffer = true;
      await pc.setLocalDescription(await pc.createOffer());
      await this.signal.request({ type: 'sdp', description: { sdp_type: 'offer', sdp: pc.localDescription.sdp } });
    } catch (e) {
      console.warn('renegotiation', e);
    } finally {
      this.makingOffer = false;
    }
  }

  #setRemote(state) { this.remoteBase = state; this.#showRemote(); }

  /** The server paused or resumed one side's video for a weak link. One side's video can
   *  be paused for two links at once (the sender's uplink and the receiver's downlink):
   *  each pause is kept until its own link resumes. */
  #onVideo(m) {
    const key = `${m.side}/${m.link}`;
    if (m.state === 'paused') this.videoPauses.set(key, m);
    else if (m.state === 'flowing') this.videoPauses.delete(key);
    else return;
    if (m.side === this.role) {
      this.#setVideoSending(![...this.videoPauses.values()].some((p) => p.side === this.role));
    }
    this.#showRemote();
  }

  /** What this side's video may use at most, whatever the browser's own estimate says
   *  (the server's REMB lowers it further for a weak link at the other end), and what gives
   *  way first when it cannot have that: a citizen's phone keeps the frame rate (a face
   *  and lips moving) and lowers the resolution; an officer's desk camera balances both. */
  #capVideo(pc) {
    const caps = VIDEO_CAPS[this.role] || VIDEO_CAPS.officer;
    for (const sender of pc.getSenders()) {
      if (!sender.track || sender.track.kind !== 'video') continue;
      try {
        const params = sender.getParameters();
        if (!params.encodings || !params.encodings.length) params.encodings = [{}];
        for (const e of params.encodings) { e.maxBitrate = caps.maxBitrate; e.maxFramerate = caps.maxFramerate; }
        params.degradationPreference = caps.degradationPreference;
        sender.setParameters(params).catch((e) => console.warn('video caps', e));
      } catch (e) {
        console.warn('video caps', e);
      }
    }
  }

  /** Stops or resumes encoding this side's video (nobody would receive it). Applied to the
   *  video transceiver's sender even while it has no track (audio only), so that video
   *  switched back on while paused stays off until the server resumes it. */
  #setVideoSending(on) {
    if (!this.pc) return;
    for (const t of this.pc.getTransceivers()) {
      if (t.receiver.track.kind !== 'video' || t.currentDirection === 'stopped') continue;
      const sender = t.sender;
      const params = sender.getParameters();
      if (!params.encodings || !params.encodings.length) continue;
      for (const e of params.encodings) e.active = on;
      sender.setParameters(params).catch((e) => console.warn('video sending', e));
    }
  }

  #showRemote() {
    let state = this.remoteBase;
    if (state !== 'unavailable' && (this.selfReconnecting || this.peerReconnecting)) state = 'reconnecting';
    else if (state !== 'unavailable' && [...this.videoPauses.values()].some((p) => p.side !== this.role)) {
      const incoming = [...this.videoPauses.values()].filter((p) => p.side !== this.role);
      state = incoming.some((p) => p.link === this.role) ? 'weak_self' : 'weak_other';
    }
    else if (state === 'connected' && this.videoRejected) state = 'audio_only';
    else if (state === 'waiting' && this.videoRejected) state = 'audio_only';
    this.ui.onRemote(state);
    // Whichever way video is paused, the page says whose connection is weak.
    const links = [...this.videoPauses.values()].map((p) => p.link);
    const notice = !links.length ? null : links.includes(this.role) ? 'call.video_weak_self' : 'call.video_weak_other';
    if (this.ui.onVideoNotice) this.ui.onVideoNotice(notice);
  }

  /** Where the other side's media appears. */
  attachRemote(stream) {
    if (this.ui.remote.srcObject !== stream) this.ui.remote.srcObject = stream;
    this.ui.remote.play().catch(() => {});
    this.#setRemote('connected');
  }

  async #onSdp(d) {
    const pc = this.pc;
    if (!pc || !d) return;
    try {
      if (d.sdp_type === 'offer') {
        // The browser is the polite side: drop its own offer on a collision.
        if (this.makingOffer || pc.signalingState !== 'stable') await pc.setLocalDescription({ type: 'rollback' });
        await pc.setRemoteDescription({ type: 'offer', sdp: d.sdp });
        await pc.setLocalDescription(await pc.createAnswer());
        await this.signal.request({ type: 'sdp', description: { sdp_type: 'answer', sdp: pc.localDescription.sdp } });
      } else if (d.sdp_type === 'answer' || d.sdp_type === 'pranswer') {
        await pc.setRemoteDescription({ type: d.sdp_type, sdp: d.sdp });
        // Video refused (port 0): the server forwards no codec this browser offered.
        this.videoRejected = d.sdp.split(/\r?\nm=/).some((m) => m.startsWith('video 0 ') && !/a=bundle-only/.test(m));
        this.#showRemote();
      }
    } catch (e) { console.warn('sdp', e); }
  }

  async #onIce(c) {
    if (!this.pc) return;
    try {
      await this.pc.addIceCandidate(c ? { candidate: c.candidate, sdpMid: c.sdp_mid, sdpMLineIndex: c.sdp_mline_index, usernameFragment: c.username_fragment || undefined } : null);
    } catch (e) { console.warn('ice', e); }
  }

  #watchStats() {
    clearInterval(this.statsTimer);
    this.lossCount = null;
    this.statsTimer = setInterval(async () => {
      if (!this.pc) return;
      const stats = await this.pc.getStats();
      let rtt = null; let lost = 0; let got = 0;
      stats.forEach((s) => {
        if (s.type === 'candidate-pair' && s.state === 'succeeded' && s.currentRoundTripTime != null) rtt = s.currentRoundTripTime * 1000;
        if (s.type === 'inbound-rtp') { lost += s.packetsLost || 0; got += s.packetsReceived || 0; }
      });
      // Loss over the last interval only: a bad minute long ago says nothing about now.
      const prev = this.lossCount || { lost: 0, got: 0 };
      this.lossCount = { lost, got };
      const dLost = Math.max(0, lost - prev.lost); const dGot = Math.max(0, got - prev.got);
      const loss = dGot + dLost > 0 ? dLost / (dGot + dLost) : 0;
      let level = qualityFromRtt(rtt);
      if (loss > 0.1) level = 'poor'; else if (loss > 0.03 && level === 'good') level = 'fair';
      this.ui.onQuality(level);
    }, 3000);
  }

  #closePc() {
    clearInterval(this.statsTimer);
    if (this.pc) { try { this.pc.close(); } catch { /* closed */ } }
    this.pc = null;
  }

  // ---- controls ----------------------------------------------------------------------------

  #applyTrackState() {
    if (!this.stream) return;
    for (const tr of this.stream.getAudioTracks()) tr.enabled = !this.muted;
    for (const tr of this.stream.getVideoTracks()) tr.enabled = !this.cameraOff;
  }

  setMuted(b) { this.muted = b; this.#applyTrackState(); }
  setCameraOff(b) { this.cameraOff = b; this.#applyTrackState(); }

  /** Audio only: the camera is released and the video transceiver made inactive, so
   *  that video flows in neither direction (what a weak network needs); the connection
   *  renegotiates with the server. Back to video: the camera again, the transceiver
   *  sending and receiving, and the server starts the other side's video at a keyframe. */
  async setAudioOnly(b) {
    this.audioOnly = b;
    const video = this.pc && this.pc.getTransceivers().find((t) => t.receiver.track.kind === 'video');
    if (b) {
      if (this.stream) for (const tr of this.stream.getVideoTracks()) { tr.stop(); this.stream.removeTrack(tr); }
      if (video) { await video.sender.replaceTrack(null); video.direction = 'inactive'; }
      this.ui.local.srcObject = null;
    } else {
      let tr = null;
      try {
        const v = await navigator.mediaDevices.getUserMedia({ video: { width: { ideal: 640 }, height: { ideal: 480 }, frameRate: { ideal: 15 } } });
        tr = v.getVideoTracks()[0];
      } catch { /* no camera: receive video only */ }
      if (tr && this.stream) this.stream.addTrack(tr);
      if (video) {
        if (tr) await video.sender.replaceTrack(tr);
        video.direction = tr ? 'sendrecv' : 'recvonly';
      }
      if (this.stream) {
        this.ui.local.srcObject = this.stream;
        this.ui.local.play().catch(() => {});
      }
      this.#applyTrackState();
    }
    this.ui.remote.hidden = b;
  }

  stop() {
    this.active = false;
    this.videoPauses.clear();
    if (this.ui.onVideoNotice) this.ui.onVideoNotice(null);
    // The next call starts with video again (the buttons are reset with it).
    this.audioOnly = false;
    this.ui.remote.hidden = false;
    this.#closePc();
    stopStream(this.stream);
    this.stream = null;
    this.ui.local.srcObject = null;
    this.ui.remote.srcObject = null;
  }
}

/** A supervisor's silent, receive-only view of a live call: both sides' audio and video,
 *  through the server. Neither side is told or affected; the server writes each session
 *  into the call's record. */
export class MonitorMedia {
  /**
   * @param {import('./signal.js').Signal} signal
   * @param {{citizen: HTMLVideoElement, officer: HTMLVideoElement,
   *          onState: (state: 'idle' | 'connecting' | 'listening' | 'failed', detail?: string) => void}} ui
   */
  constructor(signal, ui) {
    this.signal = signal;
    this.ui = ui;
    this.pc = null;
    this.entry = null;
    signal.on('sdp', (m) => this.#onAnswer(m.description));
    signal.on('status', (s) => { if (s !== 'online' && this.entry) this.#reset('failed'); });
  }

  /** Listens in on the call of citizen `entry` (stopping any other first). */
  async start(entry) {
    if (this.entry) await this.signal.request({ type: 'stop_monitor', entry: this.entry }).catch(() => {});
    this.#reset(null);
    this.ui.onState('connecting');
    try {
      await this.signal.request({ type: 'monitor', entry });
    } catch (e) {
      this.ui.onState('failed', e && e.message);
      return;
    }
    this.entry = entry;
    const iceServers = (this.signal.welcome && this.signal.welcome.ice_servers || []).map((s) => ({
      urls: s.urls, username: s.username || undefined, credential: s.credential || undefined,
    }));
    const pc = new RTCPeerConnection({ iceServers, bundlePolicy: 'max-bundle' });
    this.pc = pc;
    // Reachable for end-to-end checks of getStats().
    window.sunwaiMonitorMedia = this;
    for (const kind of ['audio', 'video', 'audio', 'video']) pc.addTransceiver(kind, { direction: 'recvonly' });
    const streams = { citizen: new MediaStream(), officer: new MediaStream() };
    pc.ontrack = (e) => {
      // The server names each forwarded stream after its side: `citizen-…` or `officer-…`.
      const id = (e.streams[0] && e.streams[0].id) || '';
      const side = id.startsWith('officer') ? 'officer' : 'citizen';
      streams[side].addTrack(e.track);
      const v = this.ui[side];
      if (v.srcObject !== streams[side]) v.srcObject = streams[side];
      v.play().catch(() => {});
    };
    pc.onconnectionstatechange = () => {
      if (pc !== this.pc) return;
      if (pc.connectionState === 'connected') this.ui.onState('listening');
      if (pc.connectionState === 'failed') this.#reset('failed');
    };
    try {
      await pc.setLocalDescription(await pc.createOffer());
      await this.signal.request({ type: 'sdp', description: { sdp_type: 'offer', sdp: pc.localDescription.sdp } });
    } catch (e) {
      this.ui.onState('failed', e && e.message);
      await this.stop();
    }
  }

  /** Stops listening; the server notes the end in the record. */
  async stop() {
    const entry = this.entry;
    this.#reset('idle');
    if (entry) await this.signal.request({ type: 'stop_monitor', entry }).catch(() => {});
  }

  async #onAnswer(d) {
    const pc = this.pc;
    if (!pc || !d || d.sdp_type !== 'answer' || pc.signalingState !== 'have-local-offer') return;
    try { await pc.setRemoteDescription({ type: 'answer', sdp: d.sdp }); } catch (e) { console.warn('monitor sdp', e); }
  }

  #reset(state) {
    if (this.pc) { this.pc.ontrack = null; this.pc.close(); }
    this.pc = null;
    this.entry = null;
    for (const v of [this.ui.citizen, this.ui.officer]) v.srcObject = null;
    if (state) this.ui.onState(state);
  }
}
