/**
 * End-to-end: Upgrade. After a 101 the client and backend sockets are a raw two-way tunnel (bytes
 * the client sent right behind its request included); the backend socket never returns to the pool.
 * A backend that declines (answers 200) ends the exchange and the connection.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type * as net from 'node:net';
import { randomBytes } from 'node:crypto';
import { startRaw, type RawHandle } from '../../../backends/raw.js';
import { loadFixture } from '../../kit/fixtures.js';
import { headerValue } from '../../kit/raw-client.js';
import { connect, startProxy, waitFor, waitForIdle, withCleanup, type Cleanup } from '../../kit/harness.js';

const HELLO = Buffer.from('hello from the backend, sent with the 101');

interface TunnelBackend extends RawHandle {
  /** Request heads seen, over all connections. */
  heads: string[];
  /** Bytes received after a 101, per tunnel. */
  tunnelled: Buffer[];
  /** Backend-side tunnel sockets, in order. */
  tunnels: net.Socket[];
}

/**
 * A raw backend: a request with an Upgrade header gets `answer` (101 by default, with HELLO right
 * behind it) and the connection then echoes every byte it receives; any other request gets a small
 * 200. With `declined` the upgrade gets a 200 and the connection stays HTTP.
 */
async function tunnelBackend(c: Cleanup, declined = false, declineDelayMs = 0): Promise<TunnelBackend> {
  const heads: string[] = [];
  const tunnelled: Buffer[] = [];
  const tunnels: net.Socket[] = [];
  const handle = c.add(await startRaw({
    onConnection: (socket) => {
      let buffered = Buffer.alloc(0);
      let tunnel = -1;
      socket.on('data', (data: Buffer) => {
        if (tunnel >= 0) {
          tunnelled[tunnel] = Buffer.concat([tunnelled[tunnel] ?? Buffer.alloc(0), data]);
          socket.write(data);
          return;
        }
        buffered = Buffer.concat([buffered, data]);
        for (let end = buffered.indexOf('\r\n\r\n'); end >= 0 && tunnel < 0; end = buffered.indexOf('\r\n\r\n')) {
          const head = buffered.toString('latin1', 0, end);
          buffered = buffered.subarray(end + 4);
          heads.push(head);
          if (/\r\nupgrade:/i.test(head) && !declined) {
            tunnel = tunnels.length;
            tunnels.push(socket);
            tunnelled.push(Buffer.alloc(0));
            socket.write(Buffer.concat([Buffer.from('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nX-Tunnel: yes\r\n\r\n'), HELLO]));
            if (buffered.length > 0) {
              tunnelled[tunnel] = buffered;
              socket.write(buffered);
            }
          } else if (declineDelayMs > 0) {
            setTimeout(() => socket.write('HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nplain ok'), declineDelayMs);
          } else {
            socket.write('HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nplain ok');
          }
        }
      });
    },
  }));
  return Object.assign(handle, { heads, tunnelled, tunnels });
}

const fixture = loadFixture('requests', 'upgrade-websocket.http');
const fixtureHeadEnd = fixture.indexOf('\r\n\r\n') + 4;
/** The WebSocket frame the fixture carries right behind its head. */
const early = fixture.subarray(fixtureHeadEnd);

test('after 101: early bytes and data both ways go through the tunnel byte-exact; the backend socket leaves the pool', () => withCleanup(async (c) => {
  assert.ok(early.length > 0, 'the fixture has bytes after its head');
  const backend = await tunnelBackend(c);
  const { proxy, port } = await startProxy(c, [backend]);
  const client = await connect(c, port);
  await client.write(fixture); // head and first frame in one write

  const res = await client.readResponse({ label: 'the 101' });
  assert.is(res.status, 101);
  assert.is(headerValue(res, 'upgrade'), 'websocket');
  assert.is(headerValue(res, 'connection')?.toLowerCase(), 'upgrade');
  assert.is(headerValue(res, 'x-tunnel'), 'yes');
  assert.ok((await client.readBytes(HELLO.length)).equals(HELLO), 'bytes the backend sent with its 101');
  assert.ok((await client.readBytes(early.length)).equals(early), 'the early frame, echoed back');

  const head = backend.heads[0] ?? '';
  assert.match(head, /\r\nUpgrade: websocket(\r\n|$)/, 'Upgrade forwarded when a tunnel is asked for');
  assert.match(head, /\r\nConnection: upgrade(\r\n|$)/i);

  for (let i = 0; i < 5; i++) {
    const msg = Buffer.from(`message ${i} ${'.'.repeat(i * 100)}`);
    await client.write(msg);
    assert.ok((await client.readBytes(msg.length)).equals(msg), `round trip ${i}`);
  }
  const big = randomBytes(4 << 20);
  const writing = client.write(big);
  assert.ok((await client.readBytes(big.length, 10_000)).equals(big), '4 MB both ways');
  await writing;
  assert.ok(backend.tunnelled[0]?.subarray(0, early.length).equals(early), 'the backend got the early bytes first');

  await waitForIdle(proxy);
  const worker = proxy.stats().workers[0];
  assert.is(worker?.open, 0, 'the tunnel socket is not counted as a pool socket');
  assert.is(worker?.idle, 0, 'nor idle');

  // A plain request now needs a fresh backend connection: the tunnel socket was not returned.
  const other = await connect(c, port);
  await other.write('GET /plain HTTP/1.1\r\nHost: lb.test\r\n\r\n');
  assert.is((await other.readResponse()).body.toString(), 'plain ok');
  assert.is(backend.connections(), 2);
  assert.is(backend.heads.length, 2);

  // Closing the client closes the backend side of the tunnel.
  client.close();
  const tunnelSocket = backend.tunnels[0];
  await waitFor('the backend side of the tunnel to close', () => tunnelSocket?.destroyed === true || tunnelSocket?.readableEnded === true, 2_000);
  await waitForIdle(proxy);
}));

