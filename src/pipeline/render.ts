/**
 * The pipeline DAG as text for people and tools: an ordered list with edges, Graphviz dot, Mermaid.
 * Pure functions of the DAG, so `mtrack dag` only picks one and prints it.
 */
import type { Dag } from "./dag.js";

/** Edges as [upstream, downstream] pairs in execution order. */
export function dagEdges(dag: Dag): Array<[string, string]> {
  const edges: Array<[string, string]> = [];
  for (const stage of dag.order) {
    for (const up of dag.order)
      if (dag.upstream.get(stage.name)?.has(up.name)) edges.push([up.name, stage.name]);
  }
  return edges;
}

/**
 * Stages in execution order, each with the stages it reads from.
 *
 * @example
 * dagToText(dag) // → "1. prepare\n2. train  <- prepare\n"
 */
export function dagToText(dag: Dag): string {
  const width = String(dag.order.length).length;
  return dag.order
    .map((s, i) => {
      const ups = dag.order.filter((u) => dag.upstream.get(s.name)?.has(u.name)).map((u) => u.name);
      const n = String(i + 1).padStart(width);
      return `${n}. ${s.name}${ups.length > 0 ? `  <- ${ups.join(", ")}` : ""}\n`;
    })
    .join("");
}

const quote = (s: string) => JSON.stringify(s);

/**
 * Graphviz dot (`mtrack dag --dot | dot -Tpng > dag.png`).
 *
 * @example
 * dagToDot(dag) // → 'strict digraph {\n  "prepare";\n  "prepare" -> "train";\n}\n'
 */
export function dagToDot(dag: Dag): string {
  const lines = ["strict digraph {"];
  for (const s of dag.order) lines.push(`  ${quote(s.name)};`);
  for (const [a, b] of dagEdges(dag)) lines.push(`  ${quote(a)} -> ${quote(b)};`);
  lines.push("}");
  return `${lines.join("\n")}\n`;
}

/**
 * A Mermaid flowchart (paste into a Markdown file on GitHub).
 *
 * @example
 * dagToMermaid(dag) // → "flowchart TD\n  s0[\"prepare\"]\n  s1[\"train\"]\n  s0 --> s1\n"
 */
export function dagToMermaid(dag: Dag): string {
  // Stage names like `train@lr-0.1` are not valid Mermaid ids: use indexes, show names as labels.
  const id = new Map(dag.order.map((s, i) => [s.name, `s${i}`]));
  const lines = ["flowchart TD"];
  for (const s of dag.order) lines.push(`  ${id.get(s.name)}["${s.name.replace(/"/g, "#quot;")}"]`);
  for (const [a, b] of dagEdges(dag)) lines.push(`  ${id.get(a)} --> ${id.get(b)}`);
  return `${lines.join("\n")}\n`;
}
