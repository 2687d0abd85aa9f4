// The drawing app: records pen strokes on the pad, asks the inference worker
// (worker.js, which owns the wasm model) to finish, redraw, vary or morph
// them, and animates the answers. Page state lives here; the model never
// runs on this thread, so drawing stays smooth.
import { MSG } from './messages.js';
import { MAGENTA_BASE_URL, MAGENTA_MODELS, DEFAULT_MODEL } from './catalog.js';
import {
  PAD_UNITS, modelScale, toStroke3, fromStroke3, Pen, drawStrokes, fitTransform, toSvg, INK,
} from './strokes.js';

const $ = (id) => document.getElementById(id);
const pad = $('pad');
const ctx = pad.getContext('2d');
const ui = {
  status: $('status'), error: $('error'), picker: $('model-picker'), kind: $('model-kind'),
  file: $('model-file'), baseUrl: $('base-url'), temperature: $('temperature'), noise: $('noise'),
  speed: $('speed'), results: $('results'), resultsTitle: $('results-title'), resultsGrid: $('results-grid'),
};
const actionButtons = ['finish', 'redraw', 'ideas', 'morph', 'undo', 'redo', 'clear'].map($);

// ---- state ---------------------------------------------------------------
let strokes = [];          // [{by, points: [[x, y] pad units]}]
const undoStack = [];
const redoStack = [];
let info = null;           // the loaded model's SessionInfo
let busy = false;
let seed = 1;
let activePointer = null;  // the one pointer drawing; others (a second finger) are ignored

// ---- worker protocol -----------------------------------------------------
const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
const pending = new Map();
let nextId = 1;

worker.onmessage = ({ data }) => {
  const p = pending.get(data.id);
  if (!p) return;
  if (data.type === MSG.POINTS) {
    p.onPoints(data.points);
    if (!data.done) return;
    pending.delete(data.id);
    p.resolve();
  } else {
    pending.delete(data.id);
    if (data.type === MSG.ERROR) p.reject(new Error(data.message));
    else p.resolve(data);
  }
};
worker.onerror = (e) => showError(`The model worker failed: ${e.message}`);

function request(message, onPoints = () => {}, transfer = []) {
  const id = nextId++;
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject, onPoints });
    worker.postMessage({ ...message, id }, transfer);
  });
}

// ---- status and errors ---------------------------------------------------
function setStatus(text) { ui.status.textContent = text; }
function showError(text) {
  ui.error.textContent = text;
  ui.error.hidden = false;
  document.body.dataset.errors = String(Number(document.body.dataset.errors ?? 0) + 1);
}
function clearError() { ui.error.hidden = true; ui.error.textContent = ''; }

function setBusy(value) {
  busy = value;
  document.body.dataset.busy = String(value);
  for (const b of actionButtons) b.disabled = value || !info;
  if (!value && info) {
    $('redraw').disabled = !info.conditional;
    $('morph').disabled = !info.conditional;
    $('undo').disabled = undoStack.length === 0;
    $('redo').disabled = redoStack.length === 0;
  }
}

// ---- pad rendering -------------------------------------------------------
function resizePad() {
  const dpr = window.devicePixelRatio || 1;
  const rect = pad.getBoundingClientRect();
  pad.width = Math.round(rect.width * dpr);
  pad.height = Math.round(rect.height * dpr);
  render();
}

function padTransform() {
  const k = pad.width / PAD_UNITS;
  return ([x, y]) => [x * k, y * k];
}

function render() {
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, pad.width, pad.height);
  drawStrokes(ctx, strokes, padTransform(), undefined, 3 * (window.devicePixelRatio || 1));
  pad.dataset.userStrokes = String(strokes.filter((s) => s.by === 'user').length);
  pad.dataset.modelStrokes = String(strokes.filter((s) => s.by === 'model').length);
}

