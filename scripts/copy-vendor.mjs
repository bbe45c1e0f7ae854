// Copies the pinned front-end files from node_modules to where they are served or used (all ignored by git):
// htmx into static/vendor/, and the test-only axe-core into tests/e2e/vendor/ for the browser tests.
import { copyFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

const files = [
  ["htmx.org/dist/htmx.min.js", "static/vendor/htmx.min.js"],
  ["axe-core/axe.min.js", "tests/e2e/vendor/axe.min.js"],
];
for (const [from, to] of files) {
  const target = join(root, to);
  mkdirSync(dirname(target), { recursive: true });
  copyFileSync(join(root, "node_modules", from), target);
  console.log(to);
}
