/**
 * A fast path for the params and metrics files `exp show` reads by the thousand: most are block mappings
 * of plain keys and numbers, booleans or simple words (`lr: 0.1`, `train:\n  epochs: 10`), or JSON.
 * {@link parseSimple} reads exactly that subset and gives up (undefined) on anything else, which the
 * full YAML parser then reads: quotes, flow collections, sequences, anchors, tags, block scalars, tabs,
 * duplicate keys, numbers the YAML 1.2 core schema could read otherwise (`+1`, `007`, `0x1f`, `.inf`).
 * Where it answers, the answer is the `yaml` package's (test/unit/experiments/simple-yaml.test.ts
 * compares them).
 */

type Mapping = Record<string, unknown>;

const KEY_LINE = /^( *)([A-Za-z_][A-Za-z0-9_.-]*):(?: +(.*?))? *$/;
const INT = /^-?(?:0|[1-9][0-9]*)$/;
const FLOAT = /^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?$/;
const WORD = /^[A-Za-z_/][A-Za-z0-9_./-]*$/;
const NULLS = new Set(["~", "null", "Null", "NULL"]);
const BOOLS: Record<string, boolean> = {
  true: true,
  True: true,
  TRUE: true,
  false: false,
  False: false,
  FALSE: false,
};
/** Words the core schema reads as something other than a string. */
const SPECIAL = /^(?:\.(?:inf|Inf|INF|nan|NaN|NAN))$/;

const GIVE_UP = Symbol("give up");

function scalar(text: string): unknown {
  if (NULLS.has(text)) return null;
  if (text in BOOLS) return BOOLS[text];
  if (INT.test(text)) {
    const n = Number(text);
    return Number.isSafeInteger(n) ? n : GIVE_UP;
  }
  if (FLOAT.test(text)) {
    const n = Number(text);
    return Number.isFinite(n) ? n : GIVE_UP;
  }
  if (WORD.test(text) && !SPECIAL.test(text)) return text;
  return GIVE_UP;
}

/** A value after `key:` without a comment; GIVE_UP when it could be anything but a plain scalar. */
function lineValue(raw: string): unknown {
  let text = raw;
  const hash = text.indexOf(" #");
  if (hash >= 0) text = text.slice(0, hash).trimEnd();
  if (text.includes("#")) return GIVE_UP;
  return scalar(text);
}

/** A block mapping of plain scalars, or undefined when the text is anything else. */
function parseBlock(text: string): Mapping | undefined {
  if (text.includes("\t") || text.includes("\r")) return undefined;
  const root: Mapping = {};
  // The open mappings, innermost last, with the indentation of their keys (-1: not known yet).
  const stack: Array<{ indent: number; map: Mapping }> = [{ indent: 0, map: root }];
  let pending: { key: string; parent: Mapping; indent: number } | null = null;
  for (const line of text.split("\n")) {
    if (line.trim() === "" || /^ *#/.test(line)) continue;
    if (line === "---" || line === "...") return undefined;
    const m = KEY_LINE.exec(line);
    if (!m) return undefined;
    const indent = m[1]!.length;
    const key = m[2]!;
    const raw = m[3];
    if (pending) {
      if (indent > pending.indent) {
        const child: Mapping = {};
        pending.parent[pending.key] = child;
        stack.push({ indent, map: child });
      } else pending.parent[pending.key] = null;
      pending = null;
    }
    while (stack.length > 1 && indent < stack[stack.length - 1]!.indent) stack.pop();
    const top = stack[stack.length - 1]!;
    if (indent !== top.indent) return undefined;
    if (Object.hasOwn(top.map, key) || NULLS.has(key) || key in BOOLS) return undefined;
    if (raw === undefined || raw === "" || raw.startsWith("#")) {
      top.map[key] = null;
      pending = { key, parent: top.map, indent };
      continue;
    }
    const v = lineValue(raw);
    if (v === GIVE_UP) return undefined;
    top.map[key] = v;
  }
  return root;
}

/**
 * The values of a params or metrics file's text when it is JSON (an object) or a block mapping of plain
 * scalars; undefined for anything else (then parse it with the full parser).
 *
 * @example
 * parseSimple("lr: 0.1\ntrain:\n  epochs: 3\n"); // { lr: 0.1, train: { epochs: 3 } }
 * parseSimple('{"acc": 0.9}'); // { acc: 0.9 }
 * parseSimple("lr: '0.1'\n"); // undefined
 */
export function parseSimple(text: string): Mapping | undefined {
  const t = text.trimStart();
  if (t.startsWith("{")) {
    try {
      const v: unknown = JSON.parse(text);
      if (typeof v !== "object" || v === null || Array.isArray(v)) return undefined;
      // Duplicate keys: JSON.parse keeps the last, YAML refuses them. Rare enough to leave to YAML.
      return hasDuplicateKeys(t) ? undefined : (v as Mapping);
    } catch {
      return undefined;
    }
  }
  return parseBlock(text);
}

/** Whether an object literal repeats a key in one object, approximately: any key string seen twice at the same depth. */
function hasDuplicateKeys(json: string): boolean {
  const seen: Array<Set<string>> = [new Set()];
  const re = /"((?:[^"\\]|\\.)*)"\s*(:)?|[{}[\]]/g;
  for (let m = re.exec(json); m; m = re.exec(json)) {
    const tok = m[0];
    if (tok === "{" || tok === "[") seen.push(new Set());
    else if (tok === "}" || tok === "]") seen.pop();
    else if (m[2]) {
      const keys = seen[seen.length - 1];
      if (!keys) return true;
      if (keys.has(m[1]!)) return true;
      keys.add(m[1]!);
    }
  }
  return false;
}
