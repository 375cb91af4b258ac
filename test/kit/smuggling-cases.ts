/**
 * Test data shared by the smuggling tests: the attacks (each a complete request an attacker sends on
 * its own connection) and the victim's request that a desynchronised backend socket would swallow.
 */

/** 43 bytes: the start of a request whose header section the next request on the socket completes. */
export const SMUGGLED = 'GET /smuggled HTTP/1.1\r\nHost: a\r\nX-Ignore: ';

export const VICTIM_SECRET = 'victim-secret-7f3a';

/** The victim's request, on a new client connection after the attacker's exchange. */
export const VICTIM = `GET /victim HTTP/1.1\r\nHost: lb.test\r\nCookie: session=${VICTIM_SECRET}\r\n\r\n`;

/** SMUGGLED as one chunk and the last chunk. */
const SMUGGLED_CHUNKED = `2b\r\n${SMUGGLED}\r\n0\r\n\r\n`;

export interface Attack {
  name: string;
  bytes: string;
  /** What the backend must handle for it (a refused attack: the status the client gets, and nothing at the backend). */
  expect: { method: string; path: string; body: string; host?: string } | { refused: number };
}

export const ATTACKS = {
  connectionContentLength: {
    name: 'Connection: Content-Length',
    bytes: `POST /c HTTP/1.1\r\nHost: a\r\nConnection: Content-Length\r\nContent-Length: 43\r\n\r\n${SMUGGLED}`,
    expect: { method: 'POST', path: '/c', body: SMUGGLED },
  },
  connectionTransferEncoding: {
    name: 'Connection: Transfer-Encoding with a request hidden in the chunked body',
    bytes: `POST /c HTTP/1.1\r\nHost: a\r\nConnection: Transfer-Encoding\r\nTransfer-Encoding: chunked\r\n\r\n${SMUGGLED_CHUNKED}`,
    expect: { method: 'POST', path: '/c', body: SMUGGLED },
  },
  connectionHost: {
    name: 'Connection: Host',
    bytes: 'GET /h HTTP/1.1\r\nHost: a.example\r\nConnection: Host\r\n\r\n',
    expect: { method: 'GET', path: '/h', body: '', host: 'a.example' },
  },
  commaChunked: {
    name: 'Transfer-Encoding: ,chunked',
    bytes: `POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: ,chunked\r\n\r\n${SMUGGLED_CHUNKED}`,
    expect: { method: 'POST', path: '/c', body: SMUGGLED },
  },
  transferEncodingLookalike: {
    name: 'Transfer_Encoding: chunked beside Content-Length',
    bytes: `POST /c HTTP/1.1\r\nHost: a\r\nTransfer_Encoding: chunked\r\nContent-Length: 48\r\n\r\n0\r\n\r\n${SMUGGLED}`,
    expect: { method: 'POST', path: '/c', body: `0\r\n\r\n${SMUGGLED}` },
  },
  contentLengthLookalike: {
    name: 'Content_Length: 0 after Content-Length',
    bytes: `POST /c HTTP/1.1\r\nHost: a\r\nContent-Length: 43\r\nContent_Length: 0\r\n\r\n${SMUGGLED}`,
    expect: { method: 'POST', path: '/c', body: SMUGGLED },
  },
  http10TransferEncoding: {
    name: 'HTTP/1.0 keep-alive with Transfer-Encoding: chunked',
    bytes: `POST /c HTTP/1.0\r\nHost: a\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n${SMUGGLED_CHUNKED}`,
    expect: { refused: 400 },
  },
} satisfies Record<string, Attack>;

/** Header names the proxy interprets or writes; their underscore lookalikes must never be forwarded. */
const INTERPRETED = new Set(['transfer-encoding', 'content-length', 'host', 'connection', 'proxy-connection', 'keep-alive', 'te',
  'trailer', 'upgrade', 'expect', 'x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto']);

/** `Transfer_Encoding`, `x_forwarded_for`, ...: a name with `_` where a header the proxy interprets has `-`. */
export function isLookalike(name: string): boolean {
  return name.includes('_') && INTERPRETED.has(name.toLowerCase().replace(/_/g, '-'));
}
