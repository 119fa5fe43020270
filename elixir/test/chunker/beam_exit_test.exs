defmodule Chunker.BeamExitTest do
  # A whole second BEAM is started and killed here, so this runs on its own.
  use ExUnit.Case, async: false

  alias Chunker.Test.OSProcess

  # The child BEAM starts the application, opens a session mid-stream on every port, prints
  # its own os pid and its port programs' os pids, then waits to be killed.
  @child_script ~S"""
  {:ok, _} = Application.ensure_all_started(:chunker)
  ports = Chunker.PortPool.ports(Chunker.PortPool)

  for _port <- ports do
    {:ok, session} = Chunker.open(hash: :sha256)
    {_, _, _} = Chunker.feed(session, :binary.copy("partial stream ", 10_000))
  end

  os_pids = Enum.map(ports, &Chunker.Port.info(&1).os_pid)
  IO.puts("pids #{System.pid()} #{Enum.join(os_pids, " ")}")
  Process.sleep(:infinity)
  """

  test "when the BEAM is killed (SIGKILL, no cleanup), its port programs exit on their own" do
    elixir = System.find_executable("elixir") || flunk("elixir is not on PATH")
    ebin = Path.join(:code.lib_dir(:chunker), "ebin")

    child =
      Port.open({:spawn_executable, elixir}, [
        :binary,
        {:line, 4096},
        :exit_status,
        args: ["-pa", ebin, "-e", @child_script]
      ])

    {beam_os_pid, port_os_pids} = read_pids(child)
    assert port_os_pids != []
    Enum.each(port_os_pids, &OSProcess.track/1)
    assert Enum.all?(port_os_pids, &OSProcess.port_program_running?/1)

    OSProcess.kill(beam_os_pid, "KILL")
    assert_receive {^child, {:exit_status, _}}, 5_000

    # Their stdin closes with the BEAM; each exits once it sees end-of-file.
    for os_pid <- port_os_pids do
      assert OSProcess.await_exit(os_pid, 5_000), "port program #{os_pid} outlived its BEAM"
    end
  end

  defp read_pids(child) do
    receive do
      {^child, {:data, {:eol, "pids " <> pids}}} ->
        [beam | ports] = pids |> String.split() |> Enum.map(&String.to_integer/1)
        {beam, ports}

      {^child, {:data, _other_line}} ->
        read_pids(child)

      {^child, {:exit_status, status}} ->
        flunk("the child BEAM exited with status #{status} before starting its pool")
    after
      30_000 -> flunk("the child BEAM did not report its pool within 30 s")
    end
  end
end
