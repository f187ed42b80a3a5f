/**
 * The run endpoints that add to a run beyond metrics and params: tags on runs that have ended
 * (set-tag, log-batch with only tags, delete-tag, a rename), dataset and model inputs (log-inputs) and
 * model outputs (runs/outputs, the client's log_outputs). A run still in its log takes tags there; once
 * it has ended (sealed or not) they become annotations beside it (src/tracking/annotations.ts), merged
 * into every read. Inputs and outputs are always annotations, so they look the same however late they
 * are logged.
 */
import { isMtrackError } from "../../errors.js";
import { type AnnotationChange, annotateRun } from "../../tracking/annotations.js";
import { MlflowApiError } from "./errors.js";
import { datasetInputs, type Message, modelRefs, runIdField, stringField } from "./wire.js";

/** What can take tags while a run is live: an owned `Run` or another process's `LiveRun`. */
export interface TagWriter {
  setTags(tags: Record<string, string>): void;
  deleteTags(keys: string[]): void;
}

/** What the annotation endpoints need from the service. */
export interface MlflowAnnotationsContext {
  /** The tracking dir. */
  dir: string;
  /** Unix ms clock. */
  clock: () => number;
  /** Called after every annotation (the service forgets its cached runs listing). */
  changed: () => void;
  /**
   * The full id of a run that exists and is not deleted: RESOURCE_DOES_NOT_EXIST for an unknown run,
   * INVALID_PARAMETER_VALUE for a deleted one (MLflow's "must be in the 'active' state").
   */
  activeRun: (runId: string) => string;
  /** The run's live writer; throws ERR_MTRACK_RUN_NOT_ACTIVE once the run has ended. */
  writer: (runId: string) => TagWriter;
  /** The run's tags as every read shows them (annotations merged). */
  tags: (runId: string) => Record<string, string>;
}

/**
 * Tags, inputs and outputs of runs, live or ended.
 *
 * @example
 * const a = new MlflowRunAnnotations(ctx);
 * a.setTags(endedRunId, { "mlflow.note.content": "baseline" }); // an annotation: the run stays sealed
 */
export class MlflowRunAnnotations {
  readonly #ctx: MlflowAnnotationsContext;

  constructor(ctx: MlflowAnnotationsContext) {
    this.#ctx = ctx;
  }

  /** Writes a tag change to the live run, or as an annotation when the run can no longer take writes. */
  #tag(runId: string, change: Pick<AnnotationChange, "tags" | "deleteTags">): void {
    const id = this.#ctx.activeRun(runId);
    try {
      const w = this.#ctx.writer(id);
      if (change.tags !== undefined) w.setTags(change.tags);
      if (change.deleteTags !== undefined) w.deleteTags(change.deleteTags);
      return;
    } catch (err) {
      if (!isMtrackError(err, "ERR_MTRACK_RUN_NOT_ACTIVE")) throw err;
    }
    this.#annotate(id, change);
  }

  #annotate(id: string, change: AnnotationChange): void {
    annotateRun(this.#ctx.dir, id, change, { clock: this.#ctx.clock });
    this.#ctx.changed();
  }

  /** Sets tags of any run that is not deleted (runs/set-tag, a log-batch of tags only). */
  setTags(runId: string, tags: Record<string, string>): void {
    this.#tag(runId, { tags });
  }

  /** runs/delete-tag → `{}`; RESOURCE_DOES_NOT_EXIST when the run has no such tag. */
  deleteTag(msg: Message): Message {
    const runId = runIdField(msg);
    const key = stringField(msg, "key", true);
    const id = this.#ctx.activeRun(runId);
    if (!Object.hasOwn(this.#ctx.tags(id), key)) {
      throw new MlflowApiError("RESOURCE_DOES_NOT_EXIST", `No tag with name: ${key} in run with id ${id}`);
    }
    this.#tag(id, { deleteTags: [key] });
    return {};
  }

  /** runs/log-inputs → `{}`: dataset inputs (with their input tags) and model inputs of a run. */
  logInputs(msg: Message): Message {
    const id = this.#ctx.activeRun(runIdField(msg));
    const datasets = datasetInputs(msg);
    const models = modelRefs(msg).map((m) => ({ modelId: m.modelId }));
    if (datasets.length > 0 || models.length > 0) {
      this.#annotate(id, {
        ...(datasets.length > 0 ? { datasets } : {}),
        ...(models.length > 0 ? { modelInputs: models } : {}),
      });
    }
    return {};
  }

  /** runs/outputs (the client's log_outputs) → `{}`: links a run to the models it produced. */
  logOutputs(msg: Message): Message {
    const id = this.#ctx.activeRun(runIdField(msg));
    const models = modelRefs(msg);
    if (models.length > 0) this.#annotate(id, { modelOutputs: models });
    return {};
  }
}
