defmodule Chunker do
  @moduledoc """
  Content-defined chunking (FastCDC) and hashing for Nix binary caches, done in a pool of
  port programs so that no BEAM scheduler ever runs the work.

  ## Chunking

  FastCDC (Xia et al., "FastCDC: a Fast and Efficient Content-Defined Chunking Approach
  for Data Deduplication", USENIX ATC 2016; and "The Design of Fast Content-Defined
  Chunking for Data Deduplication Based Storage Systems", IEEE TPDS 2020) slides a gear
  hash over the bytes and cuts where the hash matches a mask, so cut points depend on the
  content, not on positions: an insertion early in a file moves only the chunks around it,
  and the rest deduplicate against the old version. Cut points are bit-compatible with the
  Rust `fastcdc` crate's `v2020` module.

  **Every chunking option moves cut points** (`:preset`, the sizes, `:normalization`,
  `:seed`): a store filled with one setting deduplicates poorly against data chunked with
  another. Keep them fixed for a store. `:hash` only changes the digests.

  ## Options

    * `:preset` - `:default` (16 KiB / 64 KiB / 256 KiB, the default), `:nif`
      (256 KiB / 1 MiB / 4 MiB, the original Rust NIF's sizes) or `:small`
      (4 KiB / 16 KiB / 64 KiB);
    * `:min_size` (64..1 MiB), `:avg_size` (256..4 MiB), `:max_size` (1 KiB..16 MiB) -
      override the preset's sizes, with min ≤ avg ≤ max; never clamped;
    * `:normalization` - FastCDC normalization level, 0..3 (default 1);
    * `:seed` - a 64-bit key mixed into the gear table (default 0, unkeyed);
    * `:hash` - `:sha256` (default), `:blake3` or `:none`;
    * `:budget_bytes`, `:budget_ms` - the most work one request does before the port
      replies and waits for `continue/1` (defaults announced by the port: 16 MiB, 10 ms);
    * `:timeout` - milliseconds to wait for each reply, or `:infinity` (default 30 000);
    * `:pool` - the name of the `Chunker.PortPool` to use (default the application's).

  Bad options give `{:error, %Chunker.Error{reason: :invalid_argument}}` naming the option.

  ## Streaming sessions

  A session chunks a stream that arrives in pieces (an upload, a substitution). Any
  slicing of the input gives exactly the chunks that `chunk/2` gives for the whole input.
  Each call does a bounded amount of work; when the port stopped early the call returns
  `{:continue, chunks, session}` and the caller asks for the rest with `continue/1`
  before feeding more. The session is a value: always use the one a call returns.

      iex> {:ok, session} = Chunker.open(hash: :none)
      iex> {:ok, [], session} = Chunker.feed(session, "hello ")
      iex> {:ok, [], session} = Chunker.feed(session, "world")
      iex> Chunker.finish(session)
      {:ok, [%Chunker.Chunk{offset: 0, length: 11, hash: nil}]}

  A session lives in one port process; if that process dies, calls on the session return
  `{:error, %Chunker.Error{reason: :port_exited}}` and the stream must start over.

  ## Compression in sessions

  Two options of `open/1` (and `stream/2`) let a session deal with compressed data,
  alone or together:

    * `:compress` - each chunk comes back with `codec` and `payload` set (see
      `Chunker.Chunk`), ready to store: `compress: :zstd` (or `:lz4`, `:xz`, `:bzip2`,
      `:none`), or a keyword list `[codec: :zstd, level: 3, dictionary: dict, max_ratio:
      0.95]` (all optional; `:dictionary` is zstd only, and its payloads then need it to
      decompress). A chunk is stored compressed only when that pays: one that looks
      already compressed or random is not even tried, and one whose compressed form is
      longer than `max_ratio` (default 0.95) of it comes back as it is with `codec: :none`.
      Payloads travel in the replies, so each reply holds at most about a budget's worth
      of them (16 MiB by default): memory stays bounded however long the stream.
    * `:input_compression` - the fed bytes are a compressed stream (a `.nar.xz`,
      `.nar.zst`, `.nar.bz2` or `.nar.lz4` as it arrives) of that codec, or `:auto` (told
      from the magic bytes; data of no known format is chunked as it is). The session
      decompresses as it goes and returns exactly the chunks of the decompressed stream,
      however the compressed bytes are sliced; offsets and lengths refer to the
      decompressed stream. `:max_output` bounds the decompressed size (default 64 GiB).
      A decompression error (`:size_exceeded`, `:truncated_input` from `finish/1`,
      `:corrupt_input`, ...) ends the session in the port: later calls on it return
      `:unknown_session`.

  The port program must announce the `session_compression` capability (this
  repository's does); an older one makes compressing sessions fail with `:internal`.

      iex> {:ok, session} = Chunker.open(compress: :zstd, hash: :none)
      iex> {:ok, [], session} = Chunker.feed(session, String.duplicate("nix ", 1000))
      iex> {:ok, [chunk]} = Chunker.finish(session)
      iex> {chunk.length, chunk.codec, byte_size(chunk.payload) < 100}
      {4000, :zstd, true}
      iex> Chunker.decompress(chunk.payload)
      {:ok, String.duplicate("nix ", 1000)}

      iex> {:ok, xz} = Chunker.compress(String.duplicate("nix ", 1000), :xz)
      iex> {:ok, session} = Chunker.open(input_compression: :auto, hash: :none)
      iex> {:ok, [], session} = Chunker.feed(session, xz)
      iex> Chunker.finish(session)
      {:ok, [%Chunker.Chunk{offset: 0, length: 4000, hash: nil}]}

  ## Configuration

  The pool size is the `:pool_size` application setting (default
  `System.schedulers_online/0`). The port program is `dist/port/main.js` in the
  repository root (built by `npm run build:ts`), overridden by `CHUNKER_PORT_SCRIPT` or
  the `:port_script` setting; node comes from `PATH`, `CHUNKER_NODE` or `:node_path`.
  `:max_frame_bytes` is passed on to the port program. `:hash_threads` sets how many
  helper threads each port program hashes chunks with beside its scanning thread
  (default: one fewer than the cores; `CHUNKER_HASH_THREADS` in the environment wins).
  A pool whose programs can keep every core busy leaves the BEAM's schedulers waiting for
  a CPU: see "Keeping the BEAM responsive" in the repository README.

  `:spool_bytes` (default 32 MiB per port, `CHUNKER_SPOOL_BYTES` overrides it, 0 turns it
  off) is shared memory in `/dev/shm` through which large feeds reach the port program
  instead of its stdin pipe, several times faster for multi-megabyte pieces. It is used
  only where `/dev/shm` exists; everything works the same without it. The file is
  unlinked as soon as the port program has mapped it, so nothing is left behind.
  """

  alias Chunker.{
    Chunk,
    ChunkList,
    Error,
    Options,
    Port,
    PortPool,
    Request,
    Session,
    StreamOptions
  }

  @typedoc "An open streaming session (opaque: use the one each call returns)."
  @opaque session :: Session.t()

  @type option ::
          {:preset, :default | :nif | :small}
          | {:min_size, pos_integer}
          | {:avg_size, pos_integer}
          | {:max_size, pos_integer}
          | {:normalization, 0..3}
          | {:seed, non_neg_integer}
          | {:hash, :sha256 | :blake3 | :none}
          | {:budget_bytes, pos_integer}
          | {:budget_ms, pos_integer}
          | {:timeout, timeout}
          | {:pool, atom}

  @typedoc "The options of `open/1` and `stream/2` beyond `t:option/0` (see \"Compression in sessions\")."
  @type stream_option ::
          {:compress,
           codec
           | [
               {:codec, codec}
               | {:level, integer}
               | {:dictionary, binary}
               | {:max_ratio, number}
             ]}
          | {:input_compression, codec | :auto}
          | {:max_output, non_neg_integer}

  @type step ::
          {:ok, [Chunk.t()], session} | {:continue, [Chunk.t()], session} | {:error, Error.t()}

  @session_keys [
    :preset,
    :min_size,
    :avg_size,
    :max_size,
    :normalization,
    :seed,
    :hash,
    :budget_bytes,
    :budget_ms,
    :timeout,
    :pool
  ]
  @call_keys [:timeout, :pool]

  @codecs [:zstd, :lz4, :xz, :bzip2, :none]
  # What an input's codec may be, as bad-argument errors list it.
  @input_codecs_text Enum.map_join([:auto | @codecs], ", ", &inspect/1)
  # Spec §4 `decompress`: the largest max_output a request may carry.
  @max_output_limit_bytes 1024 * 1024 * 1024

  @typedoc "A compression codec (spec §4, Compression)."
  @type codec :: :zstd | :lz4 | :xz | :bzip2 | :none

  # A feed larger than this goes to the port in slices of this size (sub-binaries, no
  # copies), one per request, so no single frame nears the port's 64 MiB frame limit. It
  # is the size of a spool slot (see Chunker.Port), so every slice can skip the pipe.
  @feed_slice_bytes Port.spool_slot_bytes()

  # chunk/2 sends inputs up to this size in one frame; larger ones go through a session.
  @one_shot_max_bytes 32 * 1024 * 1024

  @busy_message "the session has input pending: call continue/1 until it returns " <>
                  "{:ok, chunks, session} before feeding more"

  @doc """
  Opens a streaming session on one of the pool's ports. See "Options", and "Compression in
  sessions" for `:compress`, `:input_compression` and `:max_output`.

      iex> {:ok, session} = Chunker.open(preset: :small, hash: :blake3)
      iex> Chunker.close(session)
      :ok
  """
  @spec open([option | stream_option]) :: {:ok, session} | {:error, Error.t()}
  def open(opts \\ []) do
    with {:ok, {stream_opts, rest}} <- split_options(opts, StreamOptions.keys()),
         {:ok, stream_args, payloads} <- StreamOptions.validate(stream_opts),
         {:ok, options} <- Options.validate(rest, @session_keys),
         {:ok, port} <- PortPool.pick(options.pool),
         request = Request.open(options, stream_args),
         {:ok, reply} <- Port.request(port, request, options.timeout),
         {:ok, id} <- fetch_uint(reply, "session") do
      {:ok, %Session{port: port, id: id, timeout: options.timeout, payloads: payloads}}
    end
  end

  @doc """
  Appends `data` to the session's stream and returns the chunks that became final.

  Returns `{:ok, chunks, session}` when all of `data` was scanned, or
  `{:continue, chunks, session}` when the work budget ran out (or `data` is larger than one
  request carries): call `continue/1` until it returns `{:ok, ...}` before feeding again.
  Feeding meanwhile gives `:session_busy`.
  """
  @spec feed(session, binary) :: step
  def feed(%Session{more: false, unsent: <<>>} = session, data) when is_binary(data),
    do: send_slice(session, data)

  def feed(%Session{}, data) when is_binary(data),
    do: {:error, Error.new(:session_busy, @busy_message)}

  def feed(%Session{}, data), do: Options.invalid("data", "a binary", data)
  def feed(session, _data), do: invalid_session(session)

  @doc """
  Resumes a `feed/2` that returned `{:continue, ...}`. Same results as `feed/2`; on a
  session with nothing pending it returns `{:ok, [], session}`.
  """
  @spec continue(session) :: step
  def continue(%Session{more: true} = session) do
    with {:ok, reply} <- session_request(session, &Request.continue/1) do
      step(session, reply, session.unsent)
    end
  end

  def continue(%Session{unsent: <<_, _::binary>> = unsent} = session),
    do: send_slice(session, unsent)

  def continue(%Session{} = session) do
    with {:ok, reply} <- session_request(session, &Request.continue/1) do
      step(session, reply, <<>>)
    end
  end

  def continue(session), do: invalid_session(session)

  @doc """
  Ends the stream and returns all remaining chunks; the session is closed afterwards.

  Any pending work from `feed/2` is completed first. `finish/1` makes as many bounded
  requests as it needs (the port serves other callers in between) and returns
  `{:ok, chunks}` once the stream is fully chunked.
  """
  @spec finish(session) :: {:ok, [Chunk.t()]} | {:error, Error.t()}
  def finish(%Session{} = session), do: finish_pending(session, [])
  def finish(session), do: invalid_session(session)

  @doc """
  Discards a session and its buffered bytes. Closing a finished or unknown session gives
  `:unknown_session`.
  """
  @spec close(session) :: :ok | {:error, Error.t()}
  def close(%Session{} = session) do
    with {:ok, _reply} <- session_request(session, &Request.close/1), do: :ok
  end

  def close(session), do: invalid_session(session)

  @doc """
  Chunks one complete binary.

      iex> data = :binary.copy(<<0>>, 10_240)
      iex> {:ok, chunks} = Chunker.chunk(data, min_size: 64, avg_size: 256, max_size: 1024)
      iex> {length(chunks), Enum.map(chunks, & &1.length) |> Enum.uniq()}
      {10, [1024]}
  """
  @spec chunk(binary, [option]) :: {:ok, [Chunk.t()]} | {:error, Error.t()}
  def chunk(data, opts \\ [])

  def chunk(data, opts) when is_binary(data) and byte_size(data) <= @one_shot_max_bytes do
    with {:ok, options} <- Options.validate(opts, @session_keys),
         {:ok, port} <- PortPool.pick(options.pool),
         {:ok, reply} <- Port.request(port, Request.chunk(data, options), options.timeout) do
      ChunkList.from_wire(reply["chunks"])
    end
  end

  def chunk(data, opts) when is_binary(data) do
    with {:ok, session} <- open(opts) do
      case feed(session, data) do
        {:error, error} ->
          _ = close(session)
          {:error, error}

        {_status, first, session} ->
          with {:ok, rest} <- finish(session), do: {:ok, first ++ rest}
      end
    end
  end

  def chunk(data, _opts), do: Options.invalid("data", "a binary", data)

  @doc """
  Chunks a file that the port program reads itself, so its bytes never cross the port.
  Relative paths are expanded against the current directory.

  The port reads and chunks in bounded steps and stays responsive meanwhile, but the call
  returns when the whole file is done: give a large file a large `:timeout`.

  A compressed NAR (`.nar.xz`, `.nar.zst`, `.nar.bz2`, `.nar.lz4`) is chunked as the NAR it
  holds with `compression: :auto` (the codec told from the magic bytes; a plain file is
  chunked as it is) or `compression: codec`: the port decompresses it in bounded pieces
  as it reads, and the chunks are exactly those of the plain NAR. `:max_output` bounds the
  decompressed size (default 64 GiB; past it the call fails with `:size_exceeded`).
  """
  @spec chunk_file(Path.t(), [
          option
          | {:compression, codec | :auto}
          | {:max_output, non_neg_integer}
        ]) :: {:ok, [Chunk.t()]} | {:error, Error.t()}
  def chunk_file(path, opts \\ []) do
    with {:ok, path} <- absolute_path(path),
         {:ok, {compression, rest}} <- split_options(opts, [:compression, :max_output]),
         :ok <- Options.check_each(compression, &check_file_compression/2),
         {:ok, options} <- Options.validate(rest, @session_keys),
         {:ok, port} <- PortPool.pick(options.pool),
         request = Request.chunk_file(path, options, compression),
         {:ok, reply} <- Port.request(port, request, options.timeout) do
      ChunkList.from_wire(reply["chunks"])
    end
  end

  @doc """
  The 32-byte digest of `data` with `:sha256` (default) or `:blake3`. Takes `:timeout` and
  `:pool`.

      iex> {:ok, digest} = Chunker.hash("abc")
      iex> Base.encode16(digest, case: :lower)
      "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
  """
  @spec hash(binary, :sha256 | :blake3, [option]) :: {:ok, <<_::256>>} | {:error, Error.t()}
  def hash(data, algorithm \\ :sha256, opts \\ [])

  def hash(data, algorithm, opts) when is_binary(data) and algorithm in [:sha256, :blake3] do
    with {:ok, options} <- Options.validate(opts, @call_keys),
         {:ok, port} <- PortPool.pick(options.pool),
         {:ok, reply} <- Port.request(port, Request.hash(data, algorithm), options.timeout) do
      case reply["hash"] do
        {:bin, <<_::binary-size(32)>> = digest} -> {:ok, digest}
        other -> {:error, Error.new(:internal, "malformed hash reply: #{inspect(other)}")}
      end
    end
  end

  def hash(data, algorithm, _opts) when is_binary(data),
    do: Options.invalid("algorithm", "one of :sha256, :blake3", algorithm)

  def hash(data, _algorithm, _opts), do: Options.invalid("data", "a binary", data)

  @doc """
  Compresses `data` into one frame of `codec`: `:zstd` (default), `:lz4` (the lz4 frame
  format), `:xz`, `:bzip2` or `:none`. The command-line tools of each codec read the
  result.

  Options: `:level` (zstd −131072..22, negative levels are its fast modes, default 3; lz4
  1..12, default 1; xz 0..9, default 6; bzip2 1..9, default 9), `:dictionary` (zstd only:
  a dictionary as `zstd --train` writes it; the frame then records its id and
  decompresses only with it), `:timeout`, `:pool`. Inputs of 1 MiB or more are compressed
  on the port's worker threads.

      iex> {:ok, frame} = Chunker.compress(String.duplicate("nix ", 1000))
      iex> byte_size(frame) < 100
      true
      iex> Chunker.decompress(frame)
      {:ok, String.duplicate("nix ", 1000)}
  """
  @spec compress(binary, codec, [option | {:level, integer} | {:dictionary, binary}]) ::
          {:ok, binary} | {:error, Error.t()}
  def compress(data, codec \\ :zstd, opts \\ [])

  def compress(data, codec, opts) when is_binary(data) and codec in @codecs do
    with {:ok, {compression, call}} <- split_options(opts, [:level, :dictionary]),
         :ok <- Options.check_each(compression, &check_compression/2),
         {:ok, options} <- Options.validate(call, @call_keys),
         {:ok, port} <- PortPool.pick(options.pool),
         request =
           Request.compress(
             data,
             Atom.to_string(codec),
             compression[:level],
             compression[:dictionary]
           ),
         {:ok, reply} <- Port.request(port, request, options.timeout) do
      binary_result(reply)
    end
  end

  def compress(data, codec, _opts) when is_binary(data),
    do: Options.invalid("codec", "one of #{Enum.map_join(@codecs, ", ", &inspect/1)}", codec)

  def compress(data, _codec, _opts), do: Options.invalid("data", "a binary", data)

  @doc """
  Decompresses one complete stream (several frames back to back are one stream).

  Options: `:codec` (`:auto`, the default, tells the codec from the magic bytes; or one of
  `:zstd`, `:lz4`, `:xz`, `:bzip2`, `:none`), `:max_output` (the most bytes it may
  produce; default the port's frame limit, 64 MiB; at most 1 GiB), `:dictionary` (for zstd
  frames made with one), `:timeout`, `:pool`.

  Decompression never produces more than `:max_output`: a stream that would inflate past it
  fails with `:size_exceeded`, so a small hostile input cannot make the port allocate
  gigabytes. Other reasons: `:truncated_input`, `:corrupt_input`, `:unknown_format`,
  `:dictionary_required`, `:dictionary_mismatch`, `:invalid_dictionary`, `:memory_limit`.

      iex> {:ok, frame} = Chunker.compress(:binary.copy(<<0>>, 100_000), :xz)
      iex> {:error, error} = Chunker.decompress(frame, max_output: 1000)
      iex> error.reason
      :size_exceeded
      iex> Chunker.decompress("plain text", codec: :none)
      {:ok, "plain text"}
  """
  @spec decompress(binary, [
          option
          | {:codec, codec | :auto}
          | {:max_output, non_neg_integer}
          | {:dictionary, binary}
        ]) :: {:ok, binary} | {:error, Error.t()}
  def decompress(data, opts \\ [])

  def decompress(data, opts) when is_binary(data) do
    with {:ok, {compression, call}} <- split_options(opts, [:codec, :max_output, :dictionary]),
         :ok <- Options.check_each(compression, &check_compression/2),
         {:ok, options} <- Options.validate(call, @call_keys),
         {:ok, port} <- PortPool.pick(options.pool),
         codec = Atom.to_string(Keyword.get(compression, :codec, :auto)),
         request =
           Request.decompress(data, codec, compression[:max_output], compression[:dictionary]),
         {:ok, reply} <- Port.request(port, request, options.timeout) do
      binary_result(reply)
    end
  end

  def decompress(data, _opts), do: Options.invalid("data", "a binary", data)

  @doc """
  Counters of every port in the pool, and their sums. Takes `:timeout` and `:pool`.

  The result has `:sessions` (open sessions), `:requests` (requests served), `:bytes_in`
  (bytes chunked), `:chunks_out`, `:rss_bytes` summed over the ports, and `:ports`, one map
  per port with those keys plus `:uptime_ms` and `:max_sessions`.

      iex> {:ok, stats} = Chunker.stats()
      iex> length(stats.ports) == System.schedulers_online()
      true
  """
  @spec stats([option]) :: {:ok, map} | {:error, Error.t()}
  def stats(opts \\ []) do
    with {:ok, options} <- Options.validate(opts, @call_keys),
         {:ok, per_port} <- collect_stats(PortPool.ports(options.pool), options.timeout) do
      totals =
        for key <- [:sessions, :requests, :bytes_in, :chunks_out, :rss_bytes], into: %{} do
          {key, per_port |> Enum.map(&(Map.get(&1, key) || 0)) |> Enum.sum()}
        end

      {:ok, Map.put(totals, :ports, per_port)}
    end
  end

  @doc """
  Turns an enumerable of binaries (for example `File.stream!(path, [], 1_048_576)`) into a
  lazy stream of `Chunker.Chunk` structs, through one session. Takes the options of
  `open/1`, so `File.stream!("x.nar.xz", [], 1_048_576) |> Chunker.stream(input_compression:
  :xz, compress: :zstd)` yields the chunks of the NAR inside, each with its zstd payload.

  Memory stays bounded: each piece is chunked before the next is read, and the session
  holds less than `max_size` bytes between pieces. Options are checked at once (raising
  `Chunker.Error`); errors while streaming raise `Chunker.Error` too. A stream stopped
  early closes its session.

      iex> ["hello ", "wor", "ld"] |> Chunker.stream(hash: :none) |> Enum.to_list()
      [%Chunker.Chunk{offset: 0, length: 11, hash: nil}]
  """
  @spec stream(Enumerable.t(), [option | stream_option]) :: Enumerable.t()
  def stream(enumerable, opts \\ []) do
    with {:ok, {stream_opts, rest}} <- split_options(opts, StreamOptions.keys()),
         {:ok, _args, _payloads} <- StreamOptions.validate(stream_opts),
         {:ok, _options} <- Options.validate(rest, @session_keys) do
      :ok
    else
      {:error, error} -> raise error
    end

    Stream.transform(
      enumerable,
      fn -> open!(opts) end,
      fn data, session -> feed_completely!(session, data) end,
      fn session -> {finish!(session), :finished} end,
      fn
        :finished -> :ok
        session -> close(session)
      end
    )
  end

  @doc "Like `open/1`, but raises `Chunker.Error`."
  @spec open!([option | stream_option]) :: session
  def open!(opts \\ []), do: unwrap!(open(opts))

  @doc "Like `feed/2`, but raises `Chunker.Error`; returns `{:ok | :continue, chunks, session}`."
  @spec feed!(session, binary) :: {:ok | :continue, [Chunk.t()], session}
  def feed!(session, data), do: raise_error(feed(session, data))

  @doc "Like `continue/1`, but raises `Chunker.Error`; returns `{:ok | :continue, chunks, session}`."
  @spec continue!(session) :: {:ok | :continue, [Chunk.t()], session}
  def continue!(session), do: raise_error(continue(session))

  @doc "Like `finish/1`, but raises `Chunker.Error`."
  @spec finish!(session) :: [Chunk.t()]
  def finish!(session), do: unwrap!(finish(session))

  @doc "Like `close/1`, but raises `Chunker.Error`."
  @spec close!(session) :: :ok
  def close!(session), do: raise_error(close(session))

  @doc "Like `chunk/2`, but raises `Chunker.Error`."
  @spec chunk!(binary, [option]) :: [Chunk.t()]
  def chunk!(data, opts \\ []), do: unwrap!(chunk(data, opts))

  @doc "Like `chunk_file/2`, but raises `Chunker.Error`."
  @spec chunk_file!(Path.t(), [option]) :: [Chunk.t()]
  def chunk_file!(path, opts \\ []), do: unwrap!(chunk_file(path, opts))

  @doc "Like `compress/3`, but raises `Chunker.Error`."
  @spec compress!(binary, codec, keyword) :: binary
  def compress!(data, codec \\ :zstd, opts \\ []), do: unwrap!(compress(data, codec, opts))

  @doc "Like `decompress/2`, but raises `Chunker.Error`."
  @spec decompress!(binary, keyword) :: binary
  def decompress!(data, opts \\ []), do: unwrap!(decompress(data, opts))

  @doc "Like `hash/3`, but raises `Chunker.Error`."
  @spec hash!(binary, :sha256 | :blake3, [option]) :: <<_::256>>
  def hash!(data, algorithm \\ :sha256, opts \\ []), do: unwrap!(hash(data, algorithm, opts))

  # --- sessions -----------------------------------------------------------------------

  defp send_slice(session, data) do
    {slice, rest} = split_slice(data)

    with {:ok, reply} <- session_request(session, &Request.feed(&1, slice)) do
      step(session, reply, rest)
    end
  end

  defp split_slice(data) when byte_size(data) <= @feed_slice_bytes, do: {data, <<>>}

  defp split_slice(data) do
    <<slice::binary-size(@feed_slice_bytes), rest::binary>> = data
    {slice, rest}
  end

  defp step(session, reply, unsent) do
    with {:ok, chunks} <- ChunkList.from_wire(reply["chunks"], payloads: session.payloads) do
      more = reply["more"] == true
      session = %{session | more: more, unsent: unsent}
      status = if more or unsent != <<>>, do: :continue, else: :ok
      {status, chunks, session}
    end
  end

  defp finish_pending(%Session{more: false, unsent: <<>>} = session, acc),
    do: finish_stream(session, &Request.finish/1, acc)

  defp finish_pending(session, acc) do
    case continue(session) do
      {:error, error} -> {:error, error}
      {_status, chunks, session} -> finish_pending(session, [chunks | acc])
    end
  end

  # After a `finish` that replied `more: true`, the spec allows `continue` or `finish`.
  defp finish_stream(session, request, acc) do
    with {:ok, reply} <- session_request(session, request),
         {:ok, chunks} <- ChunkList.from_wire(reply["chunks"], payloads: session.payloads) do
      acc = [chunks | acc]

      if reply["more"] == true,
        do: finish_stream(session, &Request.continue/1, acc),
        else: {:ok, acc |> Enum.reverse() |> Enum.concat()}
    end
  end

  defp session_request(%Session{port: port, id: id, timeout: timeout}, build_request),
    do: Port.request(port, build_request.(id), timeout)

  defp feed_completely!(session, data) do
    {status, chunks, session} = feed!(session, data)
    continue_completely!(status, [chunks], session)
  end

  defp continue_completely!(:ok, acc, session),
    do: {acc |> Enum.reverse() |> Enum.concat(), session}

  defp continue_completely!(:continue, acc, session) do
    {status, chunks, session} = continue!(session)
    continue_completely!(status, [chunks | acc], session)
  end

  # --- helpers ------------------------------------------------------------------------

  defp fetch_uint(reply, key) do
    case reply[key] do
      value when is_integer(value) and value >= 0 -> {:ok, value}
      other -> {:error, Error.new(:internal, "malformed reply: #{key} is #{inspect(other)}")}
    end
  end

  defp absolute_path(path) when is_binary(path) or is_list(path) do
    {:ok, path |> IO.chardata_to_string() |> Path.expand()}
  rescue
    ArgumentError -> Options.invalid("path", "a path (string or charlist)", path)
  end

  defp absolute_path(path), do: Options.invalid("path", "a path (string or charlist)", path)

  @stats_keys %{
    "sessions" => :sessions,
    "requests" => :requests,
    "bytes_in" => :bytes_in,
    "chunks_out" => :chunks_out,
    "uptime_ms" => :uptime_ms,
    "rss_bytes" => :rss_bytes,
    "max_sessions" => :max_sessions,
    "hash_threads" => :hash_threads
  }

  defp collect_stats(ports, timeout) do
    Enum.reduce_while(ports, {:ok, []}, fn port, {:ok, acc} ->
      case Port.request(port, Request.stats(), timeout) do
        {:ok, reply} ->
          stats = for {wire, key} <- @stats_keys, into: %{}, do: {key, reply[wire]}
          {:cont, {:ok, [stats | acc]}}

        {:error, error} ->
          {:halt, {:error, error}}
      end
    end)
    |> case do
      {:ok, per_port} -> {:ok, Enum.reverse(per_port)}
      error -> error
    end
  end

  defp invalid_session(session),
    do: Options.invalid("session", "a session from Chunker.open/1", session)

  # --- compression ----------------------------------------------------------------------

  defp split_options(opts, keys) do
    if Keyword.keyword?(opts),
      do: {:ok, Keyword.split(opts, keys)},
      else: Options.invalid("options", "a keyword list", opts)
  end

  # chunk_file's own keys: the input's codec (or :auto) and the decompressed size bound.
  defp check_file_compression(:compression, codec) when codec in [:auto | @codecs], do: :ok

  defp check_file_compression(:compression, codec),
    do: Options.invalid("compression", "one of #{@input_codecs_text}", codec)

  defp check_file_compression(:max_output, value) when is_integer(value) and value >= 0,
    do: :ok

  defp check_file_compression(:max_output, value),
    do: Options.invalid("max_output", "a non-negative integer", value)

  defp check_compression(:level, value) when is_integer(value), do: :ok
  defp check_compression(:level, value), do: Options.invalid("level", "an integer", value)
  defp check_compression(:dictionary, value) when is_binary(value), do: :ok

  defp check_compression(:dictionary, value),
    do: Options.invalid("dictionary", "a binary (zstd dictionary bytes)", value)

  defp check_compression(:codec, value) when value in [:auto | @codecs], do: :ok

  defp check_compression(:codec, value),
    do: Options.invalid("codec", "one of #{@input_codecs_text}", value)

  defp check_compression(:max_output, value)
       when is_integer(value) and value >= 0 and value <= @max_output_limit_bytes,
       do: :ok

  defp check_compression(:max_output, value),
    do: Options.invalid("max_output", "an integer from 0 to #{@max_output_limit_bytes}", value)

  defp binary_result(reply) do
    case reply["data"] do
      {:bin, data} -> {:ok, data}
      other -> {:error, Error.new(:internal, "malformed reply: data is #{inspect(other)}")}
    end
  end

  defp unwrap!({:ok, value}), do: value
  defp unwrap!({:error, %Error{} = error}), do: raise(error)

  defp raise_error({:error, %Error{} = error}), do: raise(error)
  defp raise_error(result), do: result
end
