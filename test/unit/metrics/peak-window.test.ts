import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { PeakWindow, PEAK_WINDOW_MS } from '../../../src/metrics/peak-window.js';

test('a burst between two reads a second apart is reported by both the read after it and the next one, then forgotten', () => {
  const peak = new PeakWindow();
  assert.is(peak.read(0, 0), 0);
  peak.note(1);
  peak.note(7);
  peak.note(3);
  assert.is(peak.read(PEAK_WINDOW_MS / 2, 0), 7, 'within the window under way');
  assert.is(peak.read(PEAK_WINDOW_MS, 0), 7, 'in the window just ended');
  assert.is(peak.read(2 * PEAK_WINDOW_MS, 0), 0, 'two windows later');
});

test('the value now counts even when nothing was noted', () => {
  const peak = new PeakWindow();
  assert.is(peak.read(0, 4), 4);
  assert.is(peak.read(5 * PEAK_WINDOW_MS, 2), 4, 'the window before held 4');
  assert.is(peak.read(6 * PEAK_WINDOW_MS, 2), 2);
});

test.run();
