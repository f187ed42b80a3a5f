/**
 * TensorBoard event files: a writer (scalars and text) and a validating reader, byte-compatible with
 * TensorBoard's own writer (tensorboard/summary/writer), so `tensorboard --logdir` shows mtrack's runs and
 * mtrack can import TensorBoard logs.
 *
 * A file is a sequence of TFRecords — `u64 length | u32 masked crc32c(length) | Event protobuf | u32 masked
 * crc32c(data)`, little-endian — and the first Event carries `file_version = "brain.Event:2"`. Protobuf is
 * encoded by hand: the handful of fields below does not justify a protobuf runtime dependency.
 */

import * as nodeFs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { errnoCode, ioError, MtrackError } from "../errors.js";
import { maskedCrc32c } from "./crc32c.js";

/** The version string TensorBoard expects in the first event of a file. */
export const FILE_VERSION = "brain.Event:2";
/** The writer name TensorBoard's own writer records; loaders do not check it. */
export const SOURCE_WRITER = "tensorboard.summary.writer.event_file_writer";
/** TensorFlow's DataType enum value for strings (DT_STRING). */
export const DT_STRING = 7;
const DT_FLOAT = 1;
const DT_DOUBLE = 2;

// ---------------------------------------------------------------------------------------------------
// Protobuf encoding

/** Appends protobuf fields to a growing byte buffer. */
class ProtoWriter {
  private buf = new Uint8Array(64);
  private view = new DataView(this.buf.buffer);
  private len = 0;

  private reserve(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.len + n));
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  /** Unsigned varint; negative int64 values take the 10-byte two's-complement form, as protobuf does. */
  varint(v: number | bigint): this {
    this.reserve(10);
    if (typeof v === "number" && v >= 0 && v <= Number.MAX_SAFE_INTEGER) {
      while (v >= 0x80) {
        this.buf[this.len++] = (v % 0x80) | 0x80;
        v = Math.floor(v / 0x80);
      }
      this.buf[this.len++] = v;
      return this;
    }
    let b = BigInt.asUintN(64, BigInt(v));
    while (b >= 0x80n) {
      this.buf[this.len++] = Number(b & 0x7fn) | 0x80;
      b >>= 7n;
    }
    this.buf[this.len++] = Number(b);
    return this;
  }

  key(field: number, wireType: number): this {
    return this.varint(field * 8 + wireType);
  }

  double(field: number, v: number): this {
    this.key(field, 1).reserve(8);
    this.view.setFloat64(this.len, v, true);
    this.len += 8;
    return this;
  }

  float(field: number, v: number): this {
    this.key(field, 5).reserve(4);
    this.view.setFloat32(this.len, v, true);
    this.len += 4;
    return this;
  }

  bytes(field: number, data: Uint8Array): this {
    this.key(field, 2).varint(data.length).reserve(data.length);
    this.buf.set(data, this.len);
    this.len += data.length;
    return this;
  }

  string(field: number, s: string): this {
    return this.bytes(field, new TextEncoder().encode(s));
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}

/** One Summary.Value to write. */
export type SummaryValueInput = { tag: string; simpleValue: number } | { tag: string; text: string };

/** An Event to encode; `summary` and `fileVersion` are alternatives (protobuf `oneof what`). */
export interface EventInput {
  /** Seconds since the Unix epoch, fractional. */
  wallTime: number;
  step?: number;
  fileVersion?: string;
  summary?: SummaryValueInput[];
  sourceWriter?: string;
}

