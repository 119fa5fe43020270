defmodule Chunker.CompressionTest do
  # Chunker.compress/3 and Chunker.decompress/2 through the real port program, with the
  # codecs' own command-line tools as the other side, and every argument error.
  use ExUnit.Case, async: true

  alias Chunker.Error

  @codecs [:zstd, :lz4, :xz, :bzip2]
  @tools %{
    zstd: {"zstd", ["-q", "-c"], ["-d", "-q", "-c"]},
    lz4: {"lz4", ["-q", "-c"], ["-d", "-q", "-c"]},
    xz: {"xz", ["-c", "-T1"], ["-d", "-c"]},
    bzip2: {"bzip2", ["-c"], ["-d", "-c"]}
  }

  @moduletag :tmp_dir

  defp data, do: for(i <- 1..40_000, into: <<>>, do: <<rem(i * i, 251), rem(div(i, 7), 3)>>)

  defp tool(codec, direction, input, dir) do
    {command, compress_args, decompress_args} = @tools[codec]
    args = if direction == :compress, do: compress_args, else: decompress_args
    path = Path.join(dir, "#{codec}-#{direction}-#{System.unique_integer([:positive])}")
    File.write!(path, input)
    {output, 0} = System.cmd(command, args ++ [path])
    output
  end

  test "every codec round-trips, and its command-line tool agrees both ways", %{tmp_dir: dir} do
    for codec <- @codecs do
      {:ok, frame} = Chunker.compress(data(), codec)
      assert frame != data()
      assert Chunker.decompress(frame) == {:ok, data()}

      assert Chunker.decompress(frame, codec: codec, max_output: byte_size(data())) ==
               {:ok, data()}

      assert tool(codec, :decompress, frame, dir) == data()
      assert Chunker.decompress!(tool(codec, :compress, data(), dir)) == data()
    end

    assert Chunker.compress!(data(), :none) == data()
  end

  test "levels, negative zstd levels included, change the size but not the bytes" do
    sizes =
      for level <- [-20, 1, 19] do
        frame = Chunker.compress!(data(), :zstd, level: level)
        assert Chunker.decompress!(frame) == data()
        byte_size(frame)
      end

    assert sizes == Enum.sort(sizes, :desc)
  end

  test "the output limit, damaged input and unknown formats have their own reasons" do
    frame = Chunker.compress!(data(), :bzip2)

    assert {:error, %Error{reason: :size_exceeded}} =
             Chunker.decompress(frame, max_output: byte_size(data()) - 1)

    assert {:error, %Error{reason: :truncated_input}} =
             Chunker.decompress(binary_part(frame, 0, div(byte_size(frame), 2)))

    flipped =
      :binary.bin_to_list(frame)
      |> List.update_at(div(byte_size(frame), 2), &Bitwise.bxor(&1, 0xFF))

    assert {:error, %Error{reason: :corrupt_input}} =
             Chunker.decompress(:binary.list_to_bin(flipped))

    assert {:error, %Error{reason: :unknown_format}} = Chunker.decompress("no magic here")
  end

  test "a zstd dictionary is needed to read frames made with it", %{tmp_dir: dir} do
    samples =
      for i <- 1..300,
          do: "/nix/store/#{rem(i * 7919, 1000)}-package-#{rem(i, 17)}/lib/lib#{rem(i, 5)}.so\n"

    File.mkdir_p!(Path.join(dir, "samples"))

    Enum.with_index(samples, fn sample, i ->
      File.write!(Path.join([dir, "samples", "#{i}"]), String.duplicate(sample, 8))
    end)

    dictionary_path = Path.join(dir, "dict")

    {_, 0} =
      System.cmd("zstd", [
        "--train",
        "-q",
        "-r",
        Path.join(dir, "samples"),
        "--maxdict=4096",
        "-o",
        dictionary_path
      ])

    dictionary = File.read!(dictionary_path)

    chunk = Enum.join(Enum.take(samples, 20))
    frame = Chunker.compress!(chunk, :zstd, dictionary: dictionary)
    assert Chunker.decompress(frame, dictionary: dictionary) == {:ok, chunk}
    assert {:error, %Error{reason: :dictionary_required}} = Chunker.decompress(frame)

    assert {:error, %Error{reason: :invalid_dictionary}} =
             Chunker.compress(chunk, :zstd, dictionary: "not a dictionary")
  end

  test "chunk_file of a compressed file gives the chunks of the plain file", %{tmp_dir: dir} do
    plain = Path.join(dir, "plain.nar")
    File.write!(plain, :binary.copy(data(), 20))
    {:ok, expected} = Chunker.chunk_file(plain, preset: :small)
    assert {:ok, ^expected} = Chunker.chunk_file(plain, preset: :small, compression: :auto)

    for codec <- @codecs do
      packed = Path.join(dir, "plain.nar.#{codec}")
      File.write!(packed, tool(codec, :compress, File.read!(plain), dir))
      assert {:ok, ^expected} = Chunker.chunk_file(packed, preset: :small, compression: :auto)
      assert {:ok, ^expected} = Chunker.chunk_file(packed, preset: :small, compression: codec)
    end

    assert {:error, %Error{reason: :size_exceeded}} =
             Chunker.chunk_file(Path.join(dir, "plain.nar.xz"),
               compression: :auto,
               max_output: 1000
             )

    assert {:error, %Error{reason: :invalid_argument, message: message}} =
             Chunker.chunk_file(plain, compression: :gzip)

    assert message =~ "for compression but received :gzip"
  end

  test "bad arguments are named before anything is sent" do
    for {call, message} <- [
          {fn -> Chunker.compress(data(), :gzip) end, "for codec but received :gzip"},
          {fn -> Chunker.compress(:data) end, "Expected a binary for data"},
          {fn -> Chunker.compress(data(), :zstd, level: 1.5) end,
           "Expected an integer for level"},
          {fn -> Chunker.compress(data(), :zstd, dictionary: :d) end, "for dictionary"},
          {fn -> Chunker.compress(data(), :zstd, colour: :blue) end,
           "for options but received :colour"},
          {fn -> Chunker.compress(data(), :zstd, %{}) end, "Expected a keyword list for options"},
          {fn -> Chunker.decompress(data(), codec: :gzip) end, "for codec but received :gzip"},
          {fn -> Chunker.decompress(data(), max_output: -1) end,
           "for max_output but received -1"},
          {fn -> Chunker.decompress(data(), max_output: 2_000_000_000) end, "for max_output"},
          {fn -> Chunker.decompress(123) end, "Expected a binary for data"}
        ] do
      assert {:error, %Error{reason: :invalid_argument, message: got}} = call.()
      assert got =~ message
    end

    # What only the port can check travels back as invalid_argument too.
    assert {:error, %Error{reason: :invalid_argument, message: got}} =
             Chunker.compress(data(), :xz, level: 10)

    assert got =~ "xz levels"

    assert_raise Error, ~r/size_exceeded/, fn ->
      Chunker.decompress!(Chunker.compress!(data()), max_output: 10)
    end
  end
end
