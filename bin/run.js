#!/usr/bin/env node
// The mtrack CLI entry point. oclif reads oclif.manifest.json so `mtrack --help` does not load every command.
import { execute } from "@oclif/core";

await execute({ dir: import.meta.url });
