// Assertions on the proxy's own error responses (4xx/5xx that end the connection).
import * as assert from 'uvu/assert';
import { headerValue, type RawResponse } from './raw-client.js';

/** `status`, with Connection: close and not keep-alive. */
export function assertClosingResponse(res: RawResponse, status: number, what: string): void {
  assert.is(res.status, status, `${what}: status`);
  assert.is(headerValue(res, 'connection')?.toLowerCase(), 'close', `${what}: Connection: close`);
  assert.not.ok(res.keepAlive, `${what}: not keep-alive`);
}

/** assertClosingResponse, and the short body starts with the status code. */
export function assertErrorResponse(res: RawResponse, status: number, what: string): void {
  assertClosingResponse(res, status, what);
  assert.ok(res.body.toString().startsWith(String(status)), `${what}: short body naming the status`);
}
