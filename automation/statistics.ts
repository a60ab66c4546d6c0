// The statistical tests of the canary comparison (canaryAnalysis.ts): a two-proportion score
// test for counts (errors among requests) and the Mann-Whitney U test for per-interval samples (latency),
// each one-sided with a margin, so that the analysis can ask both "is the candidate worse than the
// stable revision by more than the margin?" and "is it shown to be no worse than that?".
// Pure functions; the reference values of the tests come from scipy and statsmodels (see the
// test file).

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
 * proportions, -1..1): H0 pA - pB <= margin against H1 pA - pB > margin. Returns the p-value.
 *
 * The score test of Miettinen and Nurminen (1985): the variance under H0 from the maximum
 * likelihood estimates restricted to pA - pB = margin, times N / (N - 1). Unlike a Wald test it keeps close to its level at a margin and with
 * few or no events; an Agresti-Caffo Wald test, tried first, passed a candidate exactly at the
 * margin about twice as often as the significance level says (issue 16 review). Checked against
 * statsmodels' test_proportions_2indep(method="score", compare="diff", correction=True).
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
  if (!(margin > -1 && margin < 1)) {
    throw new Error(
      `proportion test: margin must be a difference above -1 and below 1, got ${margin}`,
    );
  }
  const n1 = a.total;
  const n2 = b.total;
  const p1 = a.events / n1;
  const p2 = b.events / n2;
  const [r1, r2] = restrictedEstimates(p1, n1, p2, n2, margin);
  const variance = ((r1 * (1 - r1)) / n1 + (r2 * (1 - r2)) / n2) * ((n1 + n2) / (n1 + n2 - 1));
  const difference = p1 - p2 - margin;
  if (!(variance > 0)) return difference > 0 ? 0 : difference < 0 ? 1 : 0.5;
  return normalSurvival(difference / Math.sqrt(variance));
}

/**
 * The maximum likelihood estimates of p1 and p2 under p1 - p2 = delta: the root of a cubic in
 * closed form, as Miettinen and Nurminen (1985) give it (and statsmodels computes it); with no
 * difference to test, the pooled proportion.
 */
function restrictedEstimates(
  p1: number,
  n1: number,
  p2: number,
  n2: number,
  delta: number,
): [number, number] {
  const nobs = n1 + n2;
  const e2 = p2 * n2;
  const count = p1 * n1 + e2;
  if (delta === 0) return [count / nobs, count / nobs];
  const t2 = (n1 + 2 * n2) * delta - nobs - count;
  const t1 = (e2 * delta - nobs - 2 * e2) * delta + count;
  const t0 = e2 * delta * (1 - delta);
  const q = (t2 / (3 * nobs)) ** 3 - (t1 * t2) / (6 * nobs * nobs) + t0 / (2 * nobs);
  const p = (q >= 0 ? 1 : -1) * Math.sqrt(Math.max((t2 / (3 * nobs)) ** 2 - t1 / (3 * nobs), 0));
  const cosine = p === 0 ? 0 : Math.max(-1, Math.min(1, q / (p * p * p)));
  const angle = (Math.PI + Math.acos(cosine)) / 3;
  const r2 = Math.min(1, Math.max(0, 2 * p * Math.cos(angle) - t2 / (3 * nobs)));
  const r1 = Math.min(1, Math.max(0, r2 + delta));
  return [r1, r2];
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
