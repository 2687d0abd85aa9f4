// The app as a person uses it, in headless Chromium (Debian's chromium driven
// by playwright-core): draw with real pointer events, Finish it, Redraw, More
// ideas, Morph, export SVG and PNG, switch to a Magenta model, survive a
// corrupt model file, and no console errors or CSP violations throughout. Screenshots of each step go
// to test-artifacts/browser/. Needs `tools/build-wasm.sh` and a release build
// of the CLI (tools/test-all.sh does both).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { chromium } from 'playwright-core';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const artifacts = join(root, 'test-artifacts', 'browser');
mkdirSync(artifacts, { recursive: true });
const shared = process.env.SKETCH_RNN_SHARED ?? join(root, '..', 'shared');
const magentaDir = join(shared, 'models', 'magenta');
const haveMagenta = existsSync(join(magentaDir, 'bird.gen.json'));
const bin = process.env.SKETCH_RNN_BIN ?? join(root, 'target', 'release', 'sketch-rnn');

let server, browser, page, base;
const consoleErrors = [];
const cspViolations = [];

function startServer() {
  const args = ['serve', '--addr', '127.0.0.1:0', '--www', join(root, 'www'), '--pkg', join(root, 'pkg')];
  if (haveMagenta) args.push('--models', magentaDir);
  server = spawn(bin, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    server.stdout.on('data', (chunk) => {
      out += chunk;
      const m = out.match(/app at (http:\/\/[^/\s]+\/)/);
      if (m) resolve(m[1]);
    });
    server.on('exit', (code) => reject(new Error(`server exited with ${code}`)));
  });
}

async function shot(name) {
  await page.screenshot({ path: join(artifacts, `${name}.png`), fullPage: true });
}

async function openApp(query = '') {
  await page.goto(base + query);
  await page.waitForSelector('body[data-state="ready"]', { timeout: 60_000 });
}

const padData = () => page.$eval('#pad', (c) => ({
  user: Number(c.dataset.userStrokes), model: Number(c.dataset.modelStrokes), pixels: c.toDataURL(),
}));

async function drawDoodle() {
  const box = await page.locator('#pad').boundingBox();
  const at = (fx, fy) => [box.x + fx * box.width, box.y + fy * box.height];
  // a round body
  let [x, y] = at(0.5 + 0.18, 0.5);
  await page.mouse.move(x, y);
  await page.mouse.down();
  for (let i = 1; i <= 24; i++) {
    const a = (i / 24) * 2 * Math.PI;
    [x, y] = at(0.5 + 0.18 * Math.cos(a), 0.5 + 0.12 * Math.sin(a));
    await page.mouse.move(x, y, { steps: 2 });
  }
  await page.mouse.up();
  // a head
  [x, y] = at(0.3, 0.42);
  await page.mouse.move(x, y);
  await page.mouse.down();
  for (const [fx, fy] of [[0.24, 0.38], [0.22, 0.46], [0.28, 0.5], [0.33, 0.46]]) {
    [x, y] = at(fx, fy);
    await page.mouse.move(x, y, { steps: 4 });
  }
  await page.mouse.up();
}

async function press(id) {
  await page.click(`#${id}`);
  await page.waitForSelector('body[data-busy="false"]', { timeout: 120_000 });
}

before(async () => {
  base = await startServer();
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  page = await browser.newPage({ viewport: { width: 1100, height: 900 }, acceptDownloads: true });
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(m.text());
    if (/Content.Security.Policy/i.test(m.text())) cspViolations.push(m.text());
  });
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      console.error(`Content Security Policy violation: ${e.violatedDirective} ${e.blockedURI}`);
    });
  });
});

after(async () => {
  await browser?.close();
  server?.kill();
});

test('the page opens on the built-in model, draws, and finishes a drawing', async () => {
  await openApp();
  assert.match(await page.getAttribute('body', 'data-model'), /sheep/);
  await shot('01-opened');
  await drawDoodle();
  const drawn = await padData();
  assert.equal(drawn.user, 2, 'two user strokes recorded from pointer events');
  assert.equal(drawn.model, 0);
  await shot('02-doodle');
  await press('finish');
  const finished = await padData();
  assert.ok(finished.model > 0, `model strokes drawn: ${finished.model}`);
  assert.equal(finished.user, 2);
  assert.notEqual(finished.pixels, drawn.pixels, 'the canvas changed');
  await shot('03-finished');
  // Undo removes the model's strokes, Redo brings them back.
  await page.click('#undo');
  assert.equal((await padData()).model, 0);
  await page.click('#redo');
  assert.equal((await padData()).model, finished.model);
});

