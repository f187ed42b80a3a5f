/**
 * A real S3 server for tests: SeaweedFS's `weed server -s3` (installed by scripts/test-setup.sh into
 * .venv-test) on 127.0.0.1 with free ports, its data in a temp dir. Tests skip S3 cases when the binary
 * is not installed (they say so).
 */
import { type ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { packageRoot } from "../../helpers/cli.js";
import { makeTempDir, removeTempDir } from "../../helpers/tmp.js";

/** Path of the weed binary, or undefined when it is not installed. */
export function weedBinary(): string | undefined {
  const candidates = [process.env.MTRACK_TEST_WEED, path.join(packageRoot(), ".venv-test", "bin", "weed")];
  return candidates.find((c): c is string => !!c && fs.existsSync(c));
}

/** A free TCP port on 127.0.0.1 (and its +10000 gRPC twin is left to weed's explicit flags). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

export interface Weed {
  endpoint: string;
  /** Creates a bucket (names: lowercase, 3+ chars). */
  createBucket(name: string): Promise<void>;
  client: S3Client;
  stop(): Promise<void>;
}

/** Test credentials: weed without an IAM config accepts any. */
export const S3_ENV = {
  AWS_ACCESS_KEY_ID: "mtrack-test",
  AWS_SECRET_ACCESS_KEY: "mtrack-test-secret",
  AWS_REGION: "us-east-1",
};

/**
 * Starts weed and waits until its S3 port answers (about 3 s). A weed that exits while starting (a port
 * taken between our probe and its bind) is started again on fresh ports, up to three times.
 *
 * @example
 * const weed = await startWeed(); try { ... } finally { await weed.stop(); }
 */
export async function startWeed(): Promise<Weed> {
  const bin = weedBinary();
  if (!bin) throw new Error("weed is not installed (run scripts/test-setup.sh)");
  for (let attempt = 1; ; attempt++) {
    try {
      return await startWeedOnce(bin);
    } catch (err) {
      if (!(err instanceof WeedExited) || attempt >= 3) throw err;
    }
  }
}

class WeedExited extends Error {}

/**
 * weed binds unix sockets named by port (/tmp/seaweedfs-<service>-<port>.sock, whatever TMPDIR says) and
 * a killed weed leaves them behind; a later weed given the same port then fails to start. Our ports are
 * free, so any socket named by one is stale.
 */
function removeSockets(ports: readonly number[]): void {
  const names = new Set(ports.map(String));
  let entries: string[];
  try {
    entries = fs.readdirSync("/tmp");
  } catch {
    return;
  }
  for (const name of entries) {
    const m = /^seaweedfs-[a-z0-9-]+-(\d+)\.sock$/.exec(name);
    if (m && names.has(m[1] as string)) fs.rmSync(path.join("/tmp", name), { force: true });
  }
}

async function startWeedOnce(bin: string): Promise<Weed> {
  const dir = makeTempDir();
  const ports = await Promise.all(Array.from({ length: 8 }, () => freePort()));
  const [master, masterGrpc, volume, volumeGrpc, filer, filerGrpc, s3, s3Grpc] = ports as [
    number,
    number,
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  removeSockets(ports);
  const child: ChildProcess = spawn(
    bin,
    [
      "server",
      "-s3",
      "-filer",
      "-ip=127.0.0.1",
      "-ip.bind=127.0.0.1",
      `-dir=${dir}`,
      `-master.port=${master}`,
      `-master.port.grpc=${masterGrpc}`,
      `-volume.port=${volume}`,
      `-volume.port.grpc=${volumeGrpc}`,
      `-filer.port=${filer}`,
      `-filer.port.grpc=${filerGrpc}`,
      `-s3.port=${s3}`,
      `-s3.port.grpc=${s3Grpc}`,
      "-s3.port.iceberg=0",
      "-s3.port.lance=0",
      "-master.volumeSizeLimitMB=64",
      "-volume.max=0",
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  let log = "";
  child.stderr?.on("data", (b: Buffer) => {
    log = (log + b.toString()).slice(-4000);
  });
  const endpoint = `http://127.0.0.1:${s3}`;
  const client = new S3Client({
    endpoint,
    region: "us-east-1",
    forcePathStyle: true,
    credentials: { accessKeyId: S3_ENV.AWS_ACCESS_KEY_ID, secretAccessKey: S3_ENV.AWS_SECRET_ACCESS_KEY },
  });
  const stop = async () => {
    client.destroy();
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGKILL");
      await new Promise((r) => child.once("exit", r));
    }
    removeTempDir(dir);
    removeSockets(ports);
  };
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      const res = await fetch(`${endpoint}/`);
      // Any S3 answer (even 403) means the gateway is up; wait for the filer behind it too.
      if (res.status < 500) {
        await client.send(new CreateBucketCommand({ Bucket: "mtrack-probe" }));
        break;
      }
    } catch {
      // not up yet
    }
    if (child.exitCode !== null || Date.now() > deadline) {
      const exited = child.exitCode !== null;
      await stop();
      const why = exited ? `exited with code ${child.exitCode}` : "did not answer within 30 s";
      throw new (exited ? WeedExited : Error)(`weed ${why}: ${log}`);
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  return {
    endpoint,
    client,
    createBucket: async (name) => {
      await client.send(new CreateBucketCommand({ Bucket: name }));
    },
    stop,
  };
}
