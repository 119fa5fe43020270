defmodule Chunker.PortProgramTest do
  # The port program spoken to directly, byte by byte, through a raw Erlang port: malformed
  # frames, oversized length prefixes, split frames, and the request/reply vector pairs.
  use ExUnit.Case, async: true

  alias Chunker.Test.{JSON, Paths, RawPort, Vectors}

  @vectors for file <- Path.wildcard(Path.join(Paths.protocol_vectors_dir(), "*.json")),
               vector <- JSON.decode!(File.read!(file))["vectors"],
               into: %{},
               do: {vector["name"], vector}

  test "answers every frame of invalid.json as it expects, and keeps serving" do
    raw = RawPort.open()

    raw =
      for {"invalid." <> _ = name, vector} <- @vectors,
          name != "invalid.frame_too_large",
          reduce: raw do
        raw ->
          :ok = RawPort.write(raw, Base.decode16!(vector["hex"], case: :lower))
          {answer, raw} = RawPort.read(raw)
          assert_answer(answer, vector["expect"], name)
          raw
      end

    assert {%{"id" => 77, "ok" => true}, raw} = stats(raw, 77)
    assert RawPort.close(raw)
  end

  test "an oversized length prefix is answered before its payload, whose bytes are then skipped" do
    raw = RawPort.open()
    vector = @vectors["invalid.frame_too_large"]
    <<announced::32>> = Base.decode16!(vector["hex"], case: :lower)

    :ok = RawPort.write(raw, <<announced::32>>)
    {event, raw} = RawPort.read(raw)
    assert event == Vectors.to_term(@vectors["event.error.frame_too_large"]["value"])

    # The skipped payload may hold anything, including bytes that look like frames.
    {:ok, decoy} = Chunker.Port.encode_request(5, Chunker.Request.stats())
    decoy = IO.iodata_to_binary(decoy)
    decoy_frame = <<byte_size(decoy)::32, decoy::binary>>
    :ok = RawPort.write(raw, decoy_frame)
    :ok = RawPort.write(raw, :binary.copy(<<0>>, announced - byte_size(decoy_frame)))

    assert {%{"id" => 6, "ok" => true}, raw} = stats(raw, 6)
    assert RawPort.close(raw)
  end

  test "--max-frame-bytes sets the limit, and a refused frame does not stop the next one" do
    raw = RawPort.open(["--max-frame-bytes", "1024"])
    :ok = RawPort.write(raw, <<2000::32, :binary.copy(<<0x91>>, 2000)::binary>>)
    {event, raw} = RawPort.read(raw)

    assert %{"event" => "error", "error" => %{"code" => "frame_too_large", "permanent" => true}} =
             event

    assert event["error"]["message"] =~ "1024"

    :ok = RawPort.request(raw, %{"id" => 1, "op" => "hello", "protocol" => 1})
    assert {%{"id" => 1, "ok" => true, "max_frame_bytes" => 1024}, raw} = RawPort.read(raw)
    assert RawPort.close(raw)
  end

  test "a frame that arrives in pieces is not an error" do
    raw = RawPort.open()
    {:ok, payload} = Chunker.Port.encode_request(3, Chunker.Request.hash("abc", :blake3))
    payload = IO.iodata_to_binary(payload)
    frame = <<byte_size(payload)::32, payload::binary>>

    for <<byte <- frame>>, do: :ok = RawPort.write(raw, <<byte>>)

    {reply, raw} = RawPort.read(raw)
    assert reply["id"] == 3

    assert reply["hash"] ==
             {:bin,
              Base.decode16!("6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85",
                case: :lower
              )}

    assert RawPort.close(raw)
  end

  describe "replies.json answers: a fresh port gives exactly the reply vector" do
    for {name, %{"answers" => request_name} = reply} <- @vectors do
      @reply name
      @request request_name
      @earlier Map.get(reply, "after", [])
      test "#{request_name} -> #{name}" do
        raw = RawPort.open()

        # Requests the reply depends on (open, feed) go first, to the same port.
        raw =
          Enum.reduce(@earlier, raw, fn earlier, raw ->
            :ok = RawPort.write(raw, Base.decode16!(@vectors[earlier]["hex"], case: :lower))
            {answer, raw} = RawPort.read(raw)
            assert %{"ok" => true} = answer, earlier
            raw
          end)

        :ok = RawPort.write(raw, Base.decode16!(@vectors[@request]["hex"], case: :lower))
        {payload, raw} = RawPort.read_payload(raw, 5_000)

        assert Base.encode16(payload, case: :lower) ==
                 Base.encode16(Vectors.frame_payload(@vectors[@reply]["hex"]), case: :lower)

        assert RawPort.close(raw)
      end
    end
  end

  defp assert_answer(answer, %{"as" => "event", "code" => code}, name) do
    assert %{"event" => "error", "error" => %{"code" => ^code, "message" => message}} = answer,
           name

    assert is_binary(message) and message != ""
    refute Map.has_key?(answer, "id"), name
  end

  defp assert_answer(answer, %{"as" => "reply", "code" => code, "id" => id}, name) do
    assert %{"id" => ^id, "ok" => false, "error" => %{"code" => ^code}} = answer, name
  end

  defp stats(raw, id) do
    :ok = RawPort.request(raw, %{"id" => id, "op" => "stats"})
    RawPort.read(raw)
  end
end
