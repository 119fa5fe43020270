defmodule Chunker.Chunk do
  @moduledoc """
  One content-defined chunk of a stream.

    * `offset` - where the chunk starts in the whole stream (bytes from the start);
    * `length` - its size in bytes (never 0);
    * `hash` - its 32-byte digest (SHA-256 or BLAKE3, as chosen with the `:hash` option),
      or `nil` with `hash: :none`; always the digest of the chunk's own (uncompressed)
      bytes;
    * `codec` and `payload` - only from a session opened with `:compress` (see
      `Chunker.open/1`), else `nil`: the chunk as a store would keep it, `payload` being one
      frame of `codec` (`:zstd`, `:lz4`, `:xz` or `:bzip2`), or the chunk's bytes themselves
      with `codec: :none` when it did not compress well enough. `Chunker.decompress/2`
      (or the codec's command-line tool) turns a payload back into the chunk.

  Otherwise the chunk's bytes never travel back from the port: the caller already holds
  them. Take them from your own copy with `binary_part/3`, which shares memory instead of
  copying:

      iex> data = "hello world"
      iex> {:ok, [chunk]} = Chunker.chunk(data, hash: :none)
      iex> binary_part(data, chunk.offset, chunk.length)
      "hello world"
  """

  @enforce_keys [:offset, :length, :hash]
  defstruct [:offset, :length, :hash, codec: nil, payload: nil]

  @type codec :: :zstd | :lz4 | :xz | :bzip2 | :none

  @type t :: %__MODULE__{
          offset: non_neg_integer,
          length: pos_integer,
          hash: <<_::256>> | nil,
          codec: codec | nil,
          payload: binary | nil
        }
end
