'use strict';
/**
 * Writes the results file of a reliability run: every scenario's figures (left by `report()` in harness.ts) and
 * whether it passed, with the commit, the machine and its load. A complete run of the full profile is kept in
 * test/reliability/results/runs/<time>-<sha>.json and copied to latest.json, which the README's Reliability
 * table is generated from (`npm run results:readme`). Quick runs write quick.json; partial or tuned runs
 * last-partial.json (both ignored by git).
 */
const {
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} = require('node:fs');
const { basename, join } = require('node:path');

const SCHEMA = 1;

/** RELIABILITY_* variables that change what a scenario does (sizes, durations). */
function overrides() {
  return Object.fromEntries(
    Object.entries(process.env).filter(
      ([key]) =>
        /^RELIABILITY_/.test(key) && !['RELIABILITY_PROFILE', 'RELIABILITY_FIGURES_DIR'].includes(key),
    ),
  );
}

function readJson(file) {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return null;
  }
}

function firstLines(text, n) {
  // eslint-disable-next-line no-control-regex
  return String(text ?? '')
    .replace(/\u001b\[[0-9;]*m/g, '')
    .split('\n')
    .slice(0, n)
    .join('\n');
}

class ReliabilityResultsReporter {
  constructor(globalConfig) {
    this.rootDir = globalConfig.rootDir;
  }

  provenance() {
    return require(join(this.rootDir, 'dist', 'bench', 'provenance.js'));
  }

  onRunStart() {
    const provenance = this.provenance();
    this.startedAt = new Date();
    this.loadBefore = provenance.loadAverage();
    this.source = provenance.sourceState(this.rootDir);
  }

  onRunComplete(_contexts, results) {
    if (!this.startedAt) return;
    const provenance = this.provenance();
    const figuresDir = process.env.RELIABILITY_FIGURES_DIR;
    const scenarioFiles = readdirSync(join(this.rootDir, 'test', 'reliability'))
      .filter((f) => f.endsWith('.reliability.ts'))
      .sort();
    const scenarios = results.testResults
      .map((file) => {
        const name = basename(file.testFilePath);
        const recorded = figuresDir ? readJson(join(figuresDir, `${name}.json`)) : null;
        const failures = file.testResults.flatMap((t) => t.failureMessages);
        if (file.testExecError) failures.unshift(file.testExecError.message);
        return {
          file: name,
          title: recorded?.title ?? name,
          summary: recorded?.summary ?? null,
          passed: !file.testExecError && file.numFailingTests === 0 && file.numPassingTests > 0,
          duration_s: Math.round((file.perfStats.end - file.perfStats.start) / 1000),
          failure: failures.length > 0 ? firstLines(failures[0], 12) : null,
          figures: recorded?.figures ?? null,
        };
      })
      .sort((a, b) => a.file.localeCompare(b.file));
    const profile = process.env.RELIABILITY_PROFILE === 'full' ? 'full' : 'quick';
    const tuned = overrides();
    const complete = scenarioFiles.every((f) => scenarios.some((s) => s.file === f));
    const output = {
      schema: SCHEMA,
      date: this.startedAt.toISOString(),
      profile,
      complete,
      overrides: tuned,
      passed: results.numFailedTests === 0 && results.numRuntimeErrorTestSuites === 0 && complete,
      duration_s: Math.round((Date.now() - this.startedAt.getTime()) / 1000),
      source: this.source,
      machine: {
        ...provenance.machineState(),
        postgres: figuresDir ? (readJson(join(figuresDir, 'postgres.json'))?.version ?? null) : null,
        load_avg_before: this.loadBefore,
        load_avg_after: provenance.loadAverage(),
      },
      scenarios,
    };
    const dir = join(this.rootDir, 'test', 'reliability', 'results');
    mkdirSync(dir, { recursive: true });
    const text = `${JSON.stringify(output, null, 2)}\n`;
    let file;
    if (profile === 'full' && complete && Object.keys(tuned).length === 0) {
      mkdirSync(join(dir, 'runs'), { recursive: true });
      file = join(
        dir,
        'runs',
        `${provenance.runName(this.startedAt, this.source.commit, this.source.dirty)}.json`,
      );
      writeFileSync(file, text);
      copyFileSync(file, join(dir, 'latest.json'));
    } else {
      file = join(dir, profile === 'quick' ? 'quick.json' : 'last-partial.json');
      writeFileSync(file, text);
    }
    process.stdout.write(`\nreliability results written to ${file}\n`);
    if (figuresDir && existsSync(figuresDir)) rmSync(figuresDir, { recursive: true, force: true });
  }
}

module.exports = ReliabilityResultsReporter;
