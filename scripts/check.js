#!/usr/bin/env node
'use strict';
// `npm run check`: the type check and eslint side by side (each builds its own TypeScript program; on two cores
// together they take about two thirds of the time one after the other), then prettier. Each one's output is printed
// whole once it ends, so the two never interleave; the exit code is the first failure's. Plain Node, so that
// `npm test` runs the same on Windows.
const { spawn } = require('node:child_process');

function run(name, command, args) {
  return new Promise((resolve) => {
    const child = spawn(command, args, {
      shell: process.platform === 'win32',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const output = [];
    child.stdout.on('data', (chunk) => output.push(chunk));
    child.stderr.on('data', (chunk) => output.push(chunk));
    child.on('error', (err) => resolve({ name, code: 1, output: `${err.message}\n` }));
    child.on('close', (code) => resolve({ name, code: code ?? 1, output: Buffer.concat(output).toString() }));
  });
}

function report({ name, code, output }) {
  process.stdout.write(`\n> ${name}\n${output}`);
  return code;
}

async function main() {
  const npx = process.platform === 'win32' ? 'npx.cmd' : 'npx';
  const [typecheck, lint] = await Promise.all([
    run('typecheck (tsc -p tsconfig.json --noEmit)', npx, ['tsc', '-p', 'tsconfig.json', '--noEmit']),
    run('lint (eslint .)', npx, ['eslint', '.']),
  ]);
  const failed = [report(typecheck), report(lint)].find((code) => code !== 0);
  if (failed !== undefined) return failed;
  return report(await run('format (prettier --check .)', npx, ['prettier', '--check', '.']));
}

main().then((code) => process.exit(code));
