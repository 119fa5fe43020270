/**
 * Derives a "version 2" of a tree the way a package update would, without touching the
 * tree: a NAR writer transform that edits a seeded, deterministic selection of files.
 * The same seed, root and path always give the same choice and the same bytes.
 */
import { createHash } from 'node:crypto';
import type { NarFileTransform } from '../port/engine/nar-writer.js';

export type EditKind = 'append' | 'insert-middle';

export interface VariantSpec {
  /** Mixed into every choice, so another seed picks other files. */
  seed: string;
  /** Fraction of regular files to edit, 0..1. */
  fraction: number;
  /** 'append': a few bytes at the end; 'insert-middle': a few bytes in the middle (shifts the rest). */
  edit: EditKind;
}

export interface VariantStats {
  editedFiles: number;
  /** Bytes added over all edited files. */
  addedBytes: number;
  /** NAR size change: each edited file's padded content length difference. */
  narBytesDelta: number;
}

function pathDigest(spec: VariantSpec, root: string, relativePath: string): Buffer {
  return createHash('sha256').update(`${spec.seed}\0${root}\0${relativePath}`).digest();
}

/** Deterministic choice: the path's seeded digest, as a fraction of 2^32, is below `fraction`. */
export function isChosen(spec: VariantSpec, root: string, relativePath: string): boolean {
  return pathDigest(spec, root, relativePath).readUInt32BE(0) < spec.fraction * 2 ** 32;
}

function paddedLength(length: number): number {
  return Math.ceil(length / 8) * 8;
}

/** The bytes a chosen file gains: short, and different per file. */
function marker(spec: VariantSpec, root: string, relativePath: string): Buffer {
  return Buffer.from(`\n# v2 ${pathDigest(spec, root, relativePath).toString('hex', 4, 8)}\n`, 'latin1');
}

/** A transform for the NAR writer; `stats` is filled in as files are rewritten. */
export function variantTransform(spec: VariantSpec, root: string, stats: VariantStats): NarFileTransform {
  return {
    shouldTransform: (relativePath) => isChosen(spec, root, relativePath),
    transform: (relativePath, contents) => {
      const extra = marker(spec, root, relativePath);
      const at = spec.edit === 'append' ? contents.length : Math.floor(contents.length / 2);
      const edited = Buffer.concat([contents.subarray(0, at), extra, contents.subarray(at)]);
      stats.editedFiles++;
      stats.addedBytes += extra.length;
      stats.narBytesDelta += paddedLength(edited.length) - paddedLength(contents.length);
      return edited;
    },
  };
}

export function emptyVariantStats(): VariantStats {
  return { editedFiles: 0, addedBytes: 0, narBytesDelta: 0 };
}
