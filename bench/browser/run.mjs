// Drives the browser benchmark (bench/browser/index.html) in one headless
// Chromium: our wasm and the @magenta/sketch peers on the same model and the
// same fixed input, runs interleaved pair by pair, and prints our figures, the
// peers' and the ratio per pair of runs (median over pairs). Also measures the
// payload (raw and gzip) and our quantised models' size, load time, first-step
// latency and parity. Writes everything to a JSON file.
//
//   node bench/browser/run.mjs [--model PATH.gen.json] [--pairs 9] [--out bench-results/browser.json]
//
// Needs pkg/ (tools/build-wasm.sh), the CLI (cargo build --release) and
// ../shared/models/magenta/sheep.gen.json (or $SKETCH_RNN_SHARED).
// tools/bench-browser.sh does all of it. Run it alone on the machine.

import { createServer } from 'node:http';
import { spawnSync } from 'node:child_process';
import { cpus, tmpdir } from 'node:os';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, extname, join, normalize, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const shared = resolve(process.env.SKETCH_RNN_SHARED ?? join(root, '..', 'shared'));
const { values: args } = parseArgs({
  options: {
    model: { type: 'string', default: join(shared, 'models', 'magenta', 'sheep.gen.json') },
    pairs: { type: 'string', default: '9' },
    out: { type: 'string', default: join(root, 'bench-results', 'browser.json') },
  },
});
const PAIRS = Number(args.pairs);
const LIBS = ['ours', 'tfjs4-wasm', 'tfjs1-cpu'];
const PEERS = LIBS.filter((l) => l !== 'ours');
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';

// --- payload -----------------------------------------------------------------

/** Raw and gzip (level 9) bytes of a set of files, relative to the repo root. */
function payload(files) {
  let raw = 0;
  let gzip = 0;
  for (const f of files) {
    const bytes = readFileSync(join(root, f));
    raw += bytes.length;
    gzip += gzipSync(bytes, { level: 9 }).length;
  }
  return { files, raw, gzip };
}

const PAYLOADS = {
  // What the app downloads besides the model: wasm, its bindings, our page's modules.
  ours: payload([
    'pkg/sketch_rnn_bg.wasm',
    'pkg/sketch_rnn.js',
    'www/app.js',
    'www/worker.js',
    'www/messages.js',
    'www/strokes.js',
    'www/catalog.js',
  ]),
  'tfjs4-wasm': payload([
    'node_modules/tfjs4/dist/tf.min.js',
    'node_modules/tfjs4-backend-wasm/dist/tf-backend-wasm.min.js',
    'node_modules/tfjs4-backend-wasm/dist/tfjs-backend-wasm-simd.wasm',
    'node_modules/@magenta/sketch/es5/sketch_rnn/model.js',
    'node_modules/@magenta/sketch/es5/core/sketch_support.js',
  ]),
  'tfjs1-cpu': payload(['node_modules/@magenta/sketch/dist/magentasketch.js']),
};

// --- our quantised models -------------------------------------------------------