// ---- history ---------------------------------------------------------------
const snapshot = () => strokes.map((s) => ({ by: s.by, points: s.points.map((p) => p.slice()) }));
function remember() {
  undoStack.push(snapshot());
  redoStack.length = 0;
}
function undo() {
  if (!undoStack.length) return;
  redoStack.push(snapshot());
  strokes = undoStack.pop();
  render();
  setBusy(false);
}
function redo() {
  if (!redoStack.length) return;
  undoStack.push(snapshot());
  strokes = redoStack.pop();
  render();
  setBusy(false);
}

// ---- pointer input -------------------------------------------------------
function padPoint(e) {
  const rect = pad.getBoundingClientRect();
  return [((e.clientX - rect.left) / rect.width) * PAD_UNITS, ((e.clientY - rect.top) / rect.height) * PAD_UNITS];
}

pad.addEventListener('pointerdown', (e) => {
  if (activePointer !== null || busy || e.button > 0) return;   // a second finger, or the model is drawing
  activePointer = e.pointerId;
  pad.setPointerCapture(e.pointerId);
  remember();
  strokes.push({ by: 'user', points: [padPoint(e)] });
  render();
  e.preventDefault();
});
pad.addEventListener('pointermove', (e) => {
  if (e.pointerId !== activePointer) return;
  const stroke = strokes[strokes.length - 1];
  const events = e.getCoalescedEvents ? e.getCoalescedEvents() : [e];
  for (const ev of events.length ? events : [e]) stroke.points.push(padPoint(ev));
  render();
});
function endStroke(e) {
  if (e.pointerId !== activePointer) return;
  activePointer = null;
  setBusy(false);
}
pad.addEventListener('pointerup', endStroke);
pad.addEventListener('pointercancel', endStroke);

// ---- model requests --------------------------------------------------------
const params = () => ({
  temperature: Number(ui.temperature.value),
  seed: seed++,
  maxPoints: info.max_seq_len,
});

function currentDrawing() {
  const scale = modelScale(info.typical_size_px);
  const { rows, last } = toStroke3(strokes, scale);
  return { rows, last, scale };
}

async function run(label, task) {
  if (busy || !info) return;
  clearError();
  setBusy(true);
  setStatus(`${label}…`);
  try {
    await task();
    setStatus(`${label}: done.`);
  } catch (e) {
    showError(`${label} failed: ${e.message}`);
    setStatus('');
  } finally {
    setBusy(false);
  }
}

function needDrawing() {
  if (!strokes.length) throw new Error('draw something first');
}

/** Streams points from the worker onto `target` strokes, `speed` points per frame. */
function animate(message, start, scale, target, onFrame) {
  const queue = [];
  let finished = false;
  const pen = new Pen(start, scale, 'model');
  return new Promise((resolve, reject) => {
    const frame = () => {
      const n = Number(ui.speed.value);
      pen.move(queue.splice(0, n), (s) => target.push(s));
      onFrame();
      if (finished && queue.length === 0) resolve();
      else requestAnimationFrame(frame);
    };
    request(message, (points) => queue.push(...points)).then(() => { finished = true; }, reject);
    requestAnimationFrame(frame);
  });
}

function finishIt() {
  return run('Finish it', async () => {
    needDrawing();
    const { rows, last, scale } = currentDrawing();
    remember();
    await animate({ type: MSG.FINISH, drawing: rows, ...params() }, last, scale, strokes, render);
  });
}

