// Names become folder names and URL segments, so they are checked before anything touches disk.
import { FerryError } from '../core/errors.js';

const MODEL_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
// Aliases start with a letter so they can never be mistaken for a version number.
const ALIAS_NAME = /^[a-z][a-z0-9_-]{0,63}$/;
/** Resolved by the registry itself, so it cannot be set. */
export const RESERVED_ALIASES = new Set(['latest']);

export function checkModelName(name: string): string {
  if (!MODEL_NAME.test(name) || name.includes('..')) {
    throw new FerryError('INVALID_ARGUMENT', `model name ${JSON.stringify(name.slice(0, 200))} is not allowed: use 1 to 128 letters, digits, '.', '_' or '-', starting with a letter or digit, without '..'`);
  }
  return name;
}

export function checkAliasName(alias: string): string {
  if (!ALIAS_NAME.test(alias)) {
    throw new FerryError('INVALID_ARGUMENT', `alias ${JSON.stringify(alias.slice(0, 200))} is not allowed: use 1 to 64 lowercase letters, digits, '_' or '-', starting with a letter`);
  }
  if (RESERVED_ALIASES.has(alias)) throw new FerryError('INVALID_ARGUMENT', `alias "${alias}" is reserved: it always means the highest version`);
  return alias;
}

/** A version reference from a URL or CLI: a positive integer, or an alias. */
export function parseVersionRef(ref: string): number | string {
  if (/^[0-9]{1,9}$/.test(ref) && Number(ref) > 0) return Number(ref);
  if (ALIAS_NAME.test(ref)) return ref;
  throw new FerryError('INVALID_ARGUMENT', `version ${JSON.stringify(ref.slice(0, 200))} is neither a version number (1, 2, ...) nor an alias name`);
}

/** "model", "model:3" or "model:prod": the model name and the version reference, if one is given. */
export function splitModelRef(ref: string): [string, string | undefined] {
  const at = ref.lastIndexOf(':');
  return at > 0 ? [ref.slice(0, at), ref.slice(at + 1)] : [ref, undefined];
}