const work = mkdtempSync(join(tmpdir(), 'sketch-rnn-bench-'));
const cli = join(root, 'target', 'release', 'sketch-rnn');
const QUANTS = ['f32', 'f16', 'int8'];
const converted = {};
for (const q of QUANTS) {
  const file = join(work, `model.${q}.safetensors`);
  const run = spawnSync(cli, ['convert', args.model, file, '--quantize', q], { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`sketch-rnn convert failed: ${run.stderr}`);
  // convert reports the parity on stderr: "..., over 101 steps: max mixture-parameter difference ..."
  const report = `${run.stdout}${run.stderr}`.replace(/^wrote \S+ /m, 'wrote ');
  const bytes = readFileSync(file);
  converted[q] = {
    file: `model.${q}.safetensors`,
    raw: bytes.length,
    gzip: gzipSync(bytes, { level: 9 }).length,
    convert_report: report.trim(),
  };
}
const magentaJson = readFileSync(args.model);

// --- server ----------------------------------------------------------------------

const TYPES = {
  '.html': 'text/html',
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.wasm': 'application/wasm',
  '.json': 'application/json',
};
const server = createServer((req, res) => {
  const path = normalize(decodeURIComponent(new URL(req.url, 'http://x').pathname));
  let file = null;
  if (path === '/model/magenta.json') file = args.model;
  else if (path.startsWith('/model/')) file = join(work, path.slice('/model/'.length));
  else if (/^\/(pkg|node_modules|bench)\//.test(path)) file = join(root, path);
  if (!file || !existsSync(file)) {
    res.writeHead(404).end();
    return;
  }
  res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' });
  res.end(readFileSync(file));
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const base = `http://127.0.0.1:${server.address().port}`;

// --- browser ---------------------------------------------------------------------

const browser = await chromium.launch({
  executablePath: CHROMIUM,
  args: [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-background-networking',
    '--disable-background-timer-throttling',
    '--disable-renderer-backgrounding',
    '--disable-backgrounding-occluded-windows',
  ],
});
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
};

async function openPage(lib, model) {
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${base}/bench/browser/index.html?lib=${lib}&model=${encodeURIComponent(model)}`);
  const ready = await page.evaluate(() => window.bench.ready).catch((e) => {
    throw new Error(`${lib}: ${e.message} ${errors.join('; ')}`);
  });
  return { page, ready };
}

try {
  const pages = {};
  for (const lib of LIBS) pages[lib] = await openPage(lib, lib === 'ours' ? '/model/model.f32.safetensors' : '/model/magenta.json');
  // Our quantised variants: load time, first step and fast-path parity.
  for (const q of QUANTS) {
    const { page, ready } = await openPage('ours', `/model/${converted[q].file}`);
    Object.assign(converted[q], { load: ready.load, fast_path_parity: ready.parity });
    await page.close();
  }
  const runs = Object.fromEntries(LIBS.map((l) => [l, []]));
  for (let pair = 0; pair < PAIRS; pair++) {
    for (const lib of LIBS) {
      const { page } = pages[lib];
      await page.bringToFront();
      runs[lib].push(await page.evaluate((seed) => window.bench.run(seed), pair + 1));
    }
  }
  const metric = {
    teacher_forced_ms_per_step: (r) => r.teacher_forced_ms_per_step,
    sketch_ms_per_point: (r) => r.sketches_ms / Math.max(1, r.sketches_points),
    sketches_ms: (r) => r.sketches_ms,
    alternatives_9_over_1: (r) => r.alternatives_9_ms / r.alternatives_1_ms,
    alternatives_9_ms: (r) => r.alternatives_9_ms,
  };
  const summary = {};
  for (const lib of LIBS) {
    summary[lib] = Object.fromEntries(Object.entries(metric).map(([k, f]) => [k, median(runs[lib].map(f))]));
    summary[lib].load = pages[lib].ready.load;
    summary[lib].payload = { raw: PAYLOADS[lib].raw, gzip: PAYLOADS[lib].gzip };
  }
  // Ratio per pair of runs (peer / ours: above 1 means we are faster), median over pairs.
  const ratios = {};
  for (const peer of PEERS) {
    ratios[peer] = {};
    for (const k of ['teacher_forced_ms_per_step', 'sketch_ms_per_point', 'alternatives_9_ms']) {
      ratios[peer][k] = median(runs.ours.map((r, i) => metric[k](runs[peer][i]) / metric[k](r)));
    }
  }
  const result = {
    date: new Date().toISOString(),
    machine: `${cpus()[0].model}, ${cpus().length} cores; Chromium ${browser.version()}`,
    command: `node bench/browser/run.mjs --pairs ${PAIRS}`,
    model: args.model.replace(shared, '../shared'),
    pairs: PAIRS,
    summary,
    ratios_peer_over_ours: ratios,
    payload: PAYLOADS,
    quantised: converted,
    runs,
  };
  mkdirSync(dirname(args.out), { recursive: true });
  writeFileSync(args.out, JSON.stringify(result, null, 2));

  const f = (x, d = 2) => (x == null ? '–' : Number(x).toFixed(d));
  console.log(`${result.date}  ${result.machine}`);
  console.log(`model ${result.model}; ${PAIRS} interleaved runs per library; medians`);
  console.log('library      | ms/step teacher-forced | 20 sketches ms (ms/point) | 9 alts / 1 | load ms | payload gzip KB');
  for (const lib of LIBS) {
    const s = summary[lib];
    const load = (s.load.wasm_ms ?? 0) + (s.load.fetch_ms ?? 0) + s.load.model_ms;
    console.log(
      `${lib.padEnd(12)} | ${f(s.teacher_forced_ms_per_step, 3).padStart(22)} | ${f(s.sketches_ms, 0).padStart(14)} (${f(s.sketch_ms_per_point, 3)}) | ${f(s.alternatives_9_over_1).padStart(10)} | ${f(load, 0).padStart(7)} | ${f(s.payload.gzip / 1024, 0).padStart(6)}`,
    );
  }
  for (const peer of PEERS) {
    const r = ratios[peer];
    console.log(`${peer} / ours, per pair: teacher-forced ${f(r.teacher_forced_ms_per_step, 1)}x, sketch ms/point ${f(r.sketch_ms_per_point, 1)}x, 9 alternatives ${f(r.alternatives_9_ms, 1)}x`);
  }
  for (const q of QUANTS) {
    const c = converted[q];
    console.log(`ours ${q}: ${f(c.raw / 1024, 0)} KB (${f(c.gzip / 1024, 0)} KB gzip), model load ${f(c.load.model_ms, 1)} ms, first step ${f(c.load.first_step_ms, 2)} ms, fast-path parity ${Number(c.fast_path_parity).toExponential(1)}; convert: ${c.convert_report}`);
  }
  console.log(`wrote ${args.out}`);
} finally {
  await browser.close();
  server.close();
  rmSync(work, { recursive: true, force: true });
}
