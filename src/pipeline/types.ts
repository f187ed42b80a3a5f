/**
 * Data types shared by the pipeline modules: the parsed pipeline (after templating and foreach/matrix
 * expansion), its stages, and the positions that let every error point at `pipeline.yaml:12:5`.
 */

/** A place in a source file; line and column are 1-based. */
export interface SourcePos {
  file: string;
  line: number;
  column: number;
}

/** Which list of the stage an output was declared in. */
export type OutKind = "outs" | "metrics" | "plots";

/** One output of a stage. `path` is relative to the pipeline file's folder, POSIX separators. */
export interface OutSpec {
  path: string;
  kind: OutKind;
  /** false: hashed and recorded in the lock, but not saved into the store (metrics default to git). */
  cache: boolean;
  /** true: not removed before the stage runs. */
  persist: boolean;
  desc?: string;
  /** Any other DVC option (remote, push, plot options...), kept verbatim. */
  options: Record<string, unknown>;
  pos: SourcePos;
}

/** One dependency path, relative to the pipeline file's folder. */
export interface DepSpec {
  path: string;
  pos: SourcePos;
}

/**
 * A parameter the stage depends on: `key` (dotted, may name a subtree) in params file `file` (relative to
 * the pipeline file's folder); `key === null` means every key of that file.
 */
export interface ParamRef {
  file: string;
  key: string | null;
  /** "declared" in `params:`, or "interpolated" because `${...}` read it from a params file. */
  via: "declared" | "interpolated";
  pos: SourcePos;
  /** Where the params file was named, when that differs from `pos` (`{other.yaml: [keys]}`). */
  filePos?: SourcePos;
}

/** A fully resolved stage: templating applied, foreach/matrix expanded. */
export interface Stage {
  /** Unique name; generated stages are `name@key`. */
  name: string;
  /** One shell command, or several run in order (stopping at the first failure), as in dvc.yaml. */
  cmd: string | string[];
  /** Working directory relative to the pipeline file's folder ("." by default). */
  wdir: string;
  deps: DepSpec[];
  params: ParamRef[];
  /** outs, metrics and plots together, in declaration order. */
  outs: OutSpec[];
  desc?: string;
  frozen: boolean;
  alwaysChanged: boolean;
  meta?: unknown;
  pos: SourcePos;
}

/** A parsed pipeline file. */
export interface Pipeline {
  /** The pipeline file's name as given to the parser (used in messages and as a repro target). */
  file: string;
  /** Stages in file order (generated ones in generation order). */
  stages: Stage[];
}
