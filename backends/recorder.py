#!/usr/bin/env python3
"""A python http.server backend for the smuggling tests (test/e2e/security/smuggling-real-backends.test.ts).

Speaks HTTP/1.1 with keep-alive (protocol_version = 'HTTP/1.1'), answers every request with 200 and
the body '<METHOD> <path>', and prints one JSON line to stdout per request it handles:
  {"event": "request", "method": ..., "path": ..., "version": ..., "headers": [[name, value], ...], "body": ...}
and one per error http.server reports (a request line or header it cannot parse):
  {"event": "error", "message": ...}
The first line is {"event": "listening", "port": N}.

http.server itself never reads request bodies. This one reads them the way a CGI/WSGI gateway does
(older werkzeug, wsgiref-style environs): header names are upper-cased with '-' turned into '_', the
last of a name wins, a Transfer-Encoding of exactly 'chunked' on an HTTP/1.1 request wins over
Content-Length, and Transfer-Encoding on an HTTP/1.0 request is not understood (RFC 9112 section 6.1:
an HTTP/1.0 recipient does not know it). So a header that only looks like a framing header, or
framing the proxy forwards unchanged when it should not, desynchronises it as it would a real one.

Usage: python3 backends/recorder.py [--port N] (0, the default, picks a free port).
"""
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def emit(obj):
    print(json.dumps(obj), flush=True)


class BadBody(Exception):
    pass


class Handler(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    timeout = 10

    def environ(self):
        env = {}
        for name, value in self.headers.items():
            env[name.upper().replace('-', '_')] = value.strip()
        return env

    def read_chunked(self):
        body = b''
        while True:
            line = self.rfile.readline(65537)
            size_text = line.split(b';')[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                raise BadBody('bad chunk size line %r' % line)
            if size == 0:
                break
            body += self.rfile.read(size)
            if self.rfile.readline(65537) not in (b'\r\n', b'\n'):
                raise BadBody('chunk data not followed by CRLF')
        while self.rfile.readline(65537) not in (b'\r\n', b'\n', b''):
            pass  # trailer fields
        return body

    def read_body(self):
        env = self.environ()
        te = env.get('TRANSFER_ENCODING')
        if te is not None and self.request_version == 'HTTP/1.1' and te.lower() == 'chunked':
            return self.read_chunked()
        length = env.get('CONTENT_LENGTH')
        if length is not None and length.isdigit():
            return self.rfile.read(int(length))
        return b''

    def handle_any(self):
        try:
            body = self.read_body()
        except BadBody as err:
            emit({'event': 'error', 'message': str(err)})
            self.close_connection = True
            self.send_error(400)
            return
        emit({
            'event': 'request',
            'method': self.command,
            'path': self.path,
            'version': self.request_version,
            'headers': [[name, value] for name, value in self.headers.items()],
            'body': body.decode('latin-1'),
        })
        answer = ('%s %s' % (self.command, self.path)).encode('latin-1')
        self.send_response(200)
        self.send_header('Content-Type', 'text/plain')
        self.send_header('Content-Length', str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = handle_any

    def log_message(self, format, *args):
        pass  # handled requests are printed as JSON by handle_any

    def log_error(self, format, *args):
        emit({'event': 'error', 'message': format % args})


def main():
    port = 0
    args = sys.argv[1:]
    if len(args) == 2 and args[0] == '--port':
        port = int(args[1])
    elif args:
        print('usage: recorder.py [--port N]', file=sys.stderr)
        sys.exit(2)
    server = ThreadingHTTPServer(('127.0.0.1', port), Handler)
    server.daemon_threads = True
    emit({'event': 'listening', 'port': server.server_address[1]})
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == '__main__':
    main()
