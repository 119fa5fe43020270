defmodule Chunker.StreamOptions do
  @moduledoc false
  # The options of Chunker.open/1 and Chunker.stream/2 that change what a session does with
  # its stream (protocol/spec.md, section 4, `open`): `:compress` (each chunk comes back
  # with its payload and codec), `:input_compression` and `:max_output` (the fed bytes are
  # a compressed stream). Checked here so errors name the Elixir option; the port checks
  # again (levels per codec, dictionaries).

  alias Chunker.Options

  @keys [:compress, :input_compression, :max_output]
  @codecs [:zstd, :lz4, :xz, :bzip2, :none]
  @compress_keys [:codec, :level, :dictionary, :max_ratio]
  @codecs_text Enum.map_join(@codecs, ", ", &inspect/1)
  @input_codecs_text Enum.map_join([:auto | @codecs], ", ", &inspect/1)

  @doc "The keys this module handles."
  @spec keys() :: [atom]
  def keys, do: @keys

  @doc """
  Checks the stream options (only `keys/0`) and returns the `open` request's extra
  arguments, and whether replies will carry payloads.
  """
  @spec validate(keyword) :: {:ok, %{optional(String.t()) => term}, boolean} | {:error, term}
  def validate(opts) do
    with :ok <- Options.check_each(opts, &check/2) do
      args =
        %{}
        |> put_present("compress", opts[:compress] && compress_args(opts[:compress]))
        |> put_present(
          "input_compression",
          opts[:input_compression] && Atom.to_string(opts[:input_compression])
        )
        |> put_present("max_output", opts[:max_output])

      {:ok, args, Keyword.has_key?(opts, :compress)}
    end
  end

  defp check(:compress, codec) when codec in @codecs, do: :ok

  defp check(:compress, opts) when is_list(opts) do
    if Keyword.keyword?(opts) and Enum.all?(Keyword.keys(opts), &(&1 in @compress_keys)),
      do: Options.check_each(opts, &check_compress/2),
      else: invalid_compress(opts)
  end

  defp check(:compress, other), do: invalid_compress(other)

  defp check(:input_compression, codec) when codec in [:auto | @codecs], do: :ok

  defp check(:input_compression, codec),
    do: Options.invalid("input_compression", "one of #{@input_codecs_text}", codec)

  defp check(:max_output, value) when is_integer(value) and value >= 0, do: :ok

  defp check(:max_output, value),
    do: Options.invalid("max_output", "a non-negative integer", value)

  defp check_compress(:codec, codec) when codec in @codecs, do: :ok

  defp check_compress(:codec, codec),
    do: Options.invalid("compress codec", "one of #{@codecs_text}", codec)

  defp check_compress(:level, level) when is_integer(level), do: :ok
  defp check_compress(:level, level), do: Options.invalid("compress level", "an integer", level)
  defp check_compress(:dictionary, bytes) when is_binary(bytes), do: :ok

  defp check_compress(:dictionary, bytes),
    do: Options.invalid("compress dictionary", "a binary (zstd dictionary bytes)", bytes)

  defp check_compress(:max_ratio, ratio) when is_number(ratio) and ratio > 0 and ratio <= 1,
    do: :ok

  defp check_compress(:max_ratio, ratio),
    do: Options.invalid("compress max_ratio", "a number above 0 and at most 1", ratio)

  defp invalid_compress(value) do
    Options.invalid(
      "compress",
      "a codec (#{@codecs_text}) or a keyword list of #{Enum.map_join(@compress_keys, ", ", &inspect/1)}",
      value
    )
  end

  defp compress_args(codec) when is_atom(codec), do: %{"codec" => Atom.to_string(codec)}

  defp compress_args(opts) do
    %{"codec" => Atom.to_string(Keyword.get(opts, :codec, :zstd))}
    |> put_present("level", opts[:level])
    |> put_present("dictionary", opts[:dictionary] && {:bin, opts[:dictionary]})
    |> put_present("max_ratio", opts[:max_ratio])
  end

  defp put_present(args, _key, nil), do: args
  defp put_present(args, key, value), do: Map.put(args, key, value)
end
