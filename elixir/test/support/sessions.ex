defmodule Chunker.Test.Sessions do
  @moduledoc false
  # Drives a whole stream through the public session API, the way a caller would.

  @doc "Opens a session, feeds every piece (continuing whenever asked), finishes."
  def chunk_pieces(pieces, opts) do
    {:ok, session} = Chunker.open(opts)

    {chunks, session} =
      Enum.reduce(pieces, {[], session}, fn piece, {acc, session} ->
        {chunks, session} = feed_piece(session, piece)
        {[chunks | acc], session}
      end)

    {:ok, rest} = Chunker.finish(session)
    [rest | chunks] |> Enum.reverse() |> Enum.concat()
  end

  defp feed_piece(session, piece), do: drain(Chunker.feed(session, piece), [])

  defp drain({:ok, chunks, session}, acc),
    do: {Enum.concat(Enum.reverse([chunks | acc])), session}

  defp drain({:continue, chunks, session}, acc),
    do: drain(Chunker.continue(session), [chunks | acc])

  defp drain({:error, error}, _acc), do: raise(error)

  @doc "A fresh pool of `size` ports for one test, stopped with the test; returns its name."
  def start_pool(size, opts \\ []) do
    name = :"chunker_test_pool_#{System.unique_integer([:positive])}"

    {:ok, _} =
      ExUnit.Callbacks.start_supervised({Chunker.PortPool, [name: name, size: size] ++ opts},
        id: name
      )

    for port <- Chunker.PortPool.ports(name), os_pid = Chunker.Port.info(port).os_pid do
      Chunker.Test.OSProcess.track(os_pid)
      # Answered after hello (the program serves frames in order), so the port is serving.
      {:ok, _} = Chunker.Port.request(port, Chunker.Request.stats(), 5_000)
    end

    name
  end
end
