defmodule Chunker.StoreTest do
  # Chunker.Store against the port's in-process memory store, through a one-port pool so
  # every call reaches the same store. Real backends are tested with real servers in the
  # TypeScript conformance suite and in store_backends_test.exs.
  use ExUnit.Case, async: true

  alias Chunker.{Error, Store}
  import Chunker.Test.Sessions, only: [start_pool: 1]

  setup do
    {:ok, pool: start_pool(1), url: "memory:"}
  end

  test "put, stat, get (whole and ranged), list and delete", %{pool: pool, url: url} do
    opts = [pool: pool]
    data = :crypto.strong_rand_bytes(100_000)
    assert Store.stat(url, "a/b", opts) == {:ok, nil}
    assert Store.put(url, "a/b", data, opts) == {:ok, 100_000}
    assert Store.stat(url, "a/b", opts) == {:ok, 100_000}
    assert Store.get(url, "a/b", opts) == {:ok, data}

    assert Store.get(url, "a/b", [offset: 99_990, length: 100] ++ opts) ==
             {:ok, binary_part(data, 99_990, 10)}

    assert Store.delete(url, "a/b", opts) == :ok
    assert Store.delete(url, "a/b", opts) == :ok
    assert {:error, %Error{reason: :not_found}} = Store.get(url, "a/b", opts)
  end

  test "put from a file the port reads itself", %{pool: pool, url: url} do
    path =
      Path.join(System.tmp_dir!(), "chunker-store-test-#{System.unique_integer([:positive])}")

    data = :crypto.strong_rand_bytes(3_000)
    File.write!(path, data)
    on_exit(fn -> File.rm(path) end)
    assert Store.put(url, "file/object", {:file, path}, pool: pool) == {:ok, 3_000}
    assert Store.get(url, "file/object", pool: pool) == {:ok, data}
  end

  test "a listing larger than one event batch arrives whole and sorted", %{pool: pool, url: url} do
    names =
      for index <- 1..2_345, do: "chunks/#{String.pad_leading(Integer.to_string(index), 5, "0")}"

    for name <- names, do: {:ok, _} = Store.put(url, name, name, pool: pool)
    {:ok, _} = Store.put(url, "elsewhere", "x", pool: pool)

    assert {:ok, objects} = Store.list(url, "chunks/", pool: pool)
    assert objects == Enum.map(names, &{&1, byte_size(&1)})
    # Nothing is left behind in the caller's mailbox.
    refute_received {:chunker_event, _, _}
  end

  test "bad arguments are refused before anything is sent", %{pool: pool, url: url} do
    assert {:error, %Error{reason: :invalid_argument}} = Store.put(url, "n", 42, pool: pool)

    assert {:error, %Error{reason: :invalid_argument}} =
             Store.get(url, "n", offset: -1, pool: pool)

    assert {:error, %Error{reason: :invalid_argument}} = Store.stat(url, "", pool: pool)
    assert {:error, %Error{reason: :invalid_argument}} = Store.stat(url, "n", colour: :red)
    assert {:error, %Error{reason: :invalid_argument}} = Store.stat(:nope, "n", pool: pool)

    assert {:error, %Error{reason: :invalid_argument}} =
             Store.stat(url, "n", store_options: [:x], pool: pool)
  end

  test "the port's own errors come back as reasons", %{pool: pool} do
    assert {:error, %Error{reason: :store_config, message: message}} =
             Store.stat("gopher://host/x", "n", pool: pool)

    assert message =~ "gopher:"

    assert {:error, %Error{reason: :invalid_argument}} =
             Store.stat("memory:", "../escape", pool: pool)
  end
end

defmodule Chunker.StoreUploadTest do
  # Chunker.Store.upload/3 into a real local store (file://), through the default pool.
  use ExUnit.Case, async: true

  alias Chunker.{Error, Store}

  setup do
    root =
      Path.join(System.tmp_dir!(), "chunker-upload-test-#{System.unique_integer([:positive])}")

    source = Path.join(root, "source")
    on_exit(fn -> File.rm_rf!(root) end)

    files =
      for index <- 1..40 do
        name = "chunks/#{rem(index, 4)}/object-#{index}"
        bytes = :crypto.strong_rand_bytes(2_000 + index * 101)
        File.mkdir_p!(Path.dirname(Path.join(source, name)))
        File.write!(Path.join(source, name), bytes)
        {name, bytes}
      end

    {:ok, source: source, url: "file://" <> Path.join(root, "store"), files: files}
  end

  test "uploads a directory, reporting progress to a pid, and a rerun skips everything",
       %{source: source, url: url, files: files} do
    total_bytes = files |> Enum.map(fn {_, bytes} -> byte_size(bytes) end) |> Enum.sum()

    assert {:ok, summary} = Store.upload(url, {:dir, source}, progress: self(), progress_ms: 1)
    assert %{objects_total: 40, objects_uploaded: 40, objects_skipped: 0} = summary
    assert summary.bytes_uploaded == total_bytes

    reports = collect_progress([])
    assert reports != []
    assert List.last(reports).phase == :done
    assert List.last(reports).objects_done == 40
    done = Enum.map(reports, & &1.objects_done)
    assert done == Enum.sort(done)

    for {name, bytes} <- files, do: assert(Store.get(url, name) == {:ok, bytes})

    test_pid = self()

    assert {:ok, %{objects_uploaded: 0, objects_skipped: 40}} =
             Store.upload(url, {:dir, source}, progress: &send(test_pid, {:seen, &1.phase}))

    assert_received {:seen, :done}
  end

  test "uploads named files", %{source: source, url: url, files: [{name, bytes} | _]} do
    assert {:ok, %{objects_uploaded: 1}} =
             Store.upload(url, [{"renamed/object", Path.join(source, name)}])

    assert Store.get(url, "renamed/object") == {:ok, bytes}
  end

  test "bad sources and options are refused", %{url: url, source: source} do
    assert {:error, %Error{reason: :invalid_argument}} = Store.upload(url, :nope)
    assert {:error, %Error{reason: :invalid_argument}} = Store.upload(url, [{"a", 1}])

    assert {:error, %Error{reason: :invalid_argument}} =
             Store.upload(url, {:dir, source}, transfers: 0)

    assert {:error, %Error{reason: :invalid_argument}} =
             Store.upload(url, {:dir, source}, progress: :stdout)

    assert {:error, %Error{reason: :not_found}} =
             Store.upload(url, [{"x", Path.join(source, "missing")}])
  end

  defp collect_progress(acc) do
    receive do
      {:chunker_progress, progress} -> collect_progress([progress | acc])
    after
      0 -> Enum.reverse(acc)
    end
  end
end
