/**
 * Flag parsing shared by the two stage programs: the seed's snake_case flags (`--n_samples 2000`),
 * typed and range-checked, with `--help` text generated from the same table.
 */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { MtrackError } from "../../errors.js";

/** How a flag's text becomes a value. */
export type FlagKind = "int" | "float" | "string" | "floatList" | "boolean";

/** One flag of a stage program. */
export interface FlagSpec {
  name: string;
  kind: FlagKind;
  help: string;
  /** Absent = required (unless `optional`). */
  default?: number | string | number[] | boolean;
  choices?: readonly string[];
  optional?: boolean;
}

/** Where a program writes. */
export interface Writer {
  write(text: string): unknown;
}

/** Parsed flag values by name, plus whether --help was asked for. */
export interface ParsedFlags {
  help: boolean;
  values: Record<string, number | string | number[] | boolean | undefined>;
}

function badFlag(flag: string, message: string, hint: string): MtrackError {
  return new MtrackError("ERR_MTRACK_INVALID_ARGUMENT", message, { data: { flag }, hint });
}

/**
 * Argparse's `nargs="+"` for list flags: `--sphere_radii 1 2 3` becomes `--sphere_radii=1,2,3`.
 * parseArgs has no multi-token values, so following non-flag tokens are folded in here.
 */
function foldListFlags(argv: readonly string[], specs: readonly FlagSpec[]): string[] {
  const lists = new Set(specs.filter((s) => s.kind === "floatList").map((s) => `--${s.name}`));
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i]!;
    if (!lists.has(token)) {
      out.push(token);
      continue;
    }
    const items: string[] = [];
    while (i + 1 < argv.length && !argv[i + 1]!.startsWith("--")) items.push(argv[++i]!);
    out.push(`${token}=${items.join(",")}`);
  }
  return out;
}

function convert(spec: FlagSpec, text: string): number | string | number[] {
  const flag = `--${spec.name}`;
  switch (spec.kind) {
    case "boolean":
      throw badFlag(flag, `${flag} takes no value, got '${text}'`, `Use ${flag} alone.`);
    case "string":
      if (spec.choices && !spec.choices.includes(text)) {
        throw badFlag(
          flag,
          `${flag} must be one of ${spec.choices.join(", ")}, got '${text}'`,
          `Use e.g. ${flag} ${spec.choices[0]}.`,
        );
      }
      return text;
    case "int": {
      if (!/^[+-]?\d+$/.test(text.trim()))
        throw badFlag(
          flag,
          `${flag} expects an integer, got '${text}'`,
          `Use e.g. ${flag} ${spec.default ?? 1}.`,
        );
      return Number(text);
    }
    case "float": {
      const v = Number(text);
      if (text.trim() === "" || !Number.isFinite(v)) {
        throw badFlag(
          flag,
          `${flag} expects a number, got '${text}'`,
          `Use e.g. ${flag} ${spec.default ?? 0.1}.`,
        );
      }
      return v;
    }
    case "floatList": {
      const parts = text.split(",").map((s) => s.trim());
      if (parts.length === 0 || parts.some((p) => p === "" || !Number.isFinite(Number(p)))) {
        throw badFlag(
          flag,
          `${flag} expects numbers, got '${text}'`,
          `Use e.g. ${flag} 1 2 (or ${flag} 1,2).`,
        );
      }
      return parts.map(Number);
    }
  }
}

/**
 * Parses argv against the flag table; throws ERR_MTRACK_INVALID_ARGUMENT for unknown flags, missing
 * required flags and malformed values.
 *
 * @example
 * parseFlags(["--n_samples", "500"], specs).values.n_samples // 500
 */
export function parseFlags(argv: readonly string[], specs: readonly FlagSpec[]): ParsedFlags {
  const options: Record<string, { type: "string" | "boolean"; short?: string }> = {
    help: { type: "boolean", short: "h" },
  };
  for (const s of specs) options[s.name] = { type: s.kind === "boolean" ? "boolean" : "string" };
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: foldListFlags(argv, specs), options, strict: true, allowPositionals: false });
  } catch (err) {
    throw badFlag(
      "",
      (err as Error).message.split("\n")[0] ?? "invalid arguments",
      "Run with --help to see the flags.",
    );
  }
  const raw = parsed.values as Record<string, string | boolean | undefined>;
  if (raw["help"]) return { help: true, values: {} };
  const values: ParsedFlags["values"] = {};
  for (const s of specs) {
    const text = raw[s.name];
    if (s.kind === "boolean") values[s.name] = text === true;
    else if (typeof text === "string") values[s.name] = convert(s, text);
    else if (s.default !== undefined) values[s.name] = s.default;
    else if (!s.optional)
      throw badFlag(`--${s.name}`, `--${s.name} is required`, "Run with --help to see the flags.");
  }
  return { help: false, values };
}

/** `--help` text: usage line, description, and one line per flag with its default. */
export function helpText(
  usage: string,
  description: string,
  specs: readonly FlagSpec[],
  examples: string[],
): string {
  const rows = specs.map((s) => {
    const def =
      s.default === undefined || s.kind === "boolean"
        ? s.optional
          ? ""
          : " (required)"
        : ` (default: ${Array.isArray(s.default) ? s.default.join(" ") : s.default})`;
    const choices = s.choices ? ` {${s.choices.join(",")}}` : "";
    return `  --${s.name}${choices}\n      ${s.help}${def}`;
  });
  return [
    `Usage: ${usage}`,
    "",
    description,
    "",
    "Flags:",
    ...rows,
    "  -h, --help\n      Show this help.",
    "",
    "Examples:",
    ...examples.map((e) => `  ${e}`),
    "",
  ].join("\n");
}

/** Prints an error the way the stage programs do (message, hint; no stack) and returns its exit code. */
export function reportError(err: unknown, stderr: Writer): number {
  if (err instanceof MtrackError) {
    stderr.write(`Error: ${err.message}\n`);
    if (err.hint) stderr.write(`Hint: ${err.hint}\n`);
    return err.exitCode;
  }
  stderr.write(`Error: ${err instanceof Error ? err.message : String(err)}\n`);
  return 1;
}

/** Writes a file atomically: a temp file in the same directory, then rename (parents are created). */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.tmp-${process.pid}`);
  try {
    fs.writeFileSync(tmp, data);
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
}

/** True when this module is the process's entry script (so `node file.ts` runs main). */
export function isEntryPoint(moduleUrl: string): boolean {
  const script = process.argv[1];
  if (!script) return false;
  try {
    return fs.realpathSync(fileURLToPath(moduleUrl)) === fs.realpathSync(script);
  } catch {
    return false;
  }
}
