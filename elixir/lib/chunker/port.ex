defmodule Chunker.Port do
  @moduledoc false
  # A GenServer that owns one port program (an OS process speaking protocol/spec.md over its
  # stdin/stdout). Many callers share it: each request gets an id, replies are matched by
  # id, and a reply that comes after its caller timed out is dropped.
  #
  # When the OS process exits, every waiting caller gets a :port_exited error with the exit
  # status, and the server stops so its supervisor starts a fresh one. Its sessions die with
  # it. When the server goes away the port closes, the program sees end-of-file on stdin and
  # exits (Elixir's Port docs, "Zombie OS processes").
  #
  # If the program cannot be started (node or the script is missing), or exits before it
  # answers `hello` (say its native addon is not built), the server stays up without a
  # program and starts one again on the next request. Callers get a clear error
  # (:port_unavailable, or :port_exited for those already waiting) instead of a restart
  # loop that would take the whole pool down.
  #
  # Spool: when the program announces the "spool" capability and :spool_bytes is not 0,
  # the server shares a file in /dev/shm with it (Chunker.Spool), and a feed of at least
  # @spool_min_bytes goes through a free slot of that file instead of the pipe, which is
  # the bottleneck for large feeds. Without the capability, without /dev/shm, or with no
  # slot free, feeds carry their bytes inline as always. A spool lives and dies with its
  # program: a new program (a new server) gets a new spool.

  use GenServer
  require Logger

  alias Chunker.{Error, MessagePack, PortConfig, Request, Spool}

  @hello_timeout_ms 10_000

  # Spool slots have the size of the slices Chunker.feed/2 cuts large binaries into, so
  # every slice fits one slot.
  @spool_slot_bytes 8 * 1024 * 1024

  # Smaller feeds stay inline: the pipe handles them well and a slot is better spent on
  # a large one.
  @spool_min_bytes 64 * 1024

  # How much longer a caller waits than the request's own timeout. The server normally
  # answers a timeout itself; the margin only matters if the server is stuck.
  @call_margin_ms 1_000

  defstruct [
    :config,
    :port,
    :os_pid,
    :max_frame_bytes,
    :program_version,
    # The program has answered hello: from then on its death stops this server.
    serving: false,
    next_id: 1,
    # id => {from | :hello | :spool, timer_ref | nil}
    pending: %{},
    late_replies: 0,
    # id => {pid, tag}: who gets the events ("ref" = id) a request causes
    listeners: %{},
    # nil, or the Chunker.Spool in use; attached once the program accepted it
    spool: nil,
    spool_attached: false
  ]

  @spec start_link(keyword) :: GenServer.on_start()
  def start_link(opts), do: GenServer.start_link(__MODULE__, opts, Keyword.take(opts, [:name]))

  @doc """
  Sends one request and waits for its reply. Returns the reply map on success, or the
  error it carried, or :timeout / :port_exited / :port_unavailable / :frame_too_large.
  """
  @spec request(GenServer.server(), Request.t(), timeout) :: {:ok, map} | {:error, Error.t()}
  def request(server, request, timeout), do: request(server, request, timeout, nil)

  @doc """
  Like request/3; in addition every event the request causes (`store_list`'s objects,
  progress) is sent to `pid` as `{:chunker_event, tag, event_map}` before the reply
  returns, so after the call every event is already in `pid`'s mailbox.
  """
  @spec request(GenServer.server(), Request.t(), timeout, {pid, term} | nil) ::
          {:ok, map} | {:error, Error.t()}
  def request(server, {op, args} = _request, timeout, listener)
      when is_binary(op) and is_map(args) do
    GenServer.call(server, {:request, op, args, timeout, listener}, call_timeout(timeout))
  catch
    :exit, {:timeout, {GenServer, :call, _}} ->
      {:error, timeout_error(timeout)}

    :exit, {{:shutdown, {:port_exited, how}}, _} ->
      {:error, Error.new(:port_exited, "the chunker port #{how}")}

    :exit, {reason, _} ->
      {:error, Error.new(:port_exited, "the chunker port is not running (#{inspect(reason)})")}
  end

  @doc """
  The OS pid of the port program (nil while it is unavailable), pending and dropped
  replies, and `spool`: nil when feeds go through the pipe only, else the spool's size
  (`bytes`), `slot_bytes`, `busy` slots and the number of `feeds` sent through it.
  """
  @spec info(GenServer.server()) :: map
  def info(server), do: GenServer.call(server, :info)

  @doc false
  # Chunker.feed/2 slices large feeds to this size.
  @spec spool_slot_bytes() :: pos_integer
  def spool_slot_bytes, do: @spool_slot_bytes

  defp call_timeout(:infinity), do: :infinity
  defp call_timeout(timeout), do: timeout + @call_margin_ms

  # --- server -----------------------------------------------------------------------

  @impl true
  def init(opts) do
    # The port is linked to this server; a failed write (EPIPE after the program died)
    # arrives as an exit signal, and must fail the waiting callers like an exit does.
    Process.flag(:trap_exit, true)

    if registry = opts[:registry],
      do: {:ok, _} = Registry.register(registry, :ports, opts[:index])

    config = PortConfig.resolve(opts)
    state = %__MODULE__{config: config, max_frame_bytes: config.max_frame_bytes}

    case start_program(state) do
      {:ok, state} ->
        {:ok, state, {:continue, :hello}}

      {:error, message} ->
        Logger.warning("Chunker port unavailable: #{message}")
        {:ok, state}
    end
  end

  @impl true
  def handle_continue(:hello, state), do: {:noreply, send_hello(state)}

  @impl true
  def handle_call({:request, op, args, timeout, listener}, from, state) do
    with {:ok, state} <- ensure_program(state),
         id = state.next_id,
         {:ok, state} <- send_checked(state, from, {op, args}, timeout) do
      {:noreply, listen(state, id, listener)}
    else
      {:error, %Error{} = error, state} -> {:reply, {:error, error}, state}
    end
  end

  def handle_call(:info, _from, state) do
    info = %{
      os_pid: state.os_pid,
      serving: state.serving,
      pending: map_size(state.pending),
      late_replies: state.late_replies,
      max_frame_bytes: state.max_frame_bytes,
      program_version: state.program_version,
      spool: if(state.spool_attached, do: Spool.info(state.spool))
    }

    {:reply, info, state}
  end

  @impl true
  def handle_info({port, {:data, frame}}, %__MODULE__{port: port} = state) do
    case MessagePack.decode(frame) do
      {:ok, %{"id" => id} = reply} ->
        state = release_spool_slot(state, id)
        {:noreply, complete(state, id, reply_result(reply))}

      {:ok, %{"event" => _, "ref" => ref} = event} when is_map_key(state.listeners, ref) ->
        {pid, tag} = state.listeners[ref]
        send(pid, {:chunker_event, tag, event})
        {:noreply, state}

      {:ok, %{"event" => "error", "error" => error}} ->
        Logger.warning("Chunker port reported: #{Exception.message(Error.from_wire(error))}")
        {:noreply, state}

      # Events nobody listens for (a caller that timed out), or that a later protocol
      # version adds.
      {:ok, %{"event" => _}} ->
        {:noreply, state}

      {:ok, other} ->
        Logger.warning("Chunker port sent an unexpected message: #{inspect(other, limit: 10)}")
        {:noreply, state}

      {:error, reason} ->
        Logger.error("Chunker port sent an undecodable frame: #{inspect(reason)}")
        {:noreply, state}
    end
  end

  def handle_info({port, {:exit_status, status}}, %__MODULE__{port: port} = state),
    do: program_gone(state, "exited with exit status #{status}", status == 0)

  def handle_info({:EXIT, port, reason}, %__MODULE__{port: port} = state),
    do: program_gone(state, "closed its pipes (#{inspect(reason)}): it is gone", false)

  def handle_info({:request_timeout, id, timeout}, state) do
    case Map.pop(state.pending, id) do
      {nil, _pending} ->
        {:noreply, state}

      {{:hello, _timer}, pending} ->
        Logger.warning(
          "Chunker port (os pid #{state.os_pid}) did not answer hello in #{timeout} ms"
        )

        {:noreply, %{state | pending: pending}}

      {{:spool, _timer}, pending} ->
        Logger.warning(
          "Chunker port (os pid #{state.os_pid}) did not answer spool in #{timeout} ms; " <>
            "feeding through the pipe"
        )

        {:noreply, drop_spool(%{state | pending: pending})}

      {{from, _timer}, pending} ->
        # Its spool slot, if any, stays taken until the late reply comes: the program may
        # still be reading it.
        deliver(from, {:error, timeout_error(timeout)}, nil)
        {:noreply, %{state | pending: pending, listeners: Map.delete(state.listeners, id)}}
    end
  end

  # Leftovers of a program that is already gone (its :EXIT after :exit_status, or anything
  # from a program replaced after it failed at startup) change nothing.
  def handle_info(message, state) do
    Logger.debug("Chunker.Port ignored #{inspect(message, limit: 5)}")
    {:noreply, state}
  end

  # Normally the spool file is unlinked already; this covers a stop while the program
  # had not yet answered the spool request.
  @impl true
  def terminate(_reason, state), do: drop_spool(state)

  # --- helpers ----------------------------------------------------------------------

  # Every waiting caller learns that the program died; then this server stops so its
  # supervisor starts a fresh one (sessions cannot be recovered).
  defp program_gone(%__MODULE__{serving: true} = state, how, quiet?) do
    how = "(os pid #{state.os_pid}) #{how}"
    unless quiet?, do: Logger.warning("Chunker port #{how}")
    fail_pending(state, Error.new(:port_exited, "the chunker port #{how}"))
    {:stop, {:shutdown, {:port_exited, how}}, %{state | pending: %{}, port: nil}}
  end

  defp program_gone(state, how, _quiet?) do
    how = "(os pid #{state.os_pid}) #{how} before it answered hello; its stderr says why"
    Logger.warning("Chunker port #{how}. It is started again on the next request.")
    fail_pending(state, Error.new(:port_exited, "the chunker port #{how}"))
    {:noreply, %{state | pending: %{}, port: nil, os_pid: nil}}
  end

  defp fail_pending(state, error) do
    for {_id, {from, timer}} <- state.pending, do: deliver(from, {:error, error}, timer)
  end

  defp start_program(%__MODULE__{config: config} = state) do
    with :ok <- PortConfig.check(config) do
      port =
        Port.open({:spawn_executable, config.node}, [
          :binary,
          {:packet, 4},
          :exit_status,
          args: config.args,
          env: config.env
        ])

      {:os_pid, os_pid} = Port.info(port, :os_pid)
      {:ok, %{state | port: port, os_pid: os_pid}}
    end
  end

  defp ensure_program(%__MODULE__{port: nil} = state) do
    case start_program(state) do
      {:ok, state} -> {:ok, send_hello(state)}
      {:error, message} -> {:error, Error.new(:port_unavailable, message), state}
    end
  end

  defp ensure_program(state), do: {:ok, state}

  defp send_checked(state, from, request, timeout) do
    id = state.next_id
    {request, state} = via_spool(state, id, request)

    with {:ok, frame} <- encode_request(id, request),
         :ok <- check_frame_size(frame, state.max_frame_bytes) do
      {:ok, transmit(state, from, id, frame, timeout)}
    else
      {:error, error} -> {:error, error, %{release_spool_slot(state, id) | next_id: id + 1}}
    end
  end

  # A large feed is written into a free spool slot and names that range instead of
  # carrying its bytes; anything else, or when that is not possible, goes as it is.
  defp via_spool(
         %__MODULE__{spool_attached: true, spool: spool} = state,
         id,
         {"feed", %{"data" => {:bin, data}}} = request
       )
       when byte_size(data) >= @spool_min_bytes do
    case Spool.put(spool, id, data) do
      {:ok, offset, spool} ->
        {Request.spooled(request, offset), %{state | spool: spool}}

      :none ->
        {request, state}

      {:error, message, spool} ->
        Logger.debug("Chunker port feeds inline: #{message}")
        {request, %{state | spool: spool}}
    end
  end

  defp via_spool(state, _id, request), do: {request, state}

  defp release_spool_slot(%__MODULE__{spool: nil} = state, _id), do: state
  defp release_spool_slot(state, id), do: %{state | spool: Spool.release(state.spool, id)}

  # Offers the program a spool when it can take one and the configuration wants one. The
  # file is unlinked when the program answers (spool_done/2), whatever it answers.
  defp start_spool(%__MODULE__{config: %PortConfig{spool_bytes: bytes}} = state, hello)
       when bytes > 0 do
    with true <- "spool" in List.wrap(hello["capabilities"]),
         {:ok, spool} <- Spool.create(bytes, @spool_slot_bytes) do
      request = Request.spool(spool.path, Spool.bytes(spool))
      {:ok, frame} = encode_request(state.next_id, request)
      transmit(%{state | spool: spool}, :spool, state.next_id, frame, @hello_timeout_ms)
    else
      false ->
        state

      {:skip, why} ->
        Logger.debug("Chunker port feeds through the pipe only: #{why}")
        state

      {:error, why} ->
        Logger.warning("Chunker port feeds through the pipe only: #{why}")
        state
    end
  end

  defp start_spool(state, _hello), do: state

  defp spool_done(state, {:ok, _reply}),
    do: %{state | spool: Spool.unlink(state.spool), spool_attached: true}

  defp spool_done(state, {:error, error}) do
    Logger.warning(
      "Chunker port refused the spool, feeding through the pipe: #{Exception.message(error)}"
    )

    drop_spool(state)
  end

  defp drop_spool(%__MODULE__{spool: nil} = state), do: state

  defp drop_spool(state) do
    :ok = Spool.close(state.spool)
    %{state | spool: nil, spool_attached: false}
  end

  # The reply tells the program's version and frame limit, and a program speaking another
  # protocol version says so in the log at once rather than on the first real request.
  defp send_hello(state) do
    {:ok, frame} = encode_request(state.next_id, Request.hello())
    transmit(state, :hello, state.next_id, frame, @hello_timeout_ms)
  end

  @doc false
  # The payload of a request frame ({:packet, 4} adds the length prefix).
  @spec encode_request(pos_integer, Request.t()) :: {:ok, iodata} | {:error, Error.t()}
  def encode_request(id, {op, args}) do
    case MessagePack.encode(Map.merge(args, %{"id" => id, "op" => op})) do
      {:ok, frame} ->
        {:ok, frame}

      {:error, reason} ->
        {:error,
         Error.new(:invalid_argument, "cannot encode the request: #{inspect(reason, limit: 8)}")}
    end
  end

  # The port program would answer an oversized frame with an error event that names no
  # request, leaving its caller to time out; refusing it here answers at once.
  defp check_frame_size(frame, max_frame_bytes) do
    size = IO.iodata_length(frame)

    if size <= max_frame_bytes do
      :ok
    else
      message = "the request is #{size} bytes, more than max_frame_bytes (#{max_frame_bytes})"
      {:error, Error.new(:frame_too_large, message)}
    end
  end

  defp transmit(state, from, id, frame, timeout) do
    # If the program has just died the command fails, but :exit_status or :EXIT is on its
    # way and answers this caller along with the others.
    try do
      Port.command(state.port, frame)
    rescue
      ArgumentError -> :ok
    end

    timer =
      if timeout == :infinity,
        do: nil,
        else: Process.send_after(self(), {:request_timeout, id, timeout}, timeout)

    %{state | next_id: id + 1, pending: Map.put(state.pending, id, {from, timer})}
  end

  defp listen(state, _id, nil), do: state

  defp listen(state, id, listener),
    do: %{state | listeners: Map.put(state.listeners, id, listener)}

  defp complete(state, id, result) do
    state = %{state | listeners: Map.delete(state.listeners, id)}

    case Map.pop(state.pending, id) do
      {nil, _pending} ->
        # Its caller already got :timeout.
        %{state | late_replies: state.late_replies + 1}

      {{:hello, timer}, pending} ->
        cancel(timer)
        hello_done(%{state | pending: pending}, result)

      {{:spool, timer}, pending} ->
        cancel(timer)
        spool_done(%{state | pending: pending}, result)

      {{from, timer}, pending} ->
        deliver(from, result, timer)
        %{state | pending: pending}
    end
  end

  defp hello_done(state, {:ok, reply}) do
    %{
      state
      | serving: true,
        program_version: reply["version"],
        max_frame_bytes: Map.get(reply, "max_frame_bytes", state.max_frame_bytes)
    }
    |> start_spool(reply)
  end

  defp hello_done(state, {:error, error}) do
    Logger.error("Chunker port refused hello: #{Exception.message(error)}")
    %{state | serving: true}
  end

  defp reply_result(%{"ok" => true} = reply), do: {:ok, reply}
  defp reply_result(%{"ok" => false, "error" => error}), do: {:error, Error.from_wire(error)}

  defp reply_result(reply) do
    message = "malformed reply from the port: #{inspect(reply, limit: 10)}"
    {:error, Error.new(:internal, message)}
  end

  defp deliver(internal, _result, timer) when internal in [:hello, :spool], do: cancel(timer)

  defp deliver(from, result, timer) do
    cancel(timer)
    GenServer.reply(from, result)
  end

  defp cancel(nil), do: :ok
  defp cancel(timer), do: Process.cancel_timer(timer, async: true, info: false)

  defp timeout_error(timeout),
    do: Error.new(:timeout, "no reply from the chunker port within #{timeout} ms")
end
