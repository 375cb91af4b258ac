/**
 * The slice of the WebAssembly JS API the llhttp binding uses. Node has the global at run time, but
 * @types/node 20 does not declare it and lib.dom would bring in the whole browser.
 */
declare namespace WebAssembly {
  interface Memory {
    readonly buffer: ArrayBuffer;
  }
  interface ModuleExportDescriptor {
    readonly name: string;
    readonly kind: string;
  }
  class Module {
    constructor(bytes: Uint8Array);
    static exports(module: Module): ModuleExportDescriptor[];
  }
  type ImportValue = (...args: number[]) => number;
  class Instance {
    constructor(module: Module, imports: Record<string, Record<string, ImportValue>>);
    readonly exports: Record<string, unknown>;
  }
}
