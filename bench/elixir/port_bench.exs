# The Elixir section of `npm run bench` (bench/elixir-section.ts runs it):
#
#   cd elixir && mix run ../bench/elixir/port_bench.exs -- --piece-bytes N --passes N --out FILE NAR...
#
# With --latency-only it measures only the probe, idle and during ingestion through the
# pool: elixir-section.ts runs it a second time that way with the pool and VM flags of
# the README's "Keeping the BEAM responsive".
#
# Measures, on the given NAR files:
#   feed        each file streamed through Chunker.open/feed/continue/finish in pieces of
#               --piece-bytes, metadata-only replies (offset, length, SHA-256); only the
#               Chunker calls are timed, reading the pieces is not
#   chunk_file  Chunker.chunk_file/2 on each file (the port reads it; no bytes cross)
#   latency     a probe process sleeps 1 ms in a loop and records how late it wakes:
#               idle, during full-speed ingestion through the pool (one streaming
#               session per port), and while the same bytes are hashed in-process with
#               :crypto.hash/2 on large binaries (one process per scheduler)
#
# Writes one JSON object to --out; progress goes to stderr.

defmodule PortBench do
  @probe_interval_ms 1
  @idle_probe_ms 2_000

  def main(argv) do
    {opts, files} = parse_args(argv)
    total_bytes = files |> Enum.map(&File.stat!(&1).size) |> Enum.sum()

    # One warm-up pass over the smallest file: starts the ports, loads the addon, faults in
    # the page cache for that file.
    warm_file = Enum.min_by(files, &File.stat!(&1).size)
    {:ok, _} = Chunker.chunk_file(warm_file, timeout: :infinity)

    result =
      if opts[:latency_only],
        do: measure_latency(opts, files, total_bytes),
        else: measure_all(opts, files, total_bytes)

    File.write!(Keyword.fetch!(opts, :out), encode_json(result))
  end

  defp measure_latency(opts, files, total_bytes) do
    piece_bytes = Keyword.fetch!(opts, :piece_bytes)
    {:ok, stats} = Chunker.stats()
    pool_size = length(stats.ports)

    progress("latency: idle")
    idle = probe_while(fn -> Process.sleep(@idle_probe_ms) end)

    progress("latency: #{pool_size} concurrent sessions feeding the corpus")
    {ingest, ingest_seconds} =
      timed(fn -> probe_while(fn -> parallel_over(files, pool_size, &feed_file(&1, piece_bytes)) end) end)

    %{
      schedulers_online: System.schedulers_online(),
      pool_size: pool_size,
      hash_threads: stats.ports |> Enum.map(& &1.hash_threads) |> Enum.sum(),
      bytes: total_bytes,
      latency: %{idle: idle, ingest: Map.put(ingest, :mb_per_s, total_bytes / 1.0e6 / ingest_seconds)}
    }
  end

  defp measure_all(opts, files, total_bytes) do
    piece_bytes = Keyword.fetch!(opts, :piece_bytes)
    passes = Keyword.get(opts, :passes, 1)
    pool_size = length(Chunker.PortPool.ports(Chunker.PortPool))

    progress("feed: #{length(files)} NARs, #{mb(total_bytes)} MB, pieces of #{piece_bytes} bytes, best of #{passes}")
    feed_seconds = best_of(passes, fn -> time_all(files, &feed_file(&1, piece_bytes)) end)

    progress("chunk_file, best of #{passes}")
    chunk_file_seconds = best_of(passes, fn -> time_all(files, &chunk_file/1) end)

    progress("latency: idle")
    idle = probe_while(fn -> Process.sleep(@idle_probe_ms) end)

    progress("latency: #{pool_size} concurrent sessions feeding the corpus")
    {ingest, ingest_seconds} =
      timed(fn -> probe_while(fn -> parallel_over(files, pool_size, &feed_file(&1, piece_bytes)) end) end)

    schedulers = System.schedulers_online()
    crypto_bytes = max(piece_bytes, 8 * 1024 * 1024)
    progress("latency: #{schedulers} processes hashing with :crypto.hash/2 (#{crypto_bytes}-byte binaries)")

    {crypto, crypto_seconds} =
      timed(fn -> probe_while(fn -> parallel_over(files, schedulers, &crypto_file(&1, crypto_bytes)) end) end)

    %{
      otp_release: System.otp_release(),
      elixir_version: System.version(),
      schedulers_online: schedulers,
      pool_size: pool_size,
      piece_bytes: piece_bytes,
      passes: passes,
      files: length(files),
      bytes: total_bytes,
      feed_seconds: feed_seconds,
      chunk_file_seconds: chunk_file_seconds,
      latency: %{
        idle: idle,
        ingest: Map.put(ingest, :mb_per_s, total_bytes / 1.0e6 / ingest_seconds),
        crypto: Map.put(crypto, :mb_per_s, total_bytes / 1.0e6 / crypto_seconds)
      }
    }
  end

  defp parse_args(argv) do
    argv = Enum.drop_while(argv, &(&1 == "--"))
    {opts, files, invalid} = OptionParser.parse(argv, strict: [piece_bytes: :integer, passes: :integer, out: :string, latency_only: :boolean])

    cond do
      invalid != [] -> usage("bad option(s) #{inspect(invalid)}")
      files == [] -> usage("no NAR files given")
      is_nil(opts[:out]) -> usage("--out is required")
      (opts[:piece_bytes] || 0) < 1 -> usage("--piece-bytes must be a positive integer")
      Keyword.get(opts, :passes, 1) < 1 -> usage("--passes must be a positive integer")
      true -> {opts, files}
    end
  end

  defp usage(message) do
    IO.puts(:stderr, "port_bench: #{message}\nusage: mix run port_bench.exs -- --piece-bytes N [--passes N] [--latency-only] --out FILE NAR...")
    System.halt(2)
  end

  # --- the measured work ---------------------------------------------------------------

  # Streams one file through a session; returns the seconds spent inside Chunker calls.
  defp feed_file(path, piece_bytes) do
    {:ok, io} = File.open(path, [:read, :binary, :raw, {:read_ahead, 0}])

    try do
      {session, opened} = timed(fn -> Chunker.open!(timeout: :infinity) end)
      feed_pieces(io, piece_bytes, session, opened)
    after
      File.close(io)
    end
  end

  defp feed_pieces(io, piece_bytes, session, seconds) do
    case IO.binread(io, piece_bytes) do
      :eof ->
        {_chunks, finish_seconds} = timed(fn -> Chunker.finish!(session) end)
        seconds + finish_seconds

      piece when is_binary(piece) ->
        {session, spent} = timed(fn -> feed_all(session, piece) end)
        feed_pieces(io, piece_bytes, session, seconds + spent)
    end
  end

  defp feed_all(session, piece) do
    case Chunker.feed!(session, piece) do
      {:ok, _chunks, session} -> session
      {:continue, _chunks, session} -> continue_all(session)
    end
  end

  defp continue_all(session) do
    case Chunker.continue!(session) do
      {:ok, _chunks, session} -> session
      {:continue, _chunks, session} -> continue_all(session)
    end
  end

  defp chunk_file(path) do
    {{:ok, _chunks}, seconds} = timed(fn -> Chunker.chunk_file(path, timeout: :infinity) end)
    seconds
  end

  defp crypto_file(path, piece_bytes) do
    {:ok, io} = File.open(path, [:read, :binary, :raw])

    try do
      Stream.repeatedly(fn -> IO.binread(io, piece_bytes) end)
      |> Stream.take_while(&is_binary/1)
      |> Enum.each(&:crypto.hash(:sha256, &1))
    after
      File.close(io)
    end
  end

  defp time_all(files, measure), do: files |> Enum.map(measure) |> Enum.sum()

  defp best_of(passes, measure), do: 1..passes |> Enum.map(fn _ -> measure.() end) |> Enum.min()

  # Runs `work` on every file with `workers` processes taking files from a shared list.
  defp parallel_over(files, workers, work) do
    files
    |> Enum.sort_by(&(-File.stat!(&1).size))
    |> Task.async_stream(work, max_concurrency: workers, timeout: :infinity, ordered: false)
    |> Stream.run()
  end

  # --- the scheduler latency probe -------------------------------------------------------

  # Runs `work` while a probe wakes on every millisecond tick; returns how late it woke, in
  # microseconds (p50/p99/max). Each wake-up is an absolute timer on the next 1 ms
  # deadline: `receive after 1` would round up to the timer wheel's tick and sleep ~2 ms,
  # hiding a millisecond of lateness in the baseline.
  defp probe_while(work) do
    parent = self()
    probe = spawn_link(fn -> probe_loop(parent, next_deadline(), []) end)
    work.()
    send(probe, :stop)

    receive do
      {:probe_samples, samples} -> summarize(samples)
    end
  end

  defp next_deadline, do: System.monotonic_time(:millisecond) + @probe_interval_ms

  defp probe_loop(parent, deadline, samples) do
    timer = :erlang.start_timer(deadline, self(), :tick, abs: true)

    receive do
      :stop ->
        :erlang.cancel_timer(timer)
        send(parent, {:probe_samples, samples})

      {:timeout, ^timer, :tick} ->
        late = System.monotonic_time(:microsecond) - deadline * 1000
        # After a long stall, start again from now rather than firing for every missed tick.
        probe_loop(parent, max(deadline + @probe_interval_ms, next_deadline() - 1), [late | samples])
    end
  end

  defp summarize([]), do: %{samples: 0}

  defp summarize(samples) do
    sorted = samples |> Enum.sort() |> List.to_tuple()
    n = tuple_size(sorted)
    at = fn q -> elem(sorted, min(n - 1, trunc(q * n))) end
    %{samples: n, p50_us: at.(0.5), p99_us: at.(0.99), max_us: elem(sorted, n - 1)}
  end

  # --- helpers ---------------------------------------------------------------------------

  defp timed(fun) do
    started = System.monotonic_time()
    value = fun.()
    {value, System.convert_time_unit(System.monotonic_time() - started, :native, :microsecond) / 1.0e6}
  end

  defp mb(bytes), do: Float.round(bytes / 1.0e6, 1)

  defp progress(line), do: IO.puts(:stderr, "  elixir: #{line}")

  # Numbers, strings and maps with atom keys are all this script writes.
  defp encode_json(map) when is_map(map) do
    fields = Enum.map_join(map, ",", fn {key, value} -> "\"#{key}\":" <> encode_json(value) end)
    "{" <> fields <> "}"
  end

  defp encode_json(value) when is_number(value), do: to_string(value)
  defp encode_json(value) when is_binary(value), do: inspect(value)
end

PortBench.main(System.argv())
