#!/usr/bin/env node
// A thin Node wrapper: the command itself is runAdoptCommand (src/cli/adopt.ts, built to dist/cli.js), tested
// directly.
import { readFile, writeFile } from 'node:fs/promises';
import { runAdoptCommand } from '../dist/cli.js';

const io = {
  readFile: (path) => readFile(path),
  writeFile: (path, text) => writeFile(path, text),
  out: (text) => process.stdout.write(`${text}\n`),
  err: (text) => process.stderr.write(`${text}\n`),
};

process.exitCode = await runAdoptCommand(process.argv.slice(2), io);
