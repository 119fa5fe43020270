defmodule Chunker.Test.Oracle do
  @moduledoc false
  # The CLI (`node dist/port/cli.js chunk FILE --json`) as an independent source of the
  # expected chunks: it runs the engine in its own process, outside the port protocol.

  alias Chunker.Test.{JSON, Paths}

  @doc "Chunks a file with the CLI; returns [{offset, length, hash_or_nil}]."
  def cli_chunks(path, cli_args) do
    args = [Paths.cli_script(), "chunk", path, "--json" | cli_args]
    # stderr joins stdout so the CLI's summary line does not clutter the test output.
    {out, 0} = System.cmd(Paths.node(), args, stderr_to_stdout: true)

    for "{" <> _ = line <- String.split(out, "\n", trim: true) do
      chunk = JSON.decode!(line)
      {chunk["offset"], chunk["length"], decode_hash(chunk["hash"])}
    end
  end

  defp decode_hash(nil), do: nil
  defp decode_hash(""), do: nil
  defp decode_hash(hex), do: Base.decode16!(hex, case: :lower)

  def as_tuples(chunks), do: Enum.map(chunks, &{&1.offset, &1.length, &1.hash})

  @doc "Cuts a binary into pieces of random sizes (0 included), with a seeded generator."
  def random_slices(data, seed, max_piece) do
    :rand.seed(:exsss, {seed, seed * 7 + 1, seed * 13 + 2})
    slice(data, max_piece, [])
  end

  defp slice(<<>>, _max_piece, acc), do: Enum.reverse(acc)

  defp slice(data, max_piece, acc) do
    size = min(byte_size(data), :rand.uniform(max_piece + 1) - 1)
    <<piece::binary-size(size), rest::binary>> = data
    slice(rest, max_piece, [piece | acc])
  end
end
