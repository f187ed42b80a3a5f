// Builds the web UI (ui/) into dist/ui/. Placeholder until the UI lands: creates the folder only.
import * as fs from "node:fs";

fs.mkdirSync(new URL("../dist/ui/", import.meta.url), { recursive: true });