function encodeSummaryValue(v: SummaryValueInput): Uint8Array {
  const w = new ProtoWriter();
  if (v.tag !== "") w.string(1, v.tag);
  if ("simpleValue" in v) {
    // simple_value sits in a oneof, so it is written even when 0 (proto3 would drop a plain 0.0).
    w.float(2, v.simpleValue);
  } else {
    // A scalar DT_STRING tensor, as tensorboard.summary.text writes: dtype, empty shape, one string_val.
    const tensor = new ProtoWriter()
      .key(1, 0)
      .varint(DT_STRING)
      .bytes(2, new Uint8Array(0))
      .string(8, v.text)
      .finish();
    w.bytes(8, tensor);
    const pluginData = new ProtoWriter().string(1, "text").finish();
    w.bytes(9, new ProtoWriter().bytes(1, pluginData).finish());
  }
  return w.finish();
}

/**
 * Serialises an Event protobuf. Fields are written in field-number order and proto3 defaults (step 0,
 * wall_time 0) are omitted, which is what Python's protobuf produces — the bytes match TensorBoard's.
 *
 * @example
 * encodeEvent({ wallTime: 1, fileVersion: "brain.Event:2" }) // 24 bytes: 09 …f03f 1a 0d "brain.Event:2"
 */
export function encodeEvent(event: EventInput): Uint8Array {
  const w = new ProtoWriter();
  if (event.wallTime !== 0) w.double(1, event.wallTime);
  if (event.step !== undefined && event.step !== 0) w.key(2, 0).varint(event.step);
  if (event.fileVersion !== undefined) w.string(3, event.fileVersion);
  if (event.summary !== undefined) {
    const summary = new ProtoWriter();
    for (const v of event.summary) summary.bytes(1, encodeSummaryValue(v));
    w.bytes(5, summary.finish());
  }
  if (event.sourceWriter !== undefined) w.bytes(10, new ProtoWriter().string(1, event.sourceWriter).finish());
  return w.finish();
}

/**
 * Frames one serialised Event as a TFRecord: length, masked CRC of the length, data, masked CRC of the data.
 *
 * @example
 * frameRecord(encodeEvent({ wallTime: 1, fileVersion: "brain.Event:2" })).length // 12 + 24 + 4
 */
export function frameRecord(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length + 4);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(data.length), true);
  view.setUint32(8, maskedCrc32c(out.subarray(0, 8)), true);
  out.set(data, 12);
  view.setUint32(12 + data.length, maskedCrc32c(data), true);
  return out;
}

// ---------------------------------------------------------------------------------------------------
// Writer

/** The slice of node:fs the writer needs; inject an in-memory one in tests. */
export interface EventFileFs {
  mkdirSync(dir: string, options: { recursive: true }): unknown;
  openSync(file: string, flags: string): number;
  writeSync(fd: number, data: Uint8Array, offset: number, length: number): number;
  closeSync(fd: number): void;
}

/** Options of {@link EventFileWriter.open}. */
export interface EventFileWriterOptions {
  /** Milliseconds since the epoch; default Date.now. Used for the file name and default wall times. */
  clock?: () => number;
  /** Host name in the file name; default os.hostname(). */
  hostname?: string;
  /** Process id in the file name; default process.pid. */
  pid?: number;
  /** Appended to the file name, as TensorBoard's `filename_suffix`. */
  suffix?: string;
  fs?: EventFileFs;
  /** Write out once this many bytes are buffered; default 64 KiB. */
  maxBufferBytes?: number;
  /** Write out when an event is added this long after the last write; default 2000 ms. */
  flushIntervalMs?: number;
}

/**
 * The file name TensorBoard's writer uses: `events.out.tfevents.<10-digit secs>.<host>.<pid>.<n><suffix>`.
 *
 * @example
 * eventFileName(1700000000123, "box", 42, 0) // "events.out.tfevents.1700000000.box.42.0"
 */
export function eventFileName(nowMs: number, hostname: string, pid: number, n: number, suffix = ""): string {
  const secs = String(Math.floor(nowMs / 1000)).padStart(10, "0");
  return `events.out.tfevents.${secs}.${hostname}.${pid}.${n}${suffix}`;
}

