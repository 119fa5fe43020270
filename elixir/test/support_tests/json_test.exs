defmodule Chunker.Test.JSONTest do
  # The vector tests are only as good as the parser that reads the vectors.
  use ExUnit.Case, async: true

  alias Chunker.Test.JSON

  test "values, nesting and whitespace" do
    text =
      ~s( {"a": [1, -2, 3.5, 1e3, -0.25E-2, true, false, null], "b": {}, "c": [], "d": {"e": ""}} )

    assert JSON.decode!(text) == %{
             "a" => [1, -2, 3.5, 1000.0, -0.0025, true, false, nil],
             "b" => %{},
             "c" => [],
             "d" => %{"e" => ""}
           }
  end

  test "integers of any size stay exact" do
    assert JSON.decode!("18446744073709551615") == 18_446_744_073_709_551_615
  end

  test "string escapes, including surrogate pairs" do
    assert JSON.decode!(~S("a\"b\\c\/d\b\f\n\r\t")) == "a\"b\\c/d\b\f\n\r\t"
    assert JSON.decode!(~S("\u00e9\u20ac\ud83d\ude00")) == "é€😀"
    assert JSON.decode!(~s("é€")) == "é€"
  end

  test "malformed text is refused" do
    for text <- [~s({"a" 1}), "[1,]", "[1 2]", ~s("open), "tru", "{} x", ~s({"a":1,}), ""] do
      assert_raise ArgumentError, fn -> JSON.decode!(text) end
    end
  end
end
