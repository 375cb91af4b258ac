import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Job, type JobInit } from '../../../src/exchange/job.js';
import { mayRetryElsewhere, mayRetryOnFreshSocket, type AttemptProgress, type RetryPolicy } from '../../../src/exchange/retry.js';
import { backendClosed, backendRefused, backendStatus, backendTimeout, backendBadResponse } from '../../../src/errors.js';

const job = (over: Partial<JobInit> = {}): Job => new Job({
  head: Buffer.from('GET / HTTP/1.1\r\nHost: a\r\n\r\n'), hasBody: false, isHead: false, idempotent: true,
  closeAfter: false, http10: false, upgrade: false, upgradeTo: '', chunkedBody: false, ...over,
});
const progress = (over: Partial<AttemptProgress> = {}): AttemptProgress => ({ reusedSocket: false, written: true, bodyRead: false, answered: false, ...over });
const POLICY: RetryPolicy = { retries: 2, deadlineMs: 10_000, onConnectFailure: true, onReset: true, onTimeout: false, onStatus: [] };
const closed = backendClosed('b:1');

test('the keep-alive race: an idempotent request without a body, on a reused socket, with no response byte, once; never a timeout', () => {
  const reused = progress({ reusedSocket: true });
  assert.ok(mayRetryOnFreshSocket(job(), closed, reused));
  assert.not.ok(mayRetryOnFreshSocket(job(), closed, progress()), 'a fresh socket: the backend itself failed');
  assert.not.ok(mayRetryOnFreshSocket(job(), closed, progress({ reusedSocket: true, answered: true })), 'a response had begun');
  assert.not.ok(mayRetryOnFreshSocket(job({ idempotent: false }), closed, reused), 'POST may have acted');
  assert.not.ok(mayRetryOnFreshSocket(job({ hasBody: true }), closed, reused), 'its body is spent');
  assert.not.ok(mayRetryOnFreshSocket(job(), backendTimeout('b:1', 100), reused), 'a silent backend gets no second wait');
  const retried = job();
  retried.retried = true;
  assert.not.ok(mayRetryOnFreshSocket(retried, closed, reused), 'once');
  const cancelled = job();
  cancelled.cancel();
  assert.not.ok(mayRetryOnFreshSocket(cancelled, closed, reused), 'the client left');
});

test('another backend: a connect failure for any method while the body is unread; a reset or close for idempotent requests', () => {
  const refused = backendRefused('b:1', 'ECONNREFUSED');
  const post = job({ idempotent: false, hasBody: true });
  assert.ok(mayRetryElsewhere(post, refused, progress({ written: false }), POLICY, 0), 'nothing was sent: any method');
  assert.not.ok(mayRetryElsewhere(post, refused, progress({ written: false, bodyRead: true }), POLICY, 0));
  assert.ok(mayRetryElsewhere(post, closed, progress({ written: false }), POLICY, 0), 'reset before the request was written');
  assert.not.ok(mayRetryElsewhere(post, closed, progress(), POLICY, 0), 'POST written, then reset: it may have acted');
  assert.ok(mayRetryElsewhere(job(), closed, progress(), POLICY, 0), 'GET written, then reset');
  assert.not.ok(mayRetryElsewhere(job(), closed, progress(), { ...POLICY, onReset: false }, 0));
  assert.not.ok(mayRetryElsewhere(job(), backendBadResponse('b:1', 'x'), progress(), POLICY, 0), 'a malformed response is not retried');
});

test('another backend: timeouts and 502/503/504 only where the pool opts in', () => {
  const timeout = backendTimeout('b:1', 100);
  assert.not.ok(mayRetryElsewhere(job(), timeout, progress(), POLICY, 0));
  assert.ok(mayRetryElsewhere(job(), timeout, progress(), { ...POLICY, onTimeout: true }, 0));
  assert.not.ok(mayRetryElsewhere(job(), backendStatus('b:1', 503), progress({ answered: true }), POLICY, 0));
  assert.ok(mayRetryElsewhere(job(), backendStatus('b:1', 503), progress({ answered: true }), { ...POLICY, onStatus: [503] }, 0));
  assert.not.ok(mayRetryElsewhere(job({ idempotent: false }), backendStatus('b:1', 503), progress({ answered: true }), { ...POLICY, onStatus: [503] }, 0));
});

test('another backend: within the retries and the deadline, and only while nothing went to the client', () => {
  const j = job();
  j.firstTryAt = 1000;
  j.tried = [{ name: 'b:1', settled: () => {} }];
  assert.ok(mayRetryElsewhere(j, closed, progress(), POLICY, 1000));
  j.tried.push({ name: 'b:2', settled: () => {} });
  assert.not.ok(mayRetryElsewhere(j, closed, progress(), POLICY, 1000), 'two retries already');
  const late = job();
  late.firstTryAt = 1000;
  assert.not.ok(mayRetryElsewhere(late, closed, progress(), POLICY, 1000 + 10_001), 'past the deadline');
  const answered = job();
  answered.bytesOut = 25; // a 100 Continue went out
  assert.not.ok(mayRetryElsewhere(answered, closed, progress(), POLICY, 0));
});

test.run();
