#!/usr/bin/env python3
"""An independent WebRTC participant for sunwai's end-to-end tests.

This plays one participant of a hearing (a citizen, an officer, or a supervisor
listening in) against a running sunwai server, using a WebRTC stack that shares no
code with the server: aiortc (Python) for media, `websockets` for signaling, and the
standard library for the HTTP sign-in. A test harness (node or Rust) starts one
process per participant and drives it line by line, the way it drives a browser page.

    python3 tests/clients/aiortc_peer.py --base URL [--insecure]
        [--video-codec vp8|h264|any] [--no-video] [--consent-interval SECS] [--verbose]

`--base` is the server's address (`http://127.0.0.1:8080`, `https://10.64.255.1:8443`);
the WebSocket is `<base with ws/wss>/ws`. `--insecure` skips TLS certificate checks
(the tests use a self-signed certificate).

Protocol with the harness (JSON, one object per line):

* stdin carries commands, each with an `"id"`. Each command gets exactly one result
  line on stdout: `{"re": id, "ok": true, ...}` or `{"re": id, "ok": false,
  "error": "..."}`.
* stdout also carries unsolicited lines:
  `{"event": "server", "msg": {...}}` for every message the server sends (replies
  included), `{"event": "media", "state": "<connectionState>"}` whenever the peer
  connection's state changes, and `{"event": "closed", "code": N, "reason": "..."}`
  when the WebSocket closes.
* Logs go to stderr only.

Commands (see docs/protocol.md for the messages they send):

    {"id":1,"cmd":"citizen","desk":"ssp-prayagraj","intake":{...}}
        connect as a citizen (hello without session) and join; `intake` defaults to a
        valid Hindi intake. Optional "ticket" (resume: hello with it, no join) and
        "lang". Result: {"welcome", "joined", "entry", "reference", "ticket"}.
    {"id":1,"cmd":"staff","username":"officer1","password":"..."}
        sign in over HTTP (POST /api/login) and connect with the session token.
        Result: {"welcome", "me"}.
    {"id":2,"cmd":"send","msg":{...}}
        send a raw client message; its request id is filled in here. Result:
        {"reply": <the server's reply>}; ok is false when the reply is an `error`.
        Messages without a reply (`ice`, `end_of_candidates`) return at once.
    {"id":3,"cmd":"wait","type":"offer","timeout":20}
        the oldest not yet waited-for server message of that type (a per-type
        backlog keeps everything that arrived). Optional "where": {field: value}
        only takes a message whose top-level fields have those values (others stay
        in the backlog). Result: {"msg": ...}.
    {"id":4,"cmd":"media"}
        one RTCPeerConnection with the server's SFU, as the browser's CallMedia does:
        a 48 kHz sine tone and (unless --no-video) a moving 320x240 15 fps picture,
        offered as `sdp`; the server's answer is applied. Result once answered:
        {"state", "video_codec"}.
    {"id":5,"cmd":"monitor","entry":"<uuid>"}
        supervisor: `monitor`, then a receive-only offer (audio, video, audio, video:
        citizen first, then officer), as MonitorMedia does.
    {"id":6,"cmd":"stats"}
        {"state", "video_frames", "audio_frames", "video_codec", "video_width",
         "video_height", "tracks": [...], "rtp": {...}}; frames are counted by
        consuming (decoding) every received track.
    {"id":7,"cmd":"close"}      close the peer connection (signaling stays).
    {"id":8,"cmd":"quit"}       close everything and exit 0. EOF on stdin does the same.

For a server on a loopback address only the loopback candidate is offered (aioice
would leave it out). `--consent-interval` sends ICE consent checks more often than
aioice's RFC 7675 default of 5 s (randomised 4-6 s).

Commands run one after another in the order they arrive, except `wait`, which runs
alongside the others (so a harness can wait for an event and meanwhile cause it).
An unexpected failure in the client itself is logged with its traceback and ends the
process with exit status 1.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import fractions
import ipaddress
import json
import logging
import math
import ssl
import struct
import sys
import threading
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request

import aioice.ice
import av
import websockets
from aiortc import (
    RTCBundlePolicy,
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCRtpSender,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from websockets.asyncio.client import connect as ws_connect

log = logging.getLogger("aiortc_peer")

PROTOCOL_VERSION = 1

# The intake the tests use (tests/it/helpers.rs): valid, in Hindi.
DEFAULT_INTAKE = {
    "name": "सीता देवी",
    "mobile": "98765 43210",
    "area": "Kotwali",
    "category": "theft",
    "description": "मेरा मोबाइल चोरी हो गया",
    "language": "hi",
    "consent": True,
}

# Server messages that answer a request (they carry `re`).
REPLY_TYPES = {"ok", "error", "joined", "pong"}
# Client messages that are not requests: no `id`, no reply.
NO_REPLY_TYPES = {"hello", "ice", "end_of_candidates"}

REQUEST_TIMEOUT = 15.0
BACKLOG_PER_TYPE = 2000

# Synthetic media.
AUDIO_RATE = 48000
AUDIO_PTIME = 0.020
AUDIO_SAMPLES = int(AUDIO_RATE * AUDIO_PTIME)  # 960
TONE_HZ = 400  # a whole number of periods in every 20 ms frame
VIDEO_WIDTH, VIDEO_HEIGHT, VIDEO_FPS = 320, 240, 15
VIDEO_CLOCK = 90000


class CommandError(Exception):
    """A command failed in an expected way: reported as `ok: false`, the client goes on."""


# ---------------------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------------------


def emit(obj: dict) -> None:
    """Writes one JSON line to stdout (ASCII only, so the locale never matters)."""
    sys.stdout.write(json.dumps(obj, separators=(",", ":")) + "\n")
    sys.stdout.flush()


# ---------------------------------------------------------------------------------------
# Synthetic local media
# ---------------------------------------------------------------------------------------


class ToneTrack(MediaStreamTrack):
    """A continuous sine tone: mono, signed 16-bit, 48 kHz, in 20 ms frames, paced in
    real time."""

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        # TONE_HZ divides the sample rate into a whole number of samples per period and
        # every frame holds whole periods, so one frame's samples serve for all of them.
        amplitude = 0.3 * 32767
        samples = [
            int(amplitude * math.sin(2 * math.pi * TONE_HZ * n / AUDIO_RATE))
            for n in range(AUDIO_SAMPLES)
        ]
        self._pcm = struct.pack(f"<{AUDIO_SAMPLES}h", *samples)
        self._start: float | None = None
        self._sent = 0

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.monotonic()
        else:
            due = self._start + self._sent * AUDIO_PTIME
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
        frame = av.AudioFrame(format="s16", layout="mono", samples=AUDIO_SAMPLES)
        frame.planes[0].update(self._pcm)
        frame.sample_rate = AUDIO_RATE
        frame.pts = self._sent * AUDIO_SAMPLES
        frame.time_base = fractions.Fraction(1, AUDIO_RATE)
        self._sent += 1
        return frame


class MovingPictureTrack(MediaStreamTrack):
    """A 320x240 picture at 15 fps that changes in every frame: a diagonal gradient
    scrolling sideways, a bright band moving down, and slowly cycling colours. Every
    frame differs from the last, so the encoder always has something to send."""

    kind = "video"

    def __init__(self) -> None:
        super().__init__()
        self._start: float | None = None
        self._sent = 0

    def _frame(self, n: int) -> av.VideoFrame:
        frame = av.VideoFrame(width=VIDEO_WIDTH, height=VIDEO_HEIGHT, format="yuv420p")
        y_plane, u_plane, v_plane = frame.planes
        # Luma: a gradient that moves 4 pixels a frame, then a white band 16 rows high.
        stride = y_plane.line_size
        row = bytes(((x + 4 * n) * 2) & 0xFF for x in range(stride))
        luma = bytearray(row * y_plane.height)
        band_top = (3 * n) % (y_plane.height - 16)
        luma[band_top * stride : (band_top + 16) * stride] = b"\xeb" * (16 * stride)
        y_plane.update(bytes(luma))
        # Chroma: flat colours that drift with time.
        u_plane.update(bytes([(64 + 2 * n) & 0xFF]) * u_plane.buffer_size)
        v_plane.update(bytes([(192 - 3 * n) & 0xFF]) * v_plane.buffer_size)
        return frame

    async def recv(self) -> av.VideoFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.monotonic()
        else:
            due = self._start + self._sent / VIDEO_FPS
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
        frame = self._frame(self._sent)
        frame.pts = self._sent * (VIDEO_CLOCK // VIDEO_FPS)
        frame.time_base = fractions.Fraction(1, VIDEO_CLOCK)
        self._sent += 1
        return frame


# ---------------------------------------------------------------------------------------
# SDP helpers (just enough to report what was negotiated)
# ---------------------------------------------------------------------------------------


def sdp_sections(sdp: str) -> list[list[str]]:
    """The media sections of an SDP blob, each as its list of lines (m= line first)."""
    sections: list[list[str]] = []
    for line in sdp.splitlines():
        if line.startswith("m="):
            sections.append([line])
        elif sections:
            sections[-1].append(line)
    return sections


def section_info(lines: list[str]) -> dict:
    """kind, port, mid, msid stream id and first (preferred) codec of one media section."""
    m = lines[0][2:].split()
    info = {"kind": m[0], "port": int(m[1]), "mid": None, "stream": None, "codec": None}
    payload_types = m[3:]
    rtpmap = {}
    for line in lines[1:]:
        if line.startswith("a=mid:"):
            info["mid"] = line[len("a=mid:") :].strip()
        elif line.startswith("a=msid:"):
            info["stream"] = line[len("a=msid:") :].split()[0]
        elif line.startswith("a=rtpmap:"):
            pt, _, rest = line[len("a=rtpmap:") :].partition(" ")
            rtpmap[pt] = rest.split("/")[0]
    if info["port"] != 0 and payload_types:
        info["codec"] = rtpmap.get(payload_types[0])
    return info


def answered_video_codec(answer_sdp: str | None) -> str | None:
    """The codec the first accepted video section of the server's answer settled on."""
    if not answer_sdp:
        return None
    for lines in sdp_sections(answer_sdp):
        info = section_info(lines)
        if info["kind"] == "video" and info["codec"]:
            return info["codec"].upper()
    return None


