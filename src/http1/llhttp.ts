/**
 * The llhttp WASM module shipped inside the `llhttp-wasm` package, instantiated with this project's
 * own import callbacks (the package's `Parser` wrapper allocates strings per header, loses spans split
 * across reads and makes every parser of type BOTH; see DESIGN.md).
 *
 * Invariants:
 * - One module instance per process, loaded on first use; every parser shares its memory.
 * - Callbacks fire only inside `llhttp_execute`, which is synchronous, so they are routed to the one
 *   parser that is executing (`executing`), never looked up by pointer.
 * - Input is copied into one reused region of WASM memory (`input`), grown and never shrunk.
 *   Callers may skip the copy when the region still holds their bytes (`inputOwner`).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { PRX_ERR_LLHTTP_LOAD } from '../errors.js';

/** The package version the embedded module was checked against (package.json pins it). */
export const LLHTTP_WASM_VERSION = '1.0.3';

/** llhttp_errno_t values the binding acts on (llhttp 9.x `llhttp.h`). */
export const HPE_OK = 0;
export const HPE_PAUSED = 21;
export const HPE_PAUSED_UPGRADE = 22;

/** llhttp_type_t. */
export const TYPE_REQUEST = 1;
export const TYPE_RESPONSE = 2;

/** The parser-side half of the callbacks; `Http1Parser` implements it. */
export interface CallbackTarget {
  onMessageBegin(): number;
  onSpan(kind: number, at: number, length: number): number;
  onHeadersComplete(statusCode: number, upgrade: number, shouldKeepAlive: number): number;
  /** A piece of body starts at `at` (the bytes themselves are relayed raw by the caller). */
  onBody(at: number, length: number): number;
  onMessageComplete(): number;
}

export const SPAN_URL = 0;
export const SPAN_STATUS = 1;
export const SPAN_FIELD = 2;
export const SPAN_VALUE = 3;

export interface LlhttpExports {
  memory: WebAssembly.Memory;
  _initialize(): void;
  malloc(size: number): number;
  free(ptr: number): void;
  llhttp_alloc(type: number): number;
  llhttp_free(parser: number): void;
  llhttp_execute(parser: number, data: number, length: number): number;
  llhttp_finish(parser: number): number;
  llhttp_reset(parser: number): void;
  llhttp_get_error_pos(parser: number): number;
  llhttp_get_error_reason(parser: number): number;
  llhttp_errno_name(errno: number): number;
  llhttp_get_method(parser: number): number;
  llhttp_get_http_major(parser: number): number;
  llhttp_get_http_minor(parser: number): number;
  llhttp_message_needs_eof(parser: number): number;
  llhttp_should_keep_alive(parser: number): number;
  llhttp_set_lenient_version(parser: number, enabled: number): void;
}

const REQUIRED_EXPORTS: readonly (keyof LlhttpExports)[] = [
  'memory', '_initialize', 'malloc', 'free', 'llhttp_alloc', 'llhttp_free', 'llhttp_execute',
  'llhttp_finish', 'llhttp_reset', 'llhttp_get_error_pos', 'llhttp_get_error_reason',
  'llhttp_errno_name', 'llhttp_get_method', 'llhttp_get_http_major', 'llhttp_get_http_minor',
  'llhttp_message_needs_eof', 'llhttp_should_keep_alive', 'llhttp_set_lenient_version',
];

export class LlhttpLoadError extends Error {
  readonly code = PRX_ERR_LLHTTP_LOAD;
  constructor(message: string) {
    super(`${message} (expected llhttp-wasm@${LLHTTP_WASM_VERSION}; reinstall with 'npm ci')`);
    this.name = 'LlhttpLoadError';
  }
}

/** The executing parser; set around each llhttp_execute call. */
let executing: CallbackTarget | null = null;

/**
 * Byte offsets of llhttp_t fields (llhttp 9.x `llhttp.h`, wasm32) that the parser reads and writes
 * straight in memory instead of calling into WASM per field (`content_length` and `flags` have no
 * getter; a call across the JS/WASM boundary costs more than the read). Checked against the getters
 * and known requests at load time.
 */
export interface StructLayout {
  /** int32 `error`: what llhttp_execute returns while it is set; clearing HPE_PAUSED is llhttp_resume. */
  error: number;
  /** `error_pos`: where the last run stopped (a pointer into the input). */
  errorPos: number;
  contentLength: number;
  method: number;
  httpMajor: number;
  httpMinor: number;
  flags: number;
}

const LLHTTP_9_LAYOUT: StructLayout = { error: 12, errorPos: 20, contentLength: 32, method: 41, httpMajor: 42, httpMinor: 43, flags: 50 };
/** llhttp_flags (llhttp.h). */
export const F_CHUNKED = 1 << 3;
export const F_CONTENT_LENGTH = 1 << 5;
export const F_TRANSFER_ENCODING = 1 << 9;