/**
 * Writes a TensorBoard event file. Calls are synchronous and buffered, so a training loop can log every
 * step cheaply; data reaches the file when the buffer fills, when `flushIntervalMs` has passed, on
 * `flush()` and on `close()`.
 *
 * @example
 * const tb = EventFileWriter.open("runs/exp1/tb");
 * tb.addScalar("loss/train", 0.31, 1);
 * tb.addText("phase/transitions", "phase_1 -> phase_2", 1);
 * tb.close();
 */
export class EventFileWriter {
  /** Absolute or dir-relative path of the file being written. */
  readonly path: string;
  private readonly fs: EventFileFs;
  private readonly clock: () => number;
  private readonly maxBufferBytes: number;
  private readonly flushIntervalMs: number;
  private fd: number | undefined;
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  private lastFlushMs: number;

  private constructor(file: string, fd: number, fs: EventFileFs, options: EventFileWriterOptions) {
    this.path = file;
    this.fd = fd;
    this.fs = fs;
    this.clock = options.clock ?? Date.now;
    this.maxBufferBytes = options.maxBufferBytes ?? 64 * 1024;
    this.flushIntervalMs = options.flushIntervalMs ?? 2000;
    this.lastFlushMs = this.clock();
  }

  /**
   * Creates `dir` if needed and a new event file in it, never overwriting one: the trailing counter is
   * raised until the name is free. The file_version event is written immediately, so the file is valid
   * even if nothing else is logged.
   */
  static open(dir: string, options: EventFileWriterOptions = {}): EventFileWriter {
    const fs = options.fs ?? nodeFs;
    const clock = options.clock ?? Date.now;
    const hostname = options.hostname ?? os.hostname();
    const pid = options.pid ?? process.pid;
    const now = clock();
    try {
      fs.mkdirSync(dir, { recursive: true });
    } catch (err) {
      throw ioError(err, `creating ${dir}`);
    }
    for (let n = 0; ; n++) {
      const file = path.join(dir, eventFileName(now, hostname, pid, n, options.suffix));
      let fd: number;
      try {
        fd = fs.openSync(file, "wx");
      } catch (err) {
        if (errnoCode(err) === "EEXIST") continue;
        throw ioError(err, `creating ${file}`);
      }
      const writer = new EventFileWriter(file, fd, fs, { ...options, clock });
      writer.append({ wallTime: now / 1000, fileVersion: FILE_VERSION, sourceWriter: SOURCE_WRITER });
      writer.flush();
      return writer;
    }
  }

  /** Logs a scalar (TensorBoard's Scalars tab). `wallTime` is in seconds; default now. */
  addScalar(tag: string, value: number, step: number, wallTime?: number): void {
    this.add({ tag, simpleValue: value }, step, wallTime);
  }

  /** Logs a text summary (TensorBoard's Text tab, rendered as Markdown). */
  addText(tag: string, text: string, step: number, wallTime?: number): void {
    this.add({ tag, text }, step, wallTime);
  }

  /** Writes buffered events to the file. */
  flush(): void {
    if (this.fd === undefined || this.pendingBytes === 0) return;
    const data = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending);
    this.pending = [];
    this.pendingBytes = 0;
    this.lastFlushMs = this.clock();
    try {
      let off = 0;
      while (off < data.length) off += this.fs.writeSync(this.fd, data, off, data.length - off);
    } catch (err) {
      throw ioError(err, `writing ${this.path}`);
    }
  }

  /** Flushes and closes the file. Further adds throw; closing twice is harmless. */
  close(): void {
    if (this.fd === undefined) return;
    this.flush();
    const fd = this.fd;
    this.fd = undefined;
    try {
      this.fs.closeSync(fd);
    } catch (err) {
      throw ioError(err, `closing ${this.path}`);
    }
  }

  private add(value: SummaryValueInput, step: number, wallTime: number | undefined): void {
    if (!Number.isSafeInteger(step)) {
      throw new MtrackError(
        "ERR_MTRACK_INVALID_ARGUMENT",
        `TensorBoard step must be an integer, got ${step}.`,
        {
          hint: "Pass the epoch or batch number as an integer step.",
          data: { tag: value.tag, step },
        },
      );
    }
    this.append({ wallTime: wallTime ?? this.clock() / 1000, step, summary: [value] });
    if (this.pendingBytes >= this.maxBufferBytes || this.clock() - this.lastFlushMs >= this.flushIntervalMs) {
      this.flush();
    }
  }

  private append(event: EventInput): void {
    if (this.fd === undefined) {
      throw new MtrackError("ERR_MTRACK_INVALID_ARGUMENT", `The event file ${this.path} is already closed.`, {
        hint: "Open a new EventFileWriter to keep logging.",
        data: { file: this.path },
      });
    }
    const record = frameRecord(encodeEvent(event));
    this.pending.push(record);
    this.pendingBytes += record.length;
  }
}

