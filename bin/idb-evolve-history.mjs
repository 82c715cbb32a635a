#!/usr/bin/env node
// A thin Node wrapper: the command itself is runSchemaHistoryCommand (src/cli/history.ts, built to dist/cli.js),
// tested directly.
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { runSchemaHistoryCommand } from '../dist/cli.js';

const io = {
  importModule: (specifier) => import(pathToFileURL(resolve(specifier)).href),
  listFiles: async (dir) => {
    try {
      return await readdir(dir);
    } catch (error) {
      if (error?.code === 'ENOENT') return undefined;
      throw error;
    }
  },
  readFile: (dir, name) => readFile(join(dir, name), 'utf8'),
  writeFile: async (dir, name, text) => {
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, name), text);
  },
  deleteFile: (dir, name) => rm(join(dir, name), { force: true }),
  out: (text) => process.stdout.write(`${text}\n`),
  err: (text) => process.stderr.write(`${text}\n`),
};

process.exitCode = await runSchemaHistoryCommand(process.argv.slice(2), io);
