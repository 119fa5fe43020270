/** Text output of the store section (store-section.ts) and its targets. */
import { renderTable, type Row } from './report.js';
import type { ObjectSetName, StoreFigures } from './store-section.js';
import type { TargetKind } from './store-servers.js';
import { formatBytes, formatRate } from './units.js';

/** Ours ÷ rclone in objects/s that each compared pair must reach. */
export const TARGET_STORE_RATIO = 1;
/** The pairs the done-when line names; the other servers are reported only. */
const TARGETED: readonly { kind: TargetKind; name: string }[] = [
  { kind: 's3', name: 'S3' },
  { kind: 'sftp', name: 'SFTP' },
];

export interface StoreTarget {
  name: string;
  measured: number | null;
  unit: string;
  met: boolean | null;
}

const SET_LABEL: Record<ObjectSetName, string> = { small: 'many small objects', large: 'few large objects' };

/** One target line per targeted server and object set. */
export function storeTargets(figures: StoreFigures | null): StoreTarget[] {
  const targets: StoreTarget[] = [];
  for (const { kind, name } of TARGETED) {
    for (const set of ['small', 'large'] as const) {
      const comparison = figures?.comparisons.find((entry) => entry.target === kind && entry.set === set);
      const measured = comparison === undefined || !Number.isFinite(comparison.ratio) ? null : comparison.ratio;
      targets.push({
        name: `upload to ${name}, ${SET_LABEL[set]}: ours ≥ ${TARGET_STORE_RATIO.toFixed(2)} × rclone copy`,
        measured,
        unit: '× rclone',
        // A server left out by --store-targets is not measured, which is not a miss.
        met: figures === null || !figures.targets.some((target) => target.kind === kind) ? null : measured !== null && measured >= TARGET_STORE_RATIO,
      });
    }
  }
  return targets;
}

function seconds(value: number): string {
  return Number.isFinite(value) ? value.toFixed(2) : 'n/a';
}

/** The section's tables, ready to print. */
export function renderStore(figures: StoreFigures): string {
  const { objects } = figures;
  const lines: string[] = [];
  lines.push(
    `\nStore uploads to servers on 127.0.0.1, ours (chunker sync) against ${figures.rcloneVersion ?? 'rclone (not found)'} copy; ` +
      `--transfers ${figures.transfers} --checkers ${figures.checkers}, fresh destination per run, median of ${figures.reps} rep${figures.reps === 1 ? '' : 's'} ` +
      '(tools interleaved), whole process timed (start, connect, existence check, upload, exit)',
  );
  lines.push(
    `Objects: small = ${objects.small.count} distinct corpus chunks (${formatBytes(objects.small.bytes)}, ${formatBytes(objects.small.bytes / Math.max(1, objects.small.count))} mean); ` +
      `large = ${objects.large.count} whole NARs (${formatBytes(objects.large.bytes)})`,
  );
  const rows: Row[] = figures.runs.map((run) => {
    const comparison = run.ours ? figures.comparisons.find((entry) => entry.target === run.target && entry.set === run.set) : undefined;
    const failed = run.error ?? run.checkError;
    return [
      run.target,
      run.subset ? `${run.set} (first ${run.objects})` : run.set,
      run.tool,
      failed === null ? seconds(run.seconds) : 'FAILED',
      failed === null ? run.objectsPerSecond.toFixed(run.objectsPerSecond < 10 ? 2 : 0) : 'n/a',
      formatRate(run.megabytesPerSecond),
      run.maxRssBytes === null ? 'n/a' : formatBytes(run.maxRssBytes),
      comparison === undefined ? '' : Number.isFinite(comparison.ratio) ? `${comparison.ratio.toFixed(2)}×` : 'n/a',
      comparison === undefined ? '' : Number.isFinite(comparison.ratioOfMedians) ? `${comparison.ratioOfMedians.toFixed(2)}×` : 'n/a',
    ];
  });
  lines.push(renderTable(['server', 'objects', 'tool', 's', 'objects/s', 'MB/s', 'peak RSS', 'ours/rclone', 'of medians'], rows));
  for (const target of figures.targets) {
    if (target.error !== null) lines.push(`${target.kind}: server did not start: ${target.error}`);
    else if (target.rcloneMissing !== null) lines.push(`${target.kind}: rclone not measured: ${target.rcloneMissing}`);
  }
  for (const run of figures.runs) {
    if (run.error !== null) lines.push(`${run.target} ${run.set} ${run.tool}: ${run.error}`);
    else if (run.checkError !== null) lines.push(`${run.target} ${run.set} ${run.tool}: check failed: ${run.checkError}`);
  }
  const busy = Math.max(figures.busyShareBefore ?? 0, figures.busyShareAfter ?? 0);
  lines.push(
    `ours/rclone = ours ÷ the fastest rclone variant on the same objects, in objects/s (= MB/s), rep by rep (each rep's two runs are neighbours in time), ` +
      `median over reps; "of medians" = ours' median rate ÷ rclone's. ` +
      `Other work kept the CPUs ${(busy * 100).toFixed(0)}% busy around this section; the servers and both clients share this machine's cores.`,
  );
  return lines.join('\n');
}
