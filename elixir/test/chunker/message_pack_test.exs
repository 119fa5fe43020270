defmodule Chunker.MessagePackTest do
  use ExUnit.Case, async: true

  import Bitwise

  alias Chunker.MessagePack

  defp hex(bytes), do: Base.encode16(bytes, case: :lower)
  defp unhex(text), do: text |> String.replace(" ", "") |> Base.decode16!(case: :mixed)

  defp encode!(term) do
    {:ok, iodata} = MessagePack.encode(term)
    IO.iodata_to_binary(iodata)
  end

  # Values and their shortest encodings, at every width boundary (msgpack spec.md).
  @canonical [
    {nil, "c0"},
    {false, "c2"},
    {true, "c3"},
    {0, "00"},
    {127, "7f"},
    {128, "cc 80"},
    {255, "cc ff"},
    {256, "cd 0100"},
    {65_535, "cd ffff"},
    {65_536, "ce 00010000"},
    {4_294_967_295, "ce ffffffff"},
    {4_294_967_296, "cf 0000000100000000"},
    {9_007_199_254_740_993, "cf 0020000000000001"},
    {18_446_744_073_709_551_615, "cf ffffffffffffffff"},
    {-1, "ff"},
    {-32, "e0"},
    {-33, "d0 df"},
    {-128, "d0 80"},
    {-129, "d1 ff7f"},
    {-32_768, "d1 8000"},
    {-32_769, "d2 ffff7fff"},
    {-2_147_483_648, "d2 80000000"},
    {-2_147_483_649, "d3 ffffffff7fffffff"},
    {-9_223_372_036_854_775_808, "d3 8000000000000000"},
    {1.5, "cb 3ff8000000000000"},
    {-0.25, "cb bfd0000000000000"},
    {"", "a0"},
    {"a", "a1 61"},
    {"é", "a2 c3a9"},
    {{:bin, ""}, "c4 00"},
    {{:bin, <<1, 2, 3>>}, "c4 03 010203"},
    {[], "90"},
    {[1, [2]], "92 01 91 02"},
    {%{}, "80"},
    {%{"a" => nil}, "81 a161 c0"},
    {{:ext, 1, <<7>>}, "d4 01 07"},
    {{:ext, -1, <<1, 2, 3, 4>>}, "d6 ff 01020304"},
    {{:ext, 5, <<1, 2, 3>>}, "c7 03 05 010203"},
    {{:ext, 5, ""}, "c7 00 05"}
  ]

  test "encodes every type in its shortest form and decodes it back" do
    for {term, expected} <- @canonical do
      assert hex(encode!(term)) == hex(unhex(expected)), "encoding #{inspect(term)}"
      assert MessagePack.decode(unhex(expected)) == {:ok, term}, "decoding #{expected}"
    end
  end

  test "length headers switch width at their boundaries" do
    for {size, str_header, bin_header, array_header} <- [
          {31, "bf", "c41f", "dc001f"},
          {32, "d920", "c420", "dc0020"},
          {255, "d9ff", "c4ff", "dc00ff"},
          {256, "da0100", "c50100", "dc0100"},
          {65_535, "daffff", "c5ffff", "dcffff"},
          {65_536, "db00010000", "c600010000", "dd00010000"}
        ] do
      text = String.duplicate("x", size)
      assert encode!(text) == unhex(str_header) <> text
      assert encode!({:bin, text}) == unhex(bin_header) <> text
      list = List.duplicate(1, size)
      assert encode!(list) == unhex(array_header) <> :binary.copy(<<1>>, size)
      assert MessagePack.decode(encode!(list)) == {:ok, list}
    end

    assert encode!(List.duplicate(0, 15)) == <<0x9F>> <> :binary.copy(<<0>>, 15)

    map = Map.new(1..16, &{&1, 0})
    assert <<0xDE, 16::16, _::binary>> = encode!(map)
    assert MessagePack.decode(encode!(map)) == {:ok, map}
    assert <<0x8F, _::binary>> = encode!(Map.new(1..15, &{&1, 0}))
  end

  test "non-shortest and float 32 encodings decode to the same values" do
    for {encoded, term} <- [
          {"cc 01", 1},
          {"cd 0001", 1},
          {"ce 00000001", 1},
          {"cf 0000000000000001", 1},
          {"d0 01", 1},
          {"d3 ffffffffffffffff", -1},
          {"ca 3fc00000", 1.5},
          {"d9 01 61", "a"},
          {"dc 0001 01", [1]},
          {"de 0001 a161 01", %{"a" => 1}},
          {"c8 0001 05 07", {:ext, 5, <<7>>}}
        ] do
      assert MessagePack.decode(unhex(encoded)) == {:ok, term}, encoded
    end
  end

  test "maps are written in ascending bytewise key order, and read in any order" do
    map = Map.new(1..40, &{"k#{&1}", &1}) |> Map.put("", 0) |> Map.put("k", 0)
    {:ok, iodata} = MessagePack.encode(map)
    <<0xDE, 42::16, body::binary>> = IO.iodata_to_binary(iodata)
    keys = read_keys(body, 42)
    assert keys == Enum.sort(Map.keys(map))

    assert MessagePack.decode(unhex("82 a26f70 a178 a26964 01")) ==
             {:ok, %{"id" => 1, "op" => "x"}}
  end

  defp read_keys(_body, 0), do: []

  defp read_keys(<<0b101::3, size::5, key::binary-size(size), value, rest::binary>>, count)
       when value < 0x80,
       do: [key | read_keys(rest, count - 1)]

  test "a repeated map key keeps its last value" do
    assert MessagePack.decode(unhex("82 a161 01 a161 02")) == {:ok, %{"a" => 2}}
  end

  test "refuses to encode what MessagePack cannot carry" do
    assert {:error, {:integer_out_of_range, _}} = MessagePack.encode(18_446_744_073_709_551_616)
    assert {:error, {:integer_out_of_range, _}} = MessagePack.encode(-9_223_372_036_854_775_809)
    assert {:error, {:invalid_utf8, _}} = MessagePack.encode(<<0xFF, 0xFE>>)
    assert {:error, {:unsupported_term, :atom}} = MessagePack.encode(%{"a" => [:atom]})
    assert {:error, {:unsupported_term, {1, 2}}} = MessagePack.encode({1, 2})
  end

  test "decoding rejects empty, truncated, reserved and trailing input" do
    assert MessagePack.decode(<<>>) == {:error, :truncated}
    assert MessagePack.decode(<<0xC1>>) == {:error, {:invalid_byte, 0xC1}}
    assert MessagePack.decode(<<0x91, 0xC1>>) == {:error, {:invalid_byte, 0xC1}}
    assert MessagePack.decode(<<0x01, 0x02, 0x03>>) == {:error, {:trailing_bytes, 2}}
    assert MessagePack.decode(<<0xC6, 0xFFFFFFFF::32, 1, 2>>) == {:error, :truncated}
    assert MessagePack.decode(<<0xDD, 0xFFFFFFFF::32, 1>>) == {:error, :truncated}
  end

  test "every proper prefix of a value is truncated, never a crash" do
    value = %{
      "id" => 4_294_967_296,
      "chunks" => %{
        "offset" => 70_000,
        "lengths" => [1, 300, 70_000],
        "hashes" => {:bin, :binary.copy(<<9>>, 64)}
      },
      "more" => false,
      "neg" => [-1, -200, -70_000, -5_000_000_000],
      "float" => 2.5,
      "ext" => {:ext, 3, "abcdefghijklmnopq"},
      "text" => String.duplicate("z", 40)
    }

    encoded = encode!(value)
    assert MessagePack.decode(encoded) == {:ok, value}

    for size <- 0..(byte_size(encoded) - 1) do
      assert MessagePack.decode(binary_part(encoded, 0, size)) == {:error, :truncated},
             "prefix of #{size} bytes"
    end
  end

  test "NaN and infinities are refused" do
    assert MessagePack.decode(unhex("cb 7ff8000000000000")) == {:error, :non_finite_float}
    assert MessagePack.decode(unhex("cb fff0000000000000")) == {:error, :non_finite_float}
    assert MessagePack.decode(unhex("ca 7f800000")) == {:error, :non_finite_float}
  end

  test "nesting deeper than the limit is refused" do
    deep = :binary.copy(<<0x91>>, 10_000) <> <<0xC0>>
    assert MessagePack.decode(deep) == {:error, :too_deep}
    nested = Enum.reduce(1..100, nil, fn _, acc -> [acc] end)
    assert MessagePack.decode(encode!(nested)) == {:ok, nested}
  end

  test "bin payloads decode as sub-binaries of the input, not copies" do
    payload = :crypto.strong_rand_bytes(1_000_000)
    frame = encode!(%{"data" => {:bin, payload}})
    {:ok, %{"data" => {:bin, decoded}}} = MessagePack.decode(frame)
    assert decoded == payload
    assert :binary.referenced_byte_size(decoded) == byte_size(frame)
  end

  test "encoding references a large bin instead of copying it" do
    payload = :crypto.strong_rand_bytes(100_000)
    {:ok, iodata} = MessagePack.encode({:bin, payload})
    assert [<<0xC6, 100_000::32>>, ^payload] = iodata
  end

  test "random terms survive a round trip" do
    :rand.seed(:exsss, {1, 2, 3})

    for _ <- 1..300 do
      term = random_term(3)
      assert MessagePack.decode(encode!(term)) == {:ok, term}
    end
  end

  defp random_term(0), do: random_scalar()

  defp random_term(depth) do
    case :rand.uniform(6) do
      1 -> for _ <- 1..:rand.uniform(20)//1, do: random_term(depth - 1)
      2 -> Map.new(1..:rand.uniform(20)//1, fn _ -> {random_scalar(), random_term(depth - 1)} end)
      _ -> random_scalar()
    end
  end

  defp random_scalar do
    case :rand.uniform(9) do
      1 -> nil
      2 -> :rand.uniform(2) == 1
      3 -> :rand.uniform(1 <<< 64) - 1
      4 -> -:rand.uniform(1 <<< 63)
      5 -> :rand.uniform(70_000) - 35_000
      6 -> :rand.uniform() * 1.0e10 - 5.0e9
      7 -> for(_ <- 1..:rand.uniform(300)//1, into: "", do: <<Enum.random(~c"aé☃z")::utf8>>)
      8 -> {:bin, :crypto.strong_rand_bytes(:rand.uniform(300) - 1)}
      9 -> {:ext, :rand.uniform(256) - 129, :crypto.strong_rand_bytes(:rand.uniform(20) - 1)}
    end
  end
end
