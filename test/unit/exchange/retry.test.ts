import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Job, type JobInit } from '../../../src/exchange/job.js';
import { mayRetryOnFreshSocket } from '../../../src/exchange/retry.js';

const job = (over: Partial<JobInit> = {}): Job => new Job({
  head: Buffer.from('GET / HTTP/1.1\r\nHost: a\r\n\r\n'), hasBody: false, isHead: false, idempotent: true,
  closeAfter: false, http10: false, upgrade: false, chunkedBody: false, ...over,
});

test('the keep-alive race: only an idempotent request without a body, on a reused socket, with no response byte, once', () => {
  assert.ok(mayRetryOnFreshSocket(job(), true, false));
  assert.not.ok(mayRetryOnFreshSocket(job(), false, false), 'a fresh socket: the backend itself failed');
  assert.not.ok(mayRetryOnFreshSocket(job(), true, true), 'a response had begun');
  assert.not.ok(mayRetryOnFreshSocket(job({ idempotent: false }), true, false), 'POST may have acted');
  assert.not.ok(mayRetryOnFreshSocket(job({ hasBody: true }), true, false), 'its body is spent');
  const retried = job();
  retried.retried = true;
  assert.not.ok(mayRetryOnFreshSocket(retried, true, false), 'once');
  const cancelled = job();
  cancelled.cancel();
  assert.not.ok(mayRetryOnFreshSocket(cancelled, true, false), 'the client left');
});

test.run();
