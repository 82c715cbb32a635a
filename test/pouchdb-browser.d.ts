// The part of pouchdb-browser the interop tests use (its DefinitelyTyped package pulls in global types that clash
// with the e2e suite's Node types).
declare module 'pouchdb-browser' {
  interface Doc {
    readonly _id: string;
    readonly _rev?: string;
    readonly [field: string]: unknown;
  }
  export default class PouchDB {
    constructor(name: string);
    put(doc: Doc): Promise<{ ok: boolean; id: string; rev: string }>;
    get(id: string): Promise<Doc>;
    allDocs(options?: { include_docs?: boolean }): Promise<{ rows: { id: string; doc?: Doc }[] }>;
    info(): Promise<{ doc_count: number; update_seq: number | string }>;
    close(): Promise<void>;
  }
}