function showResults(title, drawings, { pickable = false, prefix = [] } = {}) {
  ui.resultsTitle.textContent = title;
  ui.resultsGrid.replaceChildren();
  ui.results.hidden = false;
  ui.resultsGrid.dataset.count = String(drawings.length);
  const dpr = window.devicePixelRatio || 1;
  drawings.forEach((extra, i) => {
    const c = document.createElement('canvas');
    c.width = c.height = Math.round(180 * dpr);
    c.dataset.modelStrokes = String(extra.filter((s) => s.by === 'model').length);
    c.setAttribute('aria-label', `${title} ${i + 1}`);
    const all = prefix.concat(extra);
    const g = c.getContext('2d');
    g.fillStyle = '#fff';
    g.fillRect(0, 0, c.width, c.height);
    drawStrokes(g, all, fitTransform(all, c.width, c.height), (s) => (s.by === 'model' ? INK.model : INK.ghost), 2 * dpr);
    if (pickable) {
      c.classList.add('pickable');
      c.tabIndex = 0;
      const adopt = () => {
        remember();
        strokes = strokes.concat(extra.map((s) => ({ by: 'model', points: s.points.map((p) => p.slice()) })));
        render();
        setBusy(false);
        setStatus('Adopted that idea.');
      };
      c.addEventListener('click', adopt);
      c.addEventListener('keydown', (e) => { if (e.key === 'Enter' || e.key === ' ') adopt(); });
    }
    ui.resultsGrid.appendChild(c);
  });
}

function redrawIt() {
  return run('Redraw', async () => {
    needDrawing();
    const { rows, scale } = currentDrawing();
    const redrawn = [];
    const original = snapshot().map((s) => ({ ...s, by: 'ghost' }));
    const paint = () => showResults('Your drawing and the model\'s redraw', [original, redrawn]);
    await animate({ type: MSG.REDRAW, drawing: rows, noise: Number(ui.noise.value), ...params() }, [0, 0], scale, redrawn, paint);
    paint();
  });
}

function moreIdeas() {
  return run('More ideas', async () => {
    needDrawing();
    const { rows, last, scale } = currentDrawing();
    const { drawings } = await request({ type: MSG.IDEAS, drawing: rows, count: 9, ...params() });
    const endings = drawings.map((d) => fromStroke3(d, last, scale, 'model'));
    showResults('More ideas: tap one to use it', endings, { pickable: true, prefix: snapshot() });
  });
}

function morph() {
  return run('Morph', async () => {
    needDrawing();
    const { rows, scale } = currentDrawing();
    const p = params();
    const { drawings } = await request({ type: MSG.MORPH, drawing: rows, steps: 7, temperature: Math.min(p.temperature, 0.3), seed: p.seed, maxPoints: p.maxPoints });
    showResults('Morph: your drawing into a new one', drawings.map((d) => fromStroke3(d, [0, 0], scale, 'model')));
  });
}

// ---- models ------------------------------------------------------------------
async function fetchBytes(url, label) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`download of ${url} failed: HTTP ${response.status}`);
  const total = Number(response.headers.get('content-length')) || 0;
  if (!response.body || !total) return response.arrayBuffer();
  const reader = response.body.getReader();
  const parts = [];
  let received = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    parts.push(value);
    received += value.length;
    setStatus(`Downloading ${label}… ${Math.round((100 * received) / total)}%`);
  }
  const bytes = new Uint8Array(received);
  let offset = 0;
  for (const p of parts) { bytes.set(p, offset); offset += p.length; }
  return bytes.buffer;
}

/** The picker entry of the model in use ('builtin', 'magenta:NAME' or 'file'); a failed load puts it back. */
let pickedValue = 'builtin';

/** Loads a model; `pickerValue` is the picker entry that names it once it is in use. */
async function loadModel(label, getBytes, pickerValue) {
  if (busy) {
    ui.picker.value = pickedValue;
    return;
  }
  clearError();
  setBusy(true);
  document.body.dataset.state = 'loading';
  setStatus(`Loading ${label}…`);
  try {
    const bytes = await getBytes();
    const { info: loaded } = await request({ type: MSG.LOAD, bytes, label }, undefined, [bytes]);
    info = loaded;
    document.body.dataset.model = label;
    showInPicker(pickerValue, label);
    setStatus(`Model: ${label} (${info.conditional ? 'VAE' : 'decoder only'}, ${info.dec_size} units). Draw, then press Finish it.`);
  } catch (e) {
    ui.picker.value = pickedValue;
    showError(`Could not load ${label}: ${e.message}.${info ? ' The previous model is still in use.' : ''}`);
    setStatus(info ? `Model: ${document.body.dataset.model}` : 'No model loaded.');
  } finally {
    document.body.dataset.state = info ? 'ready' : 'error';
    setBusy(false);
  }
}

