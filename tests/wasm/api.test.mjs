// The wasm API as JavaScript sees it, under Node against the built pkg/
// (`tools/build-wasm.sh` first). Run: node --test tests/wasm/
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

import { initSync, Model } from '../../pkg/sketch_rnn.js';
import { fixedInput } from '../../bench/browser/input.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
initSync({ module: readFileSync(join(root, 'pkg', 'sketch_rnn_bg.wasm')) });
const shared = process.env.SKETCH_RNN_SHARED ?? join(root, '..', 'shared');

const sheepBytes = readFileSync(join(root, 'www', 'models', 'sheep.safetensors'));
const sheep = new Model(sheepBytes);
const doodle = [[0, 0, 0], [60, 0, 0], [0, 60, 0], [-60, 0, 0], [0, -60, 1], [30, 80, 0], [0, 40, 1]];

test('the shipped model finishes a doodle from a noisy latent', () => {
  const info = sheep.info();
  assert.equal(info.conditional, true);
  assert.ok(info.z_size > 0 && info.scale_factor > 0 && info.typical_size_px > 0);
  const { mu, sigma } = sheep.encode(doodle);
  assert.equal(mu.length, info.z_size);
  const z = sheep.sampleLatent(mu, sigma, 1.0, 7);
  assert.equal(z.length, info.z_size);
  const drawing = sheep.begin(z, doodle, 3);
  let points = [];
  while (!drawing.finished && points.length < 300) {
    const batch = sheep.nextPoints(drawing, 8, 0.25);
    assert.ok(batch.length <= 8);
    points = points.concat(batch);
  }
  assert.ok(points.length > 3, `model drew ${points.length} points`);
  for (const p of points) {
    assert.equal(p.length, 3);
    assert.ok(Number.isFinite(p[0]) && Number.isFinite(p[1]) && (p[2] === 0 || p[2] === 1));
  }
  drawing.free();
});

test('new drawings take their latent from the shipped model\'s fitted prior, not N(0, I)', () => {
  const info = sheep.info();
  assert.equal(info.fitted_prior, true);
  // The fitted prior's mean variance per dimension is 0.378 (sketch-rnn fit-prior, 2026-12-07, the default model
  // with both position inputs, --encoder-prefix 0.25 and a sixth stage of 10,000 steps without dropout or augmentation);
  // N(0, I) would give 1.
  const n = 1000;
  const zs = Array.from({ length: n }, (_, k) => sheep.priorLatent(k));
  let variance = 0;
  for (let i = 0; i < info.z_size; i++) {
    const mean = zs.reduce((a, z) => a + z[i], 0) / n;
    variance += zs.reduce((a, z) => a + (z[i] - mean) ** 2, 0) / n;
  }
  variance /= info.z_size;
  assert.ok(Math.abs(variance - 0.378) < 0.08, `mean variance per dimension ${variance}`);
});

test('a latent to finish a drawing from, refused for decoder-only models', () => {
  const z = sheep.completionLatent(doodle, 5);
  assert.equal(z.length, sheep.info().z_size);
  assert.ok(z.every(Number.isFinite));
  assert.deepEqual(Array.from(sheep.completionLatent(doodle, 5)), Array.from(z), 'same seed, same latent');
  assert.throws(() => sheep.completionLatent([], 5), /prefix/);
  const gen = join(shared, 'models', 'magenta', 'bird.gen.json');
  if (existsSync(gen)) {
    const bird = new Model(readFileSync(gen));
    assert.throws(() => bird.completionLatent(doodle, 5), /decoder-only/);
    bird.free();
  }
});

test('the latent Finish it draws from: one whose finish goes on, from the drawing\'s own encoding for the shipped model', () => {
  // its encoder was trained on beginnings of drawings (train --encoder-prefix 0.25, recorded in the file)
  assert.equal(sheep.info().finishes_from_encoding, true);
  const z = sheep.finishingLatent(doodle, 0.25, 5);
  assert.equal(z.length, sheep.info().z_size);
  assert.deepEqual(Array.from(sheep.finishingLatent(doodle, 0.25, 5)), Array.from(z), 'same seed, same latent');
  // streamed as the worker does (same prefix, seed and temperature), the finish adds points
  const d = sheep.begin(z, doodle, 5);
  assert.ok(sheep.nextPoints(d, 5, 0.25).length > 0);
  d.free();
  assert.throws(() => sheep.finishingLatent(doodle, Number.NaN, 5), /temperature/);
});

test('alternatives, interpolation, analogy and score', () => {
  const z = sheep.priorLatent(1);
  const alts = sheep.alternatives(z, doodle, 9, 0.5, 40, 2);
  assert.equal(alts.length, 9);
  assert.notDeepEqual(alts[0], alts[1]);
  const b = sheep.priorLatent(2);
  const zs = sheep.interpolate(z, b, 5, true);
  assert.equal(zs.length, 5);
  assert.ok(Math.abs(zs[4][0] - b[0]) < 1e-5);
  const c = sheep.analogy(z, b, z);
  assert.ok(Math.abs(c[3] - (2 * z[3] - b[3])) < 1e-5);
  const s = sheep.score(z, doodle);
  assert.equal(s.per_point.length, doodle.length);
  assert.ok(Number.isFinite(s.mean));
});

