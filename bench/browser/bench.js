// The browser benchmark page: loads one library (?lib=) and the model (?model=),
// and exposes `window.bench.run()`, which measures, on the same fixed input as
// every other library: teacher-forced decode over 250 steps (update + mixture
// parameters), 20 full sketches at temperature 0.25, 9 alternative endings of
// one partial drawing (and 1, for the ratio), and the model's first step.
// Load time is measured once, when the page starts. Results are plain numbers
// in milliseconds; bench/browser/run.mjs interleaves the libraries' runs.
//
// Libraries:
//   ours        pkg/ (our wasm, fast decoder path) on this thread
//   tfjs4-wasm  @magenta/sketch's model code (es5) on tfjs 4.22 wasm backend, SIMD, 1 thread
//   tfjs1-cpu   @magenta/sketch 0.2's own bundle (its tfjs 1.x, cpu backend)

import { fixedInput } from './input.js';

/** Teacher-forced steps (issue 5: the same fixed 250-step input for everyone). */
export const STEPS = 250;
/** Full sketches per run, their temperature and longest length (points). */
export const SKETCHES = 20;
export const TEMPERATURE = 0.25;
export const MAX_POINTS = 250;
/** Alternative endings, of a prefix of this many rows of the fixed input. */
export const ALTERNATIVES = 9;
export const PREFIX_ROWS = 40;

const params = new URLSearchParams(location.search);
const lib = params.get('lib') ?? 'ours';
const modelUrl = params.get('model');
const status = document.getElementById('status');
const out = document.getElementById('out');

function now() {
  return performance.now();
}

async function loadScript(src) {
  await new Promise((resolve, reject) => {
    const s = document.createElement('script');
    s.src = src;
    s.onload = resolve;
    s.onerror = () => reject(new Error(`cannot load ${src}`));
    document.head.append(s);
  });
}

/** Runs a CommonJS file of @magenta/sketch's es5 build with `require` mapped to the global tf. */
async function loadCommonJs(src, modules) {
  const code = await (await fetch(src)).text();
  const module = { exports: {} };
  const require = (name) => {
    if (name in modules) return modules[name];
    throw new Error(`${src}: unexpected require(${name})`);
  };
  new Function('module', 'exports', 'require', code)(module, module.exports, require);
  return module.exports;
}

/** Our library: wasm module + model, through the same API the app's worker uses. */
async function openOurs() {
  const t0 = now();
  const wasm = await import('/pkg/sketch_rnn.js');
  await wasm.default();
  const t1 = now();
  const bytes = new Uint8Array(await (await fetch(modelUrl)).arrayBuffer());
  const t2 = now();
  const model = new wasm.Model(bytes);
  const t3 = now();
  const info = model.info();
  const px = (rows) => rows.map(([dx, dy, , up]) => [dx * info.scale_factor, dy * info.scale_factor, up]);
  const input = px(fixedInput(STEPS));
  const prefix = input.slice(0, PREFIX_ROWS);
  const z = info.conditional ? model.priorLatent(1) : undefined;
  const t4 = now();
  const first = model.begin(z, [], 1);
  model.nextPoints(first, 1, TEMPERATURE);
  const t5 = now();
  first.free();
  return {
    load: { wasm_ms: t1 - t0, fetch_ms: t2 - t1, model_ms: t3 - t2, first_step_ms: t5 - t4 },
    parity: model.fastPathParity(z, input.slice(0, 100)),
    teacherForced() {
      const t = now();
      model.score(z, input);
      return now() - t;
    },
    sketches(seed) {
      let points = 0;
      const t = now();
      for (let i = 0; i < SKETCHES; i++) {
        const d = model.begin(z, [], seed + i);
        points += model.nextPoints(d, MAX_POINTS, TEMPERATURE).length;
        d.free();
      }
      return { ms: now() - t, points };
    },
    alternatives(n, seed) {
      const t = now();
      const endings = model.alternatives(z, prefix, n, TEMPERATURE, MAX_POINTS, seed);
      return { ms: now() - t, points: endings.reduce((a, e) => a + e.length, 0) };
    },
  };
}

