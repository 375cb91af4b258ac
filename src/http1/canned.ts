/**
 * Prebuilt error responses: short, plain text, and always `Connection: close` (after an error the
 * proxy cannot trust where the next message would begin).
 */
const REASONS: Record<number, string> = {
  400: 'Bad Request',
  408: 'Request Timeout',
  404: 'Not Found',
  405: 'Method Not Allowed',
  413: 'Content Too Large',
  414: 'URI Too Long',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
  505: 'HTTP Version Not Supported',
};

const cache = new Map<string, Buffer>();

/**
 * RFC 9110 §15.5.6: a 405 lists the methods that are allowed. The proxy forwards every method but
 * CONNECT and TRACE, so it names the common ones.
 */
const ALLOW = 'Allow: GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS\r\n';

function cannedBody(status: number): string {
  return `${status} ${REASONS[status] ?? 'Error'}\n`;
}

/** Bytes of the body of cannedResponse(status) (for an access log's body size). */
export function cannedBodyLength(status: number): number {
  return cannedBody(status).length;
}

/**
 * The error response for `status`; `toHead`: the answer to a HEAD request, which has no body;
 * `retryAfter`: seconds for a Retry-After header (429), 0 for none.
 */
export function cannedResponse(status: number, toHead = false, retryAfter = 0): Buffer {
  const key = `${status}/${toHead ? 'h' : ''}/${retryAfter}`;
  let response = cache.get(key);
  if (response === undefined) {
    const reason = REASONS[status] ?? 'Error';
    const body = cannedBody(status);
    const extra = (retryAfter > 0 ? `Retry-After: ${retryAfter}\r\n` : '') + (status === 405 ? ALLOW : '');
    response = Buffer.from(
      `HTTP/1.1 ${status} ${reason}\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\n${extra}Connection: close\r\n\r\n${toHead ? '' : body}`,
      'latin1',
    );
    cache.set(key, response);
  }
  return response;
}
