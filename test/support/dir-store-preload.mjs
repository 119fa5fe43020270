// Preloaded with `node --import` into the built CLI (dist/port/cli.js), this registers a
// `dirstore:///absolute/path` scheme: a minimal directory-backed store that persists
// across processes, so tests can kill the real CLI and run it again. It stands in for
// the file:// backend only until that is merged; it is not a backend of the product.
// Puts write a temp file (TEMP_NAME_PREFIX), fsync it and rename it into place, so a
// killed process never leaves a partial object under its name.
import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, rename, stat, unlink } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { storeError } from '../../dist/port/store/backend.js';
import { checkListPrefix, checkObjectName, TEMP_NAME_PREFIX } from '../../dist/port/store/object-name.js';
import { registerStoreOpener } from '../../dist/port/store/open-store.js';

const READ_BYTES = 1024 * 1024;

function missing(error) {
  return error?.code === 'ENOENT' || error?.code === 'ENOTDIR';
}

class DirStore {
  capabilities = { ranges: true, multipart: false, atomicRename: true, maxConcurrency: 16 };

  constructor(root, location) {
    this.root = root;
    this.location = location;
  }

  path(name) {
    return join(this.root, ...checkObjectName(name).split('/'));
  }

  async stat(name) {
    try {
      const info = await stat(this.path(name));
      return info.isFile() ? { name, size: info.size } : null;
    } catch (error) {
      if (missing(error)) return null;
      throw error;
    }
  }

  async get(name, range) {
    let handle;
    try {
      handle = await open(this.path(name), 'r');
    } catch (error) {
      if (missing(error)) throw storeError('not_found', `${this.location}: no object ${name}`);
      throw error;
    }
    try {
      const { size } = await handle.stat();
      const start = Math.min(range?.offset ?? 0, size);
      const end = range === undefined ? size : Math.min(start + range.length, size);
      const bytes = Buffer.alloc(end - start);
      let filled = 0;
      while (filled < bytes.length) {
        const { bytesRead } = await handle.read(bytes, filled, bytes.length - filled, start + filled);
        if (bytesRead === 0) throw storeError('store_integrity', `${name} shrank while read`);
        filled += bytesRead;
      }
      return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length);
    } finally {
      await handle.close();
    }
  }

  async put(name, source) {
    const target = this.path(name);
    await mkdir(dirname(target), { recursive: true });
    const temp = join(dirname(target), `${TEMP_NAME_PREFIX}${randomBytes(8).toString('hex')}`);
    const handle = await open(temp, 'wx');
    try {
      for (let offset = 0; offset < source.size; offset += READ_BYTES) {
        await handle.write(await source.read(offset, Math.min(READ_BYTES, source.size - offset)));
      }
      await handle.sync();
      await handle.close();
      await rename(temp, target);
    } catch (error) {
      await handle.close().catch(() => {});
      await unlink(temp).catch(() => {});
      throw error;
    }
  }

  async delete(name) {
    await unlink(this.path(name)).catch((error) => {
      if (!missing(error)) throw error;
    });
  }

  async *list(prefix) {
    checkListPrefix(prefix);
    const walk = async function* (directory) {
      let entries;
      try {
        entries = await readdir(directory, { withFileTypes: true });
      } catch (error) {
        if (missing(error)) return;
        throw error;
      }
      for (const entry of entries) {
        if (entry.name.startsWith(TEMP_NAME_PREFIX)) continue;
        const path = join(directory, entry.name);
        if (entry.isDirectory()) yield* walk(path);
        else if (entry.isFile()) yield path;
      }
    };
    for await (const path of walk(this.root)) {
      const name = relative(this.root, path).split(sep).join('/');
      if (!name.startsWith(prefix)) continue;
      const info = await this.stat(name);
      if (info !== null) yield info;
    }
  }

  async close() {}
}

registerStoreOpener('dirstore:', async (url) => {
  await mkdir(url.pathname, { recursive: true });
  return new DirStore(url.pathname, url.href);
});
