/** `chunker nar dump DIR` and `chunker nar ls FILE.nar`. */
import { createReadStream } from 'node:fs';
import { narStream } from '../engine/nar-writer.js';
import { readNarEntries } from '../engine/nar-reader.js';
import { parseArgs, UsageError } from './args.js';
import { openInput } from './input.js';
import { writeOut } from './output.js';

export const NAR_USAGE = `chunker nar dump PATH        writes the NAR of PATH to stdout (same bytes as nix-store --dump)
chunker nar ls FILE.nar|- [--json]
                             lists entries: type, size, content offset, path (validates the NAR)`;

export async function narCommand(argv: readonly string[]): Promise<void> {
  const [sub, ...rest] = argv;
  if (sub === 'dump') {
    const args = parseArgs(rest, { values: [], flags: [] });
    if (args.positionals.length !== 1) throw new UsageError('nar dump needs exactly one PATH');
    if (process.stdout.isTTY) throw new UsageError('refusing to write a binary NAR to a terminal; redirect stdout');
    for await (const piece of narStream(args.positionals[0]!)) await writeOut(piece);
    return;
  }
  if (sub === 'ls') {
    const args = parseArgs(rest, { values: [], flags: ['json'] });
    if (args.positionals.length !== 1) throw new UsageError('nar ls needs exactly one FILE.nar (or -)');
    const path = args.positionals[0]!;
    const source = path === '-' ? await openInput('-') : createReadStream(path, { highWaterMark: 1 << 20 });
    for await (const entry of readNarEntries(source)) {
      if (args.flags.has('json')) {
        await writeOut(`${JSON.stringify(entry)}\n`);
      } else {
        const size = entry.size ?? '';
        const offset = entry.contentOffset ?? '';
        const name = entry.path === '' ? '.' : entry.path;
        const target = entry.target !== undefined ? ` -> ${entry.target}` : '';
        await writeOut(`${entry.type}\t${size}\t${offset}\t${name}${target}\n`);
      }
    }
    return;
  }
  throw new UsageError(`nar needs a subcommand: dump or ls\n${NAR_USAGE}`);
}
