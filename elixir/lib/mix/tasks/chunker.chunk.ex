defmodule Mix.Tasks.Chunker.Chunk do
  @shortdoc "Chunks files through the Chunker port pool and prints a summary"

  @moduledoc """
  Chunks files with `Chunker.chunk_file/2` (the port programs read the files themselves,
  so no file bytes cross the ports) and prints a summary: files, bytes, chunks, unique
  chunks (by digest), mean chunk size and throughput.

      mix chunker.chunk PATH... [--preset default|nif|small] [--min N] [--avg N] [--max N]
                                [--normalization 0-3] [--seed N] [--hash sha256|blake3|none]

  A directory stands for every regular file under it. Files are chunked concurrently, one
  per port of the pool. With `--hash none` there are no digests, so unique chunks are not
  counted. The task fails (exit status 1) if any file could not be chunked; the others
  are still counted.
  """

  use Mix.Task

  @switches [
    preset: :string,
    min: :integer,
    avg: :integer,
    max: :integer,
    normalization: :integer,
    seed: :integer,
    hash: :string
  ]

  @impl Mix.Task
  def run(argv) do
    {parsed, paths, invalid} = OptionParser.parse(argv, strict: @switches)

    if invalid != [] or paths == [] do
      Mix.raise("usage: mix chunker.chunk PATH... [options] (see `mix help chunker.chunk`)")
    end

    chunk_opts = chunk_options(parsed)

    with {:error, error} <- Chunker.Options.validate(chunk_opts) do
      Mix.raise(Exception.message(error))
    end

    Mix.Task.run("app.start")
    files = Enum.flat_map(paths, &regular_files/1)
    started = System.monotonic_time(:microsecond)
    results = chunk_all(files, chunk_opts)
    elapsed_us = max(System.monotonic_time(:microsecond) - started, 1)

    failures = for {path, {:error, error}} <- results, do: {path, error}

    Enum.each(failures, fn {path, error} ->
      Mix.shell().error("#{path}: #{Exception.message(error)}")
    end)

    chunk_lists = for {_path, {:ok, chunks}} <- results, do: chunks
    print_summary(chunk_lists, elapsed_us, Keyword.get(chunk_opts, :hash) == :none)

    if failures != [], do: exit({:shutdown, 1})
  end

  defp chunk_options(parsed) do
    renames = [min: :min_size, avg: :avg_size, max: :max_size]

    Enum.map(parsed, fn
      {:preset, name} -> {:preset, named(name, ~w(default nif small))}
      {:hash, name} -> {:hash, named(name, ~w(sha256 blake3 none))}
      {key, value} -> {Keyword.get(renames, key, key), value}
    end) ++ [timeout: :infinity]
  end

  # Only known names become atoms; anything else is passed on as a string for
  # Chunker's own option check to reject with a clear message.
  defp named(name, known), do: if(name in known, do: String.to_atom(name), else: name)

  defp regular_files(path) do
    cond do
      File.regular?(path) ->
        [path]

      File.dir?(path) ->
        path |> Path.join("**") |> Path.wildcard(match_dot: true) |> Enum.filter(&File.regular?/1)

      true ->
        Mix.raise("#{path}: no such file or directory")
    end
  end

  defp chunk_all(files, opts) do
    concurrency = max(length(Chunker.PortPool.ports(Chunker.PortPool)), 1)

    files
    |> Task.async_stream(&{&1, Chunker.chunk_file(&1, opts)},
      max_concurrency: concurrency,
      timeout: :infinity
    )
    |> Enum.map(fn {:ok, result} -> result end)
  end

  defp print_summary(chunk_lists, elapsed_us, unhashed?) do
    chunks = Enum.concat(chunk_lists)
    bytes = chunks |> Enum.map(& &1.length) |> Enum.sum()
    count = length(chunks)

    unique =
      if unhashed?, do: "n/a (--hash none)", else: chunks |> Enum.uniq_by(& &1.hash) |> length()

    mean = if count == 0, do: 0, else: div(bytes, count)
    mb_per_s = bytes / 1_000_000 / (elapsed_us / 1_000_000)

    Mix.shell().info("""
    files:         #{length(chunk_lists)}
    bytes:         #{bytes}
    chunks:        #{count}
    unique chunks: #{unique}
    mean size:     #{mean} bytes
    throughput:    #{:erlang.float_to_binary(mb_per_s, decimals: 1)} MB/s (#{div(elapsed_us, 1000)} ms)\
    """)
  end
end
