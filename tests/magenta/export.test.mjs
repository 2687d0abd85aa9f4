// A model our trainer produced, exported to Magenta's JSON, loads in Magenta's
// own JavaScript library (@magenta/sketch 0.2.0, tfjs cpu) and gives the same
// mixture parameters as our `trace`. @magenta/sketch loads decoder-only (.gen)
// models, so this trains a small unconditional model on aaron_sheep for a few
// steps (the CLI's train command), converts it, and compares 60 steps of the
// golden input (tests/fixtures/golden/input_250.json):
//   * our trace of the exported JSON vs @magenta/sketch on it: ≤ 1e-4 relative
//     to max(1, |v|) (the golden tolerance: same int16 weights, two float libraries);
//   * our trace of the original .safetensors vs @magenta/sketch: ≤ 2e-2, the
//     effect of Magenta's int16 weight quantisation (step 10/32767).
// The same for a model trained with --position-input (as the shipped sheep
// model is), which the export rewrites as a plain LSTM with extra units that sum
// the pen position (src/weights/position_units.rs).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const shared = process.env.SKETCH_RNN_SHARED ?? join(root, '..', 'shared');
const data = join(shared, 'data', 'aaron_sheep.npz');
const bin = process.env.SKETCH_RNN_BIN ?? join(root, 'target', 'release', 'sketch-rnn');
const STEPS = 60;

function worstDiff(ours, theirs) {
  let worst = 0;
  for (let t = 0; t < STEPS; t++) {
    for (const key of ['pi', 'mu_x', 'mu_y', 'sigma_x', 'sigma_y', 'rho', 'pen']) {
      const a = ours[t][key], b = theirs[t][key];
      assert.equal(a.length, b.length, `${key} at step ${t}`);
      for (let i = 0; i < a.length; i++) {
        worst = Math.max(worst, Math.abs(a[i] - b[i]) / Math.max(1, Math.abs(b[i])));
      }
    }
  }
  return worst;
}

async function exportAndCompare(extraTrainArgs) {
  const dir = mkdtempSync(join(tmpdir(), 'sketch-rnn-export-'));
  try {
    execFileSync(bin, ['train', '--data', data, '--out', dir, '--z-size', '0', '--dec-size', '64',
      '--batch-size', '16', '--steps', '20', '--eval-every', '20', '--sample-every', '0',
      '--name', 'sheep-gen', ...extraTrainArgs], { stdio: ['ignore', 'ignore', 'inherit'] });
    const model = join(dir, 'model.safetensors');
    const exported = join(dir, 'sheep-gen.gen.json');
    execFileSync(bin, ['convert', model, exported], { stdio: ['ignore', 'ignore', 'ignore'] });
    const input = join(root, 'tests', 'fixtures', 'golden', 'input_250.json');
    const trace = (m) => JSON.parse(execFileSync(bin, ['trace', '--model', m, '--input', input])).steps;

    const tf = require('@tensorflow/tfjs-core');
    // npm hoists tfjs-core 4.22 (the benchmark's tfjs4 alias) where @magenta/sketch's
    // es5 files find it: register its cpu kernels and chained ops.
    require('tfjs4'); // the tfjs 4.22 union package: cpu kernels and chained ops
    const { SketchRNN } = require('@magenta/sketch');
    await tf.setBackend('cpu');
    const [info, shapes, weights] = JSON.parse(readFileSync(exported, 'utf8'));
    assert.equal(info.mode, 2, 'a decoder-only (gen) file');
    const magenta = new SketchRNN('');
    magenta.instantiateFromJSON(info, shapes, weights);
    magenta.setPixelFactor(info.scale_factor); // inputs are already in normalised units
    const rows = JSON.parse(readFileSync(input, 'utf8'));
    const M = shapes[0][1] / 6 - 0.5; // output W is [dec, 6M + 3]
    let state = magenta.zeroState();
    const theirs = [];
    for (const row of rows.slice(0, STEPS)) {
      state = magenta.update(row, state);
      const p = magenta.getPDF(state, 1.0, 1.0);
      theirs.push({
        pi: Array.from(p.pi), mu_x: Array.from(p.muX), mu_y: Array.from(p.muY),
        sigma_x: Array.from(p.sigmaX), sigma_y: Array.from(p.sigmaY).slice(0, M),
        rho: Array.from(p.corr), pen: Array.from(p.pen),
      });
    }
    magenta.dispose();
    const sameFile = worstDiff(trace(exported), theirs);
    assert.ok(sameFile <= 1e-4, `exported JSON: ours vs @magenta/sketch ${sameFile}`);
    const original = worstDiff(trace(model), theirs);
    assert.ok(original <= 2e-2, `original model vs @magenta/sketch on its export: ${original}`);
    console.log(`max relative difference: ${sameFile.toExponential(2)} (same file), ${original.toExponential(2)} (quantised export)`);
    return shapes;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('a trained decoder-only model exports to Magenta JSON that @magenta/sketch runs identically', { skip: !existsSync(data) && 'no ../shared' }, async () => {
  const shapes = await exportAndCompare([]);
  assert.equal(shapes[3][0], 64, 'the decoder keeps its 64 units');
});

test('a model that reads the pen position exports to Magenta JSON that @magenta/sketch runs alike', { skip: !existsSync(data) && 'no ../shared' }, async () => {
  const shapes = await exportAndCompare(['--position-input']);
  assert.ok(shapes[3][0] > 64, `the decoder grew units that sum the position: ${shapes[3][0]}`);
});
