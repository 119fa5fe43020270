/**
 * File sources (port/store/object-source.ts): a small file is read whole when opened, a
 * larger one on demand; both snapshot the file as it was when opened, and a missing file
 * rejects rather than throws.
 */
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openFileSource, READ_WHOLE_MAX_BYTES } from '../../port/store/object-source.js';
import { seededBytes } from '../support/random-bytes.js';

const work = mkdtempSync(join(tmpdir(), 'chunker-object-source-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('openFileSource', () => {
  it('reads a small file whole at open: later changes to the file are not seen', async () => {
    const path = join(work, 'small');
    const bytes = seededBytes(READ_WHOLE_MAX_BYTES, 1);
    writeFileSync(path, bytes);
    const source = await openFileSource(path);
    writeFileSync(path, seededBytes(10, 2));
    expect(source.size).toBe(bytes.length);
    expect(Buffer.from(await source.read(0, bytes.length)).equals(Buffer.from(bytes))).toBe(true);
    expect(Buffer.from(await source.read(100, 5)).equals(Buffer.from(bytes.subarray(100, 105)))).toBe(true);
    await source.close();
  });

  it('reads a larger file in ranges on demand, and fails a read past where it shrank to', async () => {
    const path = join(work, 'large');
    const bytes = seededBytes(READ_WHOLE_MAX_BYTES + 4096, 3);
    writeFileSync(path, bytes);
    const source = await openFileSource(path);
    expect(source.size).toBe(bytes.length);
    const tail = await source.read(READ_WHOLE_MAX_BYTES, 4096);
    expect(Buffer.from(tail).equals(Buffer.from(bytes.subarray(READ_WHOLE_MAX_BYTES)))).toBe(true);
    // A range larger than a small file is read asynchronously, a smaller one synchronously: same bytes.
    expect(Buffer.from(await source.read(0, bytes.length)).equals(Buffer.from(bytes))).toBe(true);
    expect(Buffer.from(await source.read(1000, READ_WHOLE_MAX_BYTES)).equals(Buffer.from(bytes.subarray(1000, 1000 + READ_WHOLE_MAX_BYTES)))).toBe(true);
    truncateSync(path, 1000);
    await expect(source.read(0, 2000)).rejects.toThrow(/shrank/);
    await source.close();
  });

  it('reads into a buffer it is handed when that is large enough, else into a new one', async () => {
    const path = join(work, 'into');
    const bytes = seededBytes(READ_WHOLE_MAX_BYTES * 2, 4);
    writeFileSync(path, bytes);
    const source = await openFileSource(path);
    const room = Buffer.alloc(READ_WHOLE_MAX_BYTES + 10);
    const piece = await source.read(5, READ_WHOLE_MAX_BYTES + 1, room);
    expect(piece.buffer).toBe(room.buffer);
    expect(piece.byteOffset).toBe(room.byteOffset);
    expect(Buffer.from(piece).equals(Buffer.from(bytes.subarray(5, READ_WHOLE_MAX_BYTES + 6)))).toBe(true);
    const tooSmall = Buffer.alloc(16);
    const whole = await source.read(0, bytes.length, tooSmall);
    expect(whole.buffer).not.toBe(tooSmall.buffer);
    expect(Buffer.from(whole).equals(Buffer.from(bytes))).toBe(true);
    await source.close();
  });

  it('reads an empty file', async () => {
    const path = join(work, 'empty');
    writeFileSync(path, '');
    const source = await openFileSource(path);
    expect(source.size).toBe(0);
    expect((await source.read(0, 0)).length).toBe(0);
    await source.close();
  });

  it('rejects (does not throw) for a missing file', async () => {
    const opening = openFileSource(join(work, 'missing'));
    await expect(opening).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('rejects a range outside the file', async () => {
    const path = join(work, 'ranges');
    writeFileSync(path, seededBytes(100, 4));
    const source = await openFileSource(path);
    await expect(source.read(90, 20)).rejects.toMatchObject({ code: 'invalid_argument' });
    await source.close();
  });
});