export interface Llhttp {
  readonly exports: LlhttpExports;
  readonly layout: StructLayout;
  /** Current view of WASM memory (replaced whenever memory grows). */
  heap: Uint8Array;
  /** Start of the shared input region and its capacity. */
  input: number;
  inputCapacity: number;
  /** Which parser's bytes the input region holds, and from which chunk. */
  inputOwner: object | null;
  inputChunk: Uint8Array | null;
}

let loaded: Llhttp | null = null;

function readModuleBytes(): Uint8Array {
  const require = createRequire(import.meta.url);
  let entry: string;
  try {
    entry = require.resolve('llhttp-wasm');
  } catch {
    throw new LlhttpLoadError('the llhttp-wasm package is not installed');
  }
  // The package embeds the module as a base64 string literal in its entry file.
  const match = /binaryString\s*=\s*"([A-Za-z0-9+/=]+)"/.exec(readFileSync(entry, 'latin1'));
  if (match === null || match[1] === undefined) {
    throw new LlhttpLoadError(`no embedded WASM module found in ${entry}`);
  }
  return Buffer.from(match[1], 'base64');
}

function instantiate(): Llhttp {
  let module: WebAssembly.Module;
  try {
    module = new WebAssembly.Module(readModuleBytes());
  } catch (err) {
    if (err instanceof LlhttpLoadError) throw err;
    throw new LlhttpLoadError(`the embedded WASM module does not compile: ${(err as Error).message}`);
  }
  const present = new Set(WebAssembly.Module.exports(module).map((e) => e.name));
  const missing = REQUIRED_EXPORTS.filter((name) => !present.has(name));
  if (missing.length > 0) {
    throw new LlhttpLoadError(`the llhttp WASM module lacks exports: ${missing.join(', ')}`);
  }
  const target = (): CallbackTarget => executing as CallbackTarget;
  const instance = new WebAssembly.Instance(module, {
    env: {
      wasm_on_message_begin: (_p: number) => target().onMessageBegin(),
      wasm_on_url: (_p: number, at: number, len: number) => target().onSpan(SPAN_URL, at, len),
      wasm_on_status: (_p: number, at: number, len: number) => target().onSpan(SPAN_STATUS, at, len),
      wasm_on_header_field: (_p: number, at: number, len: number) => target().onSpan(SPAN_FIELD, at, len),
      wasm_on_header_value: (_p: number, at: number, len: number) => target().onSpan(SPAN_VALUE, at, len),
      wasm_on_headers_complete: (_p: number, status: number, upgrade: number, keepAlive: number) =>
        target().onHeadersComplete(status, upgrade, keepAlive),
      // Body bytes are relayed raw by offset; the parser only needs to know where messages end.
      wasm_on_body: (_p: number, at: number, len: number) => target().onBody(at, len),
      wasm_on_message_complete: (_p: number) => target().onMessageComplete(),
    },
  });
  const exports = instance.exports as unknown as LlhttpExports;
  exports._initialize();
  if (!layoutHolds(exports, LLHTTP_9_LAYOUT)) {
    throw new LlhttpLoadError('the llhttp WASM module does not have the llhttp 9.x parser struct layout');
  }
  const inputCapacity = 64 * 1024;
  const input = exports.malloc(inputCapacity);
  return {
    exports,
    layout: LLHTTP_9_LAYOUT,
    heap: new Uint8Array(exports.memory.buffer),
    input,
    inputCapacity,
    inputOwner: null,
    inputChunk: null,
  };
}

/** Reads llhttp_t's flags (a uint16) and content_length (a uint64; exact up to 2^53) at `layout`. */
export function readFlags(heap: Uint8Array, parser: number, layout: StructLayout): number {
  return (heap[parser + layout.flags] as number) | ((heap[parser + layout.flags + 1] as number) << 8);
}

function readUint32(heap: Uint8Array, at: number): number {
  return ((heap[at] as number) | ((heap[at + 1] as number) << 8) | ((heap[at + 2] as number) << 16) | ((heap[at + 3] as number) << 24)) >>> 0;
}

/** llhttp_get_error_pos, read from memory. */
export function readErrorPos(heap: Uint8Array, parser: number, layout: StructLayout): number {
  return readUint32(heap, parser + layout.errorPos);
}

/** llhttp_resume, in memory: a paused parser's error cleared (llhttp.c does exactly this, only when paused). */
export function resume(heap: Uint8Array, parser: number, layout: StructLayout): void {
  const at = parser + layout.error;
  if (readUint32(heap, at) !== HPE_PAUSED) return;
  heap[at] = 0;
  heap[at + 1] = 0;
  heap[at + 2] = 0;
  heap[at + 3] = 0;
}

export function readContentLength(heap: Uint8Array, parser: number, layout: StructLayout): number {
  const at = parser + layout.contentLength;
  let value = 0;
  for (let i = 7; i >= 0; i--) value = value * 256 + (heap[at + i] as number);
  return value;
}

