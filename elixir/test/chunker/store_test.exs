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
