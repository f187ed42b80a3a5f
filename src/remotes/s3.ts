/**
 * The S3 (and S3-compatible) backend, through the AWS SDK v3 and the standard credential chain.
 *
 * Layout under `s3://bucket/prefix/`, the same as a local store so the two are easy to reason about:
 *   packs/pack-<id>.pack + packs/pack-<id>.idx   small objects, batched (pack.ts format)
 *   objects/<2 hex>/<62 hex>                     large objects, one key each (multipart upload)
 *   refs/<kind>/<id>                             small named refs
 * Finding what the remote has never lists the objects: it lists `packs/` (one key per pack, i.e. per
 * push batch), downloads the indexes it has not seen before (cached on disk, they never change), and
 * HEADs only large objects, which are few. An upload is visible only once complete: S3 publishes a key
 * atomically when its PUT or multipart upload completes, and a pack's index is written after its data,
 * so readers (which only trust indexed packs) never see half a pack.
 */
import * as nodeFs from "node:fs";
import * as http from "node:http";
import * as https from "node:https";
import * as path from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import {
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import { fromIni } from "@aws-sdk/credential-providers";
import { Upload } from "@aws-sdk/lib-storage";
import { MtrackError } from "../errors.js";
import { PackFile, writePack } from "../store/pack.js";
import type { Hash } from "../store/types.js";
import { safeUnlink } from "../util/fs.js";
import {
  type CollectOptions,
  type CollectResult,
  type LeftoverInfo,
  type LooseInfo,
  type PackInfo,
  planCollect,
} from "./collect.js";
import { verifiedReadStream } from "./counted.js";
import { remoteError } from "./errors.js";
import { checkRefName, isRefKind, isRefName } from "./names.js";
import { addPack, cachedPackIndex, type PackedLocation, packListing } from "./pack-map.js";
import { runPool } from "./pool.js";
import type { ObjectData, ObjectSpec, PackContents, PackSource, Remote } from "./types.js";
import { SMALL_OBJECT_LIMIT } from "./types.js";

/** Where the bucket is and how to reach it. */
export interface S3RemoteOptions {
  /** s3://bucket/prefix */
  url: string;
  endpoint?: string;
  region?: string;
  profile?: string;
  jobs?: number;
  /** Local directory for cached pack indexes and temp packs (e.g. `.mtrack/state/remotes/<id>`). */
  cacheDir: string;
  /** Attempts per request (the SDK's own retry with backoff); default 5. */
  attempts?: number;
}

/** Ranged reads of a pack are merged when the gap between wanted objects is below this. */
const RANGE_GAP = 256 << 10;
/** A merged ranged read stops growing at this size. */
const RANGE_MAX = 16 << 20;

function statusOf(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
}

function nameOf(err: unknown): string {
  const e = err as { name?: string; Code?: string; code?: string };
  return e?.name ?? e?.Code ?? e?.code ?? "";
}

/**
 * The S3 backend.
 *
 * @example
 * const remote = new S3Remote({ url: "s3://bucket/proj", endpoint: "http://127.0.0.1:8333", cacheDir });
 */
export class S3Remote implements Remote {
  readonly url: string;
  private readonly bucket: string;
  private readonly prefix: string;
  private readonly client: S3Client;
  private readonly cacheDir: string;
  private readonly jobs: number;
  private readonly packs = new Map<string, PackFile>();
  /** Every object of the loaded packs (see pack-map.ts). */
  private readonly packed = new Map<Hash, PackedLocation>();
  private bucketChecked = false;

  constructor(options: S3RemoteOptions) {
    const m = /^s3:\/\/([^/]+)\/?(.*)$/.exec(options.url);
    if (!m?.[1]) {
      throw new MtrackError("ERR_MTRACK_CONFIG_INVALID", `Invalid S3 url ${JSON.stringify(options.url)}.`, {
        hint: "Use s3://bucket or s3://bucket/prefix.",
        data: { value: options.url },
      });
    }
    this.url = options.url;
    this.bucket = m[1];
    this.prefix = (m[2] ?? "").replace(/^\/+|\/+$/g, "");
    this.cacheDir = options.cacheDir;
    this.jobs = options.jobs ?? 8;
    const agent = { keepAlive: true, maxSockets: this.jobs * 2 };
    this.client = new S3Client({
      region: options.region ?? process.env.AWS_REGION ?? "us-east-1",
      ...(options.endpoint ? { endpoint: options.endpoint, forcePathStyle: true } : {}),
      ...(options.profile ? { credentials: fromIni({ profile: options.profile }) } : {}),
      maxAttempts: options.attempts ?? 5,
      // S3-compatible servers differ in their support of the newer default checksums.
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED",
      requestHandler: { httpAgent: new http.Agent(agent), httpsAgent: new https.Agent(agent) },
    });
  }

  private key(rel: string): string {
    return this.prefix ? `${this.prefix}/${rel}` : rel;
  }

  private objectKey(hash: Hash): string {
    return this.key(`objects/${hash.slice(0, 2)}/${hash.slice(2)}`);
  }

  /** Maps SDK failures to remote errors with a reason (auth, not-found, unreachable). */
  private fail(err: unknown, doing: string): MtrackError {
    if (err instanceof MtrackError) return err;
    const status = statusOf(err);
    const name = nameOf(err);
    if (name === "NoSuchBucket") {
      return remoteError(
        "not-found",
        `Bucket ${this.bucket} does not exist (${doing}).`,
        { url: this.url },
        err,
      );
    }
    if (
      status === 401 ||
      status === 403 ||
      ["AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "CredentialsProviderError"].includes(
        name,
      )
    ) {
      return remoteError(
        "auth",
        `${this.url} refused the credentials while ${doing} (${name || status}).`,
        { url: this.url, status },
        err,
      );
    }
    if (status === undefined) {
      const msg = err instanceof Error ? err.message : String(err);
      return remoteError(
        "unreachable",
        `Cannot reach ${this.url} while ${doing}: ${msg}`,
        { url: this.url },
        err,
      );
    }
    return remoteError(
      "protocol",
      `${this.url} answered ${status} (${name}) while ${doing}.`,
      { url: this.url, status },
      err,
    );
  }

  private async send<T>(doing: string, fn: () => Promise<T>): Promise<T> {
    await this.checkBucket();
    try {
      return await fn();
    } catch (err) {
      throw this.fail(err, doing);
    }
  }

  /** One HeadBucket per process: a missing bucket must be a clear error, not "object not found". */
  private async checkBucket(): Promise<void> {
    if (this.bucketChecked) return;
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
    } catch (err) {
      if (statusOf(err) === 404 || nameOf(err) === "NotFound" || nameOf(err) === "NoSuchBucket") {
        throw remoteError("not-found", `Bucket ${this.bucket} does not exist.`, { url: this.url }, err);
      }
      throw this.fail(err, "checking the bucket");
    }
    this.bucketChecked = true;
  }

  /**
   * Loads the indexes of packs pushed since last time (from the disk cache, else from the bucket) and
   * forgets packs gone from the bucket. `listing` is a listing of `packs/` the caller already made.
   */
  private async refreshPacks(listing?: ReadonlyArray<{ key: string }>): Promise<void> {
    const ids: string[] = [];
    const listed = new Set<string>();
    for (const o of listing ?? (await this.listKeys("packs/"))) {
      const m = /pack-([0-9a-f]+)\.idx$/.exec(o.key);
      if (!m?.[1]) continue;
      listed.add(m[1]);
      if (!this.packs.has(m[1])) ids.push(m[1]);
    }
    // A pack gone from the bucket (`gc --cloud` from any clone) no longer counts as holding anything.
    this.forgetPacks([...this.packs.keys()].filter((id) => !listed.has(id)));
    const dir = path.join(this.cacheDir, "packs");
    await runPool(
      ids.map((id) => async () => {
        // A damaged index is left out: its objects count as absent and get pushed again in a new pack.
        const pack = await cachedPackIndex(dir, id, `${this.url} pack ${id}`, () =>
          this.send("reading a pack index", async () => {
            const r = await this.client.send(
              new GetObjectCommand({ Bucket: this.bucket, Key: this.key(`packs/pack-${id}.idx`) }),
            );
            return Buffer.from(await r.Body!.transformToByteArray());
          }),
        );
        if (pack) this.loadPack(pack);
      }),
      this.jobs,
    );
  }

  /** Drops packs from the loaded set (closing them) and rebuilds the map of packed objects. */
  private forgetPacks(ids: readonly string[]): void {
    if (ids.length === 0) return;
    for (const id of ids) {
      this.packs.get(id)?.close();
      this.packs.delete(id);
    }
    this.packed.clear();
    for (const p of this.packs.values()) addPack(this.packed, p);
  }

  private loadPack(pack: PackFile): void {
    this.packs.set(pack.id, pack);
    addPack(this.packed, pack);
  }

  private findPacked(hash: Hash): { id: string; offset: number; length: number } | undefined {
    const at = this.packed.get(hash);
    return at && { id: at.pack.id, offset: at.offset, length: at.length };
  }

  async has(objects: readonly ObjectSpec[]): Promise<Set<Hash>> {
    await this.refreshPacks();
    const out = new Set<Hash>();
    const toHead: Hash[] = [];
    for (const o of objects) {
      if (this.findPacked(o.hash)) out.add(o.hash);
      // Small objects only ever travel in packs, so only large ones can be loose keys.
      else if (o.size >= SMALL_OBJECT_LIMIT) toHead.push(o.hash);
    }
    await runPool(
      toHead.map((hash) => async () => {
        try {
          await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.objectKey(hash) }));
          out.add(hash);
        } catch (err) {
          if (statusOf(err) !== 404) throw this.fail(err, `checking ${hash}`);
        }
      }),
      this.jobs,
    );
    return out;
  }

  async putBatch(objects: readonly ObjectData[]): Promise<void> {
    if (objects.length === 0) return;
    nodeFs.mkdirSync(this.cacheDir, { recursive: true });
    const tmp = nodeFs.mkdtempSync(path.join(this.cacheDir, "tmp-"));
    try {
      const id = writePack(
        nodeFs,
        tmp,
        objects.map((o) => ({ raw: Buffer.from(o.hash, "hex"), data: o.data })),
      );
      await this.uploadPack(id, path.join(tmp, `pack-${id}.pack`), path.join(tmp, `pack-${id}.idx`));
    } finally {
      nodeFs.rmSync(tmp, { recursive: true, force: true });
    }
  }

  /** A local store's pack goes up as it is: no repacking into a temp pack first. */
  async putPack(pack: PackSource): Promise<void> {
    if (this.packs.has(pack.id)) return;
    await this.uploadPack(pack.id, pack.packPath, pack.idxPath);
  }

  /** Uploads a pack's two files, data first: the index is what makes the pack's objects visible. */
  private async uploadPack(id: string, packPath: string, idxPath: string): Promise<void> {
    for (const [ext, file] of [
      ["pack", packPath],
      ["idx", idxPath],
    ] as const) {
      await this.send(`uploading pack ${id}`, () =>
        this.client.send(
          new PutObjectCommand({
            Bucket: this.bucket,
            Key: this.key(`packs/pack-${id}.${ext}`),
            Body: nodeFs.createReadStream(file),
            ContentLength: nodeFs.statSync(file).size,
          }),
        ),
      );
    }
    const dir = path.join(this.cacheDir, "packs");
    nodeFs.mkdirSync(dir, { recursive: true });
    nodeFs.copyFileSync(idxPath, path.join(dir, `pack-${id}.idx`));
    this.loadPack(PackFile.open(nodeFs, dir, id));
  }

  async putFile(object: ObjectSpec, file: string, onBytes?: (bytes: number) => void): Promise<void> {
    await this.send(`uploading ${object.hash}`, async () => {
      // Multipart above 8 MiB, parts in parallel; the key appears only when the upload completes.
      const upload = new Upload({
        client: this.client,
        params: {
          Bucket: this.bucket,
          Key: this.objectKey(object.hash),
          // Hashed as it is read: a damaged local object fails the upload before its key appears.
          Body: verifiedReadStream(file, object.hash, onBytes),
        },
        queueSize: 4,
        partSize: 16 << 20,
        leavePartsOnError: false,
      });
      await upload.done();
    });
  }

  /**
   * Removes the copies of damaged objects (the caller has downloaded and hashed them): loose keys are
   * deleted, and each pack holding one is rewritten without it (survivors uploaded as a new pack first,
   * then the old index, then its data), as a collection does.
   */
  async dropObjects(hashes: readonly Hash[]): Promise<void> {
    await this.refreshPacks();
    const bad = new Set(hashes);
    const affected = [...this.packs.values()].filter((p) => [...p.entries()].some((e) => bad.has(e.hash)));
    for (const pack of affected) {
      const survivors = [...pack.entries()].filter((e) => !bad.has(e.hash));
      if (survivors.length > 0) {
        const got = new Map<Hash, Buffer>();
        await this.readPacked(new Map([[pack.id, survivors.map((e) => ({ ...e }))]]), (o) => {
          got.set(o.hash, Buffer.from(o.data));
        });
        const objects = survivors.map((e) => {
          const data = got.get(e.hash);
          if (!data || data.length !== e.length) {
            throw remoteError("protocol", `${this.url} sent a short read of pack ${pack.id}.`, {
              url: this.url,
            });
          }
          return { hash: e.hash, data };
        });
        await this.putBatch(objects);
      }
      await this.deleteKeys([this.key(`packs/pack-${pack.id}.idx`)]);
      await this.deleteKeys([this.key(`packs/pack-${pack.id}.pack`)]);
      safeUnlink(path.join(this.cacheDir, "packs", `pack-${pack.id}.idx`));
      this.forgetPacks([pack.id]);
    }
    await this.deleteKeys(hashes.map((h) => this.objectKey(h)));
  }

  async getBatch(
    hashes: readonly Hash[],
    onObject: (o: ObjectData) => void | Promise<void>,
  ): Promise<Hash[]> {
    await this.refreshPacks();
    const rest: Hash[] = [];
    const byPack = new Map<string, Array<{ hash: Hash; offset: number; length: number }>>();
    for (const hash of hashes) {
      const hit = this.findPacked(hash);
      if (!hit) {
        rest.push(hash);
        continue;
      }
      let list = byPack.get(hit.id);
      if (!list) byPack.set(hit.id, (list = []));
      list.push({ hash, offset: hit.offset, length: hit.length });
    }
    await this.readPacked(byPack, onObject);
    return rest;
  }

  /** Reads packed objects (grouped by pack) with merged ranged GETs, in parallel. */
  private async readPacked(
    byPack: ReadonlyMap<string, Array<{ hash: Hash; offset: number; length: number }>>,
    onObject: (o: ObjectData) => void | Promise<void>,
  ): Promise<void> {
    const ranges: Array<{
      id: string;
      start: number;
      end: number;
      items: Array<{ hash: Hash; offset: number; length: number }>;
    }> = [];
    for (const [id, items] of byPack) {
      items.sort((a, b) => a.offset - b.offset);
      let cur: (typeof ranges)[number] | undefined;
      for (const it of items) {
        const end = it.offset + it.length;
        if (cur && it.offset - cur.end <= RANGE_GAP && end - cur.start <= RANGE_MAX) {
          cur.end = Math.max(cur.end, end);
          cur.items.push(it);
        } else {
          cur = { id, start: it.offset, end, items: [it] };
          ranges.push(cur);
        }
      }
    }
    await runPool(
      ranges.map((r) => async () => {
        const bytes = await this.send(`reading pack ${r.id}`, async () => {
          if (r.end === r.start) return Buffer.alloc(0);
          const res = await this.client.send(
            new GetObjectCommand({
              Bucket: this.bucket,
              Key: this.key(`packs/pack-${r.id}.pack`),
              Range: `bytes=${r.start}-${r.end - 1}`,
            }),
          );
          return Buffer.from(await res.Body!.transformToByteArray());
        });
        for (const it of r.items) {
          // A short read leaves the object out; the caller reports it as missing or corrupt.
          const data = bytes.subarray(it.offset - r.start, it.offset - r.start + it.length);
          await onObject({ hash: it.hash, data });
        }
      }),
      this.jobs,
    );
  }

  async packList(): Promise<PackContents[]> {
    await this.refreshPacks();
    return packListing(this.packed);
  }

  /** The pack's data streamed by one GET into `dest`; its index from the local cache of indexes. */
  async copyPack(id: string, dest: string): Promise<Buffer | undefined> {
    const idx = this.packs.get(id)?.indexBytes();
    if (!idx) return undefined;
    await this.checkBucket();
    try {
      const res = await this.client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: this.key(`packs/pack-${id}.pack`) }),
      );
      await pipeline(res.Body as Readable, nodeFs.createWriteStream(dest, { flags: "wx" }));
      return idx;
    } catch (err) {
      if (statusOf(err) === 404 || nameOf(err) === "NoSuchKey") return undefined;
      throw this.fail(err, `reading pack ${id}`);
    }
  }

  async open(hash: Hash): Promise<Readable | undefined> {
    await this.checkBucket();
    try {
      const res = await this.client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: this.objectKey(hash) }),
      );
      return res.Body as Readable;
    } catch (err) {
      if (statusOf(err) === 404 || nameOf(err) === "NoSuchKey") return undefined;
      throw this.fail(err, `reading ${hash}`);
    }
  }

  async readRef(name: string): Promise<Buffer | undefined> {
    checkRefName(name);
    await this.checkBucket();
    try {
      const res = await this.client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: this.key(`refs/${name}`) }),
      );
      return Buffer.from(await res.Body!.transformToByteArray());
    } catch (err) {
      if (statusOf(err) === 404 || nameOf(err) === "NoSuchKey") return undefined;
      throw this.fail(err, `reading ref ${name}`);
    }
  }

  async writeRef(name: string, data: Buffer): Promise<void> {
    checkRefName(name);
    await this.send(`writing ref ${name}`, () =>
      this.client.send(
        new PutObjectCommand({ Bucket: this.bucket, Key: this.key(`refs/${name}`), Body: data }),
      ),
    );
  }

  async listRefs(kind: string): Promise<string[]> {
    if (!isRefKind(kind)) return [];
    const prefix = this.key(`refs/${kind}/`);
    return (await this.listKeys(`refs/${kind}/`))
      .map((o) => `${kind}/${o.key.slice(prefix.length)}`)
      .filter(isRefName)
      .sort();
  }

  /** Every key under `rel` (e.g. "packs/"), page by page, with its size and LastModified. */
  private async listKeys(rel: string): Promise<Array<{ key: string; size: number; mtimeMs: number }>> {
    const out: Array<{ key: string; size: number; mtimeMs: number }> = [];
    let token: string | undefined;
    const prefix = this.key(rel);
    do {
      const page = await this.send(`listing ${rel}`, () =>
        this.client.send(
          new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token }),
        ),
      );
      for (const o of page.Contents ?? []) {
        if (!o.Key) continue;
        out.push({ key: o.Key, size: o.Size ?? 0, mtimeMs: o.LastModified?.getTime() ?? 0 });
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return out;
  }

  /** Deletes keys in DeleteObjects batches of 1000 (the API's limit), in order. */
  private async deleteKeys(keys: readonly string[]): Promise<void> {
    for (let i = 0; i < keys.length; i += 1000) {
      const chunk = keys.slice(i, i + 1000);
      const res = await this.send("deleting garbage", () =>
        this.client.send(
          new DeleteObjectsCommand({
            Bucket: this.bucket,
            Delete: { Objects: chunk.map((Key) => ({ Key })), Quiet: true },
          }),
        ),
      );
      const failed = res.Errors ?? [];
      if (failed.length > 0) {
        throw remoteError(
          "protocol",
          `${this.url} refused to delete ${failed.length} key(s), e.g. ${failed[0]?.Key} (${failed[0]?.Code}).`,
          { url: this.url, keys: failed.slice(0, 10).map((e) => e.Key) },
        );
      }
    }
  }

  /**
   * Collection on the bucket (collect.ts has the rules), by the keys' LastModified. Partly live packs are
   * rewritten from ranged GETs of their survivors and uploaded (data, then index) before any index is
   * deleted; then indexes go, then data, loose objects and leftovers.
   */
  async collect(keep: ReadonlySet<Hash>, options: CollectOptions): Promise<CollectResult> {
    const packKeys = await this.listKeys("packs/");
    const objectKeys = await this.listKeys("objects/");
    const now = Date.now();
    // Indexes of every pack listed above (new ones are downloaded; a damaged one is left out, untouched).
    await this.refreshPacks(packKeys);
    const files = new Map<string, { pack?: (typeof packKeys)[number]; idx?: (typeof packKeys)[number] }>();
    for (const k of packKeys) {
      const m = /^pack-([0-9a-f]+)\.(pack|idx)$/.exec(k.key.slice(this.key("packs/").length));
      if (!m?.[1]) continue;
      const f = files.get(m[1]) ?? {};
      if (m[2] === "pack") f.pack = k;
      else f.idx = k;
      files.set(m[1], f);
    }
    const packs: PackInfo[] = [];
    const leftovers: LeftoverInfo[] = [];
    for (const [id, f] of files) {
      if (f.pack && !f.idx) {
        leftovers.push({ name: f.pack.key, size: f.pack.size, mtimeMs: f.pack.mtimeMs });
        continue;
      }
      const loaded = this.packs.get(id);
      if (!f.pack || !f.idx || !loaded) continue;
      packs.push({
        id,
        mtimeMs: Math.max(f.pack.mtimeMs, f.idx.mtimeMs),
        entries: [...loaded.entries()],
        bytes: f.pack.size,
      });
    }
    const loose: LooseInfo[] = [];
    const objectsPrefix = this.key("objects/");
    for (const k of objectKeys) {
      const rel = k.key.slice(objectsPrefix.length);
      const hash = rel.replace("/", "");
      if (rel.length === 65 && rel[2] === "/" && /^[0-9a-f]{64}$/.test(hash))
        loose.push({ hash, size: k.size, mtimeMs: k.mtimeMs });
    }
    const plan = planCollect({ packs, loose, leftovers }, keep, options, now);
    if (options.dryRun) return plan.result;
    for (const { pack, survivors } of plan.rewrite) {
      const got = new Map<Hash, Buffer>();
      await this.readPacked(new Map([[pack.id, survivors.map((e) => ({ ...e }))]]), (o) => {
        got.set(o.hash, Buffer.from(o.data));
      });
      const objects = [...survivors]
        .sort((a, b) => a.offset - b.offset)
        .map((e) => {
          const data = got.get(e.hash);
          if (!data || data.length !== e.length) {
            throw remoteError("protocol", `${this.url} sent a short read of pack ${pack.id}.`, {
              url: this.url,
            });
          }
          return { hash: e.hash, data };
        });
      await this.putBatch(objects);
    }
    const gone = [...plan.rewrite.map((r) => r.pack), ...plan.deletePacks];
    await this.deleteKeys(gone.map((p) => this.key(`packs/pack-${p.id}.idx`)));
    await this.deleteKeys([
      ...gone.map((p) => this.key(`packs/pack-${p.id}.pack`)),
      ...plan.deleteLoose.map((o) => this.objectKey(o.hash)),
      ...plan.deleteLeftovers.map((l) => l.name),
    ]);
    const cache = path.join(this.cacheDir, "packs");
    for (const p of gone) safeUnlink(path.join(cache, `pack-${p.id}.idx`));
    this.forgetPacks(gone.map((p) => p.id));
    return plan.result;
  }

  async close(): Promise<void> {
    for (const p of this.packs.values()) p.close();
    this.client.destroy();
  }
}
