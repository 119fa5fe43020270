defmodule Chunker.FastCDCVectorsTest do
  # Cut points through the Elixir API against the published FastCDC v2020 vectors
  # (../shared/vectors/fastcdc) and against the CLI, which runs the engine in a separate
  # process without the port protocol. Digests are checked with :crypto as well.
  use ExUnit.Case, async: true

  alias Chunker.Test.{JSON, Oracle, Paths, Sessions}

  @sekien [min_size: 4096, avg_size: 16_384, max_size: 65_535]
  @sekien_cli ~w(--min 4096 --avg 16384 --max 65535)

  setup_all do
    dir = Paths.fastcdc_dir()
    fixture = Path.join(dir, "SekienAkashita.jpg")
    vectors = JSON.decode!(File.read!(Path.join(dir, "vectors.json")))
    cases = Map.new(vectors["cases"], &{&1["name"], &1})
    %{fixture: fixture, data: File.read!(fixture), vectors: vectors, cases: cases}
  end

  test "the fixture is the one the vectors describe", %{data: data, vectors: vectors} do
    assert byte_size(data) == vectors["fixture_bytes"]
    assert Base.encode16(:crypto.hash(:sha256, data), case: :lower) == vectors["fixture_sha256"]
  end

  test "feeding randomly sliced input gives the published cut points and the CLI's chunks", ctx do
    published = for c <- ctx.cases["sekien-16k-level1"]["chunks"], do: {c["offset"], c["length"]}
    cli = Oracle.cli_chunks(ctx.fixture, @sekien_cli)
    assert Enum.map(cli, fn {offset, length, _hash} -> {offset, length} end) == published
    assert_digests(cli, ctx.data, :sha256)

    for seed <- 1..30 do
      max_piece = Enum.at([60, 700, 16_000, 120_000], rem(seed, 4))
      pieces = Oracle.random_slices(ctx.data, seed, max_piece)
      # Small budgets make the port stop early, so continue/1 is exercised too.
      budget = if rem(seed, 3) == 0, do: [budget_bytes: 1], else: []
      chunks = Sessions.chunk_pieces(pieces, @sekien ++ budget)
      assert Oracle.as_tuples(chunks) == cli, "seed #{seed}, pieces up to #{max_piece} bytes"
    end
  end

  test "one-shot, file, and stream chunking agree with the sessions", ctx do
    cli = Oracle.cli_chunks(ctx.fixture, @sekien_cli)

    assert {:ok, chunks} = Chunker.chunk(ctx.data, @sekien)
    assert Oracle.as_tuples(chunks) == cli
    assert {:ok, chunks} = Chunker.chunk_file(ctx.fixture, @sekien)
    assert Oracle.as_tuples(chunks) == cli

    streamed = ctx.fixture |> File.stream!([], 4096) |> Chunker.stream(@sekien) |> Enum.to_list()
    assert Oracle.as_tuples(streamed) == cli
  end

  test "all-zero input: every chunk is max_size long", %{cases: cases} do
    zeros = cases["zeros-10240-min64-avg256-max1024"]
    data = :binary.copy(<<0>>, 10_240)
    opts = [min_size: 64, avg_size: 256, max_size: 1024, normalization: 1, hash: :none]
    expected = for i <- 0..(zeros["chunks_count"] - 1), do: {i * 1024, zeros["each_length"], nil}

    assert {:ok, chunks} = Chunker.chunk(data, opts)
    assert Oracle.as_tuples(chunks) == expected

    assert Oracle.as_tuples(Sessions.chunk_pieces(Oracle.random_slices(data, 7, 300), opts)) ==
             expected
  end

  @tag :tmp_dir
  test "random data with other sizes, levels, seeds and BLAKE3 matches the CLI", %{tmp_dir: dir} do
    :rand.seed(:exsss, {42, 42, 42})
    data = :rand.bytes(3 * 1024 * 1024)
    path = write_temporary!(dir, "random.bin", data)

    for {opts, cli_args} <- [
          {[hash: :blake3], ~w(--hash blake3)},
          {[preset: :small, normalization: 3, seed: 12_345],
           ~w(--preset small --level 3 --seed 12345)},
          {[min_size: 1024, avg_size: 8192, max_size: 20_000, normalization: 0, hash: :none],
           ~w(--min 1024 --avg 8192 --max 20000 --level 0 --hash none)},
          {[preset: :nif, seed: 18_446_744_073_709_551_615],
           ~w(--preset nif --seed 18446744073709551615)}
        ] do
      cli = Oracle.cli_chunks(path, cli_args)
      assert length(cli) > 1

      pieces = Oracle.random_slices(data, 3, 300_000)
      assert Oracle.as_tuples(Sessions.chunk_pieces(pieces, opts)) == cli, inspect(opts)
      assert Oracle.as_tuples(Chunker.chunk_file!(path, opts)) == cli, inspect(opts)
    end

    assert_digests(Oracle.cli_chunks(path, []), data, :sha256)
  end

  @tag :tmp_dir
  test "inputs larger than one frame carries go over in slices", %{tmp_dir: dir} do
    :rand.seed(:exsss, {5, 6, 7})
    data = :rand.bytes(40 * 1024 * 1024)
    path = write_temporary!(dir, "large.bin", data)
    cli = Oracle.cli_chunks(path, ~w(--preset nif))

    assert Oracle.as_tuples(Chunker.chunk!(data, preset: :nif)) == cli

    {:ok, session} = Chunker.open(preset: :nif)
    assert {:continue, first, session} = Chunker.feed(session, data)
    assert {:ok, rest} = Chunker.finish(session)
    assert Oracle.as_tuples(first ++ rest) == cli
  end

  defp assert_digests(chunks, data, algorithm) do
    for {offset, length, hash} <- chunks do
      assert hash == :crypto.hash(algorithm, binary_part(data, offset, length))
    end
  end

  # tmp_dir is only emptied when the test runs again; do not leave large files behind.
  defp write_temporary!(dir, name, data) do
    path = Path.join(dir, name)
    on_exit(fn -> File.rm(path) end)
    File.write!(path, data)
    path
  end
end
