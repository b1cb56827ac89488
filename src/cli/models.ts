// `ferry models ls | show | push | pull | rm | alias | unalias`: the admin API from a terminal.
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { FerryClient } from './client.js';
import { pullCommand } from './hub.js';

interface ModelRow { name: string; versions: number[]; latestVersion: number; aliases: Record<string, number> }

function progress(sent: number, total: number): void {
  if (!process.stderr.isTTY) return;
  const width = 30, frac = total === 0 ? 1 : sent / total;
  const bar = '█'.repeat(Math.round(frac * width)).padEnd(width, '░');
  process.stderr.write(`\r${bar} ${(frac * 100).toFixed(0).padStart(3)}%  ${(sent / 1e6).toFixed(1)}/${(total / 1e6).toFixed(1)} MB`);
  if (sent >= total) process.stderr.write('\n');
}

export function modelCommands(program: Command, client: () => FerryClient): void {
  const models = program.command('models').description('manage registered models, versions and aliases');

  models.command('ls').description('list models with their versions and aliases').option('--json', 'print JSON').action(async (opts: { json?: boolean }) => {
    const { models: rows } = (await client().get('/api/models')) as { models: ModelRow[] };
    if (opts.json) return console.log(JSON.stringify(rows, null, 2));
    if (rows.length === 0) return console.log('no models registered; push one with `ferry models push model.onnx --name NAME`');
    const table = rows.map((m) => [m.name, m.versions.join(','), Object.entries(m.aliases).map(([a, v]) => `${a}→${v}`).join(' ') || '-']);
    const w = [4, 8, 7].map((min, i) => Math.max(min, ...table.map((r) => r[i]!.length)));
    console.log(['NAME', 'VERSIONS', 'ALIASES'].map((h, i) => h.padEnd(w[i]!)).join('  '));
    for (const r of table) console.log(r.map((c, i) => c.padEnd(w[i]!)).join('  '));
  });

  models.command('show <name>').description('show a model and its versions as JSON').action(async (name: string) => {
    console.log(JSON.stringify(await client().get(`/api/models/${encodeURIComponent(name)}`), null, 2));
  });

  models.command('push <file>').description('register a new immutable version from an .onnx file, or a Hugging Face model folder with --task')
    .option('--name <name>', 'model name (default: the file or folder name without extension)')
    .option('--config <json>', 'serving config as JSON, e.g. \'{"maxBatchSize":32}\'')
    .option('--description <text>', 'a description stored with the version')
    .option('--task <task>', 'for a Hugging Face folder (config.json, tokenizer.json, onnx/model.onnx): text-classification')
    .option('--truncation', 'text models: cut texts longer than the model takes instead of refusing them')
    .action(async (file: string, opts: { name?: string; config?: string; description?: string; task?: string; truncation?: boolean }) => {
      const name = opts.name ?? path.basename(path.resolve(file)).replace(/\.[^.]+$/, '');
      let packedDir: string | undefined;
      if (statSync(file, { throwIfNoEntry: false })?.isDirectory()) {
        if (!opts.task) throw new Error(`${file} is a folder: push a Hugging Face model folder with --task text-classification`);
        // one file that carries the tokenizer and labels, uploaded like any model
        const { packHfDirectory } = await import('../text/hf-import.js');
        packedDir = mkdtempSync(path.join(tmpdir(), 'ferry-push-'));
        const packed = path.join(packedDir, 'model.onnx');
        writeFileSync(packed, packHfDirectory(file, { task: opts.task, truncation: opts.truncation }));
        file = packed;
      }
      const q = new URLSearchParams();
      if (opts.config) {
        // The server would name its query parameter; a CLI user needs to hear about --config.
        try {
          JSON.parse(opts.config);
        } catch {
          throw new Error(`--config must be a JSON object, e.g. '{"maxBatchSize":32}'; got ${opts.config}`);
        }
        q.set('config', opts.config);
      }
      if (opts.description) q.set('description', opts.description);
      let v: { model: string; version: number; sizeBytes: number };
      try {
        v = (await client().upload(`/api/models/${encodeURIComponent(name)}/versions?${q}`, file, progress)) as typeof v;
      } finally {
        if (packedDir) rmSync(packedDir, { recursive: true, force: true });
      }
      console.log(`registered ${v.model} version ${v.version} (${v.sizeBytes} bytes)`);
    });

  pullCommand(models, client, progress);

  models.command('rm <name> [version]').description('delete one version, or the whole model when no version is given').action(async (name: string, version?: string) => {
    const p = `/api/models/${encodeURIComponent(name)}${version ? `/versions/${encodeURIComponent(version)}` : ''}`;
    const { deleted } = (await client().delete(p)) as { deleted: { version: number } | { version: number }[] };
    const list = Array.isArray(deleted) ? deleted : [deleted];
    console.log(`deleted ${name} version${list.length > 1 ? 's' : ''} ${list.map((d) => d.version).join(', ')}`);
  });

  models.command('alias <name> <alias> <version>').description('point an alias (e.g. prod) at a version; the new version is loaded before the switch')
    .action(async (name: string, alias: string, version: string) => {
      const r = (await client().putJson(`/api/models/${encodeURIComponent(name)}/aliases/${encodeURIComponent(alias)}`, { version })) as { previous: number | null };
      console.log(`${name}:${alias} → version ${version}${r.previous ? ` (was ${r.previous})` : ''}`);
    });

  models.command('unalias <name> <alias>').description('remove an alias').action(async (name: string, alias: string) => {
    await client().delete(`/api/models/${encodeURIComponent(name)}/aliases/${encodeURIComponent(alias)}`);
    console.log(`removed ${name}:${alias}`);
  });
}