# ---------------------------------------------------------------------------------------
# Received media
# ---------------------------------------------------------------------------------------


class Received:
    """What arrived on one remote track, counted by decoding it."""

    def __init__(self, track, mid: str | None) -> None:
        self.track = track
        self.kind = track.kind
        self.mid = mid
        self.stream: str | None = None
        self.frames = 0
        self.width: int | None = None
        self.height: int | None = None
        self.first_at: float | None = None
        self.last_at: float | None = None
        self.ended = False

    async def consume(self) -> None:
        try:
            while True:
                frame = await self.track.recv()
                self.frames += 1
                self.last_at = time.monotonic()
                if self.first_at is None:
                    self.first_at = time.monotonic()
                    log.info("first %s frame on mid %s", self.kind, self.mid)
                if self.kind == "video":
                    self.width, self.height = frame.width, frame.height
        except MediaStreamError:
            pass
        finally:
            self.ended = True

    def describe(self) -> dict:
        return {
            "kind": self.kind,
            "mid": self.mid,
            "stream": self.stream,
            "track": self.track.id,
            "frames": self.frames,
            "width": self.width,
            "height": self.height,
            "ended": self.ended,
        }


# ---------------------------------------------------------------------------------------
# The participant
# ---------------------------------------------------------------------------------------


