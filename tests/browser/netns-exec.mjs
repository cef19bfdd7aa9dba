#!/usr/bin/env node
// The `executablePath` that browsers.mjs gives playwright: runs the real browser inside a
// Linux network namespace, so that its WebRTC candidates come from the namespace's veth
// address as a real citizen's would, not from loopback.
//
//   SUNWAI_NETNS=ns SUNWAI_NETNS_IP=10.77.0.2 SUNWAI_BROWSER=/usr/bin/chromium netns-exec.mjs ARGS…
//   runs  setpriv --pdeathsig KILL ip netns exec ns /usr/bin/chromium ARGS…
//
// Chromium talks to playwright over fds 3 and 4, which the browser inherits. Firefox
// (WebDriver BiDi) instead prints "WebDriver BiDi listening on ws://127.0.0.1:PORT" and
// waits for a WebSocket there, on the namespace's loopback; for it this starts
// netns-relay.mjs inside the namespace on SUNWAI_NETNS_IP:PORT and prints that address
// instead (the relay also makes the handshake's Host header one that Firefox accepts).
//
// Playwright starts this as the leader of a new process group and kills the group, which
// takes the browser and the relay along. When the browser exits, this gets SIGTERM, SIGINT
// or SIGHUP, or the process that started it dies, every process descended from this one
// (or left in its group) is killed before it exits.

import { spawn } from 'node:child_process';
import { fstatSync, readdirSync, readFileSync } from 'node:fs';
import { constants } from 'node:os';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const { SUNWAI_NETNS: ns, SUNWAI_NETNS_IP: nsIp, SUNWAI_BROWSER: real } = process.env;
if (!ns || !nsIp || !real) {
  console.error('netns-exec: SUNWAI_NETNS, SUNWAI_NETNS_IP and SUNWAI_BROWSER must be set');
  process.exit(2);
}

const args = process.argv.slice(2);

// Pass on the pipe fds 3 and 4 when playwright gave us them (Chromium's transport).
const hasFd = (fd) => { try { fstatSync(fd); return true; } catch { return false; } };
const stdio = ['inherit', 'inherit', 'pipe', ...[3, 4].filter(hasFd).map(() => 'inherit')];
// setpriv --pdeathsig: the kernel kills the browser (and the relay) if this process dies,
// even by a SIGKILL aimed at it alone.
const inNs = (...cmd) => ['--pdeathsig', 'KILL', 'ip', 'netns', 'exec', ns, ...cmd];
const browser = spawn('setpriv', inNs(real, ...args), { stdio });
let queue = Promise.resolve(); // the copy of the browser's stderr, line after line

/**
 * Every other process that is ours: those descended from this one, and, when this leads
 * its process group (as playwright starts it), the group's members that were orphaned.
 */
function ours() {
  const children = new Map();
  const found = new Set();
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      // The command name (field 2) may hold spaces and ')'; state, ppid, pgrp follow the last ')'.
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const [, ppid, pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (!children.has(ppid)) children.set(ppid, []);
      children.get(ppid).push(pid);
      if (Number(pgrp) === process.pid) found.add(Number(pid));
    } catch { /* it exited meanwhile */ }
  }
  const walk = (pid) => { for (const c of children.get(pid) || []) { found.add(Number(c)); walk(c); } };
  walk(String(process.pid));
  found.delete(process.pid);
  return found;
}

function killAll() {
  for (const pid of ours()) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
}

// If playwright's process dies without killing us (SIGKILL), we are re-parented: clean up.
const parent = process.ppid;
setInterval(() => { if (process.ppid !== parent) { killAll(); process.exit(1); } }, 500).unref();
for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(sig, () => { killAll(); process.exit(128 + constants.signals[sig]); });
browser.on('error', (e) => { console.error(`netns-exec: ${e.message}`); killAll(); process.exit(1); });
browser.on('exit', () => killAll()); // the relay, and any browser helper still around
// 'close' comes once every holder of the browser's stderr is gone and the copy is done.
browser.on('close', (code, signal) => queue.then(() => process.exit(signal ? 128 + constants.signals[signal] : code)));

/** Starts the relay in the namespace; resolves once it listens. */
function startRelay(port, target) {
  const here = fileURLToPath(new URL('./netns-relay.mjs', import.meta.url));
  const relay = spawn('setpriv', inNs(process.execPath, here, nsIp, port, target, port), { stdio: ['pipe', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    relay.stdout.once('data', resolve);
    relay.once('exit', (code) => reject(new Error(`netns-relay exited with ${code}`)));
  });
}

// Copy the browser's stderr line by line, in order, rewriting the BiDi address.
const bidiLine = /^(.*WebDriver BiDi listening on ws:\/\/)(127\.0\.0\.1|localhost|\[::1\]):(\d+)(.*)$/;
createInterface({ input: browser.stderr }).on('line', (line) => {
  queue = queue.then(async () => {
    const m = line.match(bidiLine);
    if (!m) return process.stderr.write(`${line}\n`);
    const [, head, host, port, tail] = m;
    try {
      await startRelay(port, host === '[::1]' ? '::1' : host);
      process.stderr.write(`${head}${nsIp}:${port}${tail}\n`);
    } catch (e) {
      // Playwright never sees the line, so its launch fails with the browser's log.
      console.error(`netns-exec: ${e.message}`);
      killAll();
      process.exit(1);
    }
  });
});
