// Messages between the page (app.js) and the inference worker (worker.js),
// defined once. Every request carries an `id`; the worker answers with the
// same `id`.
//
// page -> worker
//   LOAD    {id, bytes: ArrayBuffer, label}                  load a model file
//   FINISH  {id, drawing, temperature, seed, maxPoints}        continue the drawing
//   REDRAW  {id, drawing, temperature, noise, seed, maxPoints} decode from the latent alone
//           (the nearest to the drawing of several decodings, Session::redraw)
//   IDEAS   {id, drawing, temperature, seed, maxPoints, count}
//   MORPH   {id, drawing, temperature, seed, maxPoints, steps}
// worker -> page
//   LOADED  {id, info}                    the new model is in use
//   POINTS  {id, points, done}            a chunk of FINISH / REDRAW points
//   RESULT  {id, drawings}                IDEAS / MORPH drawings
//   ERROR   {id, message}                 the request failed; the previous model stays
// Drawings and points are stroke-3 rows [dx, dy, penLifted] in model pixels.
export const MSG = Object.freeze({
  LOAD: 'load',
  FINISH: 'finish',
  REDRAW: 'redraw',
  IDEAS: 'ideas',
  MORPH: 'morph',
  LOADED: 'loaded',
  POINTS: 'points',
  RESULT: 'result',
  ERROR: 'error',
});

// Points the worker sends per POINTS message while generating.
export const POINTS_PER_MESSAGE = 16;
