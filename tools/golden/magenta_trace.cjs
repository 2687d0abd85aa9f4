// Produces the golden traces the Rust `trace` command is tested against, with
// Magenta's own JavaScript library (@magenta/sketch 0.2.0, tfjs cpu backend).
//
//   node tools/golden/magenta_trace.cjs ../shared/models/magenta tests/fixtures/golden
//
// The input (tests/fixtures/golden/input_250.json) is 250 stroke-5 rows in
// normalised model units, starting with the start token [0, 0, 1, 0, 0]. To feed
// it unchanged, the pixel factor is set to the model's own scale factor, so
// @magenta/sketch divides the offsets by exactly 1. Step t of the output is
// getPDF after update() has read row t, at temperature 1 (softmax temperature 1).
// Values are written with 7 significant digits.
'use strict';
const fs = require('fs');
const path = require('path');
const tf = require('@tensorflow/tfjs-core');
const { SketchRNN } = require('@magenta/sketch');

const [modelDir, outDir] = process.argv.slice(2);
const M = 20;

function makeInput() {
  // A deterministic, drawing-like path: loops of varying radius, the pen lifted
  // every 31 rows, offsets of a few tenths of a unit like real normalised data.
  const rows = [[0, 0, 1, 0, 0]];
  let seed = 12345;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  for (let t = 1; t < 250; t++) {
    const a = t * 0.23 + Math.sin(t * 0.05) * 2;
    const r = 0.25 + 0.2 * rand();
    const up = t % 31 === 0 ? 1 : 0;
    const dx = Number((r * Math.cos(a)).toFixed(4));
    const dy = Number((r * Math.sin(a)).toFixed(4));
    rows.push([dx, dy, 1 - up, up, 0]);
  }
  return rows;
}

const round = (xs) => Array.from(xs).map((v) => Number(v.toPrecision(7)));

async function main() {
  await tf.setBackend('cpu');
  const inputPath = path.join(outDir, 'input_250.json');
  if (!fs.existsSync(inputPath)) fs.writeFileSync(inputPath, JSON.stringify(makeInput()) + '\n');
  const input = JSON.parse(fs.readFileSync(inputPath, 'utf8'));
  for (const f of fs.readdirSync(modelDir).filter((f) => f.endsWith('.gen.json')).sort()) {
    const [info, shapes, weights] = JSON.parse(fs.readFileSync(path.join(modelDir, f), 'utf8'));
    const model = new SketchRNN('');
    model.instantiateFromJSON(info, shapes, weights);
    model.setPixelFactor(info.scale_factor); // scaleFactor = 1: inputs are already normalised
    let state = model.zeroState();
    const steps = [];
    for (const row of input) {
      state = model.update(row, state);
      const p = model.getPDF(state, 1.0, 1.0);
      steps.push({
        pi: round(p.pi), mu_x: round(p.muX), mu_y: round(p.muY),
        sigma_x: round(p.sigmaX), sigma_y: round(p.sigmaY.slice(0, M)), // 0.2.0 returns 43 sigmaY values
        rho: round(p.corr), pen: round(p.pen),
      });
    }
    const out = path.join(outDir, f.replace('.gen.json', '.trace.json'));
    fs.writeFileSync(out, JSON.stringify({ model: f, source: '@magenta/sketch 0.2.0 (tfjs-core cpu)', steps }) + '\n');
    console.log('wrote', out);
    model.dispose();
  }
}
main().catch((e) => { console.error(e); process.exit(1); });