// ---------------------------------------------------------------------------------------------------
// Reader

/** A decoded TensorProto (the fields TensorBoard summaries use). */
export interface DecodedTensor {
  dtype: number;
  /** Dimension sizes; [] for a scalar. */
  shape: number[];
  stringVal: Uint8Array[];
  floatVal: number[];
  doubleVal: number[];
  /** Raw little-endian contents, when the writer packed them into tensor_content. */
  content?: Uint8Array;
}

/** A decoded Summary.Value. */
export interface DecodedSummaryValue {
  tag: string;
  simpleValue?: number;
  pluginName?: string;
  tensor?: DecodedTensor;
  /** The number this value stands for: simple_value, or a scalar float/double tensor (TF2 scalars). */
  scalar?: number;
  /** The text of a `text` plugin value (its first string). */
  text?: string;
}

/** A decoded Event. */
export interface DecodedEvent {
  wallTime: number;
  step: number;
  fileVersion?: string;
  sourceWriter?: string;
  summary?: DecodedSummaryValue[];
}

class ProtoReader {
  pos: number;
  constructor(
    readonly bytes: Uint8Array,
    private readonly fail: (reason: string) => never,
    start = 0,
    readonly end = bytes.length,
  ) {
    this.pos = start;
  }

  more(): boolean {
    return this.pos < this.end;
  }

  varint(): bigint {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (this.pos >= this.end) this.fail("truncated varint");
      const b = this.bytes[this.pos++]!;
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result;
      shift += 7n;
      if (shift > 63n) this.fail("varint longer than 10 bytes");
    }
  }

  fixed(n: 4 | 8): DataView {
    if (this.pos + n > this.end) this.fail("truncated fixed-width field");
    const view = new DataView(this.bytes.buffer, this.bytes.byteOffset + this.pos, n);
    this.pos += n;
    return view;
  }

  lengthDelimited(): ProtoReader {
    const len = Number(this.varint());
    if (this.pos + len > this.end) this.fail("length-delimited field runs past its message");
    const sub = new ProtoReader(this.bytes, this.fail, this.pos, this.pos + len);
    this.pos += len;
    return sub;
  }

  rest(): Uint8Array {
    return this.bytes.subarray(this.pos, this.end);
  }

  /** Reads the next key; returns [field, wireType]. */
  key(): [number, number] {
    const k = Number(this.varint());
    return [k >>> 3, k & 7];
  }

  skip(wireType: number): void {
    if (wireType === 0) this.varint();
    else if (wireType === 1) this.fixed(8);
    else if (wireType === 5) this.fixed(4);
    else if (wireType === 2) this.lengthDelimited();
    else this.fail(`unsupported protobuf wire type ${wireType}`);
  }
}

const utf8 = new TextDecoder();

