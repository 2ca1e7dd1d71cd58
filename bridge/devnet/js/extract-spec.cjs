// Writes the Rococo Asset Hub chain spec (raw genesis with the runtime's :code) to a JSON file.
// The package ships the spec as a JS string export; Chopsticks wants a file.
const fs = require("fs");
const out = process.argv[2];
if (!out) { console.error("usage: extract-spec.cjs OUT.json"); process.exit(2); }
const { chainSpec } = require("@substrate/connect-known-chains/rococo_v2_2_asset_hub");
const spec = typeof chainSpec === "string" ? chainSpec : JSON.stringify(chainSpec);
JSON.parse(spec); // fail loudly on a broken package rather than on a broken chain
fs.writeFileSync(out, spec);
