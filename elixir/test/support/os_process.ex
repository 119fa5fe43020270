defmodule Chunker.Test.OSProcess do
  @moduledoc false
  # Looks at port programs from outside the BEAM, through /proc (Linux).

  @doc "True while the process `os_pid` exists and is not a zombie."
  def port_program_running?(os_pid) do
    case File.read("/proc/#{os_pid}/stat") do
      # The state letter follows the parenthesised command name; Z is a zombie.
      {:ok, stat} -> not String.contains?(stat, ") Z ")
      {:error, _} -> false
    end
  end

  @doc "Waits until the program has exited or `timeout_ms` passed; returns whether it exited."
  def await_exit(os_pid, timeout_ms \\ 2_000),
    do:
      Chunker.Test.Eventually.eventually(fn -> not port_program_running?(os_pid) end, timeout_ms)

  def kill(os_pid, signal \\ "KILL") do
    {_, 0} = System.cmd("kill", ["-#{signal}", Integer.to_string(os_pid)])
    :ok
  end

  @doc "Records a port program's os pid; the suite checks at the end that none is left running."
  def track(os_pid) when is_integer(os_pid) do
    :ets.insert(:chunker_test_os_pids, {os_pid})
    os_pid
  end

  def tracked, do: :ets.tab2list(:chunker_test_os_pids) |> Enum.map(&elem(&1, 0))
end
