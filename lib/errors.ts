/** Error's own second argument, spelled out: the lib type `ErrorOptions` is missing below ES2022 in a consumer's lib. */
type ErrorCause = { cause?: unknown };

/** Every error sqlmig throws on purpose carries the exit code of SPEC §6. */
export class SqlmigError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode: number, options?: ErrorCause) {
    super(message, options);
    this.name = new.target.name;
    this.exitCode = exitCode;
  }
}

/** 1: a migration failed; what ran before it stays applied. */
export class MigrationFailed extends SqlmigError {
  constructor(message: string, options?: ErrorCause) { super(message, 1, options); }
}

/** 2: bad flag, bad URL, no database given. */
export class UsageError extends SqlmigError {
  constructor(message: string, options?: ErrorCause) { super(message, 2, options); }
}

/** 3: refused by validation before anything changed. */
export class Refused extends SqlmigError {
  constructor(message: string, options?: ErrorCause) { super(message, 3, options); }
}

/** 4: another runner holds the lock. */
export class LockTimeout extends SqlmigError {
  constructor(message: string, options?: ErrorCause) { super(message, 4, options); }
}

/** 4, mid-run: the lock was lost (its session was closed, by a pooler's timeout for one); the run stopped. */
export class LockLost extends LockTimeout {}

/** 5: cannot connect or authenticate. */
export class ConnectionFailed extends SqlmigError {
  constructor(message: string, options?: ErrorCause) { super(message, 5, options); }
}

/** 5, mid-run: the server went away (restart, crash, network); what was running did not commit. */
export class ConnectionLost extends ConnectionFailed {}

/** 6: the backup failed; nothing was applied. */
export class BackupFailed extends SqlmigError {
  constructor(message: string, options?: ErrorCause) { super(message, 6, options); }
}

/** 130 / 143: stopped by SIGINT / SIGTERM after rolling back the running migration. */
export class Interrupted extends SqlmigError {
  /** `SIGINT` or `SIGTERM` (a `SIG…` name, typed without @types/node's `NodeJS.Signals`). */
  readonly signal: `SIG${string}`;
  constructor(signal: `SIG${string}`, message: string) {
    super(message, signal === 'SIGINT' ? 130 : 143);
    this.signal = signal;
  }
}
