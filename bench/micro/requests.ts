// Request text shared by head.bench.ts and parser.bench.ts.

/** What curl sends for `curl http://example.com/`. */
export const SMALL_REQUEST = 'GET / HTTP/1.1\r\nHost: example.com\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n';

/** The request line of a browser's page load, and its first header lines (no Connection). */
export const PAGE_REQUEST_LINE = 'GET /items?page=3&sort=-created HTTP/1.1';
export const BROWSER_HEADERS: readonly string[] = [
  'Host: shop.example.com',
  'User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0',
  'Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8',
  'Accept-Language: en-US,en;q=0.5',
  'Accept-Encoding: gzip, deflate, br, zstd',
  'Referer: https://shop.example.com/items?page=2',
];
