// A TCP relay that netns-exec.mjs starts inside a browser's network namespace: Firefox's
// WebDriver BiDi server listens only on the namespace's own loopback, which playwright (in
// the root namespace) cannot reach, so this listens on the namespace's veth address and
// forwards every connection to the loopback port.
//
//   node netns-relay.mjs LISTEN_HOST LISTEN_PORT TARGET_HOST TARGET_PORT
//
// Firefox's HTTP server answers 400 to a request whose Host header is not one of its own
// names (localhost or 127.0.0.1 with its port), and --remote-allow-hosts does not change
// that; so the Host header of each connection's first request (the WebSocket handshake)
// is rewritten to TARGET_HOST:TARGET_PORT. After that the bytes pass through untouched.
//
// Prints "ready" on stdout once it listens. Exits when its stdin closes, so it never
// outlives the wrapper that started it, even if that wrapper is SIGKILLed on its own.

import net from 'node:net';

const [listenHost, listenPort, targetHost, targetPort] = process.argv.slice(2);
if (!targetPort) {
  console.error('usage: netns-relay.mjs LISTEN_HOST LISTEN_PORT TARGET_HOST TARGET_PORT');
  process.exit(2);
}
const hostHeader = `Host: ${net.isIPv6(targetHost) ? `[${targetHost}]` : targetHost}:${targetPort}`;

const server = net.createServer((client) => {
  const upstream = net.connect(Number(targetPort), targetHost);
  // Whichever side fails or closes first takes the other one down with it.
  const drop = () => { client.destroy(); upstream.destroy(); };
  client.on('error', drop).on('close', drop);
  upstream.on('error', drop).on('close', drop);
  upstream.pipe(client);

  // Hold the client's bytes until the first request's headers are complete.
  let head = Buffer.alloc(0);
  const onHead = (chunk) => {
    head = Buffer.concat([head, chunk]);
    const end = head.indexOf('\r\n\r\n');
    if (end < 0) return;
    client.off('data', onHead);
    const headers = head.subarray(0, end).toString('latin1').replace(/^Host:.*$/im, hostHeader);
    upstream.write(Buffer.concat([Buffer.from(headers, 'latin1'), head.subarray(end)]));
    client.pipe(upstream);
  };
  client.on('data', onHead);
});

server.on('error', (e) => {
  console.error(`netns-relay: ${e.message}`);
  process.exit(1);
});
server.listen(Number(listenPort), listenHost, () => process.stdout.write('ready\n'));

// The parent holds the other end of stdin; end of file means it is gone.
process.stdin.on('end', () => process.exit(0)).on('error', () => process.exit(0)).resume();