class Peer:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        base = args.base.rstrip("/")
        parsed = urllib.parse.urlparse(base)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise SystemExit(f"--base must be http(s)://host[:port], not {args.base!r}")
        self.base = base
        self.ws_url = ("wss" if parsed.scheme == "https" else "ws") + "://" + parsed.netloc + "/ws"
        self.ssl_ctx: ssl.SSLContext | None = None
        if parsed.scheme == "https":
            self.ssl_ctx = ssl.create_default_context()
            if args.insecure:
                self.ssl_ctx.check_hostname = False
                self.ssl_ctx.verify_mode = ssl.CERT_NONE

        # Signaling.
        self.ws = None
        self.reader: asyncio.Task | None = None
        self.welcome: dict | None = None
        self.next_request = 1
        self.pending: dict[int, asyncio.Future] = {}
        self.backlog: dict[str, collections.deque] = collections.defaultdict(
            lambda: collections.deque(maxlen=BACKLOG_PER_TYPE)
        )
        self.waiters: list[tuple[str, dict, asyncio.Future]] = []
        self.answer: asyncio.Future | None = None

        # Media.
        self.pc: RTCPeerConnection | None = None
        self.local_tracks: list[MediaStreamTrack] = []
        self.received: list[Received] = []
        self.consumers: list[asyncio.Task] = []
        self.answer_sdp: str | None = None

        self.quitting = asyncio.Event()

    # ---- signaling ---------------------------------------------------------------------

    async def connect(self, hello: dict) -> dict:
        """Opens the WebSocket, says hello and returns the welcome."""
        await self.disconnect()
        self.backlog.clear()
        self.next_request = 1
        log.info("connecting to %s", self.ws_url)
        try:
            # No proxy: the tests' networks are private. Server messages have no size
            # bound (a desk snapshot of a long queue is large).
            self.ws = await ws_connect(
                self.ws_url,
                ssl=self.ssl_ctx,
                proxy=None,
                max_size=None,
                ping_interval=None,
                open_timeout=10,
            )
        except (OSError, websockets.exceptions.WebSocketException, asyncio.TimeoutError) as e:
            raise CommandError(f"could not connect to {self.ws_url}: {e}") from e
        await self.ws.send(json.dumps(hello))
        try:
            raw = await asyncio.wait_for(self.ws.recv(), 10)
        except websockets.exceptions.ConnectionClosed as e:
            raise CommandError(f"closed before welcome: {e}") from e
        except asyncio.TimeoutError as e:
            raise CommandError("no welcome within 10 s") from e
        msg = json.loads(raw)
        emit({"event": "server", "msg": msg})
        if msg.get("type") != "welcome":
            self.backlog[msg.get("type", "?")].append(msg)
            await self.disconnect()
            raise CommandError(f"hello refused: {msg.get('code')}: {msg.get('message')}")
        self.welcome = msg
        self.backlog["welcome"].append(msg)
        self.reader = asyncio.create_task(self.read_loop(self.ws))
        log.info("welcome: role %s", msg.get("role"))
        return msg

    async def disconnect(self) -> None:
        ws, self.ws = self.ws, None
        if ws is not None:
            try:
                await asyncio.wait_for(ws.close(), 5)
            except Exception:  # already gone
                pass
        if self.reader:
            self.reader.cancel()
            self.reader = None
        self.fail_pending("connection closed")
        self.welcome = None

    def fail_pending(self, why: str) -> None:
        for fut in self.pending.values():
            if not fut.done():
                fut.set_exception(CommandError(why))
        self.pending.clear()

    async def read_loop(self, ws) -> None:
        """Reads server messages until the connection closes and dispatches each."""
        try:
            async for raw in ws:
                if isinstance(raw, bytes):
                    log.warning("binary frame from the server (%d bytes)", len(raw))
                    continue
                try:
                    msg = json.loads(raw)
                except ValueError:
                    log.warning("not JSON from the server: %r", raw[:200])
                    continue
                self.dispatch(msg)
        except websockets.exceptions.ConnectionClosed:
            pass
        finally:
            code = ws.close_code if ws.close_code is not None else 1006
            reason = ws.close_reason or ""
            if self.ws is not ws:
                log.info("websocket closed by this client")
            else:
                log.info("websocket closed by the server or the network: %s %s", code, reason)
                emit({"event": "closed", "code": code, "reason": reason})
                self.ws = None
                self.fail_pending(f"connection closed ({code} {reason})".strip())

    def dispatch(self, msg: dict) -> None:
        emit({"event": "server", "msg": msg})
        kind = msg.get("type", "?")
        # A reply to one of our requests goes to whoever asked.
        re = msg.get("re")
        if kind in REPLY_TYPES and re in self.pending:
            fut = self.pending.pop(re)
            if not fut.done():
                fut.set_result(msg)
            return
        # The answer to our offer arrives as `sdp` just before the request's `ok`.
        if kind == "sdp":
            d = msg.get("description") or {}
            if d.get("sdp_type") == "answer" and self.answer and not self.answer.done():
                self.answer.set_result(d.get("sdp", ""))
            elif d.get("sdp_type") == "offer":
                log.warning("the server sent an offer; this client only offers itself")
        # Hand it to the first waiter for it, or keep it for a later `wait`.
        for i, (typ, where, fut) in enumerate(self.waiters):
            if typ == kind and not fut.done() and matches(msg, where):
                del self.waiters[i]
                fut.set_result(msg)
                return
        self.backlog[kind].append(msg)

    async def request(self, msg: dict, timeout: float = REQUEST_TIMEOUT) -> dict:
        """Sends a request with the next id and returns the server's reply to it."""
        if self.ws is None:
            raise CommandError("not connected")
        msg = dict(msg)
        rid = self.next_request
        self.next_request += 1
        msg["id"] = rid
        fut = asyncio.get_running_loop().create_future()
        self.pending[rid] = fut
        try:
            await self.ws.send(json.dumps(msg))
            return await asyncio.wait_for(fut, timeout)
        except asyncio.TimeoutError as e:
            raise CommandError(f"no reply to {msg.get('type')} within {timeout:g} s") from e
        except websockets.exceptions.ConnectionClosed as e:
            raise CommandError(f"connection closed: {e}") from e
        finally:
            self.pending.pop(rid, None)

    async def request_ok(self, msg: dict, timeout: float = REQUEST_TIMEOUT) -> dict:
        """Like request(), but an `error` reply fails the command."""
        reply = await self.request(msg, timeout)
        if reply.get("type") == "error":
            raise CommandError(f"{msg.get('type')}: {reply.get('code')}: {reply.get('message')}", reply)
        return reply

    async def wait_for_message(self, typ: str, where: dict, timeout: float) -> dict:
        queue = self.backlog.get(typ)
        if queue:
            for i, msg in enumerate(queue):
                if matches(msg, where):
                    del queue[i]
                    return msg
        fut = asyncio.get_running_loop().create_future()
        entry = (typ, where, fut)
        self.waiters.append(entry)
        try:
            return await asyncio.wait_for(fut, timeout)
        except asyncio.TimeoutError as e:
            raise CommandError(f"no {typ} within {timeout:g} s") from e
        finally:
            if entry in self.waiters:
                self.waiters.remove(entry)

    # ---- HTTP sign-in --------------------------------------------------------------------

    def login_blocking(self, username: str, password: str) -> dict:
        body = json.dumps({"username": username, "password": password}).encode()
        req = urllib.request.Request(
            self.base + "/api/login",
            data=body,
            method="POST",
            headers={"content-type": "application/json"},
        )
        handlers: list = [urllib.request.ProxyHandler({})]
        if self.ssl_ctx is not None:
            handlers.append(urllib.request.HTTPSHandler(context=self.ssl_ctx))
        opener = urllib.request.build_opener(*handlers)
        try:
            with opener.open(req, timeout=15) as r:
                return json.loads(r.read())
        except urllib.error.HTTPError as e:
            detail = e.read().decode(errors="replace")[:300]
            raise CommandError(f"sign-in refused: HTTP {e.code} {detail}") from e
        except (urllib.error.URLError, OSError) as e:
            raise CommandError(f"sign-in failed: {e}") from e

    # ---- media ---------------------------------------------------------------------------

    def new_pc(self, policy: RTCBundlePolicy = RTCBundlePolicy.BALANCED) -> RTCPeerConnection:
        servers = []
        for s in (self.welcome or {}).get("ice_servers") or []:
            servers.append(
                RTCIceServer(
                    urls=s.get("urls"),
                    username=s.get("username") or None,
                    credential=s.get("credential") or None,
                )
            )
        # The server answers BUNDLE with its candidate in the first media section only
        # (RFC 8843). aiortc (1.16) gives each of its ICE transports the candidates of the
        # *last* answered section that uses it, so a transport shared by several sections
        # may end up with none and never connect. Never max-bundle, then (one transport
        # for all); "balanced" (one per kind) is fine for one audio + one video section,
        # and a monitor leg, with two of each kind, needs "max-compat" (one per section).
        pc = RTCPeerConnection(RTCConfiguration(iceServers=servers, bundlePolicy=policy))

        @pc.on("connectionstatechange")
        def on_state() -> None:
            if pc is self.pc:
                log.info("peer connection %s", pc.connectionState)
                emit({"event": "media", "state": pc.connectionState})

        @pc.on("track")
        def on_track(track) -> None:
            mid = None
            for t in pc.getTransceivers():
                if t.receiver.track is track:
                    mid = t.mid
            r = Received(track, mid)
            self.received.append(r)
            self.consumers.append(asyncio.create_task(r.consume()))
            log.info("remote %s track on mid %s", track.kind, mid)

        return pc

    async def close_media(self) -> None:
        pc, self.pc = self.pc, None
        for task in self.consumers:
            task.cancel()
        self.consumers = []
        for track in self.local_tracks:
            track.stop()
        self.local_tracks = []
        if pc is not None:
            try:
                await asyncio.wait_for(pc.close(), 5)
            except asyncio.TimeoutError:
                log.warning("closing the peer connection took too long")

    async def negotiate(self, pc: RTCPeerConnection) -> None:
        """Offers to the server (with every candidate in the SDP: no trickling) and
        applies its answer."""
        await pc.setLocalDescription(await pc.createOffer())
        offer = {"type": "sdp", "description": {"sdp_type": "offer", "sdp": pc.localDescription.sdp}}
        self.answer = asyncio.get_running_loop().create_future()
        try:
            await self.request_ok(offer, timeout=20)
            answer = await asyncio.wait_for(self.answer, 5)
        except asyncio.TimeoutError as e:
            raise CommandError("the server said ok to the offer but sent no answer") from e
        finally:
            self.answer = None
        self.answer_sdp = answer
        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
        except Exception as e:  # aiortc refuses answers it cannot use
            raise CommandError(f"the server's answer could not be applied: {e!r}") from e
        # Label received tracks with the stream the server named in the answer
        # (`citizen-…` / `officer-…` on a monitor leg).
        streams = {}
        for lines in sdp_sections(answer):
            info = section_info(lines)
            streams[info["mid"]] = info["stream"]
        for r in self.received:
            r.stream = streams.get(r.mid)

    async def negotiate_or_close(self, pc: RTCPeerConnection) -> None:
        """negotiate(); a peer connection the server did not take is closed again."""
        try:
            await self.negotiate(pc)
        except BaseException:
            await self.close_media()
            raise

    async def start_media(self) -> dict:
        if self.ws is None or self.welcome is None:
            raise CommandError("not connected")
        await self.close_media()
        self.received = []
        self.answer_sdp = None
        pc = self.new_pc()
        self.pc = pc
        tone = ToneTrack()
        self.local_tracks.append(tone)
        pc.addTransceiver(tone, direction="sendrecv")
        if self.args.no_video:
            # Like a browser without a camera: still receive the other side's video.
            video = pc.addTransceiver("video", direction="recvonly")
        else:
            picture = MovingPictureTrack()
            self.local_tracks.append(picture)
            video = pc.addTransceiver(picture, direction="sendrecv")
        if self.args.video_codec != "any":
            wanted = {"vp8": "video/vp8", "h264": "video/h264"}[self.args.video_codec]
            codecs = [
                c
                for c in RTCRtpSender.getCapabilities("video").codecs
                if c.mimeType.lower() in (wanted, "video/rtx")
            ]
            video.setCodecPreferences(codecs)
        await self.negotiate_or_close(pc)
        return {"state": pc.connectionState, "video_codec": answered_video_codec(self.answer_sdp)}

    async def start_monitor(self, entry: str) -> dict:
        if self.ws is None or self.welcome is None:
            raise CommandError("not connected")
        reply = await self.request({"type": "monitor", "entry": entry})
        if reply.get("type") == "error":
            raise CommandError(f"monitor: {reply.get('code')}: {reply.get('message')}")
        await self.close_media()
        self.received = []
        self.answer_sdp = None
        pc = self.new_pc(RTCBundlePolicy.MAX_COMPAT)
        self.pc = pc
        for kind in ("audio", "video", "audio", "video"):
            pc.addTransceiver(kind, direction="recvonly")
        await self.negotiate_or_close(pc)
        return {"state": pc.connectionState, "video_codec": answered_video_codec(self.answer_sdp)}

    async def stats(self) -> dict:
        rtp = {}
        if self.pc is not None:
            try:
                report = await self.pc.getStats()
                for s in report.values():
                    if s.type == "inbound-rtp":
                        key = f"{s.kind}_in"
                        rtp[key] = rtp.get(key, 0) + s.packetsReceived
                    elif s.type == "outbound-rtp":
                        key = f"{s.kind}_out"
                        rtp[key] = rtp.get(key, 0) + s.packetsSent
            except Exception as e:  # stats are a nicety; frames are the measure
                log.warning("getStats: %r", e)
        # The size of the last video frame decoded, on whichever track it came.
        videos = [r for r in self.received if r.kind == "video" and r.last_at]
        last = max(videos, key=lambda r: r.last_at) if videos else None
        return {
            "state": self.pc.connectionState if self.pc else None,
            "video_frames": sum(r.frames for r in self.received if r.kind == "video"),
            "audio_frames": sum(r.frames for r in self.received if r.kind == "audio"),
            "video_codec": answered_video_codec(self.answer_sdp),
            "video_width": last.width if last else None,
            "video_height": last.height if last else None,
            "tracks": [r.describe() for r in self.received],
            "rtp": rtp,
        }

    # ---- commands ------------------------------------------------------------------------

    async def run_command(self, cmd: dict) -> dict:
        """Carries out one command; returns the result's fields (besides re/ok)."""
        name = cmd.get("cmd")
        if name == "citizen":
            hello = {"type": "hello", "v": PROTOCOL_VERSION, "lang": cmd.get("lang", "hi")}
            if cmd.get("ticket"):
                hello["ticket"] = cmd["ticket"]
            welcome = await self.connect(hello)
            if cmd.get("ticket"):
                return {"welcome": welcome}
            join = {
                "type": "join",
                "desk": cmd.get("desk", "ssp-prayagraj"),
                "intake": cmd.get("intake") or DEFAULT_INTAKE,
            }
            joined = await self.request_ok(join)
            return {
                "welcome": welcome,
                "joined": joined,
                "entry": joined.get("entry"),
                "reference": joined.get("reference"),
                "ticket": joined.get("ticket"),
            }
        if name == "staff":
            for field in ("username", "password"):
                if not isinstance(cmd.get(field), str):
                    raise CommandError(f"staff needs {field!r}")
            me = await asyncio.to_thread(self.login_blocking, cmd["username"], cmd["password"])
            token = me.pop("token", None)
            if not token:
                raise CommandError("sign-in answered without a token")
            hello = {"type": "hello", "v": PROTOCOL_VERSION, "session": token, "lang": cmd.get("lang", "en")}
            welcome = await self.connect(hello)
            return {"welcome": welcome, "me": me}
        if name == "send":
            msg = cmd.get("msg")
            if not isinstance(msg, dict) or not isinstance(msg.get("type"), str):
                raise CommandError("send needs msg: an object with a type")
            if msg["type"] in NO_REPLY_TYPES:
                if self.ws is None:
                    raise CommandError("not connected")
                await self.ws.send(json.dumps(msg))
                return {"reply": None}
            reply = await self.request(msg, seconds(cmd, "timeout", REQUEST_TIMEOUT))
            if reply.get("type") == "error":
                raise CommandError(f"{reply.get('code')}: {reply.get('message')}", reply)
            return {"reply": reply}
        if name == "wait":
            typ = cmd.get("type")
            if not isinstance(typ, str):
                raise CommandError("wait needs a type")
            where = cmd.get("where") or {}
            if not isinstance(where, dict):
                raise CommandError("where must be an object")
            msg = await self.wait_for_message(typ, where, seconds(cmd, "timeout", 20))
            return {"msg": msg}
        if name == "media":
            return await self.start_media()
        if name == "monitor":
            if not isinstance(cmd.get("entry"), str):
                raise CommandError("monitor needs an entry")
            return await self.start_monitor(cmd["entry"])
        if name == "stats":
            return await self.stats()
        if name == "close":
            await self.close_media()
            return {}
        if name == "quit":
            self.quitting.set()
            return {}
        raise CommandError(f"unknown command {name!r}")

    async def handle(self, cmd: dict) -> None:
        """Runs a command and writes its result line; exits on a bug in this client."""
        cid = cmd.get("id")
        try:
            out = await self.run_command(cmd)
        except CommandError as e:
            result = {"re": cid, "ok": False, "error": str(e.args[0])}
            if len(e.args) > 1:
                result["reply"] = e.args[1]
            emit(result)
            return
        except Exception:
            emit({"re": cid, "ok": False, "error": "internal error in aiortc_peer (see stderr)"})
            raise
        emit({"re": cid, "ok": True, **out})

    async def shutdown(self) -> None:
        await self.close_media()
        await self.disconnect()