function decodeTensor(r: ProtoReader): DecodedTensor {
  const t: DecodedTensor = { dtype: 0, shape: [], stringVal: [], floatVal: [], doubleVal: [] };
  while (r.more()) {
    const [field, wt] = r.key();
    if (field === 1 && wt === 0) t.dtype = Number(r.varint());
    else if (field === 2 && wt === 2) {
      const shape = r.lengthDelimited();
      while (shape.more()) {
        const [f, w] = shape.key();
        if (f !== 2 || w !== 2) {
          shape.skip(w);
          continue;
        }
        const dim = shape.lengthDelimited();
        let size = 0;
        while (dim.more()) {
          const [df, dw] = dim.key();
          if (df === 1 && dw === 0) size = Number(BigInt.asIntN(64, dim.varint()));
          else dim.skip(dw);
        }
        t.shape.push(size);
      }
    } else if (field === 4 && wt === 2) t.content = r.lengthDelimited().rest();
    else if (field === 5 && wt === 5) t.floatVal.push(r.fixed(4).getFloat32(0, true));
    else if (field === 5 && wt === 2) {
      const packed = r.lengthDelimited();
      while (packed.more()) t.floatVal.push(packed.fixed(4).getFloat32(0, true));
    } else if (field === 6 && wt === 1) t.doubleVal.push(r.fixed(8).getFloat64(0, true));
    else if (field === 6 && wt === 2) {
      const packed = r.lengthDelimited();
      while (packed.more()) t.doubleVal.push(packed.fixed(8).getFloat64(0, true));
    } else if (field === 8 && wt === 2) t.stringVal.push(r.lengthDelimited().rest());
    else r.skip(wt);
  }
  return t;
}

function tensorScalar(t: DecodedTensor): number | undefined {
  if (t.shape.reduce((a, b) => a * b, 1) !== 1) return undefined;
  if (t.dtype === DT_FLOAT) {
    if (t.floatVal.length > 0) return t.floatVal[0];
    if (t.content?.length === 4)
      return new DataView(t.content.buffer, t.content.byteOffset, 4).getFloat32(0, true);
  }
  if (t.dtype === DT_DOUBLE) {
    if (t.doubleVal.length > 0) return t.doubleVal[0];
    if (t.content?.length === 8)
      return new DataView(t.content.buffer, t.content.byteOffset, 8).getFloat64(0, true);
  }
  return undefined;
}

function decodeSummaryValue(r: ProtoReader): DecodedSummaryValue {
  const v: DecodedSummaryValue = { tag: "" };
  while (r.more()) {
    const [field, wt] = r.key();
    if (field === 1 && wt === 2) v.tag = utf8.decode(r.lengthDelimited().rest());
    else if (field === 2 && wt === 5) v.simpleValue = r.fixed(4).getFloat32(0, true);
    else if (field === 8 && wt === 2) v.tensor = decodeTensor(r.lengthDelimited());
    else if (field === 9 && wt === 2) {
      const meta = r.lengthDelimited();
      while (meta.more()) {
        const [mf, mw] = meta.key();
        if (mf !== 1 || mw !== 2) {
          meta.skip(mw);
          continue;
        }
        const plugin = meta.lengthDelimited();
        while (plugin.more()) {
          const [pf, pw] = plugin.key();
          if (pf === 1 && pw === 2) v.pluginName = utf8.decode(plugin.lengthDelimited().rest());
          else plugin.skip(pw);
        }
      }
    } else r.skip(wt);
  }
  if (v.simpleValue !== undefined) v.scalar = v.simpleValue;
  else if (v.tensor !== undefined) {
    const s = tensorScalar(v.tensor);
    if (s !== undefined) v.scalar = s;
    if (v.pluginName === "text" && v.tensor.stringVal[0] !== undefined)
      v.text = utf8.decode(v.tensor.stringVal[0]);
  }
  return v;
}

/**
 * Decodes one serialised Event protobuf; unknown fields (graphs, histograms, ...) are skipped.
 *
 * @example
 * decodeEvent(encodeEvent({ wallTime: 1, step: 3, summary: [{ tag: "loss", simpleValue: 0.5 }] })).summary?.[0]?.scalar // 0.5
 */
