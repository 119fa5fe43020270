defmodule ChunkerTest do
  # The public API: doctests, every error path, and the session rules.
  use ExUnit.Case, async: true

  alias Chunker.{Chunk, Error}
  alias Chunker.Test.{Oracle, Sessions}

  doctest Chunker
  doctest Chunker.Chunk
  doctest Chunker.Error
  doctest Chunker.Store

  describe "options are checked before anything is sent" do
    test "each bad option is named, with what was expected and what came" do
      for {opts, message} <- [
            {[min_size: 63],
             "Expected an integer between 64 and 1048576 for min_size but received 63"},
            {[avg_size: 4_194_305], "for avg_size but received 4194305"},
            {[max_size: "1M"], ~s(for max_size but received "1M")},
            {[normalization: 4], "Expected an integer between 0 and 3 for normalization"},
            {[seed: -1], "for seed but received -1"},
            {[seed: 18_446_744_073_709_551_616], "for seed but received 18446744073709551616"},
            {[preset: "small"],
             ~s(Expected one of :default, :nif, :small for preset but received "small")},
            {[hash: :md5], "Expected one of :sha256, :blake3, :none for hash but received :md5"},
            {[budget_bytes: 0], "Expected a positive integer for budget_bytes but received 0"},
            {[budget_ms: 1.5], "for budget_ms but received 1.5"},
            {[timeout: -5], "Expected a positive integer for timeout"},
            {[pool: "p"], "for pool"},
            {[min_size: 4096, avg_size: 1024, max_size: 65_536],
             "min_size <= avg_size <= max_size for sizes"},
            {[colour: :blue], "for options but received :colour"},
            {[hash: :none, hash: :sha256],
             "Expected each option at most once for options but received :hash"},
            {%{hash: :none}, "Expected a keyword list for options"}
          ] do
        assert {:error, %Error{reason: :invalid_argument, message: got}} = Chunker.open(opts)
        assert got =~ message, inspect(opts)
      end
    end

    test "the port checks what needs the preset: a min_size above the preset's avg_size" do
      assert {:error, %Error{reason: :invalid_argument, message: message}} =
               Chunker.open(min_size: 300_000)

      assert message =~ "avg_size"
    end

    test "hash/3 takes only :timeout and :pool, and a known algorithm" do
      assert {:error, %Error{reason: :invalid_argument}} =
               Chunker.hash("x", :sha256, preset: :small)

      assert {:error, %Error{message: "Expected one of :sha256, :blake3 for algorithm" <> _}} =
               Chunker.hash("x", :md5)

      assert {:error, %Error{message: "Expected a binary for data" <> _}} = Chunker.hash(~c"x")
    end

    test "stream/2 raises at once on bad options" do
      assert_raise Error, ~r/invalid_argument: .*for hash/, fn ->
        Chunker.stream(["x"], hash: :crc32)
      end
    end
  end

  describe "sessions" do
    test "a feed that runs out of budget continues, and feeding meanwhile is :session_busy" do
      data = :crypto.strong_rand_bytes(3_000_000)
      {:ok, session} = Chunker.open(budget_bytes: 1)

      assert {:continue, first, session} = Chunker.feed(session, data)
      assert {:error, %Error{reason: :session_busy}} = Chunker.feed(session, "more")

      {rest, session} = continue_until_ok(session, [])
      assert {:ok, tail} = Chunker.finish(session)
      assert first ++ rest ++ tail == Chunker.chunk!(data)
    end

    test "continue/1 with nothing pending returns no chunks" do
      {:ok, session} = Chunker.open()
      assert {:ok, [], ^session} = Chunker.continue(session)
      assert :ok = Chunker.close(session)
    end

    test "finish/1 completes pending work first" do
      data = :crypto.strong_rand_bytes(2_000_000)
      {:ok, session} = Chunker.open(budget_bytes: 1, hash: :blake3)
      {:continue, first, session} = Chunker.feed(session, data)
      assert {:ok, rest} = Chunker.finish(session)
      assert first ++ rest == Chunker.chunk!(data, hash: :blake3)
    end

    test "a finished or closed session is unknown to the port" do
      {:ok, session} = Chunker.open()
      {:ok, [], session} = Chunker.feed(session, "abc")
      assert {:ok, [%Chunk{offset: 0, length: 3}]} = Chunker.finish(session)
      assert {:error, %Error{reason: :unknown_session}} = Chunker.close(session)

      {:ok, session} = Chunker.open()
      assert :ok = Chunker.close(session)
      assert {:error, %Error{reason: :unknown_session}} = Chunker.finish(session)
      assert {:error, %Error{reason: :unknown_session}} = Chunker.feed(session, "x")
    end

    test "an empty stream has no chunks" do
      {:ok, session} = Chunker.open()
      assert {:ok, [], session} = Chunker.feed(session, "")
      assert Chunker.finish(session) == {:ok, []}
      assert Chunker.chunk("") == {:ok, []}
      assert Enum.to_list(Chunker.stream([])) == []
    end

    test "calls check their arguments" do
      {:ok, session} = Chunker.open()

      assert {:error,
              %Error{reason: :invalid_argument, message: "Expected a binary for data" <> _}} =
               Chunker.feed(session, 42)

      assert {:error, %Error{reason: :invalid_argument, message: "Expected a session" <> _}} =
               Chunker.feed(:nope, "x")

      assert {:error, %Error{reason: :invalid_argument}} = Chunker.continue(:nope)
      assert {:error, %Error{reason: :invalid_argument}} = Chunker.finish(nil)
      assert {:error, %Error{reason: :invalid_argument}} = Chunker.close(%{})
      assert {:error, %Error{reason: :invalid_argument}} = Chunker.chunk(:data)
      assert {:error, %Error{reason: :invalid_argument}} = Chunker.chunk_file(42)
      :ok = Chunker.close(session)
    end

    test "a session inspects as its id and port" do
      {:ok, session} = Chunker.open()
      assert inspect(session) =~ ~r/^#Chunker.Session<\d+@#PID<[\d.]+>>$/
      :ok = Chunker.close(session)
    end
  end

  describe "files" do
    test "a missing file is :not_found, a directory an :io_error" do
      assert {:error, %Error{reason: :not_found}} = Chunker.chunk_file("/nonexistent/file.nar")
      assert {:error, %Error{reason: :io_error}} = Chunker.chunk_file(System.tmp_dir!())
    end

    @tag :tmp_dir
    test "relative paths are expanded against the current directory", %{tmp_dir: dir} do
      File.write!(Path.join(dir, "a.bin"), "hello")
      relative = Path.relative_to_cwd(Path.join(dir, "a.bin"))
      assert {:ok, [%Chunk{offset: 0, length: 5}]} = Chunker.chunk_file(relative)

      assert {:ok, [%Chunk{offset: 0, length: 5}]} =
               Chunker.chunk_file(String.to_charlist(relative))
    end
  end

  describe "streams" do
    test "chunks a file stream lazily, one piece at a time" do
      data = :crypto.strong_rand_bytes(1_500_000)
      pieces = Oracle.random_slices(data, 11, 200_000)

      stream = Chunker.stream(pieces, preset: :small)
      assert Enum.to_list(stream) == Chunker.chunk!(data, preset: :small)
    end

    test "a stream stopped early closes its session" do
      pool = Sessions.start_pool(1)
      data = :crypto.strong_rand_bytes(1_000_000)
      pieces = for <<piece::binary-size(100_000) <- data>>, do: piece

      assert [%Chunk{offset: 0}] =
               pieces |> Chunker.stream(preset: :small, pool: pool) |> Enum.take(1)

      assert {:ok, %{sessions: 0}} = Chunker.stats(pool: pool)
    end

    test "an error while streaming raises Chunker.Error and closes the session" do
      pool = Sessions.start_pool(1)

      assert_raise Error, ~r/Expected a binary for data/, fn ->
        ["ok", :not_binary] |> Chunker.stream(pool: pool) |> Enum.to_list()
      end

      assert {:ok, %{sessions: 0}} = Chunker.stats(pool: pool)
    end
  end

  describe "hashes and stats" do
    test "SHA-256 and BLAKE3 digests match :crypto and the BLAKE3 reference" do
      data = :crypto.strong_rand_bytes(100_000)
      assert Chunker.hash!(data) == :crypto.hash(:sha256, data)

      assert Chunker.hash!("abc", :blake3) ==
               Base.decode16!("6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85",
                 case: :lower
               )
    end

    test "stats count sessions and bytes per port" do
      pool = Sessions.start_pool(1)
      {:ok, session} = Chunker.open(pool: pool)
      {:ok, _, session} = Chunker.feed(session, :binary.copy("a", 1000))

      assert {:ok, %{sessions: 1, bytes_in: 1000, ports: [%{sessions: 1, max_sessions: max}]}} =
               Chunker.stats(pool: pool)

      assert max > 0
      :ok = Chunker.close(session)
      assert {:ok, %{sessions: 0}} = Chunker.stats(pool: pool)
    end

    test "a pool's :hash_threads reaches its port programs" do
      # The test run's own CHUNKER_HASH_THREADS would win over the option.
      if System.get_env("CHUNKER_HASH_THREADS") in [nil, ""] do
        for threads <- [0, 3] do
          pool = Sessions.start_pool(1, hash_threads: threads)
          assert {:ok, %{ports: [%{hash_threads: ^threads}]}} = Chunker.stats(pool: pool)
        end
      end
    end

    test "a negative :hash_threads is refused when the pool starts" do
      assert_raise ArgumentError, ~r/hash_threads must be a non-negative integer/, fn ->
        Chunker.PortConfig.resolve(hash_threads: -1)
      end
    end
  end

  describe "bang variants raise Chunker.Error" do
    test "with the reason and message" do
      assert_raise Error,
                   "invalid_argument: Expected an integer between 64 and 1048576 for min_size but received 1",
                   fn ->
                     Chunker.open!(min_size: 1)
                   end

      assert_raise Error, ~r/^not_found: /, fn -> Chunker.chunk_file!("/nonexistent") end
      assert_raise Error, ~r/^invalid_argument: /, fn -> Chunker.chunk!("x", hash: :md5) end
      assert_raise Error, ~r/^invalid_argument: /, fn -> Chunker.hash!("x", :md5) end

      session = Chunker.open!()
      assert {:ok, [], session} = Chunker.feed!(session, "x")
      assert {:ok, [], session} = Chunker.continue!(session)
      assert [%Chunk{length: 1}] = Chunker.finish!(session)
      assert_raise Error, ~r/^unknown_session: /, fn -> Chunker.close!(session) end
      assert_raise Error, ~r/^unknown_session: /, fn -> Chunker.feed!(session, "x") end
    end
  end

  defp continue_until_ok(session, acc) do
    case Chunker.continue(session) do
      {:continue, chunks, session} -> continue_until_ok(session, [chunks | acc])
      {:ok, chunks, session} -> {[chunks | acc] |> Enum.reverse() |> Enum.concat(), session}
    end
  end
end