def seconds(cmd: dict, key: str, default: float) -> float:
    """A command's time-out in seconds."""
    value = cmd.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise CommandError(f"{key} must be a number of seconds")
    return float(value)


def matches(msg: dict, where: dict) -> bool:
    return all(msg.get(k) == v for k, v in where.items())


# ---------------------------------------------------------------------------------------
# Main loop
# ---------------------------------------------------------------------------------------


def start_stdin_reader(loop: asyncio.AbstractEventLoop, lines: asyncio.Queue) -> None:
    """Reads stdin on a thread (works for pipes, files and terminals alike); None marks
    the end of input."""

    def run() -> None:
        for line in sys.stdin:
            loop.call_soon_threadsafe(lines.put_nowait, line)
        loop.call_soon_threadsafe(lines.put_nowait, None)

    threading.Thread(target=run, name="stdin", daemon=True).start()


async def main(args: argparse.Namespace) -> int:
    peer = Peer(args)
    loop = asyncio.get_running_loop()
    lines: asyncio.Queue = asyncio.Queue()
    start_stdin_reader(loop, lines)
    crashed: list[BaseException] = []
    background: set[asyncio.Task] = set()

    def watch(task: asyncio.Task) -> None:
        background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            crashed.append(task.exception())
            peer.quitting.set()

    # Commands are taken one at a time; `wait` runs alongside so the next can cause
    # what it waits for.
    while not peer.quitting.is_set():
        get = asyncio.create_task(lines.get())
        stop = asyncio.create_task(peer.quitting.wait())
        done, _ = await asyncio.wait({get, stop}, return_when=asyncio.FIRST_COMPLETED)
        stop.cancel()
        if get not in done:
            get.cancel()
            break
        line = get.result()
        if line is None:
            log.info("end of input: quitting")
            break
        line = line.strip()
        if not line:
            continue
        try:
            cmd = json.loads(line)
            if not isinstance(cmd, dict):
                raise ValueError("not an object")
        except ValueError as e:
            emit({"re": None, "ok": False, "error": f"bad command line: {e}"})
            continue
        if cmd.get("cmd") == "wait":
            task = asyncio.create_task(peer.handle(cmd))
            background.add(task)
            task.add_done_callback(watch)
            continue
        try:
            await peer.handle(cmd)
        except Exception as e:
            crashed.append(e)
            break

    for task in list(background):
        task.cancel()
    try:
        await asyncio.wait_for(peer.shutdown(), 10)
    except Exception as e:
        log.warning("shutdown: %r", e)
    if crashed:
        e = crashed[0]
        print("aiortc_peer: unexpected error:", file=sys.stderr)
        traceback.print_exception(type(e), e, e.__traceback__, file=sys.stderr)
        return 1
    return 0


