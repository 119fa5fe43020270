defmodule Mix.Tasks.Chunker.UploadTest do
  use ExUnit.Case, async: true

  import ExUnit.CaptureIO

  @tag :tmp_dir
  test "uploads a directory with progress on stderr, then skips everything", %{tmp_dir: dir} do
    source = Path.join(dir, "source")
    File.mkdir_p!(Path.join(source, "chunks/ab"))

    for index <- 1..12,
        do: File.write!(Path.join(source, "chunks/ab/#{index}"), :crypto.strong_rand_bytes(5_000))

    url = "file://" <> Path.join(dir, "store")

    {output, progress} =
      with_io(:stderr, fn -> capture_io(fn -> Mix.Tasks.Chunker.Upload.run([source, url]) end) end)

    assert output =~ ~r/objects:\s+12 /
    assert output =~ ~r/uploaded: 12 /
    assert progress =~ ~r/upload: done 12\/12 objects/

    assert Chunker.Store.get(url, "chunks/ab/7") ==
             {:ok, File.read!(Path.join(source, "chunks/ab/7"))}

    {again, _progress} =
      with_io(:stderr, fn ->
        capture_io(fn -> Mix.Tasks.Chunker.Upload.run([source, url, "--transfers", "2"]) end)
      end)

    assert again =~ ~r/uploaded: 0 /
    assert again =~ ~r/skipped:\s+12 already stored/
  end

  test "refuses a bad command line" do
    assert_raise Mix.Error, ~r/usage/, fn -> Mix.Tasks.Chunker.Upload.run(["only-one"]) end
  end
end
