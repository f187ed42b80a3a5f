// The entry scripts/build-cli.mjs bundles as dist/bundle/run.js: the oclif runner, sharing its chunk of
// @oclif/core with the bundled commands.
export { execute } from "@oclif/core";
