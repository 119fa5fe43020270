defmodule Chunker.Test.Vectors do
  @moduledoc false
  # The JSON conventions of protocol/vectors: {"$bin": "<hex>"} is a MessagePack bin (the
  # codec's {:bin, bytes}); {"$u64": "<decimal>"} an integer above 2^53; `hex` is a whole
  # frame, 4-byte length prefix included.

  import ExUnit.Assertions

  def to_term(%{"$bin" => hex} = value) when map_size(value) == 1,
    do: {:bin, Base.decode16!(hex, case: :mixed)}

  def to_term(%{"$u64" => decimal} = value) when map_size(value) == 1,
    do: String.to_integer(decimal)

  def to_term(map) when is_map(map),
    do: Map.new(map, fn {key, value} -> {key, to_term(value)} end)

  def to_term(list) when is_list(list), do: Enum.map(list, &to_term/1)
  def to_term(scalar), do: scalar

  def frame_payload(hex) do
    <<size::32, payload::binary>> = Base.decode16!(hex, case: :mixed)

    assert byte_size(payload) == size,
           "the length prefix says #{size}, the payload has #{byte_size(payload)}"

    payload
  end
end
