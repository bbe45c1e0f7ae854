// Copies the pinned front-end files from node_modules into static/vendor/ (ignored by git).
import { copyFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const vendor = join(root, "static", "vendor");
mkdirSync(vendor, { recursive: true });

const files = [
  ["htmx.org/dist/htmx.min.js", "htmx.min.js"],
];
for (const [from, to] of files) {
  copyFileSync(join(root, "node_modules", from), join(vendor, to));
  console.log(`static/vendor/${to}`);
}
