// ESM entry of duro-storage: the same objects as index.cjs.
import pkg from './index.cjs';

export const {
  Datastore, KVAdapter, D1Adapter, DatastoreError, InvalidInput, NotAuthorized,
  StorageClient, createStorageClient, StorageHelpers, createRateLimiter, createLoginService,
  DuroClient, KVStorage, D1Storage, R2Storage, proxyClient, duroSessionStore, DuroRateLimitStore,
  DuroError, BadRequest, Unauthorized, Forbidden, NotFound, MethodNotAllowed, Conflict,
  PreconditionFailed, PayloadTooLarge, UnsupportedMediaType, RateLimited, Internal,
  Unavailable, InsufficientStorage, ConnectionFailed,
} = pkg;
export default pkg;