test('Export SVG and PNG download the drawing', async () => {
  const [svg] = await Promise.all([page.waitForEvent('download'), page.click('#export-svg')]);
  assert.equal(svg.suggestedFilename(), 'sketch.svg');
  const text = readFileSync(await svg.path(), 'utf8');
  assert.match(text, /^<svg[^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  const { user, model } = await padData();
  assert.equal((text.match(/<path /g) ?? []).length, user + model, 'one path per stroke');
  const [png] = await Promise.all([page.waitForEvent('download'), page.click('#export-png')]);
  assert.equal(png.suggestedFilename(), 'sketch.png');
  const bytes = readFileSync(await png.path());
  assert.deepEqual([...bytes.subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47], 'a PNG file');
});

test('Redraw shows the model\'s interpretation beside the original', async () => {
  await press('redraw');
  assert.equal(await page.getAttribute('#results-grid', 'data-count'), '2');
  const redrawn = await page.$$eval('#results-grid canvas', (cs) => cs.map((c) => Number(c.dataset.modelStrokes)));
  assert.ok(redrawn[1] > 0, `the redraw has strokes: ${redrawn}`);
  await shot('04-redraw');
});

test('More ideas gives nine endings and tapping one adopts it', async () => {
  await page.click('#undo'); // back to the user's doodle only
  assert.equal((await padData()).model, 0);
  await press('ideas');
  assert.equal(await page.getAttribute('#results-grid', 'data-count'), '9');
  await shot('05-ideas');
  const ideas = await page.$$eval('#results-grid canvas', (cs) => cs.map((c) => Number(c.dataset.modelStrokes)));
  const pick = ideas.findIndex((n) => n > 0);
  assert.ok(pick >= 0, `some idea has strokes: ${ideas}`);
  await page.locator('#results-grid canvas').nth(pick).click();
  assert.equal((await padData()).model, ideas[pick]);
  await shot('06-idea-adopted');
});

test('Morph draws an interpolation strip', async () => {
  await press('morph');
  assert.equal(await page.getAttribute('#results-grid', 'data-count'), '7');
  await shot('07-morph');
});

/** Opens a file that is not a model with "Open a model file…". */
async function openCorruptModelFile() {
  await page.setInputFiles('#model-file', { name: 'broken.safetensors', mimeType: 'application/octet-stream', buffer: Buffer.from('this is not a model') });
}

test('a corrupt model file shows an error and the app still finishes drawings', async () => {
  await openCorruptModelFile();
  await page.waitForSelector('#error:not([hidden])');
  assert.match(await page.textContent('#error'), /Could not load broken\.safetensors/);
  await page.waitForSelector('body[data-busy="false"]');
  await shot('08-corrupt-model');
  await page.click('#clear');
  await drawDoodle();
  await press('finish');
  assert.ok((await padData()).model > 0, 'the previous model still draws');
  await shot('09-after-corrupt');
});

// Regression: after a model was opened from a file the picker still named the
// built-in model, so picking the built-in one fired no change and could not
// bring it back.
test('a model opened from a file is named in the picker, and the built-in one can be picked again', async () => {
  const sheepBytes = readFileSync(join(root, 'www', 'models', 'sheep.safetensors'));
  await page.setInputFiles('#model-file', { name: 'my-sheep.safetensors', mimeType: 'application/octet-stream', buffer: sheepBytes });
  await page.waitForSelector('body[data-model="my-sheep.safetensors"][data-busy="false"]');
  assert.equal(await page.inputValue('#model-picker'), 'file');
  assert.equal(await page.textContent('#model-picker option[value="file"]'), 'my-sheep.safetensors (file)');
  // A file that fails to load leaves the picker naming the model still in use.
  await openCorruptModelFile();
  await page.waitForSelector('#error:not([hidden])');
  await page.waitForSelector('body[data-busy="false"]');
  assert.equal(await page.inputValue('#model-picker'), 'file');
  assert.equal(await page.getAttribute('body', 'data-model'), 'my-sheep.safetensors');
  await page.selectOption('#model-picker', 'builtin');
  await page.waitForSelector('body[data-model="sheep (built in)"][data-busy="false"]');
  assert.equal(await page.inputValue('#model-picker'), 'builtin');
  assert.equal(await page.locator('#model-picker option[value="file"]').count(), 0);
  await page.click('#clear');
  await drawDoodle();
  await press('finish');
  assert.ok((await padData()).model > 0, 'the built-in model draws again');
});

test('switching to a Magenta model served from --models works', { skip: !haveMagenta && 'no ../shared/models/magenta' }, async () => {
  await openApp('?models=/local-models/');
  await page.selectOption('#model-kind', 'gen');
  await page.selectOption('#model-picker', 'magenta:bird');
  await page.waitForSelector('body[data-model="bird (gen)"][data-busy="false"]', { timeout: 60_000 });
  assert.equal(await page.isDisabled('#redraw'), true, 'Redraw needs a VAE');
  await drawDoodle();
  await press('finish');
  assert.ok((await padData()).model > 0);
  await shot('10-magenta-bird');
});

test('phone-sized screen', async () => {
  await page.setViewportSize({ width: 390, height: 844 });
  await openApp();
  await drawDoodle();
  await press('finish');
  assert.ok((await padData()).model > 0);
  await shot('11-phone');
});

test('no console errors and no CSP violations', () => {
  assert.deepEqual(cspViolations, []);
  assert.deepEqual(consoleErrors, []);
});
