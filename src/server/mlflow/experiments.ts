/**
 * The experiment endpoints that change experiments (create with tags, update = rename, delete, restore,
 * set-experiment-tag, delete-experiment-tag) over the tracking layer's experiment registry
 * (src/tracking/experiments.ts). Socket-free like the rest of the service: each method takes a request
 * message and returns the response message.
 */
import {
  createExperiment,
  deleteExperiment,
  deleteExperimentTag,
  renameExperiment,
  restoreExperiment,
  setExperimentTags,
} from "../../tracking/experiments.js";
import { keyValues, type Message, stringField } from "./wire.js";

/** What the experiment endpoints need from the service. */
export interface MlflowExperimentsContext {
  /** The tracking dir. */
  dir: string;
  /** Unix ms clock. */
  clock: () => number;
  /** Called after every change (the service forgets its cached runs listing). */
  changed: () => void;
}

/**
 * MLflow's experiment changes. Unknown ids answer RESOURCE_DOES_NOT_EXIST (404), a taken name
 * RESOURCE_ALREADY_EXISTS, changes to a deleted experiment INVALID_PARAMETER_VALUE.
 *
 * @example
 * const experiments = new MlflowExperiments({ dir, clock: Date.now, changed: () => {} });
 * const { experiment_id } = experiments.create({ name: "mnist", tags: [{ key: "team", value: "cv" }] });
 * experiments.update({ experiment_id, new_name: "mnist-v2" });
 */
export class MlflowExperiments {
  readonly #ctx: MlflowExperimentsContext;

  constructor(ctx: MlflowExperimentsContext) {
    this.#ctx = ctx;
  }

  #opts() {
    return { clock: this.#ctx.clock };
  }

  /** experiments/create → `{experiment_id}`; keeps the tags; RESOURCE_ALREADY_EXISTS for a taken name. */
  create(msg: Message): Message {
    const name = stringField(msg, "name", true);
    const tags: Record<string, string> = {};
    for (const t of keyValues(msg, "tags")) tags[t.key] = t.value;
    const exp = createExperiment(this.#ctx.dir, name, tags, this.#opts());
    this.#ctx.changed();
    return { experiment_id: exp.id };
  }

  /** experiments/update → `{}`: renames (`new_name`); the runs of the experiment show the new name. */
  update(msg: Message): Message {
    const id = stringField(msg, "experiment_id", true);
    const newName = stringField(msg, "new_name");
    if (newName !== undefined) renameExperiment(this.#ctx.dir, id, newName, this.#opts());
    this.#ctx.changed();
    return {};
  }

  /** experiments/delete → `{}`: lifecycle_stage `deleted`, its runs soft-deleted. */
  delete(msg: Message): Message {
    deleteExperiment(this.#ctx.dir, stringField(msg, "experiment_id", true), this.#opts());
    this.#ctx.changed();
    return {};
  }

  /** experiments/restore → `{}`: lifecycle_stage `active` again, its runs restored. */
  restore(msg: Message): Message {
    restoreExperiment(this.#ctx.dir, stringField(msg, "experiment_id", true), this.#opts());
    this.#ctx.changed();
    return {};
  }

  /** experiments/set-experiment-tag → `{}`. */
  setTag(msg: Message): Message {
    const id = stringField(msg, "experiment_id", true);
    const key = stringField(msg, "key", true);
    const raw = msg.value ?? "";
    setExperimentTags(
      this.#ctx.dir,
      id,
      { [key]: typeof raw === "string" ? raw : String(raw) },
      this.#opts(),
    );
    return {};
  }

  /** experiments/delete-experiment-tag → `{}`; RESOURCE_DOES_NOT_EXIST when the experiment has no such tag. */
  deleteTag(msg: Message): Message {
    const id = stringField(msg, "experiment_id", true);
    deleteExperimentTag(this.#ctx.dir, id, stringField(msg, "key", true), this.#opts());
    return {};
  }
}
