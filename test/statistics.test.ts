// The tests of the canary comparison, against reference values from scipy 1.x
// (scipy.stats.norm.sf, scipy.stats.mannwhitneyu(x, y, alternative="greater", method=...)),
// computed once in a scratch virtualenv; scipy is not a dependency of this project. The
// Agresti-Caffo values are the same formula evaluated with scipy's norm.sf.
import { strict as assert } from "assert";
import {
  mannWhitneyGreater,
  normalSurvival,
  proportionExceedsPValue,
  smallestMannWhitneyPValue,
} from "../automation/statistics";

function close(actual: number, expected: number, relative = 1e-6): void {
  assert.ok(
    Math.abs(actual - expected) <= relative * Math.max(Math.abs(expected), 1e-300),
    `expected ${expected}, got ${actual}`,
  );
}

describe("statistics", () => {
  it("normalSurvival matches scipy's norm.sf", () => {
    close(normalSurvival(2.5), 0.006209665325776132);
    close(normalSurvival(-1), 0.8413447460685429);
    close(normalSurvival(0.3), 0.3820885778110474);
    close(normalSurvival(4.2), 1.334574901590631e-5);
    close(normalSurvival(0), 0.5);
  });

  describe("Mann-Whitney U, one-sided (first sample greater)", () => {
    it("exact without ties", () => {
      const r = mannWhitneyGreater(
        [12.1, 14.3, 13.8, 15.2, 16.0, 14.9],
        [11.0, 12.5, 11.8, 13.1, 12.2, 10.9, 12.9],
      );
      assert.equal(r.method, "exact");
      assert.equal(r.u, 38);
      close(r.pValue, 0.006993006993006993);
      const overlap = mannWhitneyGreater([5, 6, 7, 8, 9], [1, 2, 3, 4, 10]);
      assert.equal(overlap.u, 20);
      close(overlap.pValue, 0.07539682539682539);
    });

    it("normal approximation with ties (tie and continuity corrections)", () => {
      const r = mannWhitneyGreater(
        [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5],
        [2, 7, 1, 8, 2, 8, 1, 8, 2, 8, 4, 5],
      );
      assert.equal(r.method, "normal");
      assert.equal(r.u, 59.5);
      close(r.pValue, 0.668349787005349);
    });

    it("separates constant samples (backfilled data gives the same value every interval)", () => {
      const slower = mannWhitneyGreater(Array(10).fill(91.2), Array(10).fill(76));
      assert.equal(slower.u, 100);
      close(slower.pValue, 7.968955844033122e-6);
      const faster = mannWhitneyGreater(Array(10).fill(76), Array(10).fill(91.2));
      close(faster.pValue, 0.9999946491728054);
    });

    it("gives no evidence when every value is equal", () => {
      assert.equal(mannWhitneyGreater([5, 5, 5], [5, 5, 5]).pValue, 1);
    });

    it("refuses empty or non-finite samples", () => {
      assert.throws(() => mannWhitneyGreater([], [1]), /both samples need values/);
      assert.throws(() => mannWhitneyGreater([NaN], [1]), /finite/);
    });

    it("knows the smallest p-value a sample size allows: 1 / C(n+m, n)", () => {
      close(smallestMannWhitneyPValue(5, 5), 1 / 252);
      close(smallestMannWhitneyPValue(4, 4), 1 / 70);
      close(smallestMannWhitneyPValue(2, 3), 1 / 10);
    });
  });

  describe("two proportions, one-sided with a margin (Agresti-Caffo)", () => {
    it("matches the formula evaluated with scipy", () => {
      // 3 % against 1.5 % errors, 4000 requests each, margin 0.5 percentage points.
      close(
        proportionExceedsPValue({ events: 120, total: 4000 }, { events: 60, total: 4000 }, 0.005),
        0.0013395550732367163,
      );
      close(
        proportionExceedsPValue({ events: 20, total: 1000 }, { events: 5, total: 4000 }, 0.005),
        0.0007718054354252056,
      );
    });

    it("has no zero variance with no events at all", () => {
      close(proportionExceedsPValue({ events: 0, total: 100 }, { events: 0, total: 100 }, 0), 0.5);
    });

    it("refuses counts that are not counts", () => {
      assert.throws(
        () => proportionExceedsPValue({ events: 5, total: 4 }, { events: 0, total: 1 }, 0),
        /group a/,
      );
      assert.throws(
        () => proportionExceedsPValue({ events: 0, total: 1 }, { events: 0, total: 0 }, 0),
        /group b/,
      );
    });
  });
});
