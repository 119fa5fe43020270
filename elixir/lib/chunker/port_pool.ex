defmodule Chunker.PortPool do
  @moduledoc false
  # A supervised set of Chunker.Port servers. Sessions stay on the port that opened them;
  # one-shot requests go to the ports in turn (round-robin).
  #
  # Layout (rest_for_one, so the registry outlives the ports it lists):
  #
  #   <pool>                  this supervisor
  #   ├─ <pool>.Registry      ports register under :ports; holds the round-robin counter
  #   └─ <pool>.Ports         one_for_one supervisor of `size` Chunker.Port servers
  #
  # Options: :name (default Chunker.PortPool), :size (default the :pool_size application
  # setting, else System.schedulers_online/0), and :node_path, :port_script,
  # :max_frame_bytes, :spool_bytes for the ports (see Chunker.PortConfig).

  use Supervisor

  alias Chunker.{Error, Port}

  @port_keys [:node_path, :port_script, :max_frame_bytes, :spool_bytes, :hash_threads]

  def start_link(opts) do
    name = Keyword.get(opts, :name, __MODULE__)
    Supervisor.start_link(__MODULE__, Keyword.put(opts, :name, name), name: name)
  end

  def child_spec(opts) do
    %{
      id: Keyword.get(opts, :name, __MODULE__),
      start: {__MODULE__, :start_link, [opts]},
      type: :supervisor
    }
  end

  @impl true
  def init(opts) do
    pool = Keyword.fetch!(opts, :name)
    size = opts[:size] || Application.get_env(:chunker, :pool_size) || System.schedulers_online()

    unless is_integer(size) and size > 0,
      do:
        raise(
          ArgumentError,
          "Chunker pool size must be a positive integer, got: #{inspect(size)}"
        )

    registry = registry_name(pool)
    port_opts = [registry: registry] ++ Keyword.take(opts, @port_keys)

    ports =
      for index <- 1..size do
        Supervisor.child_spec({Port, [index: index] ++ port_opts}, id: {Port, index})
      end

    children = [
      {Registry, keys: :duplicate, name: registry, meta: [next: :atomics.new(1, [])]},
      %{
        id: :ports,
        type: :supervisor,
        start:
          {Supervisor, :start_link,
           [
             ports,
             # Each port death is one restart; allow a burst of them (say a machine under
             # memory pressure) before giving up on the whole pool.
             [
               strategy: :one_for_one,
               max_restarts: 10 * size,
               max_seconds: 5,
               name: ports_name(pool)
             ]
           ]}
      }
    ]

    Supervisor.init(children, strategy: :rest_for_one)
  end

  @doc "The next port to use, in turn."
  @spec pick(atom) :: {:ok, pid} | {:error, Error.t()}
  def pick(pool) do
    case ports(pool) do
      [] ->
        {:error, Error.new(:port_unavailable, "no chunker port is running in #{inspect(pool)}")}

      ports ->
        {:ok, next} = Registry.meta(registry_name(pool), :next)
        turn = :atomics.add_get(next, 1, 1)
        {:ok, Enum.at(ports, rem(turn, length(ports)))}
    end
  end

  @doc "The live port servers, in slot order."
  @spec ports(atom) :: [pid]
  def ports(pool) do
    case live(Registry.lookup(registry_name(pool), :ports)) do
      # Right after a port died its replacement may not be registered yet; the ports
      # supervisor has handled the death once it answers, so ask it.
      [] ->
        pool |> ports_name() |> Supervisor.which_children() |> Enum.map(&from_child/1) |> live()

      ports ->
        ports
    end
  rescue
    ArgumentError -> []
  catch
    :exit, _ -> []
  end

  defp from_child({{Port, index}, pid, _type, _modules}), do: {pid, index}

  defp live(entries) do
    for {pid, _index} <- Enum.sort_by(entries, &elem(&1, 1)),
        is_pid(pid),
        Process.alive?(pid),
        do: pid
  end

  defp registry_name(pool), do: Module.concat(pool, Registry)
  defp ports_name(pool), do: Module.concat(pool, Ports)
end
