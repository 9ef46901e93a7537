// Types of duro-storage (docs/sdk-js.md).

export interface ClientOptions { url?: string; token?: string; timeoutMs?: number; retries?: number }
export interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined | null>;
  json?: unknown; body?: BodyInit; headers?: Record<string, string>; ok?: number[];
}
export interface KVEntry { value: unknown; metadata: Record<string, unknown> | null; version: number;
  createdAt: number; updatedAt: number; expiresAt: number | null }
export interface ListOptions { prefix?: string; start?: string; startAfter?: string; end?: string;
  reverse?: boolean; values?: boolean; pageSize?: number }
export interface SqlMeta { changes: number; last_row_id: number; rows_read: number; rows_written: number; duration_ms: number }
export interface BlobInfo { key: string; size: number; etag: string; contentType: string; uploaded: string;
  metadata: Record<string, string> | null; [k: string]: unknown }
export interface RateLimitResult { allowed: boolean; limit: number; remaining: number; resetMs: number; retryAfterMs: number }

export class DuroClient {
  constructor(opts?: ClientOptions | string);
  url: string; token?: string; timeoutMs: number; retries: number;
  request(method: string, path: string, opts?: RequestOptions): Promise<Response>;
  data<T = any>(method: string, path: string, opts?: RequestOptions): Promise<T>;
  info(): Promise<Record<string, unknown>>;
  kv: {
    get(ns: string, key: string, opts?: { meta?: false }): Promise<any>;
    get(ns: string, key: string, opts: { meta: true }): Promise<KVEntry>;
    put(ns: string, key: string, value: unknown, opts?: { ttlMs?: number; metadata?: object;
      ifMatch?: number; ifNoneMatch?: boolean }): Promise<number>;
    delete(ns: string, key: string, opts?: { ifMatch?: number }): Promise<boolean>;
    getMany(ns: string, keys: string[]): Promise<Record<string, any>>;
    setMany(ns: string, entries: Record<string, unknown> | Array<{ key: string; value: unknown; ttlMs?: number; metadata?: object }>,
      opts?: { ttlMs?: number }): Promise<{ count: number; version: number }>;
    deleteMany(ns: string, keys: string[]): Promise<number>;
    listPage(ns: string, opts?: ListOptions & { limit?: number; cursor?: string }):
      Promise<{ keys: any[]; cursor: string | null; list_complete: boolean }>;
    list(ns: string, opts?: ListOptions): AsyncGenerator<any>;
    clear(ns: string): Promise<number>;
  };
  sql: {
    exec(ns: string, sql: string, params?: unknown[]): Promise<SqlMeta>;
    query(ns: string, sql: string, params?: unknown[]): Promise<Array<Record<string, any>>>;
    queryFull(ns: string, sql: string, params?: unknown[]): Promise<{ results: Array<Record<string, any>>; meta: SqlMeta }>;
    batch(ns: string, statements: Array<[string, unknown[]?] | { sql: string; params?: unknown[] }>):
      Promise<Array<{ results?: Array<Record<string, any>>; meta: SqlMeta }>>;
  };
  blobs: {
    put(ns: string, key: string, data: string | Uint8Array | ArrayBuffer | Blob, opts?: { contentType?: string;
      metadata?: Record<string, string>; ifMatch?: string; ifNoneMatch?: boolean }): Promise<BlobInfo>;
    get(ns: string, key: string, opts?: { range?: [number, number] }): Promise<Buffer>;
    head(ns: string, key: string): Promise<Record<string, string>>;
    delete(ns: string, key: string): Promise<boolean>;
    listPage(ns: string, opts?: { prefix?: string; delimiter?: string; limit?: number; cursor?: string; startAfter?: string }):
      Promise<{ objects: BlobInfo[]; truncated: boolean; cursor: string | null; delimitedPrefixes: string[] }>;
    list(ns: string, opts?: { prefix?: string; delimiter?: string; pageSize?: number }): AsyncGenerator<BlobInfo>;
  };
  ratelimit: {
    check(ns: string, key: string, opts?: { limit?: number; windowMs?: number; cost?: number; enforce?: boolean }): Promise<RateLimitResult>;
    get(ns: string, key: string): Promise<RateLimitResult>;
    reset(ns: string, key: string): Promise<boolean>;
  };
  sessions: {
    create(ns: string, data: object, ttlMs: number, opts?: { userId?: string; rolling?: boolean }): Promise<{ id: string; expiresAt: number }>;
    get(ns: string, id: string): Promise<{ data: any; userId: string | null; createdAt: number; expiresAt: number; rolling: boolean }>;
    update(ns: string, id: string, data: object, ttlMs?: number): Promise<{ expiresAt: number }>;
    delete(ns: string, id: string): Promise<boolean>;
  };
  snapshot: {
    get(ns: string): Promise<{ data: Record<string, any>; version: number }>;
    patch(ns: string, ops: Array<{ op: 'set'; key: string; value: unknown; ttlMs?: number; metadata?: object } | { op: 'del'; key: string }>,
      opts?: { ifMatch?: number }): Promise<{ version: number; created: boolean }>;
  };
  registry: {
    listPage(opts?: { type?: string; namespace?: string; keyPrefix?: string; limit?: number; offset?: number }): Promise<any>;
    list(opts?: { type?: string; namespace?: string; keyPrefix?: string; pageSize?: number }): AsyncGenerator<any>;
    stats(opts?: { type?: string; namespace?: string; keyPrefix?: string }): Promise<{ total: number; by_type: Record<string, number>;
      by_namespace: Record<string, number>; total_size: number }>;
  };
  namespaces: {
    list(opts?: { prefix?: string; pageSize?: number }): AsyncGenerator<any>;
    get(ns: string): Promise<any>;
    delete(ns: string): Promise<any>;
  };
  auth: {
    createUser(ns: string, email: string, password: string): Promise<{ userId: string; email: string }>;
    login(ns: string, email: string, password: string, opts?: { ttlMs?: number }): Promise<{ sessionId: string; expiresAt: number; userId: string }>;
    session(ns: string, sessionId: string): Promise<any>;
    logout(ns: string, sessionId: string): Promise<boolean>;
  };
}

