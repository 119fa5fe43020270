defmodule Chunker.Test.JSON do
  @moduledoc false
  # A small RFC 8259 JSON parser for the tests (no hex packages here). Objects decode to
  # maps; integers stay integers; numbers with a fraction or exponent become floats.

  @whitespace ~c[ \t\n\r]

  @spec decode!(String.t()) :: term
  def decode!(text) do
    {value, rest} = value(skip(text))

    case skip(rest) do
      "" -> value
      trailing -> fail(trailing)
    end
  end

  defp skip(<<c, rest::binary>>) when c in @whitespace, do: skip(rest)
  defp skip(rest), do: rest

  defp value("{" <> rest), do: object(skip(rest), [])
  defp value("[" <> rest), do: array(skip(rest), [])
  defp value("\"" <> rest), do: string(rest, [])
  defp value("true" <> rest), do: {true, rest}
  defp value("false" <> rest), do: {false, rest}
  defp value("null" <> rest), do: {nil, rest}
  defp value(<<c, _::binary>> = text) when c == ?- or c in ?0..?9, do: number(text)
  defp value(text), do: fail(text)

  defp object("}" <> rest, []), do: {%{}, rest}

  defp object("\"" <> rest, acc) do
    {key, rest} = string(rest, [])

    case skip(rest) do
      ":" <> rest ->
        {value, rest} = value(skip(rest))
        acc = [{key, value} | acc]

        case skip(rest) do
          "," <> rest -> object(skip(rest), acc)
          "}" <> rest -> {Map.new(Enum.reverse(acc)), rest}
          other -> fail(other)
        end

      other ->
        fail(other)
    end
  end

  defp object(text, _acc), do: fail(text)

  defp array("]" <> rest, []), do: {[], rest}

  defp array(text, acc) do
    {value, rest} = value(text)

    case skip(rest) do
      "," <> rest -> array(skip(rest), [value | acc])
      "]" <> rest -> {Enum.reverse([value | acc]), rest}
      other -> fail(other)
    end
  end

  defp string("\"" <> rest, acc), do: {acc |> Enum.reverse() |> IO.iodata_to_binary(), rest}

  defp string("\\u" <> <<hex::binary-size(4), rest::binary>>, acc) do
    code = String.to_integer(hex, 16)

    # A high surrogate must be followed by a low one; together they are one code point.
    with true <- code in 0xD800..0xDBFF,
         "\\u" <> <<low_hex::binary-size(4), after_low::binary>> <- rest,
         low when low in 0xDC00..0xDFFF <- String.to_integer(low_hex, 16) do
      point = 0x10000 + Bitwise.bsl(code - 0xD800, 10) + (low - 0xDC00)
      string(after_low, [<<point::utf8>> | acc])
    else
      _ -> string(rest, [<<code::utf8>> | acc])
    end
  end

  defp string("\\" <> <<c, rest::binary>>, acc) do
    char =
      case c do
        ?" -> "\""
        ?\\ -> "\\"
        ?/ -> "/"
        ?b -> "\b"
        ?f -> "\f"
        ?n -> "\n"
        ?r -> "\r"
        ?t -> "\t"
        _ -> fail("\\" <> <<c>>)
      end

    string(rest, [char | acc])
  end

  defp string(<<c, rest::binary>>, acc) when c >= 0x20, do: string(rest, [c | acc])
  defp string(text, _acc), do: fail(text)

  defp number(text) do
    {int_part, rest} = take_digits(text, ~c"-0123456789")
    {frac, rest} = fraction(rest)
    {exp, rest} = exponent(rest)

    if frac == "" and exp == "" do
      {String.to_integer(int_part), rest}
    else
      {String.to_float(int_part <> normalise_fraction(frac) <> exp), rest}
    end
  end

  defp fraction("." <> rest), do: take_digits(rest, ~c"0123456789") |> prefix(".")
  defp fraction(rest), do: {"", rest}

  defp exponent(<<e, rest::binary>>) when e in ~c"eE" do
    {digits, rest} = take_digits(rest, ~c"+-0123456789")
    {"e" <> digits, rest}
  end

  defp exponent(rest), do: {"", rest}

  # String.to_float/1 needs a fraction before an exponent ("1e5" is not accepted).
  defp normalise_fraction(""), do: ".0"
  defp normalise_fraction(frac), do: frac

  defp prefix({digits, rest}, mark), do: {mark <> digits, rest}

  defp take_digits(text, allowed) do
    count = count_leading(text, allowed, 0)
    <<digits::binary-size(count), rest::binary>> = text
    {digits, rest}
  end

  defp count_leading(text, allowed, count) do
    case text do
      <<_::binary-size(count), c, _::binary>> ->
        if c in allowed, do: count_leading(text, allowed, count + 1), else: count

      _ ->
        count
    end
  end

  defp fail(text),
    do: raise(ArgumentError, "JSON: unexpected #{inspect(String.slice(text, 0, 20))}")
end
