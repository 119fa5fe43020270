defmodule Chunker.Test.RawPort do
  @moduledoc false
  # The port program without Chunker.Port: a plain Erlang port in stream mode, so a test can
  # write any bytes at all (bad length prefixes, half frames) and read the frames back.

  alias Chunker.MessagePack
  alias Chunker.Test.{OSProcess, Paths}

  defstruct [:port, :os_pid, buffer: <<>>]

  def open(args \\ []) do
    port =
      Port.open({:spawn_executable, Paths.node()}, [
        :binary,
        :exit_status,
        args: [Paths.port_script() | args]
      ])

    {:os_pid, os_pid} = Port.info(port, :os_pid)
    %__MODULE__{port: port, os_pid: OSProcess.track(os_pid)}
  end

  def write(%__MODULE__{port: port}, bytes) do
    true = Port.command(port, bytes)
    :ok
  end

  def request(raw, message) do
    {:ok, payload} = MessagePack.encode(message)
    payload = IO.iodata_to_binary(payload)
    write(raw, <<byte_size(payload)::32, payload::binary>>)
  end

  @doc "The next frame's payload, decoded."
  def read(raw, timeout \\ 5_000) do
    {payload, raw} = read_payload(raw, timeout)
    {:ok, message} = MessagePack.decode(payload)
    {message, raw}
  end

  def read_payload(
        %__MODULE__{buffer: <<size::32, payload::binary-size(size), rest::binary>>} = raw,
        _timeout
      ),
      do: {payload, %{raw | buffer: rest}}

  def read_payload(%__MODULE__{port: port, buffer: buffer} = raw, timeout) do
    receive do
      {^port, {:data, bytes}} -> read_payload(%{raw | buffer: buffer <> bytes}, timeout)
      {^port, {:exit_status, status}} -> raise "the port program exited with status #{status}"
    after
      timeout -> raise "no frame from the port program within #{timeout} ms"
    end
  end

  @doc "Closes stdin (by closing the port) and waits for the program to exit."
  def close(%__MODULE__{port: port, os_pid: os_pid}) do
    Port.close(port)
    OSProcess.await_exit(os_pid)
  end
end
