#!/usr/bin/env node
// The mtrack CLI entry point. oclif reads oclif.manifest.json so `mtrack --help` does not load every command,
// and runs the commands bundled by scripts/build-cli.mjs (dist/bundle), whose oclif this must be.
import { execute } from "../dist/bundle/run.js";

await execute({ dir: import.meta.url });