/** @magenta/sketch: `update` + `getPDF` per step, as its demos do. */
function magentaRunner(model, load) {
  const f = model.scaleFactor; // screen pixels per normalised unit
  const input = fixedInput(STEPS).map(([dx, dy, p1, p2, p3]) => [dx * f, dy * f, p1, p2, p3]);
  const prefix = input.slice(0, PREFIX_ROWS);
  // Our temperature applies to the discrete softmaxes too (sketch-rnn's `sample()`).
  const pdf = (state, t) => model.getPDF(state, t, t);
  const readPrefix = () => {
    let state = model.update(model.zeroInput(), model.zeroState());
    for (const row of prefix) state = model.update(row, state);
    return state;
  };
  const finish = (state) => {
    let points = 0;
    for (let i = 0; i < MAX_POINTS; i++) {
      const stroke = model.sample(pdf(state, TEMPERATURE));
      if (stroke[4] === 1) break;
      points++;
      state = model.update(stroke, state);
    }
    return points;
  };
  return {
    load,
    parity: null,
    teacherForced() {
      const t = now();
      let state = model.zeroState();
      let row = model.zeroInput();
      for (let i = 0; i < STEPS; i++) {
        state = model.update(row, state);
        pdf(state, 1.0);
        row = input[i];
      }
      return now() - t;
    },
    sketches() {
      let points = 0;
      const t = now();
      for (let i = 0; i < SKETCHES; i++) {
        points += finish(model.update(model.zeroInput(), model.zeroState()));
      }
      return { ms: now() - t, points };
    },
    alternatives(n) {
      const t = now();
      const base = readPrefix();
      let points = 0;
      for (let k = 0; k < n; k++) points += finish(model.copyState(base));
      return { ms: now() - t, points };
    },
  };
}

async function openTfjs4Wasm() {
  const t0 = now();
  await loadScript('/node_modules/tfjs4/dist/tf.min.js');
  await loadScript('/node_modules/tfjs4-backend-wasm/dist/tf-backend-wasm.min.js');
  const tf = window.tf;
  tf.wasm.setWasmPaths('/node_modules/tfjs4-backend-wasm/dist/');
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
  await tf.setBackend('wasm');
  await tf.ready();
  const mods = { '@tensorflow/tfjs-core': tf, '@tensorflow/tfjs': tf };
  mods['../core/sketch_support'] = await loadCommonJs('/node_modules/@magenta/sketch/es5/core/sketch_support.js', mods);
  const { SketchRNN } = await loadCommonJs('/node_modules/@magenta/sketch/es5/sketch_rnn/model.js', mods);
  const t1 = now();
  const model = new SketchRNN(modelUrl);
  await model.initialize();
  const t2 = now();
  const t3 = now();
  model.getPDF(model.update(model.zeroInput(), model.zeroState()), TEMPERATURE);
  const t4 = now();
  if (tf.getBackend() !== 'wasm') throw new Error(`tfjs backend is ${tf.getBackend()}, not wasm`);
  return magentaRunner(model, { wasm_ms: t1 - t0, fetch_ms: null, model_ms: t2 - t1, first_step_ms: t4 - t3 });
}

async function openTfjs1Cpu() {
  const t0 = now();
  await loadScript('/node_modules/@magenta/sketch/dist/magentasketch.js');
  const ms = window.ms;
  await ms.tf.setBackend('cpu');
  const t1 = now();
  const model = new ms.SketchRNN(modelUrl);
  await model.initialize();
  const t2 = now();
  model.getPDF(model.update(model.zeroInput(), model.zeroState()), TEMPERATURE);
  const t3 = now();
  if (ms.tf.getBackend() !== 'cpu') throw new Error(`tfjs backend is ${ms.tf.getBackend()}, not cpu`);
  return magentaRunner(model, { wasm_ms: t1 - t0, fetch_ms: null, model_ms: t2 - t1, first_step_ms: t3 - t2 });
}

const openers = { ours: openOurs, 'tfjs4-wasm': openTfjs4Wasm, 'tfjs1-cpu': openTfjs1Cpu };

async function open() {
  if (!modelUrl) throw new Error('no ?model= given');
  const opener = openers[lib];
  if (!opener) throw new Error(`unknown ?lib=${lib}`);
  return opener();
}

const ready = open();

/** One run of every measurement; `seed` varies per run for our seeded sampler. */
async function run(seed = 1) {
  const r = await ready;
  const tf = r.teacherForced();
  const sketches = r.sketches(seed);
  const one = r.alternatives(1, seed);
  const nine = r.alternatives(ALTERNATIVES, seed);
  return {
    lib,
    teacher_forced_ms_per_step: tf / STEPS,
    sketches_ms: sketches.ms,
    sketches_points: sketches.points,
    alternatives_1_ms: one.ms,
    alternatives_1_points: one.points,
    alternatives_9_ms: nine.ms,
    alternatives_9_points: nine.points,
  };
}

window.bench = {
  lib,
  ready: ready.then((r) => ({ load: r.load, parity: r.parity })),
  run,
};

ready.then(
  (r) => {
    status.textContent = 'ready';
    out.textContent = JSON.stringify({ lib, load: r.load, parity: r.parity }, null, 2);
  },
  (e) => {
    status.textContent = `failed: ${e.message}`;
  },
);
