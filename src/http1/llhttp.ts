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
  llhttp_resume(parser: number): void;
  llhttp_reset(parser: number): void;
  llhttp_get_error_pos(parser: number): number;
  llhttp_get_error_reason(parser: number): number;
  llhttp_errno_name(errno: number): number;
  llhttp_get_method(parser: number): number;
  llhttp_get_http_major(parser: number): number;
  llhttp_get_http_minor(parser: number): number;
  llhttp_message_needs_eof(parser: number): number;
  llhttp_should_keep_alive(parser: number): number;
}

const REQUIRED_EXPORTS: readonly (keyof LlhttpExports)[] = [
  'memory', '_initialize', 'malloc', 'free', 'llhttp_alloc', 'llhttp_free', 'llhttp_execute',
  'llhttp_finish', 'llhttp_resume', 'llhttp_reset', 'llhttp_get_error_pos', 'llhttp_get_error_reason',
  'llhttp_errno_name', 'llhttp_get_method', 'llhttp_get_http_major', 'llhttp_get_http_minor',
  'llhttp_message_needs_eof', 'llhttp_should_keep_alive',
];

export class LlhttpLoadError extends Error {
  readonly code = 'PRX_ERR_LLHTTP_LOAD';
  constructor(message: string) {
    super(`${message} (expected llhttp-wasm@${LLHTTP_WASM_VERSION}; reinstall with 'npm ci')`);
    this.name = 'LlhttpLoadError';
  }
}

/** The executing parser; set around each llhttp_execute call. */
let executing: CallbackTarget | null = null;

/**
 * Byte offsets of llhttp_t fields (llhttp 9.x `llhttp.h`, wasm32) that the parser reads straight from
 * memory at headers-complete instead of calling a getter per field. Checked against the getters at
 * load time; when they disagree (another llhttp build) `layout` is null and the getters are used.
 */
export interface StructLayout {
  method: number;
  httpMajor: number;
  httpMinor: number;
  flags: number;
}

const LLHTTP_9_LAYOUT: StructLayout = { method: 41, httpMajor: 42, httpMinor: 43, flags: 50 };
/** llhttp_flags: the message is framed by Transfer-Encoding (chunked or not). */
export const F_CHUNKED = 1 << 3;
export const F_TRANSFER_ENCODING = 1 << 9;

export interface Llhttp {
  readonly exports: LlhttpExports;
  readonly layout: StructLayout | null;
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
  const inputCapacity = 64 * 1024;
  const input = exports.malloc(inputCapacity);
  return {
    exports,
    layout: checkLayout(exports, LLHTTP_9_LAYOUT),
    heap: new Uint8Array(exports.memory.buffer),
    input,
    inputCapacity,
    inputOwner: null,
    inputChunk: null,
  };
}

/** Parses a known request and compares the fields at `layout` with what the getters say. */
function checkLayout(ex: LlhttpExports, layout: StructLayout): StructLayout | null {
  const request = Buffer.from('PUT /x HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n', 'latin1');
  const parser = ex.llhttp_alloc(TYPE_REQUEST);
  const data = ex.malloc(request.length);
  try {
    new Uint8Array(ex.memory.buffer).set(request, data);
    let atHeadersComplete = false;
    const probe: CallbackTarget = {
      onMessageBegin: () => 0,
      onSpan: () => 0,
      onHeadersComplete: () => {
        atHeadersComplete = true;
        return HPE_PAUSED;
      },
      onMessageComplete: () => 0,
      onBody: () => 0,
    };
    executing = probe;
    const ret = ex.llhttp_execute(parser, data, request.length);
    if (ret !== HPE_PAUSED || !atHeadersComplete) return null;
    const heap = new Uint8Array(ex.memory.buffer);
    const flags = (heap[parser + layout.flags] as number) | ((heap[parser + layout.flags + 1] as number) << 8);
    const agrees = heap[parser + layout.method] === ex.llhttp_get_method(parser) && ex.llhttp_get_method(parser) === 4
      && heap[parser + layout.httpMajor] === ex.llhttp_get_http_major(parser) && ex.llhttp_get_http_major(parser) === 1
      && heap[parser + layout.httpMinor] === ex.llhttp_get_http_minor(parser) && ex.llhttp_get_http_minor(parser) === 0
      && (flags & (F_CHUNKED | F_TRANSFER_ENCODING)) === (F_CHUNKED | F_TRANSFER_ENCODING);
    return agrees ? layout : null;
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
  if (ll.heap.buffer !== ll.exports.memory.buffer) ll.heap = new Uint8Array(ll.exports.memory.buffer);
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
