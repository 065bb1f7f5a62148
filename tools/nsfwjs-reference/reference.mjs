#!/usr/bin/env node
// Reference outputs of the real nsfwjs@4.4.0 for ContentGuard's Python/ONNX port.
//
//   node reference.mjs --model mobilenet_v2|inception_v3 --backend cpu|wasm --out OUT.json FILE.png...
//
// Each PNG is decoded with pngjs (pure JS), alpha is dropped, and the HxWx3 pixels are passed
// as an int32 tensor3d to nsfwjs's own NSFWJS.infer(), so nsfwjs does its own preprocessing
// (toFloat, div 255, resizeBilinear alignCorners=true when not size x size). Parity and
// benchmarks only: never on the serving path. No network access is needed: nsfwjs bundles
// its weights as JS modules and the wasm binaries are read from node_modules.
//
// bench.mjs imports the helpers exported here.

import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import process from "node:process";
import { fileURLToPath, pathToFileURL } from "node:url";

const require = createRequire(import.meta.url);
const HERE = path.dirname(fileURLToPath(import.meta.url));

export const CLASSES = ["drawing", "hentai", "neutral", "porn", "sexy"];
export const MODELS = {
  mobilenet_v2: { nsfwjsName: "MobileNetV2", options: undefined, size: 224 },
  inception_v3: { nsfwjsName: "InceptionV3", options: { size: 299 }, size: 299 },
};
export const BACKENDS = ["cpu", "wasm"];

export function log(...args) {
  process.stderr.write(args.join(" ") + "\n");
}

// tfjs and nsfwjs print banners with console.info/console.warn (to stdout for info).
// Send all console chatter to stderr so stdout stays clean.
export function consoleToStderr() {
  const toErr = (...a) => console.error(...a);
  console.log = toErr;
  console.info = toErr;
  console.warn = toErr;
  console.debug = toErr;
}

export function parseArgs(argv, spec) {
  // spec: {name: default}; flags take one value; everything else is a file.
  const opts = { ...spec };
  const files = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a.startsWith("--")) {
      const eq = a.indexOf("=");
      const key = (eq >= 0 ? a.slice(2, eq) : a.slice(2)).replace(/-/g, "_");
      if (!(key in spec)) throw new Error(`unknown option ${a}`);
      const value = eq >= 0 ? a.slice(eq + 1) : argv[++i];
      if (value === undefined) throw new Error(`option ${a} needs a value`);
      opts[key] = value;
    } else {
      files.push(a);
    }
  }
  return { opts, files };
}

function packageVersion(name) {
  // Walk up from the resolved entry point to the package's own package.json
  // (nsfwjs's "exports" map does not expose ./package.json).
  let dir = path.dirname(require.resolve(name));
  for (;;) {
    try {
      const pkg = JSON.parse(readFileSync(path.join(dir, "package.json"), "utf8"));
      if (pkg.name === name) return pkg.version;
    } catch {
      // no package.json here
    }
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`package.json of ${name} not found`);
    dir = up;
  }
}

/**
 * Import tfjs (+ wasm backend when asked), select the backend and check it is active.
 * Returns {tf, info} where info describes what is actually running.
 */
export async function setupBackend(backend, { threads } = {}) {
  if (!BACKENDS.includes(backend)) throw new Error(`--backend must be one of ${BACKENDS}`);
  const tf = await import("@tensorflow/tfjs");
  const info = { backend, threads: null, simd: null, wasm_binary: null };
  let wasm = null;
  if (backend === "wasm") {
    wasm = await import("@tensorflow/tfjs-backend-wasm");
    // Local directory prefix (with trailing separator): emscripten reads the binary with fs,
    // never over the network.
    const wasmDir = path.dirname(require.resolve("@tensorflow/tfjs-backend-wasm")) + path.sep;
    wasm.setWasmPaths(wasmDir);
    if (threads != null) wasm.setThreadsCount(Number(threads));
    info.wasm_dir = path.relative(HERE, wasmDir) + path.sep;
  }
  const ok = await tf.setBackend(backend);
  await tf.ready();
  if (!ok || tf.getBackend() !== backend) {
    throw new Error(`could not activate tfjs backend ${backend} (active: ${tf.getBackend()})`);
  }
  if (wasm) {
    info.simd = await tf.env().getAsync("WASM_HAS_SIMD_SUPPORT");
    info.multithread_supported = await tf.env().getAsync("WASM_HAS_MULTITHREAD_SUPPORT");
    info.threads = wasm.getThreadsCount();
    info.wasm_binary =
      info.simd && info.multithread_supported
        ? "tfjs-backend-wasm-threaded-simd.wasm"
        : info.simd
          ? "tfjs-backend-wasm-simd.wasm"
          : "tfjs-backend-wasm.wasm";
  }
  info.active = tf.getBackend();
  info.tfjs = tf.version.tfjs;
  info.tfjs_versions = { ...tf.version };
  if (wasm) info.tfjs_versions["tfjs-backend-wasm"] = wasm.version_wasm;
  info.nsfwjs = packageVersion("nsfwjs");
  return { tf, info };
}

