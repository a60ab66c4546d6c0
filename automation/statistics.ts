// The statistical tests of the canary comparison (canaryAnalysis.ts): a two-proportion test for
// counts (errors among requests) and the Mann-Whitney U test for per-interval samples (latency),
// each one-sided with a margin, so that the analysis can ask both "is the candidate worse than the
// stable revision by more than the margin?" and "is it shown to be no worse than that?".
// Pure functions; the reference values of the tests come from scipy.stats (see the test file).

/** P(Z > z) for a standard normal Z. */
export function normalSurvival(z: number): number {
  if (Number.isNaN(z)) return NaN;
  return 0.5 * erfc(z / Math.SQRT2);
}

/**
 * Complementary error function, Chebyshev fit of Numerical Recipes (erfcc): fractional error
 * below 1.2e-7 everywhere, which is far finer than any significance level used here.
 */
function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const poly =
    -z * z -
    1.26551223 +
    t *
      (1.00002368 +
        t *
          (0.37409196 +
            t *
              (0.09678418 +
                t *
                  (-0.18628806 +
                    t *
                      (0.27886807 +
                        t *
                          (-1.13520398 +
                            t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
  const value = t * Math.exp(poly);
  return x >= 0 ? value : 2 - value;
}

export interface Counts {
  /** Events counted (e.g. 5xx responses, or successful ones). */
  readonly events: number;
  /** Out of this many (e.g. requests). */
  readonly total: number;
}

/**
 * One-sided test that proportion A exceeds proportion B by more than `margin` (a difference of
 * proportions, 0..1): H0 pA - pB <= margin against H1 pA - pB > margin. Returns the p-value.
 *
 * Agresti-Caffo adjusted Wald: one event and one non-event added to each group before the usual
 * unpooled z statistic. Unlike the plain Wald test it keeps its level with few or no events
 * (0 errors in both groups gives no zero variance), and with a margin the pooled variance of the
 * classic test does not apply. (Agresti & Caffo 2000, The American Statistician 54(4).)
 */
export function proportionExceedsPValue(a: Counts, b: Counts, margin: number): number {
  for (const [name, c] of [
    ["a", a],
    ["b", b],
  ] as const) {
    if (!(Number.isFinite(c.total) && c.total > 0 && c.events >= 0 && c.events <= c.total)) {
      throw new Error(
        `proportion test: group ${name} needs 0 <= events <= total and total > 0, got ${c.events} of ${c.total}`,
      );
    }
  }
  const pa = (a.events + 1) / (a.total + 2);
  const pb = (b.events + 1) / (b.total + 2);
  const se = Math.sqrt((pa * (1 - pa)) / (a.total + 2) + (pb * (1 - pb)) / (b.total + 2));
  return normalSurvival((pa - pb - margin) / se);
}

/** How the p-value of a Mann-Whitney U test was found. */
export type MannWhitneyMethod = "exact" | "normal";

export interface MannWhitneyResult {
  /** U of the first sample: pairs (x, y) with x > y, ties counted half. */
  readonly u: number;
  /** One-sided p-value of H1 "the first sample tends to be greater than the second". */
  readonly pValue: number;
  readonly method: MannWhitneyMethod;
}

/** Largest sample size with the exact distribution (its table grows as n^2 m^2). */
const EXACT_MAX = 20;

/** Mid-ranks (1-based) of all values together, and the sum of t^3 - t over the tie groups. */
function midRanks(values: readonly number[]): { ranks: number[]; tieTerm: number } {
  const order = values.map((value, index) => ({ value, index })).sort((p, q) => p.value - q.value);
  const ranks = new Array<number>(values.length);
  let tieTerm = 0;
  for (let start = 0; start < order.length;) {
    let end = start;
    while (end + 1 < order.length && order[end + 1].value === order[start].value) end++;
    const rank = (start + end) / 2 + 1;
    for (let k = start; k <= end; k++) ranks[order[k].index] = rank;
    const t = end - start + 1;
    tieTerm += t * t * t - t;
    start = end + 1;
  }
  return { ranks, tieTerm };
}

/**
 * P(U >= u) under H0 for samples of n and m values without ties, from the exact distribution:
 * the recurrence f(n, m, u) = n/(n+m) f(n-1, m, u-m) + m/(n+m) f(n, m-1, u) on probabilities.
 */
function exactUpperTail(n: number, m: number, u: number): number {
  // table[i][j] is the distribution of U for sizes i and j (index = U).
  const table: number[][][] = [];
  for (let i = 0; i <= n; i++) {
    table.push([]);
    for (let j = 0; j <= m; j++) {
      if (i === 0 || j === 0) {
        table[i].push([1]);
        continue;
      }
      const dist = new Array<number>(i * j + 1).fill(0);
      const fromI = table[i - 1][j];
      const fromJ = table[i][j - 1];
      for (let k = 0; k <= i * j; k++) {
        const a = k - j >= 0 && k - j < fromI.length ? fromI[k - j] : 0;
        const b = k < fromJ.length ? fromJ[k] : 0;
        dist[k] = (i / (i + j)) * a + (j / (i + j)) * b;
      }
      table[i].push(dist);
    }
  }
  const dist = table[n][m];
  let tail = 0;
  for (let k = Math.ceil(u - 1e-9); k < dist.length; k++) tail += dist[k];
  return Math.min(1, tail);
}

/**
 * Mann-Whitney U test, one-sided: does `x` tend to be greater than `y`? Exact without ties (and
 * at most 20 values a side), else the normal approximation with the tie correction of the
 * variance and a continuity correction of 0.5, as scipy.stats.mannwhitneyu does.
 */
export function mannWhitneyGreater(x: readonly number[], y: readonly number[]): MannWhitneyResult {
  const n = x.length;
  const m = y.length;
  if (n === 0 || m === 0) throw new Error("Mann-Whitney U: both samples need values");
  if ([...x, ...y].some((v) => !Number.isFinite(v))) {
    throw new Error("Mann-Whitney U: every value must be a finite number");
  }
  const { ranks, tieTerm } = midRanks([...x, ...y]);
  const rankSum = ranks.slice(0, n).reduce((sum, r) => sum + r, 0);
  const u = rankSum - (n * (n + 1)) / 2;
  if (tieTerm === 0 && n <= EXACT_MAX && m <= EXACT_MAX) {
    return { u, pValue: exactUpperTail(n, m, u), method: "exact" };
  }
  const total = n + m;
  const variance = ((n * m) / 12) * (total + 1 - tieTerm / (total * (total - 1)));
  // Every value equal: no evidence either way.
  if (!(variance > 0)) return { u, pValue: 1, method: "normal" };
  const z = (u - (n * m) / 2 - 0.5) / Math.sqrt(variance);
  return { u, pValue: normalSurvival(z), method: "normal" };
}

/**
 * Smallest one-sided p-value a Mann-Whitney test of n against m values can give: 1 / C(n+m, n).
 * When it exceeds the significance level, no result of the test can be significant.
 */
export function smallestMannWhitneyPValue(n: number, m: number): number {
  let p = 1;
  for (let k = 1; k <= n; k++) p *= k / (m + k);
  return p;
}
