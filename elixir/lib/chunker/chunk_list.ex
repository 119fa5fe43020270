defmodule Chunker.ChunkList do
  @moduledoc false
  # Turns a reply's `chunks` map (protocol/spec.md, section 3) into %Chunker.Chunk{} structs.
  # Digests and payloads are sub-binaries of the reply frame, not copies.

  alias Chunker.{Chunk, Error}

  @digest_bytes 32
  @codecs %{"zstd" => :zstd, "lz4" => :lz4, "xz" => :xz, "bzip2" => :bzip2, "none" => :none}

  @doc """
  The chunks of a wire chunk list. With `payloads: true` (a session opened with
  `:compress`) the list must carry a codec and a payload per chunk.
  """
  @spec from_wire(term, keyword) :: {:ok, [Chunk.t()]} | {:error, Error.t()}
  def from_wire(list, opts \\ [])

  def from_wire(%{"offset" => offset, "lengths" => lengths} = list, opts)
      when is_integer(offset) and offset >= 0 and is_list(lengths) do
    count = length(lengths)

    with {:ok, hashes} <- hashes(Map.get(list, "hashes"), count),
         {:ok, stored} <- stored(list, count, Keyword.get(opts, :payloads, false)) do
      {:ok, build(lengths, offset, hashes, stored, 0)}
    end
  end

  def from_wire(other, _opts), do: malformed("chunk list #{describe(other)}")

  defp hashes(nil, _count), do: {:ok, nil}
  defp hashes({:bin, <<>>}, 0), do: {:ok, nil}

  defp hashes({:bin, hashes}, count) when byte_size(hashes) == count * @digest_bytes,
    do: {:ok, hashes}

  defp hashes(other, count), do: malformed("hashes #{describe(other)} for #{count} chunks")

  defp stored(_list, _count, false), do: {:ok, nil}

  defp stored(%{"codecs" => codecs, "payloads" => payloads}, count, true)
       when is_list(codecs) and is_list(payloads) and length(codecs) == count and
              length(payloads) == count do
    pairs = Enum.zip(codecs, payloads)

    if Enum.all?(pairs, fn {codec, payload} ->
         Map.has_key?(@codecs, codec) and match?({:bin, _}, payload)
       end),
       do: {:ok, Enum.map(pairs, fn {codec, {:bin, payload}} -> {@codecs[codec], payload} end)},
       else: malformed("codecs or payloads #{describe(pairs)}")
  end

  defp stored(list, count, true) do
    if Map.has_key?(list, "payloads"),
      do: malformed("codecs and payloads that do not match #{count} chunks"),
      else:
        malformed(
          "no payloads in a compressing session's reply (the port program predates " <>
            "session compression; rebuild it)"
        )
  end

  defp build([], _offset, _hashes, _stored, _index), do: []

  defp build([length | lengths], offset, hashes, stored, index) do
    {codec, payload, rest} = next_stored(stored)

    chunk = %Chunk{
      offset: offset,
      length: length,
      hash: digest(hashes, index),
      codec: codec,
      payload: payload
    }

    [chunk | build(lengths, offset + length, hashes, rest, index + 1)]
  end

  defp next_stored(nil), do: {nil, nil, nil}
  defp next_stored([{codec, payload} | rest]), do: {codec, payload, rest}

  defp digest(nil, _index), do: nil
  defp digest(hashes, index), do: binary_part(hashes, index * @digest_bytes, @digest_bytes)

  defp describe({:bin, bytes}), do: "of #{byte_size(bytes)} bytes"
  defp describe(other), do: inspect(other, limit: 5, printable_limit: 40)

  defp malformed(what),
    do: {:error, Error.new(:internal, "malformed reply from the port: #{what}")}
end
