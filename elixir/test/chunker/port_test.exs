defmodule Chunker.PortTest do
  # Chunker.Port and Chunker.PortPool with real port programs: sharing, crashes, timeouts.
  use ExUnit.Case, async: true

  import Chunker.Test.Eventually

  import ExUnit.CaptureLog

  alias Chunker.{Error, PortPool}
  alias Chunker.Test.{OSProcess, Oracle, Paths, Sessions}

  @sekien [min_size: 4096, avg_size: 16_384, max_size: 65_535]
  @abc_sha256 Base.decode16!("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
                case: :lower
              )

  setup_all do
    fixture = Path.join(Paths.fastcdc_dir(), "SekienAkashita.jpg")
    %{fixture: fixture, data: File.read!(fixture)}
  end

  test "many concurrent sessions share one port and keep their streams apart", ctx do
    pool = Sessions.start_pool(1)
    [port] = PortPool.ports(pool)
    expected = Oracle.cli_chunks(ctx.fixture, ~w(--min 4096 --avg 16384 --max 65535))

    results =
      1..40
      |> Task.async_stream(
        fn seed ->
          pieces = Oracle.random_slices(ctx.data, seed, 5_000 + seed * 500)
          Sessions.chunk_pieces(pieces, [pool: pool] ++ @sekien)
        end,
        max_concurrency: 40,
        timeout: 30_000
      )
      |> Enum.map(fn {:ok, chunks} -> Oracle.as_tuples(chunks) end)

    assert Enum.all?(results, &(&1 == expected))
    assert PortPool.ports(pool) == [port]
    assert {:ok, %{sessions: 0, ports: [%{requests: requests}]}} = Chunker.stats(pool: pool)
    assert requests > 40 * 3
  end

  test "a port killed with SIGKILL: waiting callers and later ones get :port_exited, the pool recovers" do
    pool = Sessions.start_pool(1)
    [port] = PortPool.ports(pool)
    os_pid = Chunker.Port.info(port).os_pid
    port_ref = Process.monitor(port)

    {:ok, session} = Chunker.open(pool: pool, hash: :none)
    {:ok, [], session} = Chunker.feed(session, "some bytes")

    # Stopped, the program cannot answer: these callers are still waiting when it dies.
    OSProcess.kill(os_pid, "STOP")

    waiting = [
      Task.async(fn -> Chunker.feed(session, "more bytes") end),
      Task.async(fn -> Chunker.hash("abc", :sha256, pool: pool) end),
      Task.async(fn -> Chunker.chunk("small", pool: pool) end)
    ]

    assert eventually(fn -> Chunker.Port.info(port).pending == 3 end)
    killed_at = System.monotonic_time(:millisecond)

    log =
      capture_log(fn ->
        OSProcess.kill(os_pid, "KILL")

        for task <- waiting do
          assert {:ok, {:error, %Error{reason: :port_exited, message: message}}} =
                   Task.yield(task, 1_000)

          assert message == "the chunker port (os pid #{os_pid}) exited with exit status 137"
        end

        assert_receive {:DOWN, ^port_ref, :process, ^port, _reason}, 1_000
      end)

    assert System.monotonic_time(:millisecond) - killed_at < 1_000
    assert log =~ "exited with exit status 137"
    assert OSProcess.await_exit(os_pid)

    assert {:error, %Error{reason: :port_exited}} = Chunker.feed(session, "after")
    assert {:error, %Error{reason: :port_exited}} = Chunker.finish(session)

    assert {:ok, @abc_sha256} = Chunker.hash("abc", :sha256, pool: pool)
    assert [replacement] = PortPool.ports(pool)
    assert replacement != port
    new_os_pid = OSProcess.track(Chunker.Port.info(replacement).os_pid)
    assert new_os_pid != os_pid
    assert OSProcess.port_program_running?(new_os_pid)
  end

  test "a program that dies while a large write to it is pending: :port_exited as well" do
    pool = Sessions.start_pool(1)
    [port] = PortPool.ports(pool)
    os_pid = Chunker.Port.info(port).os_pid
    port_ref = Process.monitor(port)
    OSProcess.kill(os_pid, "STOP")

    # More than a pipe holds: the write is still pending when the program dies.
    task = Task.async(fn -> Chunker.chunk(:binary.copy("x", 1_000_000), pool: pool) end)
    assert eventually(fn -> Chunker.Port.info(port).pending == 1 end)

    capture_log(fn ->
      OSProcess.kill(os_pid, "KILL")

      assert {:ok, {:error, %Error{reason: :port_exited, message: message}}} =
               Task.yield(task, 1_000)

      assert message =~ "os pid #{os_pid}"
      # Until the dead port's server is gone, a new call may still reach it and get
      # :port_exited too; the pool serves again once it is replaced.
      assert_receive {:DOWN, ^port_ref, :process, ^port, _reason}, 1_000
    end)

    assert OSProcess.await_exit(os_pid)
    assert {:ok, @abc_sha256} = Chunker.hash("abc", :sha256, pool: pool)
  end

  test "a timed-out call answers :timeout, the port keeps serving and drops the late reply" do
    pool = Sessions.start_pool(1)
    [port] = PortPool.ports(pool)
    :rand.seed(:exsss, {1, 1, 1})
    large = :rand.bytes(32 * 1024 * 1024)

    assert {:error, %Error{reason: :timeout, message: message}} =
             Chunker.chunk(large, pool: pool, timeout: 1)

    assert message =~ "within 1 ms"

    assert {:ok, @abc_sha256} = Chunker.hash("abc", :sha256, pool: pool)
    assert eventually(fn -> Chunker.Port.info(port).late_replies == 1 end)
    assert PortPool.ports(pool) == [port]
    refute_received _anything
  end

  test "a request larger than the port's frame limit is refused before it is sent" do
    pool = Sessions.start_pool(1, max_frame_bytes: 4096)

    assert {:error, %Error{reason: :frame_too_large, message: message}} =
             Chunker.chunk(:binary.copy("x", 5000), pool: pool)

    assert message =~ "4096"
    assert {:ok, [_chunk]} = Chunker.chunk(:binary.copy("x", 3000), pool: pool)
  end

  test "error events from the port are logged and the port keeps serving" do
    pool = Sessions.start_pool(1)
    [port] = PortPool.ports(pool)
    %{port: erlang_port} = :sys.get_state(port)

    log =
      capture_log(fn ->
        # Any process may write to a port; the answer goes to its owner, Chunker.Port.
        Port.command(erlang_port, <<0xC1>>)
        Port.command(erlang_port, <<0x93, 1, 2, 3>>)
        assert {:ok, @abc_sha256} = Chunker.hash("abc", :sha256, pool: pool)
      end)

    assert log =~ "invalid_frame"
    assert PortPool.ports(pool) == [port]
  end

  test "a missing port program gives :port_unavailable saying what to do" do
    log =
      capture_log(fn ->
        pool = Sessions.start_pool(2, port_script: "/nonexistent/dist/port/main.js")

        assert {:error, %Error{reason: :port_unavailable, message: message}} =
                 Chunker.hash("abc", :sha256, pool: pool)

        assert message =~ "npm run build:ts"
        assert message =~ "/nonexistent/dist/port/main.js"
        assert {:error, %Error{reason: :port_unavailable}} = Chunker.open(pool: pool)
      end)

    assert log =~ "npm run build:ts"
  end

  @tag :tmp_dir
  test "a program that dies before it answers hello is started again on demand, not in a loop",
       %{tmp_dir: dir} do
    script = Path.join(dir, "broken.js")
    File.write!(script, "process.exit(3);\n")

    log =
      capture_log(fn ->
        {:ok, port} = start_supervised({Chunker.Port, port_script: script})
        ref = Process.monitor(port)

        for _ <- 1..3 do
          assert {:error, %Error{reason: :port_exited, message: message}} =
                   Chunker.Port.request(port, Chunker.Request.stats(), 5_000)

          assert message =~ "exit status 3 before it answered hello"
        end

        refute_received {:DOWN, ^ref, _, _, _}
      end)

    assert log =~ "started again on the next request"
  end

  test "a missing node gives :port_unavailable too" do
    capture_log(fn ->
      pool = Sessions.start_pool(1, node_path: "/nonexistent/bin/node")

      assert {:error, %Error{reason: :port_unavailable, message: message}} =
               Chunker.hash("abc", :sha256, pool: pool)

      assert message =~ "CHUNKER_NODE"
    end)
  end

  test "a pool that is not running gives :port_unavailable, not a crash" do
    assert {:error, %Error{reason: :port_unavailable}} =
             Chunker.hash("abc", :sha256, pool: :no_such_pool)
  end

  test "the port program exits when its Chunker.Port goes away" do
    {:ok, port} = start_supervised({Chunker.Port, []}, id: :lonely_port)
    os_pid = OSProcess.track(Chunker.Port.info(port).os_pid)
    assert OSProcess.port_program_running?(os_pid)

    :ok = stop_supervised(:lonely_port)
    assert OSProcess.await_exit(os_pid)
  end

  test "one-shot requests go round the pool's ports" do
    pool = Sessions.start_pool(3)
    ports = PortPool.ports(pool)
    assert length(ports) == 3

    {:ok, %{ports: before}} = Chunker.stats(pool: pool)
    for _ <- 1..9, do: assert({:ok, _} = Chunker.hash("abc", :sha256, pool: pool))
    {:ok, %{ports: later}} = Chunker.stats(pool: pool)

    # Three hashes each, plus the second stats request.
    assert Enum.zip_with(later, before, &(&1.requests - &2.requests)) == [4, 4, 4]
  end
end
