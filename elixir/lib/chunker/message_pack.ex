defmodule Chunker.MessagePack do
  @moduledoc false
  # The project's own MessagePack codec (https://github.com/msgpack/msgpack/blob/master/spec.md).
  #
  # Terms and MessagePack types map one to one, so decode and encode are inverses:
  #
  #   nil, true, false        <-> nil, true, false
  #   integer                 <-> int; encoding picks the shortest form, non-negative
  #                               values always as positive fixint/uint (-2^63 .. 2^64-1)
  #   float                   <-> float 64 (a float 32 decodes to a float, re-encodes as 64)
  #   binary                  <-> str   (must be valid UTF-8 to be encoded)
  #   {:bin, binary}          <-> bin
  #   list                    <-> array
  #   map                     <-> map   (encoded in ascending key order, bytewise for str
  #                                      keys: the canonical form of protocol/vectors, and
  #                                      what the port's encoder writes)
  #   {:ext, type, binary}    <-> ext   (fixext forms when the size allows)
  #
  # A plain binary is always text: bytes must be wrapped in {:bin, bytes} to travel as bin.
  # That keeps the rule visible at every call site and costs nothing for large data (no
  # UTF-8 scan of payloads). Decoded str values are not checked for UTF-8.
  #
  # Decoding never copies bin/str/ext payloads: they come back as sub-binaries of the input.
  # NaN and infinities have no Elixir float, so decoding them is an error.

  @max_depth 512

  @type decode_error ::
          :truncated
          | {:trailing_bytes, pos_integer}
          | {:invalid_byte, byte}
          | :non_finite_float
          | :too_deep

  @doc "Encodes a term as iodata (large bins are referenced, not copied)."
  @spec encode(term) :: {:ok, iodata} | {:error, term}
  def encode(term) do
    {:ok, encode_term(term)}
  catch
    {:msgpack, reason} -> {:error, reason}
  end

  @doc "Decodes exactly one value; anything after it is an error."
  @spec decode(binary) :: {:ok, term} | {:error, decode_error}
  def decode(binary) when is_binary(binary) do
    case decode_value(binary, 0) do
      {value, <<>>} -> {:ok, value}
      {_value, rest} -> {:error, {:trailing_bytes, byte_size(rest)}}
    end
  catch
    {:msgpack, reason} -> {:error, reason}
  end

  # --- encoding ---------------------------------------------------------------------

  defp encode_term(nil), do: <<0xC0>>
  defp encode_term(false), do: <<0xC2>>
  defp encode_term(true), do: <<0xC3>>
  defp encode_term(int) when is_integer(int), do: encode_integer(int)
  defp encode_term(float) when is_float(float), do: <<0xCB, float::float-64>>
  defp encode_term(string) when is_binary(string), do: encode_string(string)
  defp encode_term({:bin, bytes}) when is_binary(bytes), do: [bin_header(byte_size(bytes)), bytes]
  defp encode_term(list) when is_list(list), do: encode_array(list)
  defp encode_term(map) when is_map(map), do: encode_map(map)

  defp encode_term({:ext, type, data}) when type in -128..127 and is_binary(data),
    do: [ext_header(byte_size(data), type), data]

  defp encode_term(other), do: throw({:msgpack, {:unsupported_term, other}})

  defp encode_integer(n) when n >= 0 do
    cond do
      n < 0x80 -> <<n>>
      n < 0x100 -> <<0xCC, n>>
      n < 0x10000 -> <<0xCD, n::16>>
      n < 0x100000000 -> <<0xCE, n::32>>
      n < 0x10000000000000000 -> <<0xCF, n::64>>
      true -> throw({:msgpack, {:integer_out_of_range, n}})
    end
  end

  defp encode_integer(n) do
    cond do
      n >= -32 -> <<n::signed-8>>
      n >= -0x80 -> <<0xD0, n::signed-8>>
      n >= -0x8000 -> <<0xD1, n::signed-16>>
      n >= -0x80000000 -> <<0xD2, n::signed-32>>
      n >= -0x8000000000000000 -> <<0xD3, n::signed-64>>
      true -> throw({:msgpack, {:integer_out_of_range, n}})
    end
  end

  defp encode_string(string) do
    unless String.valid?(string), do: throw({:msgpack, {:invalid_utf8, string}})
    [str_header(byte_size(string)), string]
  end

  defp str_header(size) when size < 32, do: <<0b101::3, size::5>>
  defp str_header(size) when size < 0x100, do: <<0xD9, size>>
  defp str_header(size) when size < 0x10000, do: <<0xDA, size::16>>
  defp str_header(size) when size < 0x100000000, do: <<0xDB, size::32>>
  defp str_header(size), do: throw({:msgpack, {:too_large, :str, size}})

  defp bin_header(size) when size < 0x100, do: <<0xC4, size>>
  defp bin_header(size) when size < 0x10000, do: <<0xC5, size::16>>
  defp bin_header(size) when size < 0x100000000, do: <<0xC6, size::32>>
  defp bin_header(size), do: throw({:msgpack, {:too_large, :bin, size}})

  defp ext_header(1, type), do: <<0xD4, type::signed-8>>
  defp ext_header(2, type), do: <<0xD5, type::signed-8>>
  defp ext_header(4, type), do: <<0xD6, type::signed-8>>
  defp ext_header(8, type), do: <<0xD7, type::signed-8>>
  defp ext_header(16, type), do: <<0xD8, type::signed-8>>
  defp ext_header(size, type) when size < 0x100, do: <<0xC7, size, type::signed-8>>
  defp ext_header(size, type) when size < 0x10000, do: <<0xC8, size::16, type::signed-8>>
  defp ext_header(size, type) when size < 0x100000000, do: <<0xC9, size::32, type::signed-8>>
  defp ext_header(size, _type), do: throw({:msgpack, {:too_large, :ext, size}})

  defp encode_array(list) do
    count = length(list)

    header =
      cond do
        count < 16 -> <<0b1001::4, count::4>>
        count < 0x10000 -> <<0xDC, count::16>>
        count < 0x100000000 -> <<0xDD, count::32>>
        true -> throw({:msgpack, {:too_large, :array, count}})
      end

    [header | Enum.map(list, &encode_term/1)]
  end

  defp encode_map(map) do
    count = map_size(map)

    header =
      cond do
        count < 16 -> <<0b1000::4, count::4>>
        count < 0x10000 -> <<0xDE, count::16>>
        count < 0x100000000 -> <<0xDF, count::32>>
        true -> throw({:msgpack, {:too_large, :map, count}})
      end

    pairs = :lists.keysort(1, Map.to_list(map))
    [header | Enum.map(pairs, fn {key, value} -> [encode_term(key), encode_term(value)] end)]
  end

  # --- decoding ---------------------------------------------------------------------
  # Each clause returns {value, rest}; errors are thrown and caught in decode/1.

  defp decode_value(<<byte, rest::binary>>, _depth) when byte < 0x80, do: {byte, rest}
  defp decode_value(<<byte, rest::binary>>, _depth) when byte >= 0xE0, do: {byte - 0x100, rest}
  defp decode_value(<<0b1000::4, n::4, rest::binary>>, depth), do: decode_map(rest, n, depth)
  defp decode_value(<<0b1001::4, n::4, rest::binary>>, depth), do: decode_array(rest, n, depth)
  defp decode_value(<<0b101::3, n::5, rest::binary>>, _depth), do: take(rest, n)
  defp decode_value(<<0xC0, rest::binary>>, _depth), do: {nil, rest}
  defp decode_value(<<0xC2, rest::binary>>, _depth), do: {false, rest}
  defp decode_value(<<0xC3, rest::binary>>, _depth), do: {true, rest}
  defp decode_value(<<0xC4, n, rest::binary>>, _depth), do: take_bin(rest, n)
  defp decode_value(<<0xC5, n::16, rest::binary>>, _depth), do: take_bin(rest, n)
  defp decode_value(<<0xC6, n::32, rest::binary>>, _depth), do: take_bin(rest, n)

  defp decode_value(<<0xC7, n, type::signed-8, rest::binary>>, _depth),
    do: take_ext(rest, n, type)

  defp decode_value(<<0xC8, n::16, type::signed-8, rest::binary>>, _depth),
    do: take_ext(rest, n, type)

  defp decode_value(<<0xC9, n::32, type::signed-8, rest::binary>>, _depth),
    do: take_ext(rest, n, type)

  defp decode_value(<<0xCA, float::float-32, rest::binary>>, _depth), do: {float, rest}
  defp decode_value(<<0xCB, float::float-64, rest::binary>>, _depth), do: {float, rest}
  # Reached only when the float clauses above did not match a complete value: NaN or ±inf.
  defp decode_value(<<0xCA, _::binary-size(4), _::binary>>, _depth), do: throw_non_finite()
  defp decode_value(<<0xCB, _::binary-size(8), _::binary>>, _depth), do: throw_non_finite()
  defp decode_value(<<0xCC, n, rest::binary>>, _depth), do: {n, rest}
  defp decode_value(<<0xCD, n::16, rest::binary>>, _depth), do: {n, rest}
  defp decode_value(<<0xCE, n::32, rest::binary>>, _depth), do: {n, rest}
  defp decode_value(<<0xCF, n::64, rest::binary>>, _depth), do: {n, rest}
  defp decode_value(<<0xD0, n::signed-8, rest::binary>>, _depth), do: {n, rest}
  defp decode_value(<<0xD1, n::signed-16, rest::binary>>, _depth), do: {n, rest}
  defp decode_value(<<0xD2, n::signed-32, rest::binary>>, _depth), do: {n, rest}
  defp decode_value(<<0xD3, n::signed-64, rest::binary>>, _depth), do: {n, rest}
  defp decode_value(<<0xD4, type::signed-8, rest::binary>>, _depth), do: take_ext(rest, 1, type)
  defp decode_value(<<0xD5, type::signed-8, rest::binary>>, _depth), do: take_ext(rest, 2, type)
  defp decode_value(<<0xD6, type::signed-8, rest::binary>>, _depth), do: take_ext(rest, 4, type)
  defp decode_value(<<0xD7, type::signed-8, rest::binary>>, _depth), do: take_ext(rest, 8, type)
  defp decode_value(<<0xD8, type::signed-8, rest::binary>>, _depth), do: take_ext(rest, 16, type)
  defp decode_value(<<0xD9, n, rest::binary>>, _depth), do: take(rest, n)
  defp decode_value(<<0xDA, n::16, rest::binary>>, _depth), do: take(rest, n)
  defp decode_value(<<0xDB, n::32, rest::binary>>, _depth), do: take(rest, n)
  defp decode_value(<<0xDC, n::16, rest::binary>>, depth), do: decode_array(rest, n, depth)
  defp decode_value(<<0xDD, n::32, rest::binary>>, depth), do: decode_array(rest, n, depth)
  defp decode_value(<<0xDE, n::16, rest::binary>>, depth), do: decode_map(rest, n, depth)
  defp decode_value(<<0xDF, n::32, rest::binary>>, depth), do: decode_map(rest, n, depth)
  defp decode_value(<<0xC1, _::binary>>, _depth), do: throw({:msgpack, {:invalid_byte, 0xC1}})
  # Every other byte is a valid type whose header or payload is cut short.
  defp decode_value(_binary, _depth), do: throw({:msgpack, :truncated})

  defp throw_non_finite, do: throw({:msgpack, :non_finite_float})

  defp take(binary, size) do
    case binary do
      <<part::binary-size(size), rest::binary>> -> {part, rest}
      _ -> throw({:msgpack, :truncated})
    end
  end

  defp take_bin(binary, size) do
    {bytes, rest} = take(binary, size)
    {{:bin, bytes}, rest}
  end

  defp take_ext(binary, size, type) do
    {data, rest} = take(binary, size)
    {{:ext, type, data}, rest}
  end

  defp decode_array(binary, count, depth) do
    depth = deeper(depth)
    decode_elements(binary, count, depth, [])
  end

  defp decode_elements(rest, 0, _depth, acc), do: {:lists.reverse(acc), rest}

  defp decode_elements(binary, count, depth, acc) do
    {value, rest} = decode_value(binary, depth)
    decode_elements(rest, count - 1, depth, [value | acc])
  end

  defp decode_map(binary, count, depth) do
    depth = deeper(depth)
    decode_pairs(binary, count, depth, [])
  end

  # Reversed back to wire order so that, as in most decoders, a repeated key's last value wins.
  defp decode_pairs(rest, 0, _depth, acc), do: {:maps.from_list(:lists.reverse(acc)), rest}

  defp decode_pairs(binary, count, depth, acc) do
    {key, rest} = decode_value(binary, depth)
    {value, rest} = decode_value(rest, depth)
    decode_pairs(rest, count - 1, depth, [{key, value} | acc])
  end

  # Nesting is bounded so a hostile frame of nested array headers cannot grow the stack
  # without limit.
  defp deeper(depth) when depth >= @max_depth, do: throw({:msgpack, :too_deep})
  defp deeper(depth), do: depth + 1
end
