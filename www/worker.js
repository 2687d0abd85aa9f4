// The inference worker: owns the wasm instance and the loaded model, so the
// page never blocks while the model thinks. Protocol in messages.js.
import init, { Model } from './pkg/sketch_rnn.js';
import { MSG, POINTS_PER_MESSAGE } from './messages.js';

let model = null;
let info = null;
const ready = init();

/** The latent Finish it and More ideas draw from: one whose finish of
 * `drawing` goes on, from the drawing's own encoding or the decoder's
 * posterior, as the model calls for (Session::finishing_latent). */
function finishingLatent(drawing, temperature, seed) {
  return info.conditional ? model.finishingLatent(drawing, temperature, seed) : undefined;
}

function stream(id, drawing, z, prefix, temperature, seed, maxPoints) {
  const d = model.begin(z, prefix, seed);
  try {
    let sent = 0;
    while (!d.finished && sent < maxPoints) {
      const k = Math.min(POINTS_PER_MESSAGE, maxPoints - sent);
      const points = model.nextPoints(d, k, temperature);
      sent += points.length;
      const done = d.finished || sent >= maxPoints;
      postMessage({ type: MSG.POINTS, id, points, done });
      if (done) return;
    }
    postMessage({ type: MSG.POINTS, id, points: [], done: true });
  } finally {
    d.free();
  }
}

function generate(z, temperature, seed, maxPoints) {
  const d = model.begin(z, [], seed);
  try {
    return model.nextPoints(d, maxPoints, temperature);
  } finally {
    d.free();
  }
}

/** Posts an already drawn `points` as the POINTS chunks stream() sends. */
function sendPoints(id, points) {
  for (let sent = 0; sent < points.length; sent += POINTS_PER_MESSAGE) {
    const chunk = points.slice(sent, sent + POINTS_PER_MESSAGE);
    postMessage({ type: MSG.POINTS, id, points: chunk, done: sent + chunk.length >= points.length });
  }
  if (points.length === 0) postMessage({ type: MSG.POINTS, id, points: [], done: true });
}

const handlers = {
  [MSG.LOAD]({ id, bytes }) {
    const next = new Model(new Uint8Array(bytes));
    if (model) model.free();
    model = next;
    info = model.info();
    postMessage({ type: MSG.LOADED, id, info });
  },
  [MSG.FINISH]({ id, drawing, temperature, seed, maxPoints }) {
    // a latent whose finish, streamed below from the same seed, goes on
    const z = finishingLatent(drawing, temperature, seed);
    stream(id, drawing, z, drawing, temperature, seed, maxPoints);
  },
  [MSG.REDRAW]({ id, drawing, temperature, noise, seed, maxPoints }) {
    if (!info.conditional) throw new Error('Redraw needs a VAE model (this one is decoder-only): pick a .vae model');
    // the nearest to the drawing of several decodings of its noisy latent
    // (Session::redraw): already drawn, so sent in chunks, not decoded again
    const kept = model.redraw(drawing, noise, temperature, maxPoints, undefined, seed);
    sendPoints(id, kept.drawing);
  },
  [MSG.IDEAS]({ id, drawing, temperature, seed, maxPoints, count }) {
    const z = finishingLatent(drawing, temperature, seed);
    const drawings = model.alternatives(z, drawing, count, temperature, maxPoints, seed);
    postMessage({ type: MSG.RESULT, id, drawings });
  },
  [MSG.MORPH]({ id, drawing, temperature, seed, maxPoints, steps }) {
    if (!info.conditional) throw new Error('Morph needs a VAE model (this one is decoder-only): pick a .vae model');
    const from = model.encode(drawing).mu;
    const to = model.priorLatent(seed);
    const zs = model.interpolate(from, to, steps, true);
    const drawings = zs.map((z, i) => generate(new Float32Array(z), temperature, seed + i, maxPoints));
    postMessage({ type: MSG.RESULT, id, drawings });
  },
};

onmessage = async (event) => {
  const msg = event.data;
  try {
    await ready;
    const handler = handlers[msg.type];
    if (!handler) throw new Error(`unknown message ${msg.type}`);
    if (msg.type !== MSG.LOAD && !model) throw new Error('no model loaded yet');
    handler(msg);
  } catch (e) {
    postMessage({ type: MSG.ERROR, id: msg.id, message: String(e?.message ?? e) });
  }
};
