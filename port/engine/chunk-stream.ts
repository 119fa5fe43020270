/**
 * Chunking an asynchronous byte source (a file stream, stdin, a NAR writer) with bounded
 * memory: one source buffer at a time plus the session's tail.
 */
import { feed, finish, openSession, resume, type Chunk, type SessionFlags, type StepResult } from './chunk-session.js';
import type { ChunkingOptions } from './chunking-options.js';

/**
 * Yields the chunks that become final after each source buffer, then the last ones. With
 * `flags.withBytes` each chunk carries a view of its bytes, valid until the next batch is
 * asked for (the source may reuse its buffers once it is pulled again).
 */
export async function* chunkStream(
  source: AsyncIterable<Uint8Array>,
  options: ChunkingOptions = {},
  flags: SessionFlags = {},
): AsyncGenerator<Chunk[]> {
  let state = openSession(options, flags);
  for await (const bytes of source) {
    let step: StepResult = feed(state, bytes);
    yield step.chunks;
    while (step.more) {
      step = resume(step.state);
      yield step.chunks;
    }
    state = step.state;
  }
  let step = finish(state);
  yield step.chunks;
  while (step.more) {
    step = finish(step.state);
    yield step.chunks;
  }
}
