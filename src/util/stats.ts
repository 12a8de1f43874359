/** Summary statistics of a sample, shared by the metrics and the claims that judge them. */

export const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/** Sample standard deviation; NaN with fewer than two values. */
export const sd = (xs: number[]) => (xs.length < 2 ? NaN : Math.sqrt(xs.reduce((s, x) => s + (x - mean(xs)) ** 2, 0) / (xs.length - 1)));

/** Standard error of the mean of `xs`; NaN with fewer than two values. */
export const stdErr = (xs: number[]) => sd(xs) / Math.sqrt(xs.length);
