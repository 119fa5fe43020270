/**
 * A pool of SSH connections, each carrying a few SFTP channels. Every operation runs on
 * one channel (its requests pipelined there). The pool grows lazily and spreads the
 * work: an operation takes an idle channel on an idle connection if there is one, else
 * opens a new connection while fewer than `connections` exist (each connection is its
 * own sshd process, so load spreads over the server's cores), else a new channel on the
 * connection with the fewest, up to `channelsPerConnection`; past that, operations
 * share the least-loaded channel.
 *
 * A dead connection or channel leaves the pool as soon as ssh2 reports it; the next
 * operation opens a fresh one, which is how the store reconnects after a server restart.
 *
 * `warmUp` opens the first connection and channel before any operation needs them (an
 * SSH handshake and login take about 0.1 s), so that the caller's own work meanwhile —
 * listing what to upload — hides it. The first operation to arrive while it is still
 * being opened takes that channel, and fails with its error if opening fails.
 */
import { storeError } from '../backend.js';
import type { SftpChannel } from './channel.js';
import { SshConnection, type ConnectSettings } from './connection.js';

export interface PoolLimits {
  readonly connections: number;
  readonly channelsPerConnection: number;
}

interface ConnectionSlot {
  /** Resolves once connected; a failed connect removes the slot. */
  readonly ready: Promise<SshConnection>;
  /** Channels open or opening on it. */
  channels: number;
  /** Operations running on its channels. */
  load: number;
}

export class SftpPool {
  private readonly slots = new Set<ConnectionSlot>();
  private readonly channels = new Map<SftpChannel, ConnectionSlot>();
  private readonly opening = new Set<Promise<SftpChannel>>();
  /** The channel `warmUp` is opening, until an operation takes it or it settles. */
  private warming: Promise<SftpChannel> | undefined;
  private closed = false;

  constructor(
    private readonly settings: ConnectSettings,
    private readonly limits: PoolLimits,
  ) {}

  get maxChannels(): number {
    return this.limits.connections * this.limits.channelsPerConnection;
  }

  get maxConnections(): number {
    return this.limits.connections;
  }

  /** Runs `operation` on a channel, counting it towards that channel's load. */
  async run<T>(operation: (channel: SftpChannel) => Promise<T>): Promise<T> {
    const channel = await this.acquire();
    const slot = this.channels.get(channel);
    channel.load++;
    if (slot !== undefined) slot.load++;
    try {
      return await operation(channel);
    } finally {
      channel.load--;
      if (slot !== undefined) slot.load--;
    }
  }

  /** Starts opening the first connection and channel in the background (see the module doc). */
  warmUp(): void {
    if (this.closed || this.slots.size > 0 || this.warming !== undefined) return;
    const warming = this.openChannel(this.connect());
    this.warming = warming;
    const settled = () => {
      if (this.warming === warming) this.warming = undefined;
    };
    // Nobody may be waiting for it: its failure is reported to the operation that takes it, if any.
    warming.then(settled, settled);
  }

  /** Closes every connection; later operations fail with `store_closed`. */
  async close(): Promise<void> {
    this.closed = true;
    const connections = await Promise.allSettled([...this.slots].map((slot) => slot.ready));
    this.slots.clear();
    await Promise.all(connections.map((result) => (result.status === 'fulfilled' ? result.value.close() : undefined)));
  }

  private async acquire(): Promise<SftpChannel> {
    const warming = this.warming;
    if (warming !== undefined) {
      this.warming = undefined;
      return warming;
    }
    for (;;) {
      if (this.closed) throw storeError('store_closed', `${this.settings.location} is closed`);
      let best: SftpChannel | undefined;
      let bestSlot: ConnectionSlot | undefined;
      for (const [channel, slot] of this.channels) {
        if (best === undefined || channel.load < best.load || (channel.load === best.load && slot.load < bestSlot!.load)) {
          best = channel;
          bestSlot = slot;
        }
      }
      const canConnect = this.slots.size < this.limits.connections;
      if (best !== undefined && best.load === 0 && (bestSlot!.load === 0 || !canConnect)) return best;
      if (this.channels.size + this.opening.size < this.maxChannels) {
        const slot = canConnect ? this.connect() : this.leastChannels();
        if (slot !== undefined && !(slot === bestSlot && best!.load === 0)) return this.openChannel(slot);
      }
      if (best !== undefined) return best;
      // Every channel is still being opened: wait for one, then look again.
      await Promise.race([...this.opening]).catch(() => undefined);
    }
  }

  private leastChannels(): ConnectionSlot | undefined {
    let found: ConnectionSlot | undefined;
    for (const slot of this.slots) {
      if (slot.channels < this.limits.channelsPerConnection && (found === undefined || slot.channels < found.channels)) found = slot;
    }
    return found;
  }

  private connect(): ConnectionSlot {
    const slot: ConnectionSlot = { ready: SshConnection.connect(this.settings), channels: 0, load: 0 };
    this.slots.add(slot);
    slot.ready.then(
      (connection) => connection.onClosed(() => this.slots.delete(slot)),
      () => this.slots.delete(slot),
    );
    return slot;
  }

  private async openChannel(slot: ConnectionSlot): Promise<SftpChannel> {
    slot.channels++;
    const opening = slot.ready.then((connection) => connection.openChannel());
    this.opening.add(opening);
    try {
      const channel = await opening;
      if (this.closed) {
        channel.close();
        throw storeError('store_closed', `${this.settings.location} is closed`);
      }
      this.channels.set(channel, slot);
      channel.onClosed(() => {
        this.channels.delete(channel);
        slot.channels--;
      });
      return channel;
    } catch (error) {
      slot.channels--;
      throw error;
    } finally {
      this.opening.delete(opening);
    }
  }
}
