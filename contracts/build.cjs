#!/usr/bin/env node
// Compile contracts/src/**/*.sol with the pinned solc-js and write contracts/artifacts/<Contract>.json.
//
//   node contracts/build.cjs           compile and (re)write the artifacts
//   node contracts/build.cjs --check   compile in memory; exit 1 if the committed artifacts differ (CI)
//   --no-cache                         ignore the compiler-output cache (see below)
//
// solc is deterministic, so the compiler's output is cached under the OS temp directory, keyed by the SHA-256 of
// the exact standard-JSON input and the compiler version: an unchanged tree is checked in a fraction of a second
// instead of ~10 s (via-IR). Any change to a source or a setting is a different key and compiles afresh.
//
// Output is deterministic: no timestamps or absolute paths, sources listed in sorted order, JSON keys sorted,
// two-space indentation and a final newline. Settings below are pinned; changing them changes the artifacts.
"use strict";

const fs = require("fs");
const path = require("path");
const crypto = require("crypto");
const os = require("os");

const SOLC_VERSION = "0.8.30+commit.73712a01.Emscripten.clang";
const CONTRACTS_DIR = __dirname;
const SRC_DIR = path.join(CONTRACTS_DIR, "src");
const ARTIFACTS_DIR = path.join(CONTRACTS_DIR, "artifacts");
const BUILD_INFO = "build-info.json";

const SETTINGS = {
  evmVersion: "prague",
  optimizer: { enabled: true, runs: 4294967295 },
  viaIR: true,
  metadata: { bytecodeHash: "ipfs", appendCBOR: true },
  outputSelection: {
    "*": { "": ["ast"], "*": ["abi", "devdoc", "userdoc", "evm.bytecode.object", "evm.deployedBytecode.object"] },
  },
};

function listSources(dir) {
  const out = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...listSources(full));
    else if (entry.name.endsWith(".sol")) out.push(full);
  }
  return out;
}

// Recursively sort object keys (arrays keep their order) so the JSON text is stable.
function canonical(value) {
  if (Array.isArray(value)) return value.map(canonical);
  if (value && typeof value === "object") {
    const sorted = {};
    for (const key of Object.keys(value).sort()) sorted[key] = canonical(value[key]);
    return sorted;
  }
  return value;
}

function render(value) {
  return JSON.stringify(canonical(value), null, 2) + "\n";
}

