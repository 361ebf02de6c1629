// ONNX Runtime side of bench/compare: times inference of MODEL.onnx (npm onnxruntime-node,
// CPU, graph optimisations at their default level "all") on random data and prints one JSON
// line: median seconds per iteration, images per second, the process's peak RSS.
//
// Usage: node compare_ort.js MODEL.onnx --batch B --image-size HxW --threads T --iters N --warmup W
// The module is looked up in HONE_NODE_MODULES (scripts/install-deps' npm prefix) first.
'use strict';
const fs = require('fs');
const path = require('path');

function ortDir() {
  const dir = process.env.HONE_NODE_MODULES;
  if (dir && fs.existsSync(path.join(dir, 'onnxruntime-node'))) return path.join(dir, 'onnxruntime-node');
  return path.dirname(require.resolve('onnxruntime-node/package.json'));
}

function options(argv) {
  const o = {batch: 32, 'image-size': '224x224', threads: 2, iters: 10, warmup: 2};
  for (let i = 1; i < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, '');
    if (!(key in o) || i + 1 >= argv.length) throw new Error(`bad option ${argv[i]}`);
    o[key] = argv[i + 1];
  }
  const [h, w] = String(o['image-size']).split('x');
  return {model: argv[0], batch: +o.batch, h: +h, w: +(w || h), threads: +o.threads, iters: +o.iters,
          warmup: +o.warmup};
}

async function main() {
  const o = options(process.argv.slice(2));
  if (!o.model) throw new Error('usage: node compare_ort.js MODEL.onnx [--batch B] [--image-size HxW] ...');
  const ort = require(ortDir());
  const session = await ort.InferenceSession.create(o.model, {
    intraOpNumThreads: o.threads, interOpNumThreads: 1, executionMode: 'sequential',
    graphOptimizationLevel: 'all'});
  const n = o.batch * 3 * o.h * o.w;
  const data = new Float32Array(n);
  let s = 12345;  // a small LCG: uniform in [-1, 1]
  for (let i = 0; i < n; ++i) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    data[i] = s / 2147483648 - 1;
  }
  const feeds = {[session.inputNames[0]]: new ort.Tensor('float32', data, [o.batch, 3, o.h, o.w])};
  const seconds = [];
  for (let i = 0; i < o.warmup + o.iters; ++i) {
    const t0 = process.hrtime.bigint();
    await session.run(feeds);
    if (i >= o.warmup) seconds.push(Number(process.hrtime.bigint() - t0) / 1e9);
  }
  seconds.sort((a, b) => a - b);
  const m = seconds.length;
  const median = m % 2 ? seconds[(m - 1) / 2] : 0.5 * (seconds[m / 2 - 1] + seconds[m / 2]);
  let version;
  try {
    version = require(path.join(ortDir(), 'package.json')).version;
  } catch (e) {
    version = undefined;
  }
  console.log(JSON.stringify({seconds_median: median, img_s: o.batch / median,
                              peak_rss_mib: process.resourceUsage().maxRSS / 1024, onnxruntime: version}));
}

main().catch((e) => {
  console.error('compare_ort: ' + (e && e.message ? e.message : e));
  process.exit(1);
});
