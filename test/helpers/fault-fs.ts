/**
 * A node:fs stand-in that runs out of space: after `budget` bytes have been written (through writeSync,
 * copyFileSync or fs.promises.copyFile), writes fail with ENOSPC, like a full disk. Pass it wherever the
 * library takes an injected `fs` (Repo.open, Store, writeFileAtomic).
 */
import realFs from "node:fs";
import type { FsLike } from "../../src/util/fs.js";

export interface FaultFs {
  fs: FsLike;
  /** Bytes written so far through the wrapper. */
  readonly written: number;
  /** True once a write has failed. */
  readonly tripped: boolean;
}

/** An ENOSPC error shaped like Node's. */
export function enospc(syscall = "write"): NodeJS.ErrnoException {
  return Object.assign(new Error(`ENOSPC: no space left on device, ${syscall}`), {
    code: "ENOSPC",
    errno: -28,
    syscall,
  });
}

/**
 * Wraps node:fs so that only `budget` more bytes can be written.
 *
 * @example
 * const { fs } = diskFullFs(4096);
 * const repo = Repo.open({ cwd, fs });
 */
export function diskFullFs(budget: number): FaultFs {
  let left = budget;
  let written = 0;
  let tripped = false;
  const take = (want: number): number => {
    const n = Math.min(want, left);
    left -= n;
    written += n;
    return n;
  };
  const fail = (syscall: string) => {
    tripped = true;
    return enospc(syscall);
  };

  const writeSync = ((fd: number, data: string | NodeJS.ArrayBufferView, ...rest: unknown[]): number => {
    const buf =
      typeof data === "string"
        ? Buffer.from(data, (typeof rest[1] === "string" ? rest[1] : "utf8") as BufferEncoding)
        : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    let offset = 0;
    let length = buf.length;
    let position: number | null = null;
    if (typeof data === "string") {
      position = typeof rest[0] === "number" ? rest[0] : null;
    } else {
      offset = typeof rest[0] === "number" ? rest[0] : 0;
      length = typeof rest[1] === "number" ? rest[1] : buf.length - offset;
      position = typeof rest[2] === "number" ? rest[2] : null;
    }
    if (length === 0) return 0;
    const n = take(length);
    if (n === 0) throw fail("write");
    return realFs.writeSync(fd, buf, offset, n, position);
  }) as typeof realFs.writeSync;

  /** Copies what fits, then fails: a full disk leaves a partial destination behind. */
  const copyWithin = (src: string, dest: string, mode?: number): void => {
    const size = realFs.statSync(src).size;
    if (size <= left) {
      take(size);
      realFs.copyFileSync(src, dest, mode);
      return;
    }
    const n = take(size);
    const part = Buffer.alloc(n);
    const fd = realFs.openSync(src, "r");
    try {
      realFs.readSync(fd, part, 0, n, 0);
    } finally {
      realFs.closeSync(fd);
    }
    realFs.writeFileSync(dest, part);
    throw fail("copyfile");
  };

  const promises = {
    ...realFs.promises,
    copyFile: async (src: string, dest: string, mode?: number) => copyWithin(src, dest, mode),
  };
  const fs = {
    ...realFs,
    writeSync,
    copyFileSync: (src: string, dest: string, mode?: number) => copyWithin(src, dest, mode),
    promises,
    writeFileSync: (
      file: realFs.PathOrFileDescriptor,
      data: string | NodeJS.ArrayBufferView,
      opts?: unknown,
    ) => {
      const len = typeof data === "string" ? Buffer.byteLength(data) : data.byteLength;
      if (take(len) < len) throw fail("write");
      realFs.writeFileSync(file, data, opts as realFs.WriteFileOptions);
    },
  } as unknown as FsLike;
  return {
    fs,
    get written() {
      return written;
    },
    get tripped() {
      return tripped;
    },
  };
}

/**
 * Wraps node:fs so that the process kills itself (SIGKILL: no handler, no clean-up runs) just before a
 * rename onto a destination `when` picks: a crash between two steps of a write, made deterministic.
 *
 * @example
 * const fs = killBeforeRename((dest) => dest.endsWith("data.csv.mtrack"));
 * const repo = Repo.open({ cwd, fs });
 */
export function killBeforeRename(when: (dest: string) => boolean): FsLike {
  return {
    ...realFs,
    renameSync: (src: realFs.PathLike, dest: realFs.PathLike) => {
      if (when(String(dest))) process.kill(process.pid, "SIGKILL");
      realFs.renameSync(src, dest);
    },
  } as unknown as FsLike;
}
