/**
 * Serving the engine's models over MLflow's scoring protocol (`mtrack models serve`), as a library.
 *
 * @example
 * import { loadPredictor, startScoringServer } from "mtrack/serving";
 * const predictor = await loadPredictor("results/model");
 * const server = await startScoringServer({ predictor, port: 5001 });
 * // curl -H 'Content-Type: application/json' -d '{"inputs": [[0.1, 0.2, 0.3]]}' localhost:5001/invocations
 */
export {
  INPUT_FORMATS,
  type InputProblem,
  type MediaType,
  parseCsvInput,
  parseJsonInput,
  parseMediaType,
  parseScoringRequest,
  SCORING_CONTENT_TYPES,
  type ScoringInput,
} from "./input.js";
export {
  ENGINE_FLAVOR,
  type LoadPredictorOptions,
  loadPredictor,
  type Predictor,
  type PredictorFs,
  readModelJson,
} from "./predictor.js";
export {
  createScoringHandler,
  DEFAULT_MAX_BODY_BYTES,
  type RunningScoringServer,
  type ScoringEvent,
  type ScoringServerOptions,
  startScoringServer,
} from "./server.js";