export const KVStorage: {
  set(namespace: string, key: string, value: unknown): Promise<void>;
  get(namespace: string, key: string): Promise<any | null>;
  list(namespace: string, prefix?: string): Promise<string[]>;
  delete(namespace: string, key: string): Promise<boolean>;
};
export const D1Storage: {
  exec(namespace: string, sql: string, params?: unknown[]): Promise<SqlMeta>;
  query(namespace: string, sql: string, params?: unknown[]): Promise<Array<Record<string, any>>>;
};
export const R2Storage: {
  put(namespace: string, key: string, data: string | Uint8Array | ArrayBuffer | Blob): Promise<void>;
  get(namespace: string, key: string): Promise<Buffer | null>;
  list(namespace: string, prefix?: string): Promise<BlobInfo[]>;
  delete(namespace: string, key: string): Promise<boolean>;
};
export function proxyClient(): DuroClient;
/** The express-session store class for the express-session the app has installed (required at first use). */
export const DuroSessionStore: new (opts?: { client?: DuroClient | ClientOptions | string; namespace?: string; ttlMs?: number }) => any;
/** The express-session store class, built on session.Store: new (duroSessionStore(session))({ client, namespace, ttlMs }). */
export function duroSessionStore(session: { Store: new (...a: any[]) => any }): new (opts?: {
  client?: DuroClient | ClientOptions | string; namespace?: string; ttlMs?: number }) => any;

/** A store for express-rate-limit on duro's exact limiter. */
export class DuroRateLimitStore {
  constructor(opts?: { client?: DuroClient | ClientOptions | string; namespace?: string; prefix?: string });
  localKeys: false; limit: number; windowMs: number;
  init(options: { limit?: number; max?: number; windowMs: number }): void;
  get(key: string): Promise<{ totalHits: number; resetTime: Date }>;
  increment(key: string): Promise<{ totalHits: number; resetTime: Date }>;
  decrement(key: string): Promise<void>;
  resetKey(key: string): Promise<void>;
}

