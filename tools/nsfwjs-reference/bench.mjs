#!/usr/bin/env node
// Benchmark of the real nsfwjs@4.4.0 under tfjs (cpu or wasm backend) in Node.
//
//   node bench.mjs --model mobilenet_v2 --backend wasm --repeat 3 --batch 32 --out OUT.json FILE.png...
//
// Measures
//   * model load time (nsfwjs.load, which includes nsfwjs's own warm-up predict on zeros);
//   * single image: nsfwjs.classify(int32 tensor3d) per file, after a warm-up, every file
//     `repeat` times; median / mean / p90 ms;
//   * batch: `batch` images (files reused cyclically if fewer) preprocessed exactly like
//     NSFWJS.infer (toFloat, div 255, resizeBilinear alignCorners=true when not size x size),
//     stacked to [batch, size, size, 3] and run through the underlying `model.model.predict`;
//     median over `repeat` runs of ms per image (total, and predict only).
// PNG decoding is done up front and is not timed. Parity and benchmarks only.

import { writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import process from "node:process";

import {
  consoleToStderr,
  decodePng,
  loadNsfwjs,
  log,
  nodeInfo,
  parseArgs,
  pixelsToTensor,
  setupBackend,
} from "./reference.mjs";

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  if (n === 0) return null;
  return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

function quantile(xs, q) {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return null;
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
}

const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
const round = (x, d = 3) => (x == null ? null : Number(x.toFixed(d)));

/** The same steps as NSFWJS.infer, for a batch: returns [n, size, size, 3] float32. */
function preprocessBatch(tf, nsfw, tensors) {
  const size = nsfw.options.size;
  return tf.tidy(() =>
    tf.stack(
      tensors.map((img) => {
        const normalized = img.toFloat().div(nsfw.normalizationOffset);
        if (img.shape[0] !== size || img.shape[1] !== size) {
          return tf.image.resizeBilinear(normalized, [size, size], true);
        }
        return normalized;
      }),
    ),
  );
}

async function main() {
  consoleToStderr();
  const { opts, files } = parseArgs(process.argv.slice(2), {
    model: "mobilenet_v2",
    backend: "wasm",
    repeat: "3",
    batch: "32",
    warmup: "3",
    out: null,
    threads: null,
  });
  if (!opts.out || files.length === 0) {
    log(
      "usage: node bench.mjs --model mobilenet_v2|inception_v3 --backend cpu|wasm --repeat N " +
        "--batch 32 --out OUT.json FILE.png...",
    );
    process.exit(2);
  }
  const repeat = Math.max(1, parseInt(opts.repeat, 10));
  const batch = Math.max(1, parseInt(opts.batch, 10));
  const warmup = Math.max(1, parseInt(opts.warmup, 10));
  const tStart = performance.now();

  const tBackend = performance.now();
  const { tf, info } = await setupBackend(opts.backend, { threads: opts.threads });
  const backendMs = performance.now() - tBackend;
  log(
    `tfjs ${info.tfjs} backend=${info.active}` +
      (info.wasm_binary ? ` (${info.wasm_binary}, threads=${info.threads})` : "") +
      `, node ${process.version}, ${os.cpus().length} CPUs`,
  );

  const tLoad = performance.now();
  const nsfw = await loadNsfwjs(opts.model);
  const loadMs = performance.now() - tLoad;
  const size = nsfw.options.size;
  log(`model load ${loadMs.toFixed(0)} ms (backend init ${backendMs.toFixed(0)} ms)`);

  // Decode everything up front (not timed as part of inference).
  const tDecode = performance.now();
  const images = [];
  for (const file of files) images.push({ file, ...(await decodePng(file)) });
  const decodeMs = performance.now() - tDecode;
  const tensors = images.map((img) => pixelsToTensor(tf, img));

  // Warm-up: a few single images and one full batch (first-call kernel setup, allocations).
  for (let i = 0; i < warmup; i++) await nsfw.classify(tensors[i % tensors.length]);
  const batchInputs = Array.from({ length: batch }, (_, i) => tensors[i % tensors.length]);
  {
    const x = preprocessBatch(tf, nsfw, batchInputs);
    const y = nsfw.model.predict(x);
    await y.data();
    x.dispose();
    y.dispose();
  }

  // (a) single-image classify latency.
  const single = [];
  for (let r = 0; r < repeat; r++) {
    for (const t of tensors) {
      const t0 = performance.now();
      await nsfw.classify(t); // infer (preprocess + predict) + top-k on the downloaded data
      single.push(performance.now() - t0);
    }
    log(`single pass ${r + 1}/${repeat}: median ${median(single.slice(-tensors.length)).toFixed(1)} ms`);
  }

  // (b) batch throughput.
  const batchTotal = [];
  const batchPredict = [];
  const batchPre = [];
  for (let r = 0; r < repeat; r++) {
    const t0 = performance.now();
    const x = preprocessBatch(tf, nsfw, batchInputs);
    const t1 = performance.now();
    const y = nsfw.model.predict(x);
    const out = await y.data();
    const t2 = performance.now();
    if (out.length !== batch * 5) throw new Error(`unexpected batch output size ${out.length}`);
    x.dispose();
    y.dispose();
    batchTotal.push((t2 - t0) / batch);
    batchPredict.push((t2 - t1) / batch);
    batchPre.push((t1 - t0) / batch);
    log(`batch ${r + 1}/${repeat}: ${((t2 - t0) / batch).toFixed(1)} ms/image (predict ${((t2 - t1) / batch).toFixed(1)})`);
  }

  for (const t of tensors) t.dispose();
  const result = {
    tool: "nsfwjs-reference/bench.mjs",
    nsfwjs: info.nsfwjs,
    tfjs: info.tfjs,
    tfjs_versions: info.tfjs_versions,
    backend_requested: opts.backend,
    backend: tf.getBackend(),
    wasm: info.wasm_binary
      ? {
          binary: info.wasm_binary,
          simd: info.simd,
          multithread_supported: info.multithread_supported,
          threads: info.threads,
        }
      : null,
    threads: info.threads,
    model: opts.model,
    size,
    ...nodeInfo(),
    cpus: os.cpus().length,
    cpu_model: os.cpus()[0]?.model ?? null,
    files: images.length,
    inputs: images.map((img) => `${path.basename(img.file)} ${img.width}x${img.height}`),
    repeat,
    warmup,
    load_ms: round(loadMs, 1),
    backend_init_ms: round(backendMs, 1),
    decode_ms_total: round(decodeMs, 1),
    single: {
      what: "nsfwjs.classify(int32 tensor3d [h,w,3]) per image: preprocess + predict + top-k",
      n: single.length,
      median_ms: round(median(single)),
      mean_ms: round(mean(single)),
      p90_ms: round(quantile(single, 0.9)),
      min_ms: round(Math.min(...single)),
    },
    batch: {
      what:
        `preprocess ${batch} images like NSFWJS.infer, then model.model.predict ` +
        `on [${batch},${size},${size},3]; ms per image, median over repeats`,
      batch_size: batch,
      median_ms_per_image: round(median(batchTotal)),
      median_predict_ms_per_image: round(median(batchPredict)),
      median_preprocess_ms_per_image: round(median(batchPre)),
      runs_ms_per_image: batchTotal.map((x) => round(x)),
    },
    wall_s: round((performance.now() - tStart) / 1000, 2),
  };
  writeFileSync(opts.out, JSON.stringify(result, null, 2) + "\n");
  log(
    `single ${result.single.median_ms} ms/image (median), batch ${batch}: ` +
      `${result.batch.median_ms_per_image} ms/image; wrote ${opts.out} (${result.wall_s} s)`,
  );
  nsfw.dispose();
}

main().catch((err) => {
  log(err && err.stack ? err.stack : String(err));
  process.exit(1);
});