/**
 * Makes the picker name the model in use. A model opened from a file gets its own entry
 * (value 'file'), dropped once another model is in use, so the built-in one can be picked again.
 */
function showInPicker(value, label) {
  let fileEntry = ui.picker.querySelector('option[value="file"]');
  if (value === 'file') {
    if (!fileEntry) {
      fileEntry = document.createElement('option');
      fileEntry.value = 'file';
      ui.picker.prepend(fileEntry);
    }
    fileEntry.textContent = `${label} (file)`;
  } else if (fileEntry) {
    fileEntry.remove();
  }
  ui.picker.value = value;
  pickedValue = value;
}

function pickModel() {
  const value = ui.picker.value;
  if (value === 'builtin') {
    loadModel(DEFAULT_MODEL.label, () => fetchBytes(DEFAULT_MODEL.url, DEFAULT_MODEL.label), value);
  } else if (value.startsWith('magenta:')) {
    const name = value.slice('magenta:'.length);
    const base = ui.baseUrl.value.endsWith('/') ? ui.baseUrl.value : `${ui.baseUrl.value}/`;
    const url = `${base}${name}.${ui.kind.value}.json`;
    loadModel(`${name} (${ui.kind.value})`, () => fetchBytes(url, name), value);
  }
}

function buildPicker() {
  const builtin = document.createElement('option');
  builtin.value = 'builtin';
  builtin.textContent = DEFAULT_MODEL.label;
  const group = document.createElement('optgroup');
  group.label = 'Magenta catalogue';
  for (const name of MAGENTA_MODELS) {
    const o = document.createElement('option');
    o.value = `magenta:${name}`;
    o.textContent = name.replaceAll('_', ' ');
    group.appendChild(o);
  }
  ui.picker.replaceChildren(builtin, group);
  const params = new URLSearchParams(location.search);
  ui.baseUrl.value = params.get('models') ?? MAGENTA_BASE_URL;
}

// ---- export --------------------------------------------------------------------
function download(blob, name) {
  const a = document.createElement('a');
  a.href = URL.createObjectURL(blob);
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

// ---- wiring ----------------------------------------------------------------------
function bindSlider(input, output, format) {
  const show = () => { output.textContent = format(Number(input.value)); };
  input.addEventListener('input', show);
  show();
}

buildPicker();
bindSlider(ui.temperature, $('temperature-value'), (v) => v.toFixed(2));
bindSlider(ui.noise, $('noise-value'), (v) => v.toFixed(2));
bindSlider(ui.speed, $('speed-value'), (v) => `${v} points/frame`);
$('finish').addEventListener('click', finishIt);
$('redraw').addEventListener('click', redrawIt);
$('ideas').addEventListener('click', moreIdeas);
$('morph').addEventListener('click', morph);
$('undo').addEventListener('click', undo);
$('redo').addEventListener('click', redo);
$('clear').addEventListener('click', () => { remember(); strokes = []; ui.results.hidden = true; render(); setBusy(false); });
$('export-svg').addEventListener('click', () => download(new Blob([toSvg(strokes)], { type: 'image/svg+xml' }), 'sketch.svg'));
$('export-png').addEventListener('click', () => pad.toBlob((b) => b && download(b, 'sketch.png'), 'image/png'));
ui.picker.addEventListener('change', pickModel);
ui.kind.addEventListener('change', () => { if (ui.picker.value.startsWith('magenta:')) pickModel(); });
ui.file.addEventListener('change', () => {
  const f = ui.file.files[0];
  if (f) loadModel(f.name, () => f.arrayBuffer(), 'file');
  ui.file.value = '';
});
window.addEventListener('resize', resizePad);
resizePad();
setBusy(false);
loadModel(DEFAULT_MODEL.label, () => fetchBytes(DEFAULT_MODEL.url, DEFAULT_MODEL.label), 'builtin');
