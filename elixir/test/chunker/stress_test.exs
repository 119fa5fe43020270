defmodule Chunker.StressTest do
  # Heavier runs of what the default suite checks once: `mix test --only stress`.
  use ExUnit.Case, async: false

  import ExUnit.CaptureLog

  alias Chunker.Error
  alias Chunker.Test.{OSProcess, Oracle, Sessions}

  @moduletag :stress
  @moduletag timeout: 300_000

  test "a thousand concurrent sessions over two ports" do
    pool = Sessions.start_pool(2)

    1..1000
    |> Task.async_stream(
      fn seed ->
        :rand.seed(:exsss, {seed, seed, seed})
        data = :rand.bytes(100_000 + :rand.uniform(400_000))
        pieces = Oracle.random_slices(data, seed, 50_000)
        opts = [pool: pool, preset: :small, hash: :blake3]
        Sessions.chunk_pieces(pieces, opts) == Chunker.chunk!(data, opts)
      end,
      max_concurrency: 200,
      timeout: 120_000
    )
    |> Enum.each(fn result -> assert result == {:ok, true} end)

    assert {:ok, %{sessions: 0}} = Chunker.stats(pool: pool)
  end

  test "twenty kills in a row: every caller is answered and the pool comes back each time" do
    pool = Sessions.start_pool(2)

    capture_log(fn ->
      for _round <- 1..20 do
        {:ok, session} = Chunker.open(pool: pool)
        {:ok, _, session} = Chunker.feed(session, :crypto.strong_rand_bytes(100_000))
        os_pid = OSProcess.track(Chunker.Port.info(session.port).os_pid)
        ref = Process.monitor(session.port)
        OSProcess.kill(os_pid, "KILL")
        assert_receive {:DOWN, ^ref, :process, _, _}, 1_000

        assert {:error, %Error{reason: :port_exited}} = Chunker.finish(session)
        assert OSProcess.await_exit(os_pid)
        assert {:ok, _} = Chunker.hash("abc", :sha256, pool: pool)

        for port <- Chunker.PortPool.ports(pool) do
          OSProcess.track(Chunker.Port.info(port).os_pid)
        end
      end
    end)
  end

  @tag :tmp_dir
  test "streaming a 256 MiB file keeps the BEAM's binary memory bounded", %{tmp_dir: dir} do
    path = Path.join(dir, "large.bin")
    # tmp_dir is only emptied when the test runs again; do not leave large files behind.
    on_exit(fn -> File.rm(path) end)

    File.open!(path, [:write, :raw], fn file ->
      for _ <- 1..64, do: IO.binwrite(file, :crypto.strong_rand_bytes(4 * 1024 * 1024))
    end)

    :erlang.garbage_collect()
    baseline = :erlang.memory(:binary)

    {count, peak} =
      path
      |> File.stream!([], 1_048_576)
      |> Chunker.stream(preset: :default)
      |> Enum.reduce({0, 0}, fn _chunk, {count, peak} ->
        {count + 1, max(peak, :erlang.memory(:binary))}
      end)

    assert count > 1000
    assert peak - baseline < 64 * 1024 * 1024
    assert count == length(Chunker.chunk_file!(path, preset: :default, timeout: 60_000))
  end
end
