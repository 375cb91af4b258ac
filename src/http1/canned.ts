/**
 * Prebuilt error responses: short, plain text, and always `Connection: close` (after an error the
 * proxy cannot trust where the next message would begin).
 */
const REASONS: Record<number, string> = {
  400: 'Bad Request',
  408: 'Request Timeout',
  404: 'Not Found',
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
 * The error response for `status`; `toHead`: the answer to a HEAD request, which has no body;
 * `retryAfter`: seconds for a Retry-After header (429), 0 for none.
 */
export function cannedResponse(status: number, toHead = false, retryAfter = 0): Buffer {
  const key = `${status}/${toHead ? 'h' : ''}/${retryAfter}`;
  let response = cache.get(key);
  if (response === undefined) {
    const reason = REASONS[status] ?? 'Error';
    const body = `${status} ${reason}\n`;
    const retry = retryAfter > 0 ? `Retry-After: ${retryAfter}\r\n` : '';
    response = Buffer.from(
      `HTTP/1.1 ${status} ${reason}\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\n${retry}Connection: close\r\n\r\n${toHead ? '' : body}`,
      'latin1',
    );
    cache.set(key, response);
  }
  return response;
}

/** The status a request parse error is answered with (RFC 9112 §2.2, §6.1, §6.3). */
export function statusForParseError(errorName: string, inRequestLine: boolean): number {
  switch (errorName) {
    case 'HPE_HEADERS_OVERFLOW':
      return inRequestLine ? 414 : 431;
    case 'HPE_INVALID_METHOD':
      return 501;
    default:
      return 400;
  }
}