export interface Outcome<T = any> { success: boolean; data?: T; error?: string }
export class StorageClient {
  constructor(client?: DuroClient | ClientOptions | string, opts?: { namespace?: string });
  client: DuroClient; namespace: string;
  set(key: string, value: unknown, ttlMs?: number, namespace?: string): Promise<Outcome<{ version: number }>>;
  get<T = any>(key: string, namespace?: string): Promise<Outcome<T>>;
  delete(key: string, namespace?: string): Promise<Outcome<{ deleted: boolean }>>;
  getMany(keys: string[], namespace?: string): Promise<Outcome<Record<string, any>>>;
  setMany(entries: Record<string, unknown> | Array<{ key: string; value: unknown; ttlMs?: number }>, ttlMs?: number,
    namespace?: string): Promise<Outcome<{ count: number; version: number }>>;
  deleteMany(keys: string[], namespace?: string): Promise<Outcome<{ deleted: number }>>;
  list(prefix?: string, namespace?: string): Promise<Outcome<string[]>>;
  clear(namespace?: string): Promise<Outcome<{ deleted: number }>>;
}
export function createStorageClient(client?: DuroClient | ClientOptions | string, opts?: { namespace?: string }): StorageClient;
export class StorageHelpers {
  constructor(storage: StorageClient);
  getRateLimit(id: string): Promise<{ tokens: number; lastRefill: number } | null>;
  setRateLimit(id: string, tokens: number, lastRefill: number, ttlMs?: number): Promise<Outcome>;
  getSession<T = any>(id: string): Promise<T | null>;
  setSession(id: string, data: unknown, ttlMs: number): Promise<Outcome>;
}
export function createRateLimiter(client?: StorageClient | DuroClient | ClientOptions | string,
  opts?: { limit?: number; windowMs?: number; namespace?: string }): { checkLimit(id: string, cost?: number): Promise<{ allowed: boolean; remaining: number }> };
export function createLoginService(client?: StorageClient | DuroClient | ClientOptions | string,
  opts?: { namespace?: string; ttlMs?: number }): { login(c: { email: string; password: string }):
  Promise<{ success: boolean; sessionId?: string; session?: any; error?: string }> };

export interface DatastoreView {
  auth(userId: string): DatastoreView;
  get(cls: string, id: string): Promise<Record<string, any> | null>;
  put(cls: string, id: string, data: Record<string, unknown>): Promise<void>;
  delete(cls: string, id: string): Promise<boolean>;
  exists(cls: string, id: string): Promise<boolean>;
  queryListByPointer(list: string, pointer: string): Promise<string[]>;
  queryListAddItem(list: string, pointer: string, item: string): Promise<void>;
  queryListRemoveItem(list: string, pointer: string, item: string): Promise<void>;
  queryListClear(list: string, pointer: string): Promise<void>;
  getList(cls: string, pointer: string): Promise<string[]>;
}
export class Datastore {
  constructor(client: DuroClient, opts?: { namespaces?: Record<string, string>; d1Namespace?: string });
  kv: DatastoreView; d1: DatastoreView; KV: DatastoreView; D1: DatastoreView;
}
export class DatastoreError extends Error {}
export class InvalidInput extends DatastoreError {}
export class NotAuthorized extends DatastoreError {}

export class DuroError extends Error { code: string; status: number; detail: string }
export class BadRequest extends DuroError {}
export class Unauthorized extends DuroError {}
export class Forbidden extends DuroError {}
export class NotFound extends DuroError {}
export class MethodNotAllowed extends DuroError {}
export class Conflict extends DuroError {}
export class PreconditionFailed extends DuroError {}
export class PayloadTooLarge extends DuroError {}
export class UnsupportedMediaType extends DuroError {}
export class RateLimited extends DuroError { retryAfter: number | null }
export class Internal extends DuroError {}
export class Unavailable extends DuroError {}
export class InsufficientStorage extends DuroError {}
export class ConnectionFailed extends DuroError {}
declare const _default: {
  DuroClient: typeof DuroClient; KVStorage: typeof KVStorage; D1Storage: typeof D1Storage; R2Storage: typeof R2Storage;
};
export default _default;