function compileCached(solc, input) {
  const useCache = !process.argv.includes("--no-cache");
  const key = crypto.createHash("sha256").update(SOLC_VERSION).update("\0").update(input).digest("hex");
  const cacheFile = path.join(os.tmpdir(), "phala-bridge-solc-cache", `${key}.json`);
  if (useCache && fs.existsSync(cacheFile)) return fs.readFileSync(cacheFile, "utf8");
  const refuseImport = (p) => ({ error: `import outside contracts/src is not allowed: ${p}` });
  const output = solc.compile(input, { import: refuseImport });
  const parsed = JSON.parse(output);
  if (useCache && !(parsed.errors || []).some((e) => e.severity === "error")) {
    fs.mkdirSync(path.dirname(cacheFile), { recursive: true });
    const tmp = `${cacheFile}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, output);
    fs.renameSync(tmp, cacheFile); // atomic: a concurrent reader never sees half a file
  }
  return output;
}

function compile() {
  const solc = require("solc");
  if (solc.version() !== SOLC_VERSION) {
    throw new Error(`solc-js ${solc.version()} found, ${SOLC_VERSION} pinned: run \`npm ci\``);
  }
  const files = listSources(SRC_DIR).sort();
  const sources = {};
  const sourceHashes = {};
  for (const file of files) {
    const name = path.relative(CONTRACTS_DIR, file).split(path.sep).join("/"); // e.g. src/Bridge.sol
    const content = fs.readFileSync(file, "utf8");
    sources[name] = { content };
    sourceHashes[name] = "sha256:" + crypto.createHash("sha256").update(content).digest("hex");
  }
  const input = JSON.stringify({ language: "Solidity", sources, settings: SETTINGS });
  const output = JSON.parse(compileCached(solc, input));
  const problems = output.errors || [];
  for (const p of problems) process.stderr.write(p.formattedMessage || p.message);
  if (problems.some((p) => p.severity === "error")) throw new Error("compilation failed");
  if (problems.length) throw new Error("compilation produced warnings; fix them (the build is warning-free)");

  // contractKind from the AST: only deployable contracts get an artifact (interfaces and abstract contracts have
  // no code; internal libraries are inlined into the contracts that use them).
  const kinds = {};
  for (const sourceName of Object.keys(output.sources)) {
    for (const node of output.sources[sourceName].ast.nodes) {
      if (node.nodeType === "ContractDefinition") kinds[`${sourceName}:${node.name}`] = node.abstract ? "abstract" : node.contractKind;
    }
  }
  const artifacts = {};
  for (const sourceName of Object.keys(output.contracts).sort()) {
    for (const contractName of Object.keys(output.contracts[sourceName]).sort()) {
      const c = output.contracts[sourceName][contractName];
      const bytecode = c.evm.bytecode.object;
      const deployed = c.evm.deployedBytecode.object;
      if (kinds[`${sourceName}:${contractName}`] !== "contract") continue;
      if (artifacts[contractName]) throw new Error(`two contracts named ${contractName}`);
      artifacts[contractName] = render({
        contractName,
        sourceName,
        abi: c.abi,
        bytecode: "0x" + bytecode,
        deployedBytecode: "0x" + deployed,
        devdoc: c.devdoc,
        userdoc: c.userdoc,
        compiler: {
          version: SOLC_VERSION,
          settings: { evmVersion: SETTINGS.evmVersion, optimizer: SETTINGS.optimizer, viaIR: SETTINGS.viaIR },
        },
      });
      const size = deployed.length / 2;
      if (size > 24576) throw new Error(`${contractName} is ${size} bytes, over the EIP-170 limit of 24576`);
    }
  }
  artifacts[BUILD_INFO.replace(/\.json$/, "")] = render({
    compiler: SOLC_VERSION,
    settings: SETTINGS,
    sources: sourceHashes,
    contracts: Object.keys(artifacts).sort(),
  });
  return artifacts;
}

function main() {
  const check = process.argv.includes("--check");
  let artifacts;
  try {
    artifacts = compile();
  } catch (err) {
    process.stderr.write(`build.cjs: ${err.message}\n`);
    process.exit(2);
  }
  const wanted = new Map(Object.entries(artifacts).map(([name, text]) => [`${name}.json`, text]));
  const present = fs.existsSync(ARTIFACTS_DIR) ? fs.readdirSync(ARTIFACTS_DIR).filter((f) => f.endsWith(".json")) : [];
  if (check) {
    const stale = [];
    for (const [file, text] of wanted) {
      const full = path.join(ARTIFACTS_DIR, file);
      if (!fs.existsSync(full)) stale.push(`missing: contracts/artifacts/${file}`);
      else if (fs.readFileSync(full, "utf8") !== text) stale.push(`differs: contracts/artifacts/${file}`);
    }
    for (const file of present) if (!wanted.has(file)) stale.push(`not produced by the build: contracts/artifacts/${file}`);
    if (stale.length) {
      process.stderr.write(
        "build.cjs --check: the committed artifacts do not match a fresh build of contracts/src:\n  " +
          stale.join("\n  ") +
          "\nRun `node contracts/build.cjs` and commit contracts/artifacts.\n",
      );
      process.exit(1);
    }
    process.stdout.write(`build.cjs --check: ${wanted.size} artifacts match a fresh build (solc ${SOLC_VERSION})\n`);
    return;
  }
  fs.mkdirSync(ARTIFACTS_DIR, { recursive: true });
  for (const file of present) if (!wanted.has(file)) fs.unlinkSync(path.join(ARTIFACTS_DIR, file));
  for (const [file, text] of wanted) fs.writeFileSync(path.join(ARTIFACTS_DIR, file), text);
  process.stdout.write(`build.cjs: wrote ${wanted.size} artifacts to contracts/artifacts (solc ${SOLC_VERSION})\n`);
}

main();
