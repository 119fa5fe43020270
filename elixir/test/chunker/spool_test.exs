defmodule Chunker.SpoolTest do
  # Feeds through the spool (a shared file in /dev/shm, see Chunker.Spool) with real port
  # programs: the same chunks as through the pipe, slots that are only reused once their
  # reply is in, and no file left behind. Not async: the check that no spool file of this
  # BEAM is left must not see another test's file during its brief life.
  use ExUnit.Case, async: false

  import Chunker.Test.Eventually

  import ExUnit.CaptureLog

  alias Chunker.{Error, PortPool}
  alias Chunker.Test.{JSON, OSProcess, Oracle, Paths, Sessions}

  @moduletag :spool

  @sekien [min_size: 4096, avg_size: 16_384, max_size: 65_535]
  @mib 1024 * 1024

  setup_all do
    dir = Paths.fastcdc_dir()
    vectors = JSON.decode!(File.read!(Path.join(dir, "vectors.json")))
    sekien = Enum.find(vectors["cases"], &(&1["name"] == "sekien-16k-level1"))
    published = for c <- sekien["chunks"], do: {c["offset"], c["length"]}
    %{fixture: File.read!(Path.join(dir, "SekienAkashita.jpg")), published: published}
  end

  setup do
    if File.dir?("/dev/shm"), do: :ok, else: {:skip, "no /dev/shm on this machine"}
  end

  test "the fixture fed in big pieces: the published cut points, with the spool and without",
       ctx do
    with_spool = spool_pool()
    without = Sessions.start_pool(1, spool_bytes: 0)
    assert %{spool: nil} = Chunker.Port.info(hd(PortPool.ports(without)))

    spooled =
      for seed <- 0..8, reduce: 0 do
        spooled ->
          # The whole fixture (109 466 bytes), or random pieces of up to 110 000 bytes:
          # those of 64 KiB and more go through the spool, the others inline.
          pieces =
            if seed == 0,
              do: [ctx.fixture],
              else: Oracle.random_slices(ctx.fixture, seed, 110_000)

          expected = Sessions.chunk_pieces(pieces, [pool: without] ++ @sekien)
          assert Sessions.chunk_pieces(pieces, [pool: with_spool] ++ @sekien) == expected
          assert Enum.map(expected, &{&1.offset, &1.length}) == ctx.published, "seed #{seed}"
          spooled + Enum.count(pieces, &(byte_size(&1) >= 65_536))
      end

    assert spooled > 1

    assert %{spool: %{feeds: ^spooled, busy: 0}} =
             Chunker.Port.info(hd(PortPool.ports(with_spool)))
  end

  test "large feeds (sliced into slots) and many concurrent sessions give the same chunks" do
    with_spool = spool_pool()
    without = Sessions.start_pool(1, spool_bytes: 0)
    :rand.seed(:exsss, {7, 7, 7})
    data = :rand.bytes(21 * @mib)

    # 21 MiB in one feed goes as three slices (8 + 8 + 5 MiB), each through a slot.
    big = Sessions.chunk_pieces([data], pool: without)
    assert Sessions.chunk_pieces([data], pool: with_spool) == big
    assert %{spool: %{feeds: 3}} = Chunker.Port.info(hd(PortPool.ports(with_spool)))

    # Eight sessions on one port with four slots: some feeds find no free slot and go
    # inline, the rest through the spool; all of them must chunk alike. Small budgets
    # make feeds reply more: true, so other sessions rewrite a slot before the port has
    # scanned all of it (it must have kept a copy).
    results =
      1..8
      |> Task.async_stream(
        fn seed ->
          pieces = Oracle.random_slices(data, seed, 3 * @mib)
          budget = if rem(seed, 2) == 0, do: [budget_bytes: 200_000], else: []
          Sessions.chunk_pieces(pieces, [pool: with_spool, preset: :small] ++ budget)
        end,
        max_concurrency: 8,
        timeout: 60_000
      )
      |> Enum.map(fn {:ok, chunks} -> chunks end)

    expected = Sessions.chunk_pieces([data], pool: without, preset: :small)
    assert Enum.all?(results, &(&1 == expected))
    assert %{spool: %{busy: 0, feeds: feeds}} = Chunker.Port.info(hd(PortPool.ports(with_spool)))
    assert feeds > 8
  end

  test "a slot is released by its reply, also a late one, never by the caller's timeout" do
    pool = spool_pool()
    [port] = PortPool.ports(pool)
    os_pid = Chunker.Port.info(port).os_pid
    {:ok, session} = Chunker.open(pool: pool, hash: :none, timeout: 100)
    piece = :binary.copy(<<1, 2, 3, 4>>, div(@mib, 4))

    # A stopped program cannot answer: the feed times out while its slot is taken.
    OSProcess.kill(os_pid, "STOP")

    try do
      assert {:error, %Error{reason: :timeout}} = Chunker.feed(session, piece)
      assert %{spool: %{busy: 1}, late_replies: 0} = Chunker.Port.info(port)
    after
      OSProcess.kill(os_pid, "CONT")
    end

    assert eventually(fn -> Chunker.Port.info(port).late_replies == 1 end)
    assert %{spool: %{busy: 0}} = Chunker.Port.info(port)
  end

  test "with every slot taken a feed goes inline, and nothing waits for a slot" do
    pool = spool_pool(spool_bytes: 2 * @mib)
    [port] = PortPool.ports(pool)
    # A spool smaller than a slot is one slot of that size.
    assert %{spool: %{bytes: 2_097_152, slot_bytes: 2_097_152, busy: 0}} = Chunker.Port.info(port)

    os_pid = Chunker.Port.info(port).os_pid
    piece = :binary.copy(<<9>>, @mib)
    sessions = for _ <- 1..3, do: Chunker.open!(pool: pool, hash: :none)
    OSProcess.kill(os_pid, "STOP")

    tasks =
      try do
        tasks = for session <- sessions, do: Task.async(fn -> Chunker.feed(session, piece) end)
        # One feed took the slot. The next went inline: the stopped program leaves most of
        # it queued in the port, which marks the port busy, so the third, also inline,
        # suspends the server in Port.command. (Chunker.Port.info/1 cannot answer now.)
        assert eventually(fn ->
                 Process.info(port, [:status, :message_queue_len]) ==
                   [status: :suspended, message_queue_len: 0]
               end)

        tasks
      after
        OSProcess.kill(os_pid, "CONT")
      end

    for result <- Task.await_many(tasks, 5_000) do
      assert {:ok, fed, session} = result
      assert {:ok, rest} = Chunker.finish(session)
      assert Enum.sum(Enum.map(fed ++ rest, & &1.length)) == @mib
    end

    # Only the first of the three went through the spool; no feed waited for its slot.
    assert %{spool: %{busy: 0, feeds: 1}} = Chunker.Port.info(port)
  end

  test "a replacement program gets a spool of its own; no spool file is ever left behind" do
    pool = spool_pool()
    [port] = PortPool.ports(pool)
    os_pid = Chunker.Port.info(port).os_pid
    assert spool_files() == []

    capture_log(fn ->
      OSProcess.kill(os_pid, "KILL")
      assert OSProcess.await_exit(os_pid)
      assert eventually(fn -> PortPool.ports(pool) not in [[], [port]] end)
    end)

    [replacement] = PortPool.ports(pool)
    OSProcess.track(Chunker.Port.info(replacement).os_pid)
    assert eventually(fn -> Chunker.Port.info(replacement).spool != nil end)

    {:ok, session} = Chunker.open(pool: pool)
    assert {:ok, [_ | _], session} = Chunker.feed(session, :binary.copy(<<7>>, 3 * @mib))
    assert {:ok, _chunks} = Chunker.finish(session)
    assert %{spool: %{feeds: 1}} = Chunker.Port.info(replacement)
    assert spool_files() == []
  end

  test "spool_bytes: 0 turns it off" do
    pool = Sessions.start_pool(2, spool_bytes: 0)
    for port <- PortPool.ports(pool), do: assert(%{spool: nil} = Chunker.Port.info(port))
  end

  # A pool of one port whose spool is attached (the spool request follows hello).
  defp spool_pool(opts \\ []) do
    pool = Sessions.start_pool(1, opts)
    [port] = PortPool.ports(pool)
    assert eventually(fn -> Chunker.Port.info(port).spool != nil end)
    pool
  end

  defp spool_files, do: Path.wildcard("/dev/shm/chunker-#{System.pid()}-*")
end
