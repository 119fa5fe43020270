defmodule Chunker.SessionCompressionTest do
  # Sessions opened with :compress (chunks carry payloads) and :input_compression (the fed
  # bytes are a compressed NAR) through the real port program, against a NAR from
  # `nix-store --dump` and the codecs' own command-line tools.
  use ExUnit.Case, async: true

  alias Chunker.{Chunk, Error}
  alias Chunker.Test.Oracle

  @moduletag :tmp_dir

  @tools %{
    xz: {"xz", ["-6", "-T1", "-c"]},
    zstd: {"zstd", ["-3", "-q", "-c"]},
    bzip2: {"bzip2", ["-9", "-c"]},
    lz4: {"lz4", ["-q", "-c"]}
  }

  # About 2 MB of Perl modules, as Nix itself serialises them.
  defp nar do
    {nar, 0} = System.cmd("nix-store", ["--dump", "/usr/share/perl5"])
    nar
  end

  defp tool_compress(codec, input, dir) do
    {command, args} = @tools[codec]
    path = Path.join(dir, "input-#{codec}-#{System.unique_integer([:positive])}")
    File.write!(path, input)
    {output, 0} = System.cmd(command, args ++ [path])
    output
  end

  defp run_session(session, pieces) do
    {chunks, session} =
      Enum.reduce(pieces, {[], session}, fn piece, {acc, session} ->
        {chunks, session} = feed_all(session, piece)
        {[chunks | acc], session}
      end)

    {:ok, rest} = Chunker.finish(session)
    (chunks |> Enum.reverse() |> Enum.concat()) ++ rest
  end

  defp feed_all(session, piece) do
    case Chunker.feed!(session, piece) do
      {:ok, chunks, session} -> {chunks, session}
      {:continue, chunks, session} -> continue_all(session, [chunks])
    end
  end

  defp continue_all(session, acc) do
    case Chunker.continue!(session) do
      {:ok, chunks, session} -> {acc |> Enum.reverse([chunks]) |> Enum.concat(), session}
      {:continue, chunks, session} -> continue_all(session, [chunks | acc])
    end
  end

  describe ":compress" do
    test "every codec: the chunks of plain chunking, and each payload decompresses to its bytes" do
      text = nar()
      data = binary_part(text, 0, 600_000) <> :crypto.strong_rand_bytes(200_000)
      plain = Chunker.chunk!(data, preset: :small)

      for codec <- [:zstd, :lz4, :xz, :bzip2] do
        {:ok, session} = Chunker.open(preset: :small, compress: codec, budget_bytes: 100_000)
        chunks = run_session(session, Oracle.random_slices(data, 3, 150_000))
        assert Oracle.as_tuples(chunks) == Oracle.as_tuples(plain), inspect(codec)

        assert Enum.map(chunks, & &1.codec) |> Enum.uniq() |> Enum.sort() ==
                 Enum.sort([codec, :none])

        for %Chunk{offset: offset, length: length, codec: used, payload: payload} <- chunks do
          original = binary_part(data, offset, length)
          assert byte_size(payload) <= length

          if used == :none,
            do: assert(payload == original),
            else:
              assert(Chunker.decompress!(payload, codec: used, max_output: length) == original)
        end
      end
    end

    test "level, max_ratio and a dictionary reach the port" do
      data = binary_part(nar(), 0, 300_000)
      sizes = [min_size: 1024, avg_size: 4096, max_size: 16_384, hash: :none]

      payload_bytes = fn compress ->
        {:ok, session} = Chunker.open([compress: compress] ++ sizes)
        run_session(session, [data]) |> Enum.map(&byte_size(&1.payload)) |> Enum.sum()
      end

      assert payload_bytes.(codec: :zstd, level: 19) < payload_bytes.(codec: :zstd, level: 1)

      {:ok, session} = Chunker.open([compress: [max_ratio: 0.01]] ++ sizes)
      assert run_session(session, [data]) |> Enum.all?(&(&1.codec == :none))

      samples = for <<sample::binary-size(2048) <- binary_part(data, 0, 262_144)>>, do: sample
      dir = System.tmp_dir!() |> Path.join("chunker-dict-#{System.unique_integer([:positive])}")
      File.mkdir_p!(dir)
      Enum.with_index(samples, fn sample, i -> File.write!(Path.join(dir, "s#{i}"), sample) end)
      dict_path = Path.join(dir, "dict")

      {_, 0} =
        System.cmd("zstd", ["--train", "-q", "-r", dir, "--maxdict=16384", "-o", dict_path])

      dictionary = File.read!(dict_path)
      File.rm_rf!(dir)

      {:ok, session} = Chunker.open([compress: [codec: :zstd, dictionary: dictionary]] ++ sizes)
      compressed = run_session(session, [data]) |> Enum.filter(&(&1.codec == :zstd))
      assert length(compressed) > 10

      for %Chunk{payload: payload, length: length} = chunk <- compressed do
        assert {:error, %Error{reason: :dictionary_required}} = Chunker.decompress(payload)

        assert Chunker.decompress!(payload, dictionary: dictionary, max_output: length) ==
                 binary_part(data, chunk.offset, length)
      end
    end

    test "a session without :compress has no payloads" do
      {:ok, session} = Chunker.open(hash: :none)
      {:ok, [], session} = Chunker.feed(session, "plain")
      assert {:ok, [%Chunk{codec: nil, payload: nil, length: 5}]} = Chunker.finish(session)
    end
  end

  describe ":input_compression" do
    test "a .nar.xz, .nar.zst, .nar.bz2 and .nar.lz4 in random slices give the plain NAR's chunks",
         %{tmp_dir: dir} do
      nar = nar()
      plain = Oracle.as_tuples(Chunker.chunk!(nar))

      for codec <- [:xz, :zstd, :bzip2, :lz4], requested <- [codec, :auto] do
        packed = tool_compress(codec, nar, dir)
        {:ok, session} = Chunker.open(input_compression: requested, budget_bytes: 500_000)
        chunks = run_session(session, Oracle.random_slices(packed, 5, 100_000))
        assert Oracle.as_tuples(chunks) == plain, "#{codec} as #{requested}"
      end
    end

    test "stream/2 over a .nar.xz file, compressing each chunk with zstd", %{tmp_dir: dir} do
      nar = nar()
      path = Path.join(dir, "perl5.nar.xz")
      File.write!(path, tool_compress(:xz, nar, dir))

      chunks =
        path
        |> File.stream!([], 65_536)
        |> Chunker.stream(input_compression: :xz, compress: :zstd)
        |> Enum.to_list()

      assert Oracle.as_tuples(chunks) == Oracle.as_tuples(Chunker.chunk!(nar))

      assert chunks
             |> Enum.map(&Chunker.decompress!(&1.payload, codec: &1.codec))
             |> IO.iodata_to_binary() ==
               nar
    end

    test "max_output refuses a bomb with :size_exceeded, which ends the session" do
      bomb = Chunker.compress!(:binary.copy(<<0>>, 50_000_000), :zstd)
      {:ok, session} = Chunker.open(input_compression: :zstd, max_output: 10_000_000)

      assert {:error, %Error{reason: :size_exceeded}} = feed_until_error(session, bomb)
      assert {:error, %Error{reason: :unknown_session}} = Chunker.close(session)
    end

    test "a stream cut short is :truncated_input at finish; damaged bytes are :corrupt_input" do
      packed = Chunker.compress!(binary_part(nar(), 0, 200_000), :xz)
      {:ok, session} = Chunker.open(input_compression: :auto)

      {_status, _chunks, session} =
        Chunker.feed(session, binary_part(packed, 0, byte_size(packed) - 8))

      assert {:error, %Error{reason: :truncated_input}} = Chunker.finish(session)

      {:ok, session} = Chunker.open(input_compression: :zstd)
      assert {:error, %Error{reason: :corrupt_input}} = feed_until_error(session, packed)
    end
  end

  test "bad options are named before anything is sent" do
    for {opts, message} <- [
          {[compress: :gzip], "for compress but received :gzip"},
          {[compress: [codec: :gzip]], "for compress codec but received :gzip"},
          {[compress: [level: "3"]], "Expected an integer for compress level"},
          {[compress: [dictionary: :d]], "for compress dictionary"},
          {[compress: [max_ratio: 0]],
           "above 0 and at most 1 for compress max_ratio but received 0"},
          {[compress: [max_ratio: 1.5]], "for compress max_ratio but received 1.5"},
          {[compress: [colour: :blue]], "for compress but received [colour: :blue]"},
          {[input_compression: :gzip], "for input_compression but received :gzip"},
          {[max_output: -1], "Expected a non-negative integer for max_output"},
          {[input_compression: :xz, colour: :blue], "for options but received :colour"}
        ] do
      assert {:error, %Error{reason: :invalid_argument, message: got}} = Chunker.open(opts)
      assert got =~ message, inspect(opts)
    end

    assert_raise Error, ~r/for input_compression/, fn ->
      Chunker.stream(["x"], input_compression: :rar)
    end

    # What only the port can check travels back as invalid_argument too.
    assert {:error, %Error{reason: :invalid_argument, message: got}} =
             Chunker.open(compress: [codec: :lz4, level: 99])

    assert got =~ "lz4 levels"
  end

  defp feed_until_error(session, data) do
    case Chunker.feed(session, data) do
      {:error, error} -> {:error, error}
      {_status, _chunks, session} -> continue_until_error(session)
    end
  end

  defp continue_until_error(session) do
    case Chunker.continue(session) do
      {:error, error} -> {:error, error}
      {:continue, _chunks, session} -> continue_until_error(session)
      {:ok, _chunks, session} -> Chunker.finish(session)
    end
  end
end
