defmodule Chunker.Request do
  @moduledoc false
  # The requests of protocol/spec.md, section 4, as {op, args}; Chunker.Port adds the id.
  # Arguments that equal the port's defaults are left out, so the frames are the ones in
  # protocol/vectors/requests.json.

  alias Chunker.Options

  @protocol_version 1

  @type t :: {String.t(), %{optional(String.t()) => term}}

  @spec hello() :: t
  def hello do
    version = Application.spec(:chunker, :vsn) || ~c"0"
    {"hello", %{"protocol" => @protocol_version, "client" => "chunker-elixir #{version}"}}
  end

  @doc "`stream_args` are Chunker.StreamOptions' wire arguments (compress, input_compression, max_output)."
  @spec open(Options.t(), %{optional(String.t()) => term}) :: t
  def open(%Options{} = options, stream_args \\ %{}),
    do: {"open", stream_args |> with_options(options) |> with_budget(options)}

  @spec feed(non_neg_integer, binary) :: t
  def feed(session, data), do: {"feed", %{"session" => session, "data" => {:bin, data}}}

  @doc """
  A feed built by feed/2 whose bytes were written into the spool at `offset`: the same
  request naming that range instead of carrying `data`.
  """
  @spec spooled(t, non_neg_integer) :: t
  def spooled({"feed", %{"data" => {:bin, data}} = args}, offset),
    do: {"feed", args |> Map.delete("data") |> Map.put("spool", [offset, byte_size(data)])}

  @spec spool(String.t(), pos_integer) :: t
  def spool(path, bytes), do: {"spool", %{"path" => path, "bytes" => bytes}}

  @spec continue(non_neg_integer) :: t
  def continue(session), do: {"continue", %{"session" => session}}

  @spec finish(non_neg_integer) :: t
  def finish(session), do: {"finish", %{"session" => session}}

  @spec close(non_neg_integer) :: t
  def close(session), do: {"close", %{"session" => session}}

  @spec chunk(binary, Options.t()) :: t
  def chunk(data, %Options{} = options),
    do: {"chunk", with_options(%{"data" => {:bin, data}}, options)}

  @spec chunk_file(String.t(), Options.t(), keyword) :: t
  def chunk_file(path, %Options{} = options, compression \\ []) do
    args =
      %{"path" => path}
      |> with_options(options)
      |> with_budget(options)
      |> put_present(
        "compression",
        compression[:compression] && Atom.to_string(compression[:compression])
      )
      |> put_present("max_output", compression[:max_output])

    {"chunk_file", args}
  end

  @spec hash(binary, :sha256 | :blake3) :: t
  def hash(data, :sha256), do: {"hash", %{"data" => {:bin, data}}}
  def hash(data, :blake3), do: {"hash", %{"data" => {:bin, data}, "algorithm" => "blake3"}}

  @spec stats() :: t
  def stats, do: {"stats", %{}}

  @spec compress(binary, String.t(), integer | nil, binary | nil) :: t
  def compress(data, codec, level, dictionary) do
    {"compress",
     %{"data" => {:bin, data}, "codec" => codec}
     |> put_present("level", level)
     |> put_present("dictionary", dictionary && {:bin, dictionary})}
  end

  @spec decompress(binary, String.t(), non_neg_integer | nil, binary | nil) :: t
  def decompress(data, codec, max_output, dictionary) do
    {"decompress",
     %{"data" => {:bin, data}, "codec" => codec}
     |> put_present("max_output", max_output)
     |> put_present("dictionary", dictionary && {:bin, dictionary})}
  end

  defp put_present(args, _key, nil), do: args
  defp put_present(args, key, value), do: Map.put(args, key, value)

  defp with_options(args, %Options{chunking: chunking}) when chunking == %{}, do: args
  defp with_options(args, %Options{chunking: chunking}), do: Map.put(args, "options", chunking)

  defp with_budget(args, %Options{budget: nil}), do: args
  defp with_budget(args, %Options{budget: budget}), do: Map.put(args, "budget", budget)
end
