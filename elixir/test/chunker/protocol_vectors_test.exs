defmodule Chunker.ProtocolVectorsTest do
  # protocol/vectors/*.json through the Elixir side: the codec, the request builders, the
  # chunk-list reader and the error reasons. (The live port's answers to the same frames
  # are checked in Chunker.PortProgramTest.)
  use ExUnit.Case, async: true

  alias Chunker.{ChunkList, Chunk, Error, MessagePack, Options, Port, Request}
  alias Chunker.Test.{JSON, Paths, Vectors}

  @vector_files Path.wildcard(Path.join(Paths.protocol_vectors_dir(), "*.json")) |> Enum.sort()
  for file <- @vector_files, do: @external_resource(file)

  @vectors (for file <- @vector_files,
                vector <- JSON.decode!(File.read!(file))["vectors"] do
              Map.put(vector, "file", Path.basename(file))
            end)

  test "the vectors are there" do
    names = Enum.map(@vectors, & &1["name"])
    assert length(names) > 50, "expected protocol vectors in #{Paths.protocol_vectors_dir()}"
    assert names == Enum.uniq(names)
  end

  for vector <- @vectors, Map.has_key?(vector, "value") do
    @vector vector
    test "#{vector["file"]}: #{vector["name"]} decodes to its value and re-encodes to its bytes" do
      value = Vectors.to_term(@vector["value"])
      payload = Vectors.frame_payload(@vector["hex"])

      assert MessagePack.decode(payload) == {:ok, value}
      {:ok, encoded} = MessagePack.encode(value)

      assert Base.encode16(IO.iodata_to_binary(encoded), case: :lower) ==
               Base.encode16(payload, case: :lower)

      for alternative <- Map.get(@vector, "also_valid_hex", []) do
        assert MessagePack.decode(Vectors.frame_payload(alternative)) == {:ok, value}, alternative
      end
    end
  end

  describe "invalid.json at the codec level" do
    for vector <- @vectors, vector["file"] == "invalid.json" do
      @vector vector
      test "#{vector["name"]}" do
        bytes = Base.decode16!(@vector["hex"], case: :lower)
        <<size::32, payload::binary>> = bytes

        case @vector["expect"]["code"] do
          "frame_too_large" ->
            assert size > 67_108_864 and payload == <<>>

          "invalid_frame" ->
            assert byte_size(payload) == size

            case MessagePack.decode(payload) do
              {:error, _reason} -> :ok
              {:ok, value} -> refute is_map(value)
            end

          # The frame is a map; the port finds what is wrong with it.
          _request_error ->
            assert {:ok, %{}} = MessagePack.decode(payload)
        end
      end
    end
  end

  describe "requests.json: the frames Chunker.Request builds" do
    test "hello" do
      assert frame(1, Request.hello()) == hex_of("request.hello")
    end

    test "open with every option, with none, and with a small seed" do
      all =
        options!(
          preset: :default,
          min_size: 16_384,
          avg_size: 65_536,
          max_size: 262_144,
          normalization: 1,
          seed: 12_345_678_901_234_567_890,
          hash: :blake3,
          budget_bytes: 1_048_576,
          budget_ms: 5
        )

      assert frame(2, Request.open(all)) == hex_of("request.open.all_options")
      assert frame(3, Request.open(options!([]))) == hex_of("request.open.minimal")

      assert frame(4, Request.open(options!(preset: :small, seed: 42, hash: :none))) ==
               hex_of("request.open.small_seed")
    end

    test "session requests" do
      data = bin_value("request.feed", "data")
      assert frame(5, Request.feed(1, data)) == hex_of("request.feed")
      assert frame(7, Request.continue(1)) == hex_of("request.continue")
      assert frame(9, Request.finish(1)) == hex_of("request.finish")
      assert frame(10, Request.close(1)) == hex_of("request.close")
    end

    test "spool, and a feed whose bytes were written into the spool" do
      %{"path" => path, "bytes" => bytes} = vector("request.spool")["value"]
      assert frame(17, Request.spool(path, bytes)) == hex_of("request.spool")

      [offset, length] = vector("request.feed.spool")["value"]["spool"]
      feed = Request.feed(1, :binary.copy(<<0>>, length))
      assert frame(18, Request.spooled(feed, offset)) == hex_of("request.feed.spool")
    end

    test "one-shot requests" do
      data = bin_value("request.chunk", "data")
      sizes = options!(min_size: 64, avg_size: 256, max_size: 1024)
      assert frame(11, Request.chunk(data, sizes)) == hex_of("request.chunk")

      path = vector("request.chunk_file")["value"]["path"]
      nif = options!(preset: :nif, budget_bytes: 16_777_216, budget_ms: 10)
      assert frame(13, Request.chunk_file(path, nif)) == hex_of("request.chunk_file")

      text = bin_value("request.hash.sha256", "data")
      assert frame(14, Request.hash(text, :sha256)) == hex_of("request.hash.sha256")
      assert frame(15, Request.hash(text, :blake3)) == hex_of("request.hash.blake3")
      assert frame(16, Request.stats()) == hex_of("request.stats")

      text = bin_value("request.compress", "data")
      assert frame(32, Request.compress(text, "zstd", 3, nil)) == hex_of("request.compress")

      zstd = bin_value("request.decompress", "data")

      assert frame(33, Request.decompress(zstd, "auto", 1024, nil)) ==
               hex_of("request.decompress")

      assert frame(9_007_199_254_740_991, Request.stats()) == hex_of("request.stats.largest_id")
    end
  end

  describe "replies.json: chunk lists and errors as Elixir sees them" do
    test "a hashed list: contiguous offsets, one 32-byte digest each" do
      reply = reply_value("reply.feed.hashed")
      {:bin, hashes} = reply["chunks"]["hashes"]
      {:ok, chunks} = ChunkList.from_wire(reply["chunks"])

      assert Enum.map(chunks, &{&1.offset, &1.length}) == [{0, 412}, {412, 288}, {700, 500}]
      assert Enum.map(chunks, & &1.hash) == for(<<digest::binary-32 <- hashes>>, do: digest)
    end

    test "an unhashed list above 2^32" do
      {:ok, chunks} = ChunkList.from_wire(reply_value("reply.continue.unhashed_more")["chunks"])

      assert chunks == [
               %Chunk{offset: 5_000_000_000, length: 65_536, hash: nil},
               %Chunk{offset: 5_000_065_536, length: 65_536, hash: nil}
             ]
    end

    test "empty lists, hashed or not" do
      assert ChunkList.from_wire(reply_value("reply.finish.empty_hashed")["chunks"]) == {:ok, []}

      assert ChunkList.from_wire(reply_value("reply.finish.empty_unhashed")["chunks"]) ==
               {:ok, []}
    end

    test "a list whose digests do not match its lengths is an error, not a crash" do
      list = %{"offset" => 0, "lengths" => [1, 2], "hashes" => {:bin, <<0::256>>}}
      assert {:error, %Error{reason: :internal}} = ChunkList.from_wire(list)
    end

    test "every error code of the vectors becomes its own reason" do
      errors =
        for %{"name" => "reply.error." <> _} = vector <- @vectors, do: vector["value"]["error"]

      assert length(errors) >= 12

      for %{"code" => code, "message" => message} = error <- errors do
        assert Error.from_wire(error) == %Error{
                 reason: String.to_existing_atom(code),
                 message: message
               }
      end

      assert %Error{reason: :unknown_error, message: "brand_new: m"} =
               Error.from_wire(%{"code" => "brand_new", "message" => "m", "permanent" => true})
    end
  end

  defp vector(name), do: Enum.find(@vectors, &(&1["name"] == name)) || flunk("no vector #{name}")

  defp hex_of(name), do: vector(name)["hex"]

  defp reply_value(name), do: Vectors.to_term(vector(name)["value"])

  defp bin_value(name, key) do
    {:bin, bytes} = Vectors.to_term(vector(name)["value"][key])
    bytes
  end

  defp options!(opts) do
    {:ok, options} = Options.validate(opts)
    options
  end

  defp frame(id, request) do
    {:ok, payload} = Port.encode_request(id, request)
    payload = IO.iodata_to_binary(payload)
    Base.encode16(<<byte_size(payload)::32, payload::binary>>, case: :lower)
  end
end
