// The baseline for bench/program.bench.ts: a Pulumi program that registers nothing, run
// through the same mocks and runner, so the ratio isolates what index.ts itself costs.
export {};