export function decodeEvent(data: Uint8Array, fail: (reason: string) => never = defaultFail): DecodedEvent {
  const r = new ProtoReader(data, fail);
  const event: DecodedEvent = { wallTime: 0, step: 0 };
  while (r.more()) {
    const [field, wt] = r.key();
    if (field === 1 && wt === 1) event.wallTime = r.fixed(8).getFloat64(0, true);
    else if (field === 2 && wt === 0) event.step = Number(BigInt.asIntN(64, r.varint()));
    else if (field === 3 && wt === 2) event.fileVersion = utf8.decode(r.lengthDelimited().rest());
    else if (field === 5 && wt === 2) {
      const summary = r.lengthDelimited();
      event.summary = [];
      while (summary.more()) {
        const [sf, sw] = summary.key();
        if (sf === 1 && sw === 2) event.summary.push(decodeSummaryValue(summary.lengthDelimited()));
        else summary.skip(sw);
      }
    } else if (field === 10 && wt === 2) {
      const meta = r.lengthDelimited();
      while (meta.more()) {
        const [mf, mw] = meta.key();
        if (mf === 1 && mw === 2) event.sourceWriter = utf8.decode(meta.lengthDelimited().rest());
        else meta.skip(mw);
      }
    } else r.skip(wt);
  }
  return event;
}

function defaultFail(reason: string): never {
  throw formatError(reason, {});
}

function formatError(reason: string, data: Record<string, unknown>): MtrackError {
  const where = data.file !== undefined ? ` in ${String(data.file)}` : "";
  const at = data.offset !== undefined ? ` at byte ${String(data.offset)}` : "";
  return new MtrackError(
    "ERR_MTRACK_FORMAT_INVALID",
    `Invalid TensorBoard event file${where}${at}: ${reason}.`,
    {
      hint: "The file is damaged or not a TensorBoard event file. If its writer is still running or crashed mid-write, read it with allowPartialTail.",
      data: { ...data, reason },
    },
  );
}

/** Options of {@link readEventFile}. */
export interface ReadEventFileOptions {
  /** Named in error messages and data. */
  file?: string;
  /**
   * Stop quietly at an incomplete last record instead of throwing: a file that a training process is still
   * writing usually ends mid-record. CRC mismatches still throw.
   */
  allowPartialTail?: boolean;
}

/**
 * Decodes every record of an event file, checking both masked CRCs of each. Throws
 * ERR_MTRACK_FORMAT_INVALID (data: offset, reason) on a CRC mismatch, a truncated record or bad protobuf.
 *
 * @example
 * const events = readEventFile(fs.readFileSync(tb.path));
 * const losses = events.flatMap((e) => (e.summary ?? []).filter((v) => v.tag === "loss").map((v) => [e.step, v.scalar]));
 */
export function readEventFile(bytes: Uint8Array, options: ReadEventFileOptions = {}): DecodedEvent[] {
  const events: DecodedEvent[] = [];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let off = 0;
  while (off < bytes.length) {
    const fail = (reason: string): never => {
      throw formatError(reason, {
        ...(options.file === undefined ? {} : { file: options.file }),
        offset: off,
      });
    };
    if (off + 12 > bytes.length) {
      if (options.allowPartialTail === true) break;
      fail("truncated record header");
    }
    const len = view.getBigUint64(off, true);
    if (view.getUint32(off + 8, true) !== maskedCrc32c(bytes.subarray(off, off + 8))) {
      fail("length CRC mismatch");
    }
    if (len > BigInt(bytes.length - off - 16)) {
      if (options.allowPartialTail === true) break;
      fail("truncated record");
    }
    const n = Number(len);
    const data = bytes.subarray(off + 12, off + 12 + n);
    if (view.getUint32(off + 12 + n, true) !== maskedCrc32c(data)) fail("data CRC mismatch");
    events.push(decodeEvent(data, fail));
    off += 16 + n;
  }
  return events;
}
