/**
 * Surveys directory trees before archiving them: how many files and bytes they hold and
 * whether they can go into a NAR at all (no sockets, FIFOs or devices, all readable).
 * Also expands the simple `prefix*` patterns the candidate lists use.
 */
import { accessSync, constants, lstatSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

export interface TreeSurvey {
  path: string;
  /** Regular files. */
  files: number;
  /** Sum of regular file sizes (what ends up as NAR contents). */
  contentBytes: number;
  symlinks: number;
  directories: number;
  /** Why the tree cannot be archived, or null when it can. */
  problem: string | null;
}

/** Walks `root` without following symlinks. Stops at the first unarchivable entry. */
export function surveyTree(root: string): TreeSurvey {
  const survey: TreeSurvey = { path: root, files: 0, contentBytes: 0, symlinks: 0, directories: 0, problem: null };
  const pending: string[] = [root];
  while (pending.length > 0 && survey.problem === null) {
    const path = pending.pop()!;
    try {
      const stats = lstatSync(path);
      if (stats.isFile()) {
        accessSync(path, constants.R_OK);
        survey.files++;
        survey.contentBytes += stats.size;
      } else if (stats.isSymbolicLink()) {
        survey.symlinks++;
      } else if (stats.isDirectory()) {
        survey.directories++;
        for (const name of readdirSync(path)) pending.push(join(path, name));
      } else {
        survey.problem = `${path} is a special file (not allowed in a NAR)`;
      }
    } catch (error) {
      survey.problem = `${path}: ${(error as Error).message}`;
    }
  }
  return survey;
}

/** True when one path is the other or contains it. */
export function overlaps(a: string, b: string): boolean {
  return a === b || a.startsWith(`${b}/`) || b.startsWith(`${a}/`);
}

/**
 * Expands a candidate: a plain path, or a path whose last component ends in `*` (a prefix
 * match, e.g. /usr/lib/python3*). Returns existing real directories only (symlinks to
 * directories are skipped so nothing is archived twice), sorted.
 */
export function expandCandidate(pattern: string): string[] {
  const last = basename(pattern);
  const paths = last.endsWith('*')
    ? listOrEmpty(dirname(pattern))
        .filter((name) => name.startsWith(last.slice(0, -1)))
        .map((name) => join(dirname(pattern), name))
    : [pattern];
  return paths.filter(isRealDirectory).sort();
}

function listOrEmpty(path: string): string[] {
  try {
    return readdirSync(path);
  } catch {
    return [];
  }
}

function isRealDirectory(path: string): boolean {
  try {
    return lstatSync(path).isDirectory() && statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/**
 * Picks trees in candidate order until about `targetBytes` of contents: a tree is taken
 * when it keeps the total within `targetBytes * overshoot`, and picking stops once the
 * total reaches `targetBytes * enough`. Overlapping and unarchivable trees are skipped;
 * `onSurvey` reports each surveyed tree (they can take a moment on large trees).
 */
export function pickTrees(
  candidates: readonly string[],
  targetBytes: number,
  onSurvey: (survey: TreeSurvey, taken: boolean) => void,
  overshoot = 1.15,
  enough = 0.95,
): TreeSurvey[] {
  const picked: TreeSurvey[] = [];
  let total = 0;
  for (const pattern of candidates) {
    for (const path of expandCandidate(pattern)) {
      if (total >= targetBytes * enough) return picked;
      if (picked.some((tree) => overlaps(tree.path, path))) continue;
      const survey = surveyTree(path);
      const taken = survey.problem === null && survey.files > 0 && total + survey.contentBytes <= targetBytes * overshoot;
      onSurvey(survey, taken);
      if (taken) {
        picked.push(survey);
        total += survey.contentBytes;
      }
    }
  }
  return picked;
}
