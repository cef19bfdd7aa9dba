// Browsers for the tests, each inside a network namespace that the Rust harness made
// (SUNWAI_LAB: {"server": ip, "hosts": [{ns, ip, gw, link}, ...]}), so that their WebRTC
// candidates come from a network interface, as a real citizen's do: no networking test
// flags at all (no flag that lets WebRTC use loopback, no ICE prefs). netns-exec.mjs does
// the namespace part; playwright sees an ordinary browser.
//
//   const lab = JSON.parse(process.env.SUNWAI_LAB);
//   const browser = await launchIn(lab.hosts[0], 'firefox');   // or 'chromium' (default)
//   const ctx = await browser.newContext({ ...newContextOptions('firefox'), viewport: PHONE });
//
// Firefox is Debian's firefox-esr driven over WebDriver BiDi: playwright-core 1.65 does not
// export `_bidiFirefox`; `firefox.launch` with a `moz-firefox` channel reaches the same code.
// What playwright can do with it (playwright 1.65.1, Firefox ESR 153), tried by hand:
// - works: newContext with viewport, locale, timezoneId, ignoreHTTPSErrors; goto, reload,
//   evaluate (of a function or a string), fill, selectOption, click, pressSequentially,
//   waitForFunction, screenshot, route, context.setOffline, the 'console' and 'pageerror'
//   events, grantPermissions(['notifications']).
// - grantPermissions with 'camera' or 'microphone' throws "unsupported operation" (Firefox
//   bug 1609427): don't call it on Firefox; the prefs below allow both, and notifications,
//   for every origin, and newContextOptions grants the same on Chromium.
// - newCDPSession is Chromium's only; page.emulateMedia and a context's colorScheme fail
//   (Firefox has no emulation.setMediaFeaturesOverride, see the shim below).
// - An AudioContext starts 'suspended' and turns 'running' by itself a moment later
//   (Chromium's starts 'running').

import { chromium, firefox } from 'playwright-core';
import { createRequire } from 'node:module';
import { userInfo } from 'node:os';
import { fileURLToPath } from 'node:url';

const wrapper = fileURLToPath(new URL('./netns-exec.mjs', import.meta.url));

const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream',
  '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--no-first-run', '--autoplay-policy=no-user-gesture-required',
];

// On top of playwright's test profile and the remote agent's recommended prefs (no updates,
// telemetry, safe browsing, captive-portal probes, …).
const FIREFOX_PREFS = {
  // A generated camera picture and microphone tone instead of devices, without a prompt.
  'media.navigator.streams.fake': true,
  'media.navigator.permission.disabled': true,
  // Permissions as on Chromium with --use-fake-ui-for-media-stream and grantPermissions:
  // 1 = allow, for every origin.
  'permissions.default.camera': 1,
  'permissions.default.microphone': 1,
  'permissions.default.desktop-notification': 1,
  // Media, Web Audio included, plays without a user gesture (0 = allow audible autoplay).
  'media.autoplay.default': 0,
  'media.autoplay.block-webaudio': false,
  // There is no sound device here (no /dev/snd, no PulseAudio): without one an AudioContext
  // (the page's level meter and chime) stays 'suspended' for ever. Firefox's mock audio
  // backend (its own tests use it) is a device that plays into nothing, as Chromium does.
  'media.cubeb.force_mock_context': true,
};

// Playwright 1.65 sends emulation.setMediaFeaturesOverride for every new Firefox context,
// even with nothing to override, and Firefox ESR 153 does not know that command, so
// newContext would fail. Answer exactly that empty request on the client side; one that
// asks for a colour scheme still goes to Firefox (and fails there, as it should).
// Only the BiDi transport carries it: Chromium talks over a pipe, not a WebSocket.
const { server } = createRequire(import.meta.url)('playwright-core/lib/coreBundle');
const wsSend = server.WebSocketTransport.prototype.send;
server.WebSocketTransport.prototype.send = function send(message) {
  const features = message.params?.features;
  if (message.method === 'emulation.setMediaFeaturesOverride' && features && Object.values(features).every((v) => v == null)) {
    setImmediate(() => this.onmessage?.({ type: 'success', id: message.id, result: {} }));
    return;
  }
  wsSend.call(this, message);
};

/** Launches a browser of `kind` ('chromium' or 'firefox') in the namespace of `host`. */
export async function launchIn(host, kind = 'chromium') {
  const env = { ...process.env, SUNWAI_NETNS: host.ns, SUNWAI_NETNS_IP: host.ip };
  if (kind === 'chromium') {
    return chromium.launch({
      executablePath: wrapper,
      headless: true,
      env: { ...env, SUNWAI_BROWSER: process.env.CHROMIUM || '/usr/bin/chromium' },
      args: CHROMIUM_ARGS,
    });
  }
  if (kind === 'firefox') {
    return firefox.launch({
      channel: 'moz-firefox', // selects playwright's WebDriver BiDi Firefox
      executablePath: wrapper,
      headless: true,
      env: {
        ...env,
        SUNWAI_BROWSER: process.env.FIREFOX || '/usr/bin/firefox-esr',
        // Firefox refuses to start with a HOME that its user does not own.
        HOME: userInfo().homedir,
        // Firefox's remote-agent prefs point Remote Settings at a dummy server, but a release
        // build heeds that only with this set; otherwise it looks up
        // firefox.settings.services.mozilla.com, which no namespace can resolve, and
        // browser.close() waits ~5 s for the DNS timeout.
        MOZ_REMOTE_SETTINGS_DEVTOOLS: '1',
      },
      firefoxUserPrefs: FIREFOX_PREFS,
    });
  }
  throw new Error(`launchIn: unknown browser kind ${kind}`);
}

/**
 * What every context needs on `kind`: the server's certificate is self-signed, and camera,
 * microphone and notifications are allowed for every origin. (Firefox gets the latter from
 * its prefs, since its grantPermissions rejects 'camera' and 'microphone'.)
 */
export function newContextOptions(kind = 'chromium') {
  if (kind === 'chromium') return { ignoreHTTPSErrors: true, permissions: ['camera', 'microphone', 'notifications'] };
  if (kind === 'firefox') return { ignoreHTTPSErrors: true };
  throw new Error(`newContextOptions: unknown browser kind ${kind}`);
}