/** Parses two known requests and compares the fields at `layout` with the getters and the headers. */
function layoutHolds(ex: LlhttpExports, layout: StructLayout): boolean {
  const chunked = headFields(ex, 'PUT /x HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n', layout);
  const sized = headFields(ex, 'POST /x HTTP/1.1\r\nContent-Length: 4294967301\r\n\r\n', layout);
  return chunked !== null && sized !== null
    && chunked.paused && sized.paused && chunked.errorPos === chunked.getters.errorPos && sized.errorPos === sized.getters.errorPos
    && chunked.resumed && sized.resumed
    && chunked.method === 4 && chunked.getters.method === 4
    && chunked.major === 1 && chunked.getters.major === 1 && chunked.minor === 0 && chunked.getters.minor === 0
    && (chunked.flags & (F_CHUNKED | F_TRANSFER_ENCODING)) === (F_CHUNKED | F_TRANSFER_ENCODING)
    && (chunked.flags & F_CONTENT_LENGTH) === 0
    && sized.method === 3 && sized.minor === 1 && sized.getters.minor === 1
    && (sized.flags & (F_CONTENT_LENGTH | F_CHUNKED)) === F_CONTENT_LENGTH
    && sized.contentLength === 4294967301;
}

interface HeadFields {
  method: number;
  major: number;
  minor: number;
  flags: number;
  contentLength: number;
  /** `error` read HPE_PAUSED at the pause, and the in-memory resume let llhttp run on. */
  paused: boolean;
  resumed: boolean;
  errorPos: number;
  getters: { method: number; major: number; minor: number; errorPos: number };
}

/** Runs `request` to headers-complete and reads the fields there, by `layout` and by the getters. */
function headFields(ex: LlhttpExports, request: string, layout: StructLayout): HeadFields | null {
  const bytes = Buffer.from(request, 'latin1');
  const parser = ex.llhttp_alloc(TYPE_REQUEST);
  const data = ex.malloc(bytes.length);
  try {
    new Uint8Array(ex.memory.buffer).set(bytes, data);
    let atHeadersComplete = false;
    executing = {
      onMessageBegin: () => 0,
      onSpan: () => 0,
      onHeadersComplete: () => {
        atHeadersComplete = true;
        return HPE_PAUSED;
      },
      onMessageComplete: () => 0,
      onBody: () => 0,
    };
    if (ex.llhttp_execute(parser, data, bytes.length) !== HPE_PAUSED || !atHeadersComplete) return null;
    const heap = new Uint8Array(ex.memory.buffer);
    const fields = {
      method: heap[parser + layout.method] as number,
      major: heap[parser + layout.httpMajor] as number,
      minor: heap[parser + layout.httpMinor] as number,
      flags: readFlags(heap, parser, layout),
      contentLength: readContentLength(heap, parser, layout),
      paused: readUint32(heap, parser + layout.error) === HPE_PAUSED,
      errorPos: readErrorPos(heap, parser, layout),
      getters: {
        method: ex.llhttp_get_method(parser), major: ex.llhttp_get_http_major(parser), minor: ex.llhttp_get_http_minor(parser),
        errorPos: ex.llhttp_get_error_pos(parser),
      },
    };
    // Resumed in memory, the parser runs to the end of the message (no body in either request).
    resume(heap, parser, layout);
    const resumed = ex.llhttp_execute(parser, fields.errorPos, data + bytes.length - fields.errorPos) === HPE_OK;
    return { ...fields, resumed };
  } finally {
    executing = null;
    ex.free(data);
    ex.llhttp_free(parser);
  }
}

/** Loads the module once; throws LlhttpLoadError with a clear message if it cannot be used. */
export function llhttp(): Llhttp {
  if (loaded === null) loaded = instantiate();
  return loaded;
}

/** Makes sure the input region holds at least `size` bytes and the heap view is current. */
export function reserveInput(ll: Llhttp, size: number): void {
  if (size > ll.inputCapacity) {
    ll.exports.free(ll.input);
    let capacity = ll.inputCapacity;
    while (capacity < size) capacity *= 2;
    ll.input = ll.exports.malloc(capacity);
    ll.inputCapacity = capacity;
    ll.inputOwner = null;
    ll.inputChunk = null;
  }
  // Growing WASM memory detaches the old buffer, and a view of a detached buffer has length 0: a
  // cheaper test than comparing with `memory.buffer`, a getter that calls into the runtime.
  if (ll.heap.length === 0) ll.heap = new Uint8Array(ll.exports.memory.buffer);
}

/** Runs llhttp_execute with `target` receiving the callbacks. */
export function execute(ll: Llhttp, target: CallbackTarget, parser: number, data: number, length: number): number {
  executing = target;
  try {
    return ll.exports.llhttp_execute(parser, data, length);
  } finally {
    executing = null;
  }
}

/** Runs llhttp_finish (which may call on_message_complete) with `target` receiving the callbacks. */
export function finish(ll: Llhttp, target: CallbackTarget, parser: number): number {
  executing = target;
  try {
    return ll.exports.llhttp_finish(parser);
  } finally {
    executing = null;
  }
}

/** Reads a NUL-terminated C string from WASM memory (error paths only). */
export function cString(ll: Llhttp, ptr: number): string {
  const heap = new Uint8Array(ll.exports.memory.buffer);
  const end = heap.indexOf(0, ptr);
  return Buffer.from(heap.buffer, ptr, end - ptr).toString('latin1');
}
