// The tests of the canary comparison, against reference values from scipy 1.x
// (scipy.stats.norm.sf, scipy.stats.mannwhitneyu(x, y, alternative="greater", method=...)) and
// statsmodels 0.14 (test_proportions_2indep), computed once in a scratch virtualenv; neither is
// a dependency of this project.
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

  describe("two proportions, one-sided with a margin (Miettinen-Nurminen score test)", () => {
    // statsmodels 0.14 test_proportions_2indep(c1, n1, c2, n2, value=margin, method="score",
    // compare="diff", alternative="larger", correction=True).pvalue
    const cases: Array<[[number, number, number, number, number], number]> = [
      [[120, 4000, 60, 4000, 0.005], 0.0011300333754253387],
      [[20, 1000, 5, 4000, 0.005], 3.8504211980546377e-7],
      [[5, 4000, 0, 4000, -0.005], 2.531791267726683e-7],
      [[3, 150, 3, 2850, 0.005], 0.015120774068192191],
      [[1, 750, 10, 9500, -0.005], 3.432312955718747e-11],
    ];
    for (const [[e1, n1, e2, n2, margin], expected] of cases) {
      it(`${e1}/${n1} against ${e2}/${n2}, margin ${margin}: p = ${expected}`, () => {
        close(
          proportionExceedsPValue({ events: e1, total: n1 }, { events: e2, total: n2 }, margin),
          expected,
          1e-5,
        );
      });
    }

    it("gives no evidence either way with no events at all and no margin", () => {
      assert.equal(
        proportionExceedsPValue({ events: 0, total: 100 }, { events: 0, total: 100 }, 0),
        0.5,
      );
    });

    it("refuses counts that are not counts, and margins outside -1..1", () => {
      assert.throws(
        () => proportionExceedsPValue({ events: 5, total: 4 }, { events: 0, total: 1 }, 0),
        /group a/,
      );
      assert.throws(
        () => proportionExceedsPValue({ events: 0, total: 1 }, { events: 0, total: 0 }, 0),
        /group b/,
      );
      assert.throws(
        () => proportionExceedsPValue({ events: 0, total: 1 }, { events: 0, total: 1 }, 1),
        /margin/,
      );
    });
  });
});