test('a tunnel whose backend ends: the client sees the end too', () => withCleanup(async (c) => {
  const backend = await tunnelBackend(c);
  const { proxy, port } = await startProxy(c, [backend]);
  const client = await connect(c, port);
  await client.write(fixture.subarray(0, fixtureHeadEnd));
  assert.is((await client.readResponse()).status, 101);
  await client.readBytes(HELLO.length);
  await waitFor('the backend tunnel socket', () => backend.tunnels.length === 1);
  backend.tunnels[0]?.end('bye');
  assert.is((await client.readBytes(3)).toString(), 'bye');
  await client.waitForEnd(2_000);
  await waitForIdle(proxy);
  assert.is(proxy.stats().workers[0]?.open, 0);
}));

test('a backend that declines the upgrade (200): the client gets the 200 and then a close; nothing after the request is forwarded', () => withCleanup(async (c) => {
  const backend = await tunnelBackend(c, true);
  const { proxy, port } = await startProxy(c, [backend]);
  const client = await connect(c, port);
  await client.write(Buffer.concat([fixture, Buffer.from('GET /smuggled HTTP/1.1\r\nHost: lb.test\r\n\r\n')]));
  const res = await client.readResponse();
  assert.is(res.status, 200);
  assert.is(res.body.toString(), 'plain ok');
  assert.not.ok(res.keepAlive, 'the response says the connection closes');
  await client.waitForEnd();
  assert.is(client.unreadBytes().length, 0, 'nothing after the 200');
  assert.is(backend.heads.length, 1, `only the upgrade request reached the backend: ${JSON.stringify(backend.heads)}`);
  await waitForIdle(proxy);
  client.close();
  await waitFor('the proxy to drop the client connection after the declined upgrade', () => proxy.stats().clients === 0, 2_000,
    () => JSON.stringify(proxy.stats()));
}));

test('a declined upgrade whose next bytes arrive in a later read: the proxy still drops the connection after the close', () => withCleanup(async (c) => {
  const backend = await tunnelBackend(c, true, 100);
  const { proxy, port } = await startProxy(c, [backend]);
  const client = await connect(c, port);
  await client.write(fixture.subarray(0, fixtureHeadEnd));
  await waitFor('the upgrade request to reach the backend', () => backend.heads.length === 1);
  await client.write(early); // a separate read on the proxy's side, after it stopped reading (the 200 comes 100 ms later)
  const res = await client.readResponse();
  assert.is(res.status, 200);
  await client.waitForEnd();
  client.close();
  await waitFor('the proxy to drop the client connection', () => proxy.stats().clients === 0, 2_000, () => JSON.stringify(proxy.stats()));
  await waitForIdle(proxy);
}));

test('a 101 to a request that did not ask to upgrade: 502 and a close, never a tunnel', () => withCleanup(async (c) => {
  const backend = c.add(await startRaw({
    onConnection: (socket) => socket.once('data', () => socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\nraw bytes')),
  }));
  const { proxy, port } = await startProxy(c, [backend]);
  const client = await connect(c, port);
  await client.write('GET / HTTP/1.1\r\nHost: lb.test\r\n\r\n');
  const res = await client.readResponse();
  assert.is(res.status, 502);
  await client.waitForEnd();
  assert.is(client.unreadBytes().length, 0);
  await waitForIdle(proxy);
  assert.is(proxy.stats().workers[0]?.open, 0);
}));

test('a 101 to a protocol the client did not ask for (or naming none): 502 and a close, never a tunnel', () => withCleanup(async (c) => {
  for (const upgrade of ['Upgrade: h2c\r\n', '']) {
    const backend = c.add(await startRaw({
      onConnection: (socket) => socket.once('data', () => socket.write(`HTTP/1.1 101 Switching Protocols\r\n${upgrade}Connection: Upgrade\r\n\r\nraw bytes`)),
    }));
    const { proxy, port } = await startProxy(c, [backend]);
    const client = await connect(c, port);
    await client.write('GET /chat HTTP/1.1\r\nHost: lb.test\r\nConnection: Upgrade\r\nUpgrade: websocket, foo/2\r\n\r\n');
    const res = await client.readResponse({ label: upgrade === '' ? 'no Upgrade in the 101' : upgrade.trim() });
    assert.is(res.status, 502);
    await client.waitForEnd();
    assert.is(client.unreadBytes().length, 0, 'no tunnel bytes');
    await waitForIdle(proxy);
  }
}));

test('a 101 to any protocol the client listed, in any case: the tunnel opens', () => withCleanup(async (c) => {
  const backend = c.add(await startRaw({
    onConnection: (socket) => socket.once('data', () => socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: FOO/2\r\nConnection: Upgrade\r\n\r\nhi')),
  }));
  const { port } = await startProxy(c, [backend]);
  const client = await connect(c, port);
  await client.write('GET /chat HTTP/1.1\r\nHost: lb.test\r\nConnection: Upgrade\r\nUpgrade: websocket, foo/2\r\n\r\n');
  const res = await client.readResponse();
  assert.is(res.status, 101);
  assert.is((await client.readBytes(2)).toString(), 'hi');
}));

test.run();