/** nsfwjs.load() from the weights bundled in the package (no network). */
export async function loadNsfwjs(modelKey) {
  const spec = MODELS[modelKey];
  if (!spec) throw new Error(`--model must be one of ${Object.keys(MODELS)}`);
  const nsfwjs = await import("nsfwjs");
  const model = await nsfwjs.load(spec.nsfwjsName, spec.options);
  if (model.options.size !== spec.size) {
    throw new Error(`nsfwjs loaded ${modelKey} with size ${model.options.size}, expected ${spec.size}`);
  }
  return model;
}

/**
 * Decode a PNG with pngjs. Returns {width, height, rgb: Uint8Array (HWC, alpha dropped),
 * colorType, depth, alphaMin}. 16-bit PNGs are rejected (pngjs would rescale them).
 */
export async function decodePng(file) {
  const { PNG } = (await import("pngjs")).default;
  const png = PNG.sync.read(readFileSync(file));
  if (png.depth > 8) {
    throw new Error(`${file}: ${png.depth}-bit PNG not supported; write 8-bit RGB PNGs`);
  }
  const { width, height, data } = png; // data: RGBA, 8 bits per channel
  const rgb = new Uint8Array(width * height * 3);
  let alphaMin = 255;
  for (let i = 0, j = 0; i < data.length; i += 4, j += 3) {
    rgb[j] = data[i];
    rgb[j + 1] = data[i + 1];
    rgb[j + 2] = data[i + 2];
    if (data[i + 3] < alphaMin) alphaMin = data[i + 3];
  }
  return { width, height, rgb, colorType: png.colorType, depth: png.depth, alphaMin };
}

export function sha256Hex(bytes) {
  return createHash("sha256").update(bytes).digest("hex");
}

/** int32 tensor3d [h, w, 3], like tf.browser.fromPixels would give nsfwjs. */
export function pixelsToTensor(tf, img) {
  return tf.tensor3d(Int32Array.from(img.rgb), [img.height, img.width, 3], "int32");
}

export function nodeInfo() {
  return { node: process.version, platform: `${process.platform}-${process.arch}` };
}

async function main() {
  consoleToStderr();
  const { opts, files } = parseArgs(process.argv.slice(2), {
    model: "mobilenet_v2",
    backend: "cpu",
    out: null,
    threads: null,
  });
  if (!opts.out || files.length === 0) {
    log(
      "usage: node reference.mjs --model mobilenet_v2|inception_v3 --backend cpu|wasm " +
        "--out OUT.json FILE.png...",
    );
    process.exit(2);
  }
  const t0 = performance.now();
  const { tf, info } = await setupBackend(opts.backend, { threads: opts.threads });
  log(
    `tfjs ${info.tfjs} backend=${info.active}` +
      (info.wasm_binary ? ` (${info.wasm_binary}, threads=${info.threads})` : "") +
      `, nsfwjs ${info.nsfwjs}, node ${process.version}`,
  );
  const model = await loadNsfwjs(opts.model);
  const size = model.options.size;
  log(`loaded ${opts.model} (size ${size}) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

  const results = [];
  for (const [k, file] of files.entries()) {
    const t = performance.now();
    const img = await decodePng(file);
    if (img.alphaMin < 255) log(`  note: ${path.basename(file)} has alpha < 255; alpha is dropped`);
    const input = pixelsToTensor(tf, img);
    const logits = model.infer(input); // nsfwjs's own preprocessing + model.predict
    const probs = Array.from(await logits.data()); // float32 -> double exactly
    logits.dispose();
    input.dispose();
    if (probs.length !== CLASSES.length) throw new Error(`unexpected output size ${probs.length}`);
    results.push({
      file: path.basename(file),
      sha256: sha256Hex(img.rgb),
      width: img.width,
      height: img.height,
      probabilities: probs,
    });
    const top = probs.indexOf(Math.max(...probs));
    log(
      `[${k + 1}/${files.length}] ${path.basename(file)} ${img.width}x${img.height} ` +
        `${CLASSES[top]}=${probs[top].toFixed(4)} (${(performance.now() - t).toFixed(0)} ms)`,
    );
  }
  const leaked = tf.memory().numTensors;
  const out = {
    nsfwjs: info.nsfwjs,
    tfjs: info.tfjs,
    backend: info.active,
    model: opts.model,
    size,
    classes: CLASSES,
    node: process.version,
    results,
  };
  writeFileSync(opts.out, JSON.stringify(out, null, 1) + "\n");
  log(
    `wrote ${opts.out}: ${results.length} results in ` +
      `${((performance.now() - t0) / 1000).toFixed(1)} s (live tensors: ${leaked})`,
  );
  model.dispose();
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  main().catch((err) => {
    log(err && err.stack ? err.stack : String(err));
    process.exit(1);
  });
}
