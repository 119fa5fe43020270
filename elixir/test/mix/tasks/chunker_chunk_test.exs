defmodule Mix.Tasks.Chunker.ChunkTest do
  use ExUnit.Case, async: true

  import ExUnit.CaptureIO

  alias Chunker.Test.Paths

  @fixture Path.join(Paths.fastcdc_dir(), "SekienAkashita.jpg")

  test "prints files, bytes, chunks, unique chunks, mean size and throughput" do
    output =
      capture_io(fn ->
        Mix.Tasks.Chunker.Chunk.run([
          @fixture,
          "--min",
          "4096",
          "--avg",
          "16384",
          "--max",
          "65535"
        ])
      end)

    assert output =~ ~r/files:\s+1\n/
    assert output =~ ~r/bytes:\s+109466\n/
    assert output =~ ~r/chunks:\s+5\n/
    assert output =~ ~r/unique chunks:\s+5\n/
    assert output =~ ~r/mean size:\s+21893 bytes/
    assert output =~ ~r/throughput:\s+[\d.]+ MB\/s/
  end

  @tag :tmp_dir
  test "a directory stands for its files; equal files give no new unique chunks", %{tmp_dir: dir} do
    File.mkdir_p!(Path.join(dir, "sub"))
    File.cp!(@fixture, Path.join(dir, "a.jpg"))
    File.cp!(@fixture, Path.join(dir, "sub/b.jpg"))

    output = capture_io(fn -> Mix.Tasks.Chunker.Chunk.run([dir, "--preset", "small"]) end)

    assert output =~ ~r/files:\s+2\n/
    assert output =~ ~r/bytes:\s+218932\n/
    [_, chunks] = Regex.run(~r/chunks:\s+(\d+)\n/, output)
    [_, unique] = Regex.run(~r/unique chunks:\s+(\d+)\n/, output)
    assert String.to_integer(chunks) == 2 * String.to_integer(unique)
  end

  test "--hash none leaves unique chunks uncounted" do
    output = capture_io(fn -> Mix.Tasks.Chunker.Chunk.run([@fixture, "--hash", "none"]) end)
    assert output =~ "unique chunks: n/a (--hash none)"
  end

  test "bad options and missing paths stop the task with a message" do
    assert_raise Mix.Error, ~r/for preset but received "huge"/, fn ->
      Mix.Tasks.Chunker.Chunk.run([@fixture, "--preset", "huge"])
    end

    assert_raise Mix.Error, ~r/no such file/, fn ->
      Mix.Tasks.Chunker.Chunk.run(["/nonexistent/x"])
    end

    assert_raise Mix.Error, ~r/usage/, fn -> Mix.Tasks.Chunker.Chunk.run([]) end
  end
end
