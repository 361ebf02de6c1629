// Runs an ONNX model in ONNX Runtime (npm onnxruntime-node, CPU) for hone's round-trip test.
//
// Usage: node ort_run.js MODEL.onnx MANIFEST.json OUTDIR
//   MANIFEST.json: {"inputs": [{"name": "input", "dims": [4, 3, 32, 32], "file": "x.bin"}]}
//   with each file holding little-endian float32 values. Writes OUTDIR/output_<k>.bin (float32)
//   and OUTDIR/outputs.json ({"outputs": [{"name", "dims"}]}) in the model's output order.
// The module is looked up in HONE_NODE_MODULES (the deps script's npm prefix) first.
'use strict';
const fs = require('fs');
const path = require('path');

function loadOrt() {
  const dirs = [];
  if (process.env.HONE_NODE_MODULES) dirs.push(process.env.HONE_NODE_MODULES);
  for (const d of dirs) {
    const p = path.join(d, 'onnxruntime-node');
    if (fs.existsSync(p)) return require(p);
  }
  return require('onnxruntime-node');
}

async function main() {
  const [model, manifestPath, outDir] = process.argv.slice(2);
  if (!outDir) {
    console.error('usage: node ort_run.js MODEL.onnx MANIFEST.json OUTDIR');
    process.exit(2);
  }
  const ort = loadOrt();
  const manifest = JSON.parse(fs.readFileSync(manifestPath, 'utf8'));
  const session = await ort.InferenceSession.create(model, {
    intraOpNumThreads: 1, graphOptimizationLevel: 'disabled'});
  const feeds = {};
  for (const input of manifest.inputs) {
    const buf = fs.readFileSync(path.resolve(path.dirname(manifestPath), input.file));
    const data = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
    feeds[input.name] = new ort.Tensor('float32', Float32Array.from(data), input.dims);
  }
  const results = await session.run(feeds);
  fs.mkdirSync(outDir, {recursive: true});
  const outputs = [];
  session.outputNames.forEach((name, k) => {
    const t = results[name];
    fs.writeFileSync(path.join(outDir, `output_${k}.bin`), Buffer.from(Float32Array.from(t.data).buffer));
    outputs.push({name, dims: t.dims});
  });
  fs.writeFileSync(path.join(outDir, 'outputs.json'), JSON.stringify({outputs}));
}

main().catch((e) => {
  console.error('ort_run: ' + (e && e.message ? e.message : e));
  process.exit(1);
});
