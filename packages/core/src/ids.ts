import { randomBytes } from 'node:crypto';
import { typeid } from 'typeid-js';

// Readable, sortable ids (TypeID: prefix + UUIDv7 in base32): `job_01jf…` sorts by creation time,
// which keeps B-tree inserts append-only and makes cursors simple.
export const newJobId = (): string => typeid('job').toString();
export const newTenantId = (): string => typeid('ten').toString();
export const newApiKeyId = (): string => typeid('key').toString();
export const newRequestId = (): string => typeid('req').toString();

/** An API key: `iq_` then 32 random bytes, base64url. Only its sha256 is stored. */
export const newApiKeySecret = (): string => `iq_${randomBytes(32).toString('base64url')}`;