def only_loopback_when_the_server_is_local(base: str) -> None:
    """aioice leaves 127.0.0.1 out of its host candidates. A server on loopback has its
    media socket there too and may take media only from loopback (`[media]
    allowed_networks = ["127.0.0.0/8"]`), so for such a server offer the loopback
    address alone."""
    host = urllib.parse.urlparse(base).hostname or ""
    try:
        local = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        local = False
    if local:
        aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"] if use_ipv4 else []


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="An aiortc participant of a sunwai hearing, driven by JSON lines on stdin.",
    )
    p.add_argument("--base", required=True, help="server address, e.g. https://10.64.255.1:8443")
    p.add_argument("--insecure", action="store_true", help="do not verify the TLS certificate")
    p.add_argument(
        "--video-codec",
        choices=("vp8", "h264", "any"),
        default="any",
        help="offer only this video codec (default: everything aiortc has)",
    )
    p.add_argument("--no-video", action="store_true", help="send no video (still receive it)")
    p.add_argument(
        "--consent-interval",
        type=float,
        default=None,
        help="seconds between ICE consent checks (default: aioice's 5 s, randomised "
        "0.8-1.2x, as RFC 7675 has it)",
    )
    p.add_argument("--verbose", action="store_true", help="debug logs from aiortc and aioice")
    return p.parse_args(argv)


if __name__ == "__main__":
    arguments = parse_args(sys.argv[1:])
    logging.basicConfig(
        stream=sys.stderr,
        # Quiet in the test run's output unless asked: what matters reaches the harness.
        level=logging.DEBUG if arguments.verbose else logging.WARNING,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    if not arguments.verbose:
        for noisy in ("aioice", "aiortc", "websockets"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
    only_loopback_when_the_server_is_local(arguments.base)
    if arguments.consent_interval is not None:
        # Consent freshness (RFC 7675) is the only traffic an ICE-lite server's agent
        # may count as a sign of life; this sends it more often than the RFC's 5 s.
        aioice.ice.CONSENT_INTERVAL = arguments.consent_interval
    try:
        status = asyncio.run(main(arguments))
    except KeyboardInterrupt:
        status = 130
    except Exception:
        print("aiortc_peer: unexpected error:", file=sys.stderr)
        traceback.print_exc()
        status = 1
    sys.stdout.flush()
    sys.exit(status)
