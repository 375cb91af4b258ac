/** `spans` copied into an array twice its length (span arrays grow when a head has more than they hold). */
export function doubled(spans: Int32Array<ArrayBuffer>): Int32Array<ArrayBuffer> {
  const grown = new Int32Array(spans.length * 2);
  grown.set(spans);
  return grown;
}
