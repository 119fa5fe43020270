defmodule Chunker.Application do
  @moduledoc false
  use Application

  @impl true
  def start(_type, _args) do
    Supervisor.start_link([{Chunker.PortPool, name: Chunker.PortPool}],
      strategy: :one_for_one,
      name: Chunker.Supervisor
    )
  end
end
