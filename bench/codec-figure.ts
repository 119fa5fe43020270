/** One compression measurement as the compression benchmarks report it. */
import { megabytesPerSecond } from './timing.js';

export interface CodecFigure {
  name: string;
  bytes: number;
  compressedBytes: number;
  /** Best pass. */
  seconds: number;
  runs: number[];
  megabytesPerSecond: number;
  /** Compressed / original. */
  ratio: number;
}

/** `bytes` compressed to `compressedBytes`, timed `runs` (seconds per pass); the best pass counts. */
export function codecFigure(name: string, bytes: number, compressedBytes: number, runs: number[]): CodecFigure {
  const seconds = Math.min(...runs);
  return { name, bytes, compressedBytes, seconds, runs, megabytesPerSecond: megabytesPerSecond(bytes, seconds), ratio: compressedBytes / bytes };
}
