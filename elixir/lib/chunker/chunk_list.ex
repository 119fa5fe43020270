defmodule Chunker.ChunkList do
  @moduledoc false
  # Turns a reply's `chunks` map (protocol/spec.md, section 3) into %Chunker.Chunk{} structs.
  # Digests are sub-binaries of the reply frame, not copies.

  alias Chunker.{Chunk, Error}

  @digest_bytes 32

  @spec from_wire(term) :: {:ok, [Chunk.t()]} | {:error, Error.t()}
  def from_wire(%{"offset" => offset, "lengths" => lengths} = list)
      when is_integer(offset) and offset >= 0 and is_list(lengths) do
    count = length(lengths)

    case Map.get(list, "hashes") do
      nil ->
        {:ok, build(lengths, offset, nil, 0)}

      {:bin, <<>>} when count == 0 ->
        {:ok, []}

      {:bin, hashes} when byte_size(hashes) == count * @digest_bytes ->
        {:ok, build(lengths, offset, hashes, 0)}

      other ->
        malformed("hashes #{describe(other)} for #{count} chunks")
    end
  end

  def from_wire(other), do: malformed("chunk list #{describe(other)}")

  defp build([], _offset, _hashes, _index), do: []

  defp build([length | lengths], offset, hashes, index) do
    chunk = %Chunk{offset: offset, length: length, hash: digest(hashes, index)}
    [chunk | build(lengths, offset + length, hashes, index + 1)]
  end

  defp digest(nil, _index), do: nil
  defp digest(hashes, index), do: binary_part(hashes, index * @digest_bytes, @digest_bytes)

  defp describe({:bin, bytes}), do: "of #{byte_size(bytes)} bytes"
  defp describe(other), do: inspect(other, limit: 5, printable_limit: 40)

  defp malformed(what),
    do: {:error, Error.new(:internal, "malformed reply from the port: #{what}")}
end
