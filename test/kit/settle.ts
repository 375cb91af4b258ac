/*
 * Test helper: observe a promise after the work that is ready has run (microtasks and one macrotask
 * turn), so a test can assert "still pending" and fails instead of hanging when a wake-up is lost.
 */
export type Settled<T> =
  | { state: 'pending' }
  | { state: 'fulfilled'; value: T }
  | { state: 'rejected'; error: unknown };

export async function settle<T>(p: Promise<T>): Promise<Settled<T>> {
  let s: Settled<T> = { state: 'pending' };
  p.then(
    (value) => (s = { state: 'fulfilled', value }),
    (error: unknown) => (s = { state: 'rejected', error }),
  );
  await new Promise((resolve) => setImmediate(resolve));
  return s;
}

/** The value `p` fulfils with; throws if it is still pending or rejected. */
export async function got<T>(p: Promise<T>): Promise<T> {
  const s = await settle(p);
  if (s.state !== 'fulfilled') throw new Error(`expected the promise to be fulfilled, it is ${s.state}`);
  return s.value;
}
