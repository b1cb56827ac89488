// The one module that imports better-sqlite3 (a native binding): the registry, training jobs, keys,
// audit log and usage ledger each keep their own tables in the data folder's SQLite file, and open it
// through here. better-sqlite3 stays on 12.x: 13.x crashes on Node 20.
import Database from 'better-sqlite3';

export type SqliteDb = Database.Database;
export type SqliteStatement = Database.Statement;

/** Opens (creating if needed) the SQLite database in `file`. */
export function openSqlite(file: string): SqliteDb {
  return new Database(file);
}