/** The benchmark's fixed 250-row input, as stroke-3 rows in model pixels. */
function loops(scale) {
  return fixedInput(250).map(([dx, dy, , up]) => [dx * scale, dy * scale, up]);
}

// The wasm build's fast decoder (its simd128 kernels) against candle's
// reference model in the same wasm: every mixture parameter within 1e-4
// (issue 5), on the shipped model and on Magenta's 512-unit sheep.
test('Redraw keeps one of its decodings, which replays from the seed it returns', () => {
  const r = sheep.redraw(doodle, 0.5, 0.25, 250, undefined, 11);
  assert.equal(r.z.length, sheep.info().z_size);
  assert.ok(Number.isInteger(r.candidate) && r.candidate >= 0 && r.candidate < 8, `candidate ${r.candidate}`);
  assert.equal(r.seed, 11 + r.candidate);
  assert.ok(r.drawing.length > 0 && Number.isFinite(r.distance));
  const d = sheep.begin(new Float32Array(r.z), [], r.seed);
  let points = [];
  while (!d.finished && points.length < 250) points = points.concat(sheep.nextPoints(d, 16, 0.25));
  d.free();
  // Redraw stops at maxPoints (250); the chunks of 16 may overshoot it
  assert.deepEqual(points.slice(0, 250), r.drawing);
  const one = sheep.redraw(doodle, 0.5, 0.25, 250, 1, 11);
  assert.equal(one.candidate, 0);
  assert.ok(one.distance >= r.distance, `one decoding ${one.distance}, nearest of 8 ${r.distance}`);
});

test('the fast decoder path matches the reference in wasm', () => {
  const z = sheep.priorLatent(4);
  const worst = sheep.fastPathParity(z, loops(sheep.info().scale_factor));
  assert.ok(worst <= 1e-4, `shipped model: worst |diff| ${worst}`);
  assert.equal(typeof worst, 'number', 'the shipped model has a fast path');
  const magenta = join(shared, 'models', 'magenta', 'sheep.gen.json');
  if (existsSync(magenta)) {
    const m = new Model(readFileSync(magenta));
    const w = m.fastPathParity(undefined, loops(m.info().scale_factor).slice(0, 100));
    assert.ok(w <= 1e-4, `magenta sheep: worst |diff| ${w}`);
    m.free();
  }
});

// Hostile inputs: every one is a JavaScript exception with a clear message,
// and the model keeps working afterwards (no panic crossed the boundary).
const hostile = [
  ['NaN temperature', () => sheep.nextPoints(sheep.begin(sheep.priorLatent(1), [], 1), 4, NaN), /temperature/],
  ['empty drawing', () => sheep.encode([]), /no points/],
  ['100k-point drawing', () => sheep.encode(Array.from({ length: 100000 }, () => [1, 1, 0])), /2000/],
  ['NaN offset', () => sheep.encode([[NaN, 0, 0]]), /not finite/],
  ['not an array', () => sheep.encode('sheep'), /invalid argument drawing/],
  ['garbage model bytes', () => new Model(new TextEncoder().encode('not a model at all')), /model|format|file/i],
  ['empty model bytes', () => new Model(new Uint8Array(0)), /./],
  ['wrong latent size', () => sheep.begin(new Float32Array(3), [], 1), /latent z/],
  ['missing latent for a VAE', () => sheep.begin(undefined, [], 1), /VAE/],
  ['negative seed', () => sheep.priorLatent(-1), /seed/],
  ['fractional seed', () => sheep.priorLatent(1.5), /seed/],
  ['huge noise', () => sheep.sampleLatent(new Float32Array(sheep.info().z_size), new Float32Array(sheep.info().z_size), 1e9, 1), /noise/],
  ['zero alternatives', () => sheep.alternatives(sheep.priorLatent(1), [], 0, 0.5, 10, 1), /invalid argument n/],
  ['zero Redraw candidates', () => sheep.redraw(doodle, 0.5, 0.25, 10, 0, 1), /candidates/],
];
for (const [name, call, message] of hostile) {
  test(`hostile input: ${name}`, () => {
    assert.throws(call, message);
    const z = sheep.priorLatent(5);
    assert.ok(sheep.nextPoints(sheep.begin(z, doodle, 5), 3, 0.5).length >= 0);
  });
}

test('a Magenta decoder-only model loads and draws without a latent', { skip: !existsSync(join(shared, 'models', 'magenta', 'bird.gen.json')) && 'no ../shared' }, () => {
  const bird = new Model(readFileSync(join(shared, 'models', 'magenta', 'bird.gen.json')));
  const info = bird.info();
  assert.equal(info.conditional, false);
  const d = bird.begin(undefined, doodle, 1);
  assert.ok(bird.nextPoints(d, 10, 0.3).length > 0);
  assert.throws(() => bird.encode(doodle), /unconditional/);
});
