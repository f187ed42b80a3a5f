import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { Config, configKeySpec, readConfigFile, setConfigValue } from "../../../src/config.js";
import { withTempDir } from "../../helpers/tmp.js";

const code = (c: string) => (err: unknown) => (err as { code?: string }).code === c;

test("defaults apply when nothing is set", () =>
  withTempDir((dir) => {
    const c = Config.load(dir);
    assert.equal(c.get("cache.type"), "copy");
    assert.equal(c.getNumber("cache.pack_threshold"), 262144);
    assert.equal(c.getBool("core.fsync"), false);
    assert.equal(c.get("core.remote"), undefined);
  }));

test("set, get and unset a key; values are parsed to their type", () =>
  withTempDir((dir) => {
    assert.equal(setConfigValue(dir, "cache.type", "hardlink"), "hardlink");
    assert.equal(setConfigValue(dir, "core.lock_timeout", "2.5"), 2.5);
    assert.equal(setConfigValue(dir, "core.fsync", "yes"), true);
    let c = Config.load(dir);
    assert.equal(c.get("cache.type"), "hardlink");
    assert.equal(c.getNumber("core.lock_timeout"), 2.5);
    assert.equal(c.getBool("core.fsync"), true);
    assert.deepEqual(readConfigFile(path.join(dir, "config.yaml")), {
      "cache.type": "hardlink",
      "core.lock_timeout": 2.5,
      "core.fsync": true,
    });
    setConfigValue(dir, "cache.type", undefined);
    c = Config.load(dir);
    assert.equal(c.get("cache.type"), "copy", "back to the default");
    assert.equal(c.getNumber("core.lock_timeout"), 2.5, "other keys kept");
  }));

test("local settings override the shared ones", () =>
  withTempDir((dir) => {
    setConfigValue(dir, "cache.type", "hardlink");
    setConfigValue(dir, "cache.type", "symlink", { scope: "local" });
    const c = Config.load(dir);
    assert.equal(c.get("cache.type"), "symlink");
    assert.deepEqual(
      c.entries().find((e) => e.key === "cache.type"),
      { key: "cache.type", value: "symlink", scope: "local" },
    );
    assert.equal(readConfigFile(path.join(dir, "config.yaml"))["cache.type"], "hardlink");
  }));

test("an unknown key is ERR_MTRACK_CONFIG_KEY_UNKNOWN and nothing is written", () =>
  withTempDir((dir) => {
    assert.throws(() => configKeySpec("cache.typo"), code("ERR_MTRACK_CONFIG_KEY_UNKNOWN"));
    assert.throws(() => setConfigValue(dir, "cache.typo", "x"), code("ERR_MTRACK_CONFIG_KEY_UNKNOWN"));
    assert.equal(fs.existsSync(path.join(dir, "config.yaml")), false);
  }));

test("an invalid value is ERR_MTRACK_CONFIG_INVALID and the old value stays", () =>
  withTempDir((dir) => {
    setConfigValue(dir, "cache.type", "hardlink");
    for (const [key, value] of [
      ["cache.type", "reflink-maybe"],
      ["cache.pack_threshold", "-1"],
      ["cache.pack_threshold", "1.5"],
      ["core.lock_timeout", "soon"],
      ["core.lock_timeout", "0"],
      ["core.fsync", "perhaps"],
    ] as const) {
      assert.throws(
        () => setConfigValue(dir, key, value),
        code("ERR_MTRACK_CONFIG_INVALID"),
        `${key}=${value}`,
      );
    }
    assert.equal(Config.load(dir).get("cache.type"), "hardlink");
  }));

test("a config file with broken YAML is ERR_MTRACK_CONFIG_INVALID naming file and line", () =>
  withTempDir((dir) => {
    const file = path.join(dir, "config.yaml");
    fs.writeFileSync(file, "cache:\n  type: copy\n  bad: : :\n");
    assert.throws(
      () => Config.load(dir),
      (err: { code?: string; data?: { file?: string; line?: number } }) =>
        err.code === "ERR_MTRACK_CONFIG_INVALID" && err.data?.file === file && err.data?.line === 3,
    );
  }));
