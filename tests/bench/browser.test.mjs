// The browser benchmark still runs end to end: one pair of runs of every
// library on Magenta's sheep, and the JSON it writes holds a finite, positive
// figure for each measurement, our fast path within 1e-4 of candle, and the
// quantised files. Timings are not asserted (they belong to the benchmark).
// Needs pkg/, the release CLI and ../shared (skips without the model).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const shared = process.env.SKETCH_RNN_SHARED ?? join(root, '..', 'shared');
const model = join(shared, 'models', 'magenta', 'sheep.gen.json');

test('the browser benchmark measures every library', { skip: !existsSync(model) && 'no ../shared' }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'bench-test-'));
  try {
    const out = join(dir, 'browser.json');
    execFileSync('node', [join(root, 'bench', 'browser', 'run.mjs'), '--pairs', '1', '--out', out], {
      stdio: ['ignore', 'inherit', 'inherit'],
      timeout: 300_000,
    });
    const r = JSON.parse(readFileSync(out, 'utf8'));
    assert.deepEqual(Object.keys(r.summary).sort(), ['ours', 'tfjs1-cpu', 'tfjs4-wasm']);
    for (const [lib, s] of Object.entries(r.summary)) {
      for (const k of ['teacher_forced_ms_per_step', 'sketches_ms', 'alternatives_9_ms', 'alternatives_9_over_1']) {
        assert.ok(Number.isFinite(s[k]) && s[k] > 0, `${lib} ${k} = ${s[k]}`);
      }
      assert.ok(s.payload.gzip > 0 && s.payload.gzip < s.payload.raw, `${lib} payload`);
      assert.ok(r.runs[lib][0].sketches_points > 0, `${lib} drew nothing`);
    }
    for (const q of ['f32', 'f16', 'int8']) {
      const c = r.quantised[q];
      assert.ok(c.fast_path_parity <= 1e-4, `${q} fast path parity ${c.fast_path_parity}`);
      assert.match(c.convert_report, /max mixture-parameter difference/);
    }
    assert.ok(r.quantised.int8.raw < r.quantised.f16.raw && r.quantised.f16.raw < r.quantised.f32.raw);
    for (const peer of ['tfjs4-wasm', 'tfjs1-cpu']) {
      assert.ok(r.ratios_peer_over_ours[peer].teacher_forced_ms_per_step > 0);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
