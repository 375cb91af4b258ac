/** llhttp's method numbers (`llhttp_method_t` in llhttp.h) for the methods the proxy treats specially. */
export const METHOD_DELETE = 0;
export const METHOD_GET = 1;
export const METHOD_HEAD = 2;
export const METHOD_POST = 3;
export const METHOD_PUT = 4;
export const METHOD_CONNECT = 5;
export const METHOD_OPTIONS = 6;
export const METHOD_TRACE = 7;

/** RFC 9110 §9.2.2: methods that may be sent again without a different effect. */
export function isIdempotent(method: number): boolean {
  return method === METHOD_GET || method === METHOD_HEAD || method === METHOD_PUT || method === METHOD_DELETE
    || method === METHOD_OPTIONS || method === METHOD_TRACE;
}
