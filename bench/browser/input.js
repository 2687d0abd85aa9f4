// The fixed input every library reads in the browser benchmark (and the wasm
// parity test): stroke-5 rows in normalised units.

/**
 * The fixed input in normalised units: stroke-5 rows (start token excluded) of
 * loops a few tenths of a unit long, pen lifted every 31 rows. The same
 * formula as `weights::parity_input` in the Rust crate.
 */
export function fixedInput(n) {
  const rows = [];
  for (let t = 1; t <= n; t++) {
    const a = t * 0.23 + Math.sin(t * 0.05) * 2.0;
    const r = 0.25 + 0.1 * Math.abs(Math.sin(t * 0.7));
    const up = t % 31 === 0 ? 1 : 0;
    rows.push([r * Math.cos(a), r * Math.sin(a), 1 - up, up, 0]);
  }
  return rows;
}
