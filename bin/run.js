#!/usr/bin/env node
// The mtrack CLI entry point. oclif reads oclif.manifest.json so `mtrack --help` does not load every command,
// and runs the commands bundled by scripts/build-cli.mjs (dist/bundle), whose oclif this must be.
import { execute } from "../dist/bundle/run.js";

// mtrack supports Node 20: the AWS SDK's notice (when an S3 client is made) that its future releases will
// need Node 22 is no concern of the user's on every S3 command. A user who sets the variable keeps their choice.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

await execute({ dir: import.meta.url });
